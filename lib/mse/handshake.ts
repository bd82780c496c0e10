import { randomBytes, randomInt } from 'node:crypto';
import { DecodeError } from '../core/errors.js';
import { bytesEqual, concatBytes } from '../core/bytes.js';
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  MSE_KEY_LENGTH,
  MSE_MAX_IA,
  MSE_MAX_PAD,
  MSE_REQ1_SEARCH,
  MSE_VC,
  MSE_VC_SEARCH,
} from './constants.js';
import { mseKeyPair, mseSharedSecret, validPublicKey, type MseKeyPair } from './dh.js';
import { mseCiphers, mseHash, rc4, req1Hash, req23Hash, type StreamCipher } from './rc4.js';

/**
 * The MSE handshake as two push state machines (no I/O): bytes from the
 * peer go in with `push`, bytes for the peer come out in `send`, and `done`
 * holds the outcome. Every failure is a DecodeError with a stable code, the
 * byte offset in the incoming stream, and the step as its path.
 *
 *   1 A→B  Ya, PadA
 *   2 B→A  Yb, PadB
 *   3 A→B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4 B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the stream
 *   5 A→B  the stream (RC4 or plaintext, as selected)
 */

/** One part of the exchange as it crossed the wire, for `--frames`. */
export interface MseExchangePart {
  readonly direction: 'out' | 'in';
  /** Offset in that direction's byte stream. */
  readonly offset: number;
  readonly length: number;
  readonly name: string;
  /** Decrypted value, where there is one (VC, crypto_provide, lengths). */
  readonly value?: string;
}

export interface MseOutcome {
  /** CRYPTO_RC4 or CRYPTO_PLAINTEXT. */
  readonly cryptoSelect: number;
  /** The ciphers for the stream, when RC4 was selected. */
  readonly encrypt: StreamCipher | undefined;
  readonly decrypt: StreamCipher | undefined;
  /** Stream bytes that came with the handshake, decrypted (the responder's IA first). */
  readonly rest: Uint8Array;
  /** SKEY: the info-hash the connection is for. */
  readonly infoHash: Uint8Array;
  /** The shared secret S (for a key log). */
  readonly secret: Uint8Array;
  readonly exchange: readonly MseExchangePart[];
}

export interface MseStep {
  readonly send?: Uint8Array;
  readonly done?: MseOutcome;
}

export interface MseInitiatorOptions {
  /** SKEY: the info-hash of the torrent. */
  readonly infoHash: Uint8Array;
  /** crypto_provide: CRYPTO_RC4 and/or CRYPTO_PLAINTEXT. */
  readonly provide: number;
  /** Initial payload sent inside step 3 (e.g. the BitTorrent handshake); default none. */
  readonly ia?: Uint8Array;
  readonly keyPair?: MseKeyPair;
  /** Fixed pad lengths (tests); default random 0-512. */
  readonly padLength?: number;
}

export interface MseResponderOptions {
  /** The info-hash whose HASH('req2', SKEY) xor HASH('req3', S) this is, if we serve it. */
  readonly findInfoHash: (req23: Uint8Array, secret: Uint8Array) => Uint8Array | undefined;
  /** crypto_select for a crypto_provide: one bit of it, or 0 to refuse. */
  readonly select: (provide: number) => number;
  readonly keyPair?: MseKeyPair;
  readonly padLength?: number;
}

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const pad = (n: number | undefined): Uint8Array => randomBytes(n ?? randomInt(0, MSE_MAX_PAD + 1));
const cryptoText = (bits: number): string => [bits & CRYPTO_PLAINTEXT ? 'plaintext' : '', bits & CRYPTO_RC4 ? 'RC4' : '', bits & ~3 ? `0x${(bits & ~3).toString(16)}` : ''].filter(Boolean).join(' | ') || 'none';

function findBytes(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const last = Math.min(to, hay.length - needle.length);
  outer: for (let i = from; i <= last; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

/** The incoming bytes so far, with their absolute offsets (bounded: the handshake has limits). */
class Inbox {
  buf = new Uint8Array(0);
  push(chunk: Uint8Array): void {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
  }
}

function step3Header(o: { provide: number; padC: Uint8Array; ia: Uint8Array }): Uint8Array {
  const out = new Uint8Array(8 + 4 + 2 + o.padC.length + 2);
  out.set(MSE_VC, 0);
  new DataView(out.buffer).setUint32(8, o.provide);
  new DataView(out.buffer).setUint16(12, o.padC.length);
  out.set(o.padC, 14);
  new DataView(out.buffer).setUint16(14 + o.padC.length, o.ia.length);
  return out;
}


/**
 * What both roles keep of the exchange: each part as it crossed the wire
 * (for --frames), and where the incoming stream stands.
 */
abstract class ExchangeLog {
  readonly exchange: MseExchangePart[] = [];
  /** Offset in the incoming bytes the state machine has read up to. */
  protected at = 0;
  private outOffset = 0;

  protected part(direction: 'out' | 'in', length: number, name: string, value?: string, offset?: number): void {
    const at = offset ?? (direction === 'out' ? this.outOffset : this.at);
    this.exchange.push({ direction, offset: at, length, name, ...(value !== undefined ? { value } : {}) });
    if (direction === 'out') this.outOffset += length;
  }
}

/** The side that dials (A). `start()` gives step 1; each `push` may give step 3 and, at the end, the outcome. */
export class MseInitiator extends ExchangeLog {
  private readonly keys: MseKeyPair;
  private readonly inbox = new Inbox();
  private state: 'yb' | 'vc' | 'select' | 'padD' | 'done' = 'yb';
  private secret: Uint8Array | undefined;
  private encrypt: StreamCipher | undefined;
  private decrypt: StreamCipher | undefined;
  private encryptedVc: Uint8Array | undefined;
  private select = 0;
  private padD = 0;

  constructor(private readonly o: MseInitiatorOptions) {
    super();
    this.keys = o.keyPair ?? mseKeyPair();
  }

  /** Step 1: Ya, PadA. */
  start(): Uint8Array {
    const padA = pad(this.o.padLength);
    this.part('out', MSE_KEY_LENGTH, 'Ya (our public key)');
    if (padA.length) this.part('out', padA.length, 'PadA', `${padA.length} random bytes`);
    return concatBytes([this.keys.publicKey, padA]);
  }


  push(chunk: Uint8Array): MseStep {
    this.inbox.push(chunk);
    const b = this.inbox.buf;
    let send: Uint8Array | undefined;
    for (;;) {
      switch (this.state) {
        case 'yb': {
          if (b.length < MSE_KEY_LENGTH) return send ? { send } : {};
          const yb = b.subarray(0, MSE_KEY_LENGTH);
          if (!validPublicKey(yb)) throw new DecodeError('mse_bad_key', 0, 'Yb is not a valid Diffie-Hellman public key (not between 1 and P-1)', 'step 2 (Yb)');
          this.part('in', MSE_KEY_LENGTH, 'Yb (their public key)', undefined, 0);
          this.secret = mseSharedSecret(this.keys, yb);
          const { encrypt } = mseCiphers(this.secret, this.o.infoHash, true);
          this.encrypt = encrypt;
          // ENCRYPT(VC) as B sends it: the first 8 bytes of B's keystream; the probe then decrypts what follows.
          this.decrypt = rc4(mseHash('keyB', this.secret, this.o.infoHash));
          this.encryptedVc = this.decrypt.update(MSE_VC);
          const ia = this.o.ia ?? new Uint8Array(0);
          const padC = pad(this.o.padLength);
          const header = step3Header({ provide: this.o.provide, padC, ia });
          send = concatBytes([req1Hash(this.secret), req23Hash(this.o.infoHash, this.secret), encrypt.update(header), ia.length ? encrypt.update(ia) : ia]);
          this.part('out', 20, "HASH('req1', S)");
          this.part('out', 20, "HASH('req2', SKEY) xor HASH('req3', S)");
          this.part('out', 8, 'ENCRYPT(VC)', '8 zero bytes');
          this.part('out', 4, 'ENCRYPT(crypto_provide)', cryptoText(this.o.provide));
          this.part('out', 2, 'ENCRYPT(len(PadC))', String(padC.length));
          if (padC.length) this.part('out', padC.length, 'ENCRYPT(PadC)');
          this.part('out', 2, 'ENCRYPT(len(IA))', String(ia.length));
          if (ia.length) this.part('out', ia.length, 'ENCRYPT(IA)', 'initial payload');
          this.at = MSE_KEY_LENGTH;
          this.state = 'vc';
          break;
        }
        case 'vc': {
          const found = findBytes(b, this.encryptedVc!, MSE_KEY_LENGTH, MSE_VC_SEARCH - 8);
          if (found < 0) {
            if (b.length >= MSE_VC_SEARCH) throw new DecodeError('mse_no_vc', MSE_KEY_LENGTH, `no ENCRYPT(VC) within ${MSE_VC_SEARCH} bytes (PadB longer than ${MSE_MAX_PAD}, or another key)`, 'step 4 (VC)');
            return send ? { send } : {};
          }
          if (found > MSE_KEY_LENGTH) this.part('in', found - MSE_KEY_LENGTH, 'PadB', `${found - MSE_KEY_LENGTH} bytes`, MSE_KEY_LENGTH);
          this.part('in', 8, 'ENCRYPT(VC)', '8 zero bytes', found);
          this.at = found + 8;
          this.state = 'select';
          break;
        }
        case 'select': {
          if (b.length < this.at + 6) return send ? { send } : {};
          const plain = this.decrypt!.update(b.subarray(this.at, this.at + 6));
          this.select = u32(plain, 0);
          this.padD = u16(plain, 4);
          if (this.select !== CRYPTO_RC4 && this.select !== CRYPTO_PLAINTEXT) {
            throw new DecodeError('mse_bad_select', this.at, `crypto_select ${cryptoText(this.select)} is not one method`, 'step 4 (crypto_select)');
          }
          if ((this.select & this.o.provide) === 0) {
            throw new DecodeError('mse_bad_select', this.at, `crypto_select ${cryptoText(this.select)} was not offered (crypto_provide ${cryptoText(this.o.provide)})`, 'step 4 (crypto_select)');
          }
          if (this.padD > MSE_MAX_PAD) throw new DecodeError('mse_bad_pad', this.at + 4, `len(PadD) ${this.padD} is over ${MSE_MAX_PAD}`, 'step 4 (PadD)');
          this.part('in', 4, 'ENCRYPT(crypto_select)', cryptoText(this.select));
          this.at += 4;
          this.part('in', 2, 'ENCRYPT(len(PadD))', String(this.padD));
          this.at += 2;
          this.state = 'padD';
          break;
        }
        case 'padD': {
          if (b.length < this.at + this.padD) return send ? { send } : {};
          if (this.padD) {
            this.decrypt!.update(b.subarray(this.at, this.at + this.padD));
            this.part('in', this.padD, 'ENCRYPT(PadD)');
            this.at += this.padD;
          }
          this.state = 'done';
          const rc4Selected = this.select === CRYPTO_RC4;
          const tail = b.subarray(this.at);
          const done: MseOutcome = {
            cryptoSelect: this.select,
            encrypt: rc4Selected ? this.encrypt : undefined,
            decrypt: rc4Selected ? this.decrypt : undefined,
            rest: rc4Selected && tail.length ? this.decrypt!.update(tail) : new Uint8Array(tail),
            infoHash: this.o.infoHash,
            secret: this.secret!,
            exchange: this.exchange,
          };
          this.inbox.buf = new Uint8Array(0);
          return { ...(send ? { send } : {}), done };
        }
        case 'done':
          throw new Error('MseInitiator: push after the handshake');
      }
    }
  }

  /** Where the stream starts in the incoming bytes (after the handshake). */
  get streamOffset(): number {
    return this.at;
  }
}

/** The side that accepts (B): each `push` may give step 2 (once Ya is in), step 4 and the outcome. */
export class MseResponder extends ExchangeLog {
  private readonly keys: MseKeyPair;
  private readonly inbox = new Inbox();
  private state: 'ya' | 'req1' | 'req23' | 'provide' | 'padC' | 'ia' | 'done' = 'ya';
  private secret: Uint8Array | undefined;
  private req1: Uint8Array | undefined;
  private encrypt: StreamCipher | undefined;
  private decrypt: StreamCipher | undefined;
  private infoHash: Uint8Array | undefined;
  private provide = 0;
  private padC = 0;
  private iaLength = 0;

  constructor(private readonly o: MseResponderOptions) {
    super();
    this.keys = o.keyPair ?? mseKeyPair();
  }


  push(chunk: Uint8Array): MseStep {
    this.inbox.push(chunk);
    const b = this.inbox.buf;
    const sends: Uint8Array[] = [];
    const out = (done?: MseOutcome): MseStep => ({ ...(sends.length ? { send: concatBytes(sends) } : {}), ...(done ? { done } : {}) });
    for (;;) {
      switch (this.state) {
        case 'ya': {
          if (b.length < MSE_KEY_LENGTH) return out();
          const ya = b.subarray(0, MSE_KEY_LENGTH);
          if (!validPublicKey(ya)) throw new DecodeError('mse_bad_key', 0, 'Ya is not a valid Diffie-Hellman public key (not between 1 and P-1)', 'step 1 (Ya)');
          this.part('in', MSE_KEY_LENGTH, 'Ya (their public key)', undefined, 0);
          this.secret = mseSharedSecret(this.keys, ya);
          this.req1 = req1Hash(this.secret);
          const padB = pad(this.o.padLength);
          sends.push(this.keys.publicKey, padB);
          this.part('out', MSE_KEY_LENGTH, 'Yb (our public key)');
          if (padB.length) this.part('out', padB.length, 'PadB', `${padB.length} random bytes`);
          this.at = MSE_KEY_LENGTH;
          this.state = 'req1';
          break;
        }
        case 'req1': {
          const found = findBytes(b, this.req1!, MSE_KEY_LENGTH, MSE_REQ1_SEARCH - 20);
          if (found < 0) {
            if (b.length >= MSE_REQ1_SEARCH) throw new DecodeError('mse_no_req1', MSE_KEY_LENGTH, `no HASH('req1', S) within ${MSE_REQ1_SEARCH} bytes (PadA longer than ${MSE_MAX_PAD}, or not MSE)`, 'step 3 (req1)');
            return out();
          }
          if (found > MSE_KEY_LENGTH) this.part('in', found - MSE_KEY_LENGTH, 'PadA', `${found - MSE_KEY_LENGTH} bytes`, MSE_KEY_LENGTH);
          this.part('in', 20, "HASH('req1', S)", undefined, found);
          this.at = found + 20;
          this.state = 'req23';
          break;
        }
        case 'req23': {
          if (b.length < this.at + 20) return out();
          const req23 = b.subarray(this.at, this.at + 20);
          const infoHash = this.o.findInfoHash(req23, this.secret!);
          if (!infoHash) throw new DecodeError('mse_unknown_skey', this.at, "HASH('req2', SKEY) xor HASH('req3', S) names no torrent we serve", 'step 3 (SKEY)');
          this.infoHash = infoHash;
          this.part('in', 20, "HASH('req2', SKEY) xor HASH('req3', S)", 'a torrent we serve');
          this.at += 20;
          const c = mseCiphers(this.secret!, infoHash, false);
          this.encrypt = c.encrypt;
          this.decrypt = c.decrypt;
          this.state = 'provide';
          break;
        }
        case 'provide': {
          if (b.length < this.at + 14) return out();
          const plain = this.decrypt!.update(b.subarray(this.at, this.at + 14));
          if (!bytesEqual(plain.subarray(0, 8), MSE_VC)) throw new DecodeError('mse_bad_vc', this.at, 'ENCRYPT(VC) does not decrypt to 8 zero bytes (another key or SKEY)', 'step 3 (VC)');
          this.part('in', 8, 'ENCRYPT(VC)', '8 zero bytes');
          this.at += 8;
          this.provide = u32(plain, 8);
          this.part('in', 4, 'ENCRYPT(crypto_provide)', cryptoText(this.provide));
          this.at += 4;
          this.padC = u16(plain, 12);
          if (this.padC > MSE_MAX_PAD) throw new DecodeError('mse_bad_pad', this.at, `len(PadC) ${this.padC} is over ${MSE_MAX_PAD}`, 'step 3 (PadC)');
          this.part('in', 2, 'ENCRYPT(len(PadC))', String(this.padC));
          this.at += 2;
          this.state = 'padC';
          break;
        }
        case 'padC': {
          if (b.length < this.at + this.padC + 2) return out();
          const plain = this.decrypt!.update(b.subarray(this.at, this.at + this.padC + 2));
          if (this.padC) this.part('in', this.padC, 'ENCRYPT(PadC)');
          this.at += this.padC;
          this.iaLength = u16(plain, this.padC);
          if (this.iaLength > MSE_MAX_IA) throw new DecodeError('limit_exceeded', this.at, `len(IA) ${this.iaLength} is over ${MSE_MAX_IA}`, 'step 3 (IA)');
          this.part('in', 2, 'ENCRYPT(len(IA))', String(this.iaLength));
          this.at += 2;
          this.state = 'ia';
          break;
        }
        case 'ia': {
          if (b.length < this.at + this.iaLength) return out();
          const ia = this.iaLength ? this.decrypt!.update(b.subarray(this.at, this.at + this.iaLength)) : new Uint8Array(0);
          if (this.iaLength) this.part('in', this.iaLength, 'ENCRYPT(IA)', 'initial payload');
          this.at += this.iaLength;
          const select = this.o.select(this.provide);
          if (select !== CRYPTO_RC4 && select !== CRYPTO_PLAINTEXT) {
            throw new DecodeError('mse_no_common_method', this.at - this.iaLength, `crypto_provide ${cryptoText(this.provide)}: nothing we accept`, 'step 3 (crypto_provide)');
          }
          const padD = pad(this.o.padLength);
          const step4 = new Uint8Array(8 + 4 + 2 + padD.length);
          new DataView(step4.buffer).setUint32(8, select);
          new DataView(step4.buffer).setUint16(12, padD.length);
          step4.set(padD, 14);
          sends.push(this.encrypt!.update(step4));
          this.part('out', 8, 'ENCRYPT(VC)', '8 zero bytes');
          this.part('out', 4, 'ENCRYPT(crypto_select)', cryptoText(select));
          this.part('out', 2, 'ENCRYPT(len(PadD))', String(padD.length));
          if (padD.length) this.part('out', padD.length, 'ENCRYPT(PadD)');
          this.state = 'done';
          const rc4Selected = select === CRYPTO_RC4;
          const tail = b.subarray(this.at);
          const stream = rc4Selected && tail.length ? this.decrypt!.update(tail) : new Uint8Array(tail);
          this.inbox.buf = new Uint8Array(0);
          return out({
            cryptoSelect: select,
            encrypt: rc4Selected ? this.encrypt : undefined,
            decrypt: rc4Selected ? this.decrypt : undefined,
            rest: concatBytes([ia, stream]),
            infoHash: this.infoHash!,
            secret: this.secret!,
            exchange: this.exchange,
          });
        }
        case 'done':
          throw new Error('MseResponder: push after the handshake');
      }
    }
  }
}
