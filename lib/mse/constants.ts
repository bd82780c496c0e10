/**
 * Message Stream Encryption / Protocol Encryption (MSE/PE), the Vuze/Azureus
 * specification that libtorrent calls "pe" and transmission "encryption":
 * a Diffie-Hellman exchange, then RC4 over the stream.
 */

/** The 768-bit prime P of the spec; the generator G is 2. */
export const MSE_PRIME = BigInt(
  '0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
);
export const MSE_GENERATOR = 2n;
/** Ya and Yb are 768 bits, big endian. */
export const MSE_KEY_LENGTH = 96;
/** Private keys: the spec recommends 160 bits. */
export const MSE_PRIVATE_KEY_LENGTH = 20;
/** The verification constant: 8 zero bytes, encrypted. */
export const MSE_VC = new Uint8Array(8);
/** PadA, PadB, PadC, PadD: 0 to 512 random bytes. */
export const MSE_MAX_PAD = 512;
/** RC4 keystream bytes thrown away before use (the spec's "discard the first 1024 bytes"). */
export const MSE_RC4_DISCARD = 1024;
/** IA (initial payload) at most this long in libtorrent; the spec leaves it to the 2-byte length. */
export const MSE_MAX_IA = 68 + 1024;

/** crypto_provide / crypto_select bits. */
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;

export const CRYPTO_NAMES: Readonly<Record<number, string>> = { [CRYPTO_PLAINTEXT]: 'plaintext', [CRYPTO_RC4]: 'RC4' };

/**
 * The responder looks for HASH('req1', S) this far into the stream: Ya (96)
 * + PadA (at most 512) + the hash (20) = 628 bytes, the spec's limit.
 */
export const MSE_REQ1_SEARCH = MSE_KEY_LENGTH + MSE_MAX_PAD + 20;
/** The initiator looks for ENCRYPT(VC) this far: Yb (96) + PadB (512) + VC (8) = 616 bytes. */
export const MSE_VC_SEARCH = MSE_KEY_LENGTH + MSE_MAX_PAD + 8;

/** The connection policy every tool takes (`--encryption`). */
export type EncryptionPolicy = 'plaintext' | 'prefer' | 'require';
export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['plaintext', 'prefer', 'require'];
