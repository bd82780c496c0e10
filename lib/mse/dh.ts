import { randomBytes } from 'node:crypto';
import { MSE_GENERATOR, MSE_KEY_LENGTH, MSE_PRIME, MSE_PRIVATE_KEY_LENGTH } from './constants.js';

/** One side's Diffie-Hellman keys: X private, Y = G^X mod P public (96 bytes, big endian). */
export interface MseKeyPair {
  readonly privateKey: bigint;
  readonly publicKey: Uint8Array;
}

export function bigFromBytes(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

/** `n` as exactly `length` bytes, big endian (leading zeros kept: S and Y are always 96 bytes). */
export function bytesFromBig(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    exp >>= 1n;
    base = (base * base) % mod;
  }
  return result;
}

/** A key pair; `privateKey` given for known-answer tests, else 160 random bits. */
export function mseKeyPair(privateKey?: Uint8Array): MseKeyPair {
  const x = bigFromBytes(privateKey ?? randomBytes(MSE_PRIVATE_KEY_LENGTH));
  return { privateKey: x, publicKey: bytesFromBig(modPow(MSE_GENERATOR, x, MSE_PRIME), MSE_KEY_LENGTH) };
}

/**
 * Is Y a usable public key? 1 < Y < P-1: 0, 1 and P-1 would force the shared
 * secret to a known value (a small-subgroup attack), and Y >= P is no key at all.
 */
export function validPublicKey(y: Uint8Array): boolean {
  if (y.length !== MSE_KEY_LENGTH) return false;
  const n = bigFromBytes(y);
  return n > 1n && n < MSE_PRIME - 1n;
}

/** S = Y_remote ^ X mod P, 96 bytes. */
export function mseSharedSecret(ours: MseKeyPair, remotePublicKey: Uint8Array): Uint8Array {
  return bytesFromBig(modPow(bigFromBytes(remotePublicKey), ours.privateKey, MSE_PRIME), MSE_KEY_LENGTH);
}
