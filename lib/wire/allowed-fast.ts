import { createHash } from 'node:crypto';

/**
 * BEP 6 "Allowed Fast" set generation, as the BEP's reference code does it:
 * x = (IPv4 & 0xFFFFFF00) ++ info-hash; repeatedly x = SHA-1(x) and take each
 * 4-byte word of x (big endian) mod the piece count, skipping repeats, until
 * k indices are chosen. IPv6 is not specified by the BEP; callers skip it.
 */
export function allowedFastSet(k: number, pieceCount: number, infoHash: Uint8Array, ipv4: string | Uint8Array): number[] {
  const ip = typeof ipv4 === 'string' ? parseIpv4(ipv4) : ipv4;
  if (ip.length !== 4) throw new RangeError(`allowed fast needs an IPv4 address, got ${ip.length} bytes`);
  if (infoHash.length !== 20) throw new RangeError(`info hash must be 20 bytes, got ${infoHash.length}`);
  const want = Math.min(k, pieceCount);
  const out: number[] = [];
  if (want <= 0) return out;
  let x: Uint8Array = new Uint8Array(24);
  x.set([ip[0]!, ip[1]!, ip[2]!, 0], 0);
  x.set(infoHash, 4);
  while (out.length < want) {
    x = new Uint8Array(createHash('sha1').update(x).digest());
    const dv = new DataView(x.buffer, x.byteOffset, x.byteLength);
    for (let i = 0; i < 5 && out.length < want; i++) {
      const index = dv.getUint32(i * 4) % pieceCount;
      if (!out.includes(index)) out.push(index);
    }
  }
  return out;
}

function parseIpv4(s: string): Uint8Array {
  const parts = s.split('.');
  const n = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (n.length !== 4 || n.some((v) => !(v >= 0 && v <= 255))) throw new RangeError(`not an IPv4 address: ${s}`);
  return Uint8Array.from(n);
}
