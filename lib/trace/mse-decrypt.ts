import { bytesEqual, fromHex } from '../core/bytes.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MSE_KEY_LENGTH, MSE_MAX_IA, MSE_MAX_PAD, MSE_REQ1_SEARCH, MSE_VC_SEARCH } from '../mse/constants.js';
import { mseHash, rc4, req1Hash, req23Hash, type StreamCipher } from '../mse/rc4.js';
import type { TraceDirection } from './types.js';

/** One line of a key log: the torrent and the Diffie-Hellman secret S of one MSE connection. */
export interface MseSecret {
  readonly infoHash: Uint8Array;
  readonly secret: Uint8Array;
}

/**
 * Parse a key log (tools/keylog.ts writes it): `MSE_SECRET <info-hash hex>
 * <S hex> [peer]` per line; blank lines and `#` comments skipped. Returns the
 * secrets and the numbers of the lines that are not such a line.
 */
export function parseKeylog(text: string): { secrets: MseSecret[]; badLines: number[] } {
  const secrets: MseSecret[] = [];
  const badLines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^MSE_SECRET ([0-9a-fA-F]{40}) ([0-9a-fA-F]{192})(?:\s|$)/.exec(line);
    if (!m) return void badLines.push(i + 1);
    secrets.push({ infoHash: fromHex(m[1]!), secret: fromHex(m[2]!) });
  });
  return { secrets, badLines };
}

interface Held {
  offset: number;
  bytes: Uint8Array;
  packet: number;
  synSeen: boolean;
}

type Emit = (dir: TraceDirection, offset: number, bytes: Uint8Array, packet: number, synSeen: boolean) => void;

/** Bytes of each direction held while the handshake is identified (beyond this: give up, pass through). */
const HOLD_LIMIT = 64 * 1024;

interface Side {
  held: Held[];
  /** Contiguous bytes from offset 0, for the search. */
  head: Uint8Array;
  /** From this stream offset on, bytes go through `cipher` (or as they are, when undefined). */
  payloadAt: number;
  cipher: StreamCipher | undefined;
  /** Where the key stream stands: bytes before `cipherAt` were already run through it. */
  cipherAt: number;
}

/**
 * Decrypts one captured TCP stream with a key log: finds which logged secret
 * the initiator's HASH('req1', S) names (within the spec's 628 bytes), checks
 * the SKEY hash, finds each side's ENCRYPT(VC), reads crypto_provide/select,
 * the pads and IA, and from there hands on the stream with the payload
 * decrypted in place (RC4 maps byte for byte: every offset stays that of the
 * capture). The MSE handshake bytes pass unchanged, so the peer wire decoder
 * finds the BitTorrent handshake after them, as it does for plaintext after MSE.
 * Without a matching secret the stream passes through untouched.
 */
export class MseStreamDecrypter {
  private state: 'identify' | 'decrypt' | 'pass' = 'identify';
  private readonly sides: Record<TraceDirection, Side> = {
    out: { held: [], head: new Uint8Array(0), payloadAt: Infinity, cipher: undefined, cipherAt: 0 },
    in: { held: [], head: new Uint8Array(0), payloadAt: Infinity, cipher: undefined, cipherAt: 0 },
  };
  private readonly req1s: Uint8Array[];
  /** What was found, for the stream's label. */
  cryptoSelect = 0;

  constructor(
    private readonly secrets: readonly MseSecret[],
    private readonly emit: Emit,
  ) {
    this.req1s = secrets.map((s) => req1Hash(s.secret));
  }

  get decrypted(): boolean {
    return this.state === 'decrypt';
  }

  data(dir: TraceDirection, offset: number, bytes: Uint8Array, packet: number, synSeen: boolean): void {
    if (this.state === 'pass') return this.emit(dir, offset, bytes, packet, synSeen);
    if (this.state === 'decrypt') return this.forward(dir, offset, bytes, packet, synSeen);
    const side = this.sides[dir];
    side.held.push({ offset, bytes: new Uint8Array(bytes), packet, synSeen });
    if (offset === side.head.length) {
      const h = new Uint8Array(side.head.length + bytes.length);
      h.set(side.head);
      h.set(bytes, side.head.length);
      side.head = h;
    } else if (offset > side.head.length) return this.giveUp(); // a gap in the handshake
    // A plaintext BitTorrent handshake first: nothing to decrypt.
    if (offset === 0 && bytes[0] === 19) return this.giveUp();
    this.identify();
    if (this.state === 'identify' && (this.sides.out.head.length > HOLD_LIMIT || this.sides.in.head.length > HOLD_LIMIT)) this.giveUp();
  }

  gap(): void {
    if (this.state === 'identify') this.giveUp();
  }

  /** The stream ended: whatever is still held goes on as it is. */
  end(): void {
    if (this.state === 'identify') this.giveUp();
  }

  private giveUp(): void {
    this.state = 'pass';
    this.release();
  }

  private release(): void {
    for (const dir of ['out', 'in'] as const) {
      const held = this.sides[dir].held;
      this.sides[dir].held = [];
      for (const h of held) this.data(dir, h.offset, h.bytes, h.packet, h.synSeen);
    }
  }

  private forward(dir: TraceDirection, offset: number, bytes: Uint8Array, packet: number, synSeen: boolean): void {
    const s = this.sides[dir];
    const end = offset + bytes.length;
    // Plaintext selected with an IA: only the IA was encrypted on that side.
    const stop = this.plainAfter?.dir === dir ? this.plainAfter.at : Infinity;
    const from = Math.max(offset, s.payloadAt, s.cipherAt);
    const to = Math.min(end, stop);
    if (!s.cipher || from >= to) return this.emit(dir, offset, bytes, packet, synSeen);
    const out = new Uint8Array(bytes);
    // RC4 is a stream: run it over any bytes between where it stands and this segment (a capture gap).
    if (from > s.cipherAt) s.cipher.update(new Uint8Array(from - s.cipherAt));
    out.set(s.cipher.update(bytes.subarray(from - offset, to - offset)), from - offset);
    s.cipherAt = to;
    this.emit(dir, offset, out, packet, synSeen);
  }

  private identify(): void {
    for (const a of ['out', 'in'] as const) {
      const b = a === 'out' ? 'in' : 'out';
      const A = this.sides[a].head;
      const B = this.sides[b].head;
      if (A.length < MSE_KEY_LENGTH + 40 || B.length < MSE_KEY_LENGTH + 8) continue;
      for (let k = 0; k < this.secrets.length; k++) {
        const at = find(A, this.req1s[k]!, MSE_KEY_LENGTH, MSE_REQ1_SEARCH - 20);
        if (at < 0) continue;
        const { infoHash, secret } = this.secrets[k]!;
        if (!bytesEqual(A.subarray(at + 20, at + 40), req23Hash(infoHash, secret))) continue;
        if (this.tryKeys(a, b, at + 40, infoHash, secret)) return;
      }
    }
  }

  /** Both sides' handshakes with this secret; true once they are read (state decrypt). */
  private tryKeys(a: TraceDirection, b: TraceDirection, aCrypt: number, infoHash: Uint8Array, secret: Uint8Array): boolean {
    const A = this.sides[a].head;
    const B = this.sides[b].head;
    // A→B: ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA).
    const keyA = rc4(mseHash('keyA', secret, infoHash));
    if (A.length < aCrypt + 14) return false;
    const hdr = keyA.update(A.subarray(aCrypt, aCrypt + 14));
    if (!hdr.subarray(0, 8).every((x) => x === 0)) return false;
    const padC = (hdr[12]! << 8) | hdr[13]!;
    if (padC > MSE_MAX_PAD || A.length < aCrypt + 14 + padC + 2) return false;
    const tail = keyA.update(A.subarray(aCrypt + 14, aCrypt + 14 + padC + 2));
    const ia = (tail[padC]! << 8) | tail[padC + 1]!;
    if (ia > MSE_MAX_IA) return false;
    const iaAt = aCrypt + 14 + padC + 2;
    // B→A: ENCRYPT(VC) after Yb and PadB, then crypto_select, len(PadD), PadD.
    const keyB = rc4(mseHash('keyB', secret, infoHash));
    const vc = keyB.update(new Uint8Array(8));
    const vcAt = find(B, vc, MSE_KEY_LENGTH, MSE_VC_SEARCH - 8);
    if (vcAt < 0 || B.length < vcAt + 14) return false;
    const sel = keyB.update(B.subarray(vcAt + 8, vcAt + 14));
    const select = ((sel[0]! << 24) | (sel[1]! << 16) | (sel[2]! << 8) | sel[3]!) >>> 0;
    const padD = (sel[4]! << 8) | sel[5]!;
    if ((select !== CRYPTO_RC4 && select !== CRYPTO_PLAINTEXT) || padD > MSE_MAX_PAD) return false;
    keyB.update(new Uint8Array(padD));
    this.cryptoSelect = select;
    const rc4Stream = select === CRYPTO_RC4;
    // IA is always RC4; after it A's stream is RC4 only if selected.
    this.sides[a].payloadAt = iaAt;
    this.sides[a].cipher = rc4Stream || ia > 0 ? keyA : undefined;
    this.sides[a].cipherAt = iaAt;
    this.sides[b].payloadAt = vcAt + 14 + padD;
    this.sides[b].cipher = rc4Stream ? keyB : undefined;
    this.sides[b].cipherAt = vcAt + 14 + padD;
    if (!rc4Stream && ia > 0) this.plainAfter = { dir: a, at: iaAt + ia };
    this.state = 'decrypt';
    this.release();
    return true;
  }

  /** Plaintext selected with an IA: only the IA was encrypted on that side. */
  private plainAfter: { dir: TraceDirection; at: number } | undefined;
}

function find(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const last = Math.min(to, hay.length - needle.length);
  outer: for (let i = from; i <= last; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}
