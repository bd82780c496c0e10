/**
 * A copy of `bytes` that owns its memory. Not `bytes.slice()`: on a Node
 * Buffer (a pcapng/pcap chunk from a file stream, a socket read) `slice()` is
 * a view, which would pin the whole chunk it came from (memory no longer flat)
 * and would change under us if the reader reused its buffer.
 */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
