import type { Field, Frame } from '../core/field.js';
import type { MseExchangePart } from './handshake.js';

/** Field ids for the MSE exchange, by the spec's names (Wireshark has no MSE dissector: these are ours). */
function fieldId(name: string): string {
  const n = name.replace(/^ENCRYPT\((.*)\)$/, '$1');
  if (n.startsWith('Y')) return 'mse.public_key';
  if (n.startsWith("HASH('req1'")) return 'mse.req1';
  if (n.startsWith("HASH('req2'")) return 'mse.skey_hash';
  return `mse.${n.replace(/[^a-zA-Z]+/g, '_').replace(/^_|_$/g, '').toLowerCase()}`;
}

/**
 * The MSE exchange as annotated frames, one per direction: each part (Ya/Yb,
 * pads, the two hashes, VC, crypto_provide/select, lengths, IA) named over its
 * bytes as they crossed the wire (ciphertext), with the decrypted value beside.
 * `sent` and `received` are the raw handshake bytes of each direction from offset 0.
 */
export function mseExchangeFrames(exchange: readonly MseExchangePart[], sent: Uint8Array, received: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  for (const direction of ['out', 'in'] as const) {
    const parts = exchange.filter((p) => p.direction === direction);
    if (parts.length === 0) continue;
    const bytes = direction === 'out' ? sent : received;
    const end = Math.min(bytes.length, Math.max(...parts.map((p) => p.offset + p.length)));
    const fields: Field[] = parts
      .filter((p) => p.offset + p.length <= end)
      .map((p) => ({
        id: fieldId(p.name),
        label: p.name,
        span: { start: p.offset, end: p.offset + p.length },
        ...(p.value !== undefined ? { value: p.value, display: p.value } : {}),
      }));
    frames.push({ title: direction === 'out' ? 'MSE/PE handshake (ours)' : 'MSE/PE handshake (theirs)', bytes: bytes.subarray(0, end), base: 0, fields, meta: { direction } });
  }
  return frames;
}
