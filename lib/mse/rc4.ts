import { createCipheriv, createHash, getCiphers } from 'node:crypto';
import { MSE_RC4_DISCARD } from './constants.js';

/** A running RC4 keystream: `update` XORs the next bytes of it over the input (a new array). */
export interface StreamCipher {
  update(input: Uint8Array): Uint8Array;
}

/**
 * OpenSSL 3 keeps RC4 in its legacy provider: Node has it only when started
 * with `--openssl-legacy-provider` (the btscope bin does). Without it, the same
 * keystream comes from a plain implementation, slower but identical.
 */
export const NATIVE_RC4 = getCiphers().includes('rc4');

class JsRc4 implements StreamCipher {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    const s = this.s;
    for (let k = 0; k < 256; k++) s[k] = k;
    for (let k = 0, j = 0; k < 256; k++) {
      j = (j + s[k]! + key[k % key.length]!) & 0xff;
      const t = s[k]!;
      s[k] = s[j]!;
      s[j] = t;
    }
  }

  update(input: Uint8Array): Uint8Array {
    const out = new Uint8Array(input.length);
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let n = 0; n < input.length; n++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      out[n] = input[n]! ^ s[(si + sj) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return out;
  }
}

/** RC4 with `key`, the first `discard` keystream bytes thrown away. */
export function rc4(key: Uint8Array, discard = MSE_RC4_DISCARD): StreamCipher {
  const c: StreamCipher = NATIVE_RC4 ? createCipheriv('rc4', key, null) : new JsRc4(key);
  if (discard > 0) c.update(new Uint8Array(discard));
  return c;
}

/** SHA-1 over the parts (the spec's HASH). */
export function mseHash(...parts: (Uint8Array | string)[]): Uint8Array {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HASH('req1', S): the responder finds the start of step 3 by it. */
export const req1Hash = (s: Uint8Array): Uint8Array => mseHash('req1', s);

/** HASH('req2', SKEY) xor HASH('req3', S): names the torrent without showing its info-hash. */
export function req23Hash(skey: Uint8Array, s: Uint8Array): Uint8Array {
  const a = mseHash('req2', skey);
  const b = mseHash('req3', s);
  for (let i = 0; i < 20; i++) a[i]! ^= b[i]!;
  return a;
}

/** The two directions' ciphers: A→B keyed HASH('keyA', S, SKEY), B→A HASH('keyB', S, SKEY). */
export function mseCiphers(s: Uint8Array, skey: Uint8Array, initiator: boolean): { encrypt: StreamCipher; decrypt: StreamCipher } {
  const a = rc4(mseHash('keyA', s, skey));
  const b = rc4(mseHash('keyB', s, skey));
  return initiator ? { encrypt: a, decrypt: b } : { encrypt: b, decrypt: a };
}
