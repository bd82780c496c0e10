/**
 * A record or block split across chunks, completed up to `upTo` bytes: the
 * carry grows (one copy of what it holds) if it is too small, and takes what
 * it still lacks from the front of `buf`. Only split records come here; records
 * inside one chunk are handed on as views.
 */
export function fillCarry(
  carry: Uint8Array,
  carryLength: number,
  buf: Uint8Array,
  upTo: number,
): { carry: Uint8Array; carryLength: number; rest: Uint8Array } {
  let out = carry;
  if (out.length < upTo) {
    out = new Uint8Array(upTo);
    out.set(carry.subarray(0, carryLength));
  }
  const take = Math.max(0, Math.min(upTo - carryLength, buf.length));
  out.set(buf.subarray(0, take), carryLength);
  return { carry: out, carryLength: carryLength + take, rest: buf.subarray(take) };
}
