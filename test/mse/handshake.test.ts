import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { MseInitiator, MseResponder } from '../../lib/mse/handshake.js';
import { bigFromBytes, bytesFromBig, mseKeyPair, mseSharedSecret, validPublicKey } from '../../lib/mse/dh.js';
import { mseCiphers, rc4, req1Hash, req23Hash } from '../../lib/mse/rc4.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MSE_PRIME, MSE_REQ1_SEARCH, MSE_VC_SEARCH } from '../../lib/mse/constants.js';
import { DecodeError } from '../../lib/core/errors.js';
import { bytesEqual, fromHex, toHex } from '../../lib/core/bytes.js';

const infoHash = fromHex('0123456789abcdef0123456789abcdef01234567');
const hex = (b: Uint8Array): string => toHex(b);

function errorOf(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return e as DecodeError;
  }
  throw new Error('expected a DecodeError');
}

describe('MSE primitives (known answers)', () => {
  it('RC4: RFC 6229 key 0x0102030405, keystream bytes 0-15 and 1024-1039', () => {
    const key = fromHex('0102030405');
    expect(hex(rc4(key, 0).update(new Uint8Array(16)))).toBe('b2396305f03dc027ccc3524a0a1118a8');
    // The spec discards 1024 bytes: what follows is the RFC's offset 1024 row.
    expect(hex(rc4(key).update(new Uint8Array(16)))).toBe('30abbcc7c20b01609f23ee2d5f6bb7df');
    expect(hex(rc4(key, 0).update(new Uint8Array(1040)).subarray(1024))).toBe('30abbcc7c20b01609f23ee2d5f6bb7df');
  });

  it('DH over the 768-bit prime: private key 1 gives Y = 2; both sides reach the same 96-byte S', () => {
    const one = mseKeyPair(Uint8Array.of(1));
    expect(bigFromBytes(one.publicKey)).toBe(2n);
    expect(one.publicKey).toHaveLength(96);
    const a = mseKeyPair(fromHex('11'.repeat(20)));
    const b = mseKeyPair(fromHex('22'.repeat(20)));
    const s1 = mseSharedSecret(a, b.publicKey);
    const s2 = mseSharedSecret(b, a.publicKey);
    expect(hex(s1)).toBe(hex(s2));
    expect(s1).toHaveLength(96);
    // S = 2^(x*y) mod P, computed independently.
    let r = 1n;
    let base = 2n;
    const x = bigFromBytes(fromHex('11'.repeat(20)));
    const y = bigFromBytes(fromHex('22'.repeat(20)));
    for (let k = x * y; k > 0n; k >>= 1n) {
      if (k & 1n) r = (r * base) % MSE_PRIME;
      base = (base * base) % MSE_PRIME;
    }
    expect(hex(s1)).toBe(hex(bytesFromBig(r, 96)));
  });

  it('a public key must lie strictly between 1 and P-1', () => {
    expect(validPublicKey(new Uint8Array(96))).toBe(false);
    expect(validPublicKey(bytesFromBig(1n, 96))).toBe(false);
    expect(validPublicKey(bytesFromBig(MSE_PRIME - 1n, 96))).toBe(false);
    expect(validPublicKey(bytesFromBig(MSE_PRIME, 96))).toBe(false);
    expect(validPublicKey(bytesFromBig(2n, 96))).toBe(true);
  });

  it("the hashes are SHA-1 of the spec's strings and S, SKEY", () => {
    const s = new Uint8Array(96).fill(7);
    const sha1 = (...p: (string | Uint8Array)[]): string => {
      const h = createHash('sha1');
      for (const x of p) h.update(x);
      return h.digest('hex');
    };
    expect(hex(req1Hash(s))).toBe(sha1('req1', s));
    const a = Buffer.from(sha1('req2', infoHash), 'hex');
    const b = Buffer.from(sha1('req3', s), 'hex');
    expect(hex(req23Hash(infoHash, s))).toBe(hex(a.map((x, i) => x ^ b[i]!)));
    // keyA encrypts A→B and decrypts at B.
    const A = mseCiphers(s, infoHash, true);
    const B = mseCiphers(s, infoHash, false);
    const msg = new TextEncoder().encode('hello, peer');
    expect(bytesEqual(B.decrypt.update(A.encrypt.update(msg)), msg)).toBe(true);
    expect(bytesEqual(A.decrypt.update(B.encrypt.update(msg)), msg)).toBe(true);
  });
});

/** Run both machines against each other, chunked `split` bytes at a time. */
function exchange(provide: number, select: (p: number) => number, split = 1 << 20, ia?: Uint8Array) {
  const a = new MseInitiator({ infoHash, provide, ...(ia ? { ia } : {}) });
  const b = new MseResponder({ findInfoHash: (h, s) => (bytesEqual(h, req23Hash(infoHash, s)) ? infoHash : undefined), select });
  const chunks = (x: Uint8Array): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < x.length; i += split) out.push(x.subarray(i, i + split));
    return out;
  };
  let toB = a.start();
  let doneA;
  let doneB;
  for (let round = 0; round < 10 && !(doneA && doneB); round++) {
    let toA = new Uint8Array(0);
    for (const c of chunks(toB)) {
      const s = b.push(c);
      if (s.send) toA = new Uint8Array([...toA, ...s.send]);
      if (s.done) doneB = s.done;
    }
    toB = new Uint8Array(0);
    for (const c of chunks(toA)) {
      const s = a.push(c);
      if (s.send) toB = new Uint8Array([...toB, ...s.send]);
      if (s.done) doneA = s.done;
    }
  }
  return { doneA: doneA!, doneB: doneB! };
}

describe('MSE handshake, both roles', () => {
  it('RC4 selected: the streams decrypt both ways; IA arrives first at B', () => {
    for (const split of [1, 7, 1 << 20]) {
      const ia = new TextEncoder().encode('\x13BitTorrent protocol');
      const { doneA, doneB } = exchange(CRYPTO_RC4 | CRYPTO_PLAINTEXT, (p) => (p & CRYPTO_RC4 ? CRYPTO_RC4 : 0), split, ia);
      expect(doneA.cryptoSelect).toBe(CRYPTO_RC4);
      expect(doneB.cryptoSelect).toBe(CRYPTO_RC4);
      expect(new TextDecoder().decode(doneB.rest)).toBe('\x13BitTorrent protocol');
      expect(hex(doneA.secret)).toBe(hex(doneB.secret));
      const msg = new TextEncoder().encode('piece data');
      expect(bytesEqual(doneB.decrypt!.update(doneA.encrypt!.update(msg)), msg)).toBe(true);
      expect(bytesEqual(doneA.decrypt!.update(doneB.encrypt!.update(msg)), msg)).toBe(true);
      expect(doneA.exchange.map((p) => p.name)).toContain('ENCRYPT(crypto_select)');
    }
  });

  it('plaintext selected: no stream ciphers', () => {
    const { doneA, doneB } = exchange(CRYPTO_RC4 | CRYPTO_PLAINTEXT, () => CRYPTO_PLAINTEXT);
    expect(doneA.cryptoSelect).toBe(CRYPTO_PLAINTEXT);
    expect(doneA.encrypt).toBeUndefined();
    expect(doneB.decrypt).toBeUndefined();
  });
});

describe('MSE hostile input: typed errors with step and offset', () => {
  it('Ya = 0: mse_bad_key at 0', () => {
    const b = new MseResponder({ findInfoHash: () => infoHash, select: () => CRYPTO_RC4 });
    expect(errorOf(() => b.push(new Uint8Array(96)))).toMatchObject({ code: 'mse_bad_key', offset: 0, path: 'step 1 (Ya)' });
  });

  it('PadA beyond 512: mse_no_req1 once 628 bytes came without HASH(req1, S)', () => {
    const b = new MseResponder({ findInfoHash: () => infoHash, select: () => CRYPTO_RC4 });
    const a = mseKeyPair();
    b.push(a.publicKey);
    expect(b.push(new Uint8Array(MSE_REQ1_SEARCH - 96 - 1)).send).toBeUndefined();
    expect(errorOf(() => b.push(new Uint8Array(1)))).toMatchObject({ code: 'mse_no_req1', offset: 96 });
  });

  it('an SKEY we do not serve: mse_unknown_skey at its offset', () => {
    const a = new MseInitiator({ infoHash: new Uint8Array(20).fill(9), provide: CRYPTO_RC4, padLength: 0 });
    const b = new MseResponder({ findInfoHash: () => undefined, select: () => CRYPTO_RC4, padLength: 0 });
    const yb = b.push(a.start()).send!;
    const step3 = a.push(yb).send!;
    expect(errorOf(() => b.push(step3))).toMatchObject({ code: 'mse_unknown_skey', offset: 96 + 20 });
  });

  it('no ENCRYPT(VC) within 616 bytes: mse_no_vc', () => {
    const a = new MseInitiator({ infoHash, provide: CRYPTO_RC4 });
    a.start();
    a.push(mseKeyPair().publicKey);
    expect(errorOf(() => a.push(new Uint8Array(MSE_VC_SEARCH - 96)))).toMatchObject({ code: 'mse_no_vc' });
  });

  it('a crypto_select that was not offered: mse_bad_select; nothing in common: mse_no_common_method', () => {
    expect(() => exchange(CRYPTO_RC4, () => CRYPTO_PLAINTEXT)).toThrow(/crypto_select plaintext was not offered/);
    expect(() => exchange(CRYPTO_PLAINTEXT, () => 0)).toThrow(DecodeError);
  });
});
