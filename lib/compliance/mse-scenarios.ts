import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BtscopeError, DecodeError } from '../core/errors.js';
import { PROTOCOL_BYTES, encodeHandshake, makeReserved } from '../wire/handshake.js';
import { CRYPTO_RC4, MSE_KEY_LENGTH } from '../mse/constants.js';
import { MseInitiator } from '../mse/handshake.js';
import type { Transport } from '../transport/transport.js';
import { dialTcp } from '../transport/tcp.js';
import type { ComplyTarget, SessionRecord } from './types.js';

/** What an MSE probe saw (SessionRecord.facts.mse). */
export interface MseFacts {
  /** Bytes the peer sent in all during the exchange (0: it never answered Ya). */
  readonly received: number;
  /** Milliseconds from our Ya to the end of the exchange (or to the failure). */
  readonly ms: number;
  /** The exchange finished (step 4 read). */
  readonly done: boolean;
  readonly select?: number;
  readonly padB?: number;
  /** Our state machine's verdict on what the peer sent, when it failed. */
  readonly error?: { readonly code: string; readonly offset: number; readonly step: string; readonly message: string };
  /** How the exchange ended otherwise: closed by the peer, or silence. */
  readonly ended?: 'closed' | 'timeout';
  /**
   * After RC4 was selected and our handshake sent (encrypted): `encrypted`
   * when its stream decrypted to a BitTorrent handshake, `plaintext` when it
   * came in clear, `other`, or undefined when nothing came.
   */
  readonly stream?: 'encrypted' | 'plaintext' | 'other';
}

export interface MseProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly answerMs: number;
  readonly peerId: Uint8Array;
  readonly dial?: (host: string, port: number, o: { timeoutMs?: number }) => Promise<Transport>;
}

/**
 * One MSE exchange, as the dialling side, offering RC4 only: `mse` with the
 * torrent's SKEY (then our BitTorrent handshake, encrypted, and a look at
 * the peer's first stream bytes), `mse_wrong_skey` with an SKEY for a
 * torrent nobody serves (the peer should hang up before step 4).
 */
export async function runMseScenario(name: 'mse' | 'mse_wrong_skey', target: ComplyTarget, infoHash: Uint8Array, o: MseProbeOptions): Promise<SessionRecord> {
  const record: SessionRecord = { scenario: name, ourReserved: new Uint8Array(8), ourInfoHash: infoHash, preHandshake: new Uint8Array(0), events: [], notes: [], facts: {} };
  void target;
  let t: Transport;
  try {
    t = await (o.dial ?? dialTcp)(o.host, o.port, { timeoutMs: o.answerMs });
  } catch (e) {
    record.end = { at: 0, how: 'connect_failed', message: (e as Error).message };
    return record;
  }
  const skey = name === 'mse' ? infoHash : new Uint8Array(randomBytes(20));
  const m = new MseInitiator({ infoHash: skey, provide: CRYPTO_RC4 });
  const t0 = performance.now();
  let received = 0;
  let padB: number | undefined;
  const facts = await new Promise<MseFacts>((resolve) => {
    let settled = false;
    let stage: 'mse' | 'stream' = 'mse';
    let outcome: { select: number; decrypt: ((b: Uint8Array) => Uint8Array) | undefined } | undefined;
    let stream = new Uint8Array(0);
    const ms = (): number => Math.round(performance.now() - t0);
    const finish = (f: Omit<MseFacts, 'received' | 'ms' | 'padB'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ received, ms: ms(), ...(padB !== undefined ? { padB } : {}), ...f });
      t.close();
    };
    const timer = setTimeout(() => {
      if (stage === 'stream') finish({ done: true, ...(outcome ? { select: outcome.select } : {}) });
      else finish({ done: false, ended: 'timeout' });
    }, o.answerMs);
    const onStream = (chunk: Uint8Array, raw: Uint8Array): void => {
      const b = new Uint8Array(stream.length + chunk.length);
      b.set(stream);
      b.set(chunk, stream.length);
      stream = b;
      if (stream.length < 20 && raw.length < 20) return;
      const isHs = (x: Uint8Array): boolean => x[0] === 19 && PROTOCOL_BYTES.every((c, i) => x[1 + i] === c);
      const kind = isHs(stream) ? 'encrypted' : isHs(raw) ? 'plaintext' : 'other';
      finish({ done: true, select: outcome!.select, stream: kind });
    };
    t.setHandlers({
      data: (chunk) => {
        received += chunk.length;
        if (stage === 'stream') return onStream(outcome!.decrypt ? outcome!.decrypt(chunk) : chunk, chunk);
        try {
          const s = m.push(chunk);
          if (s.send) t.write(s.send);
          if (s.done) {
            padB = Math.max(0, (s.done.exchange.find((p) => p.direction === 'in' && p.name === 'ENCRYPT(VC)')?.offset ?? MSE_KEY_LENGTH) - MSE_KEY_LENGTH);
            const dec = s.done.decrypt;
            const enc = s.done.encrypt;
            outcome = { select: s.done.cryptoSelect, decrypt: dec ? (b) => dec.update(b) : undefined };
            stage = 'stream';
            const hs = encodeHandshake({ reserved: makeReserved({ extended: true, fast: true }), infoHash: skey, peerId: o.peerId });
            t.write(enc ? enc.update(hs) : hs);
            if (s.done.rest.length) onStream(s.done.rest, s.done.rest);
          }
        } catch (e) {
          if (e instanceof DecodeError) finish({ done: false, error: { code: e.code, offset: e.offset, step: e.path, message: e.message } });
          else finish({ done: false, error: { code: (e as BtscopeError).code ?? 'error', offset: 0, step: '', message: (e as Error).message } });
        }
      },
      drain: () => {},
      close: () => {
        if (stage === 'stream') finish({ done: true, ...(outcome ? { select: outcome.select } : {}) });
        else finish({ done: false, ended: 'closed' });
      },
    });
    t.write(m.start());
  });
  record.facts['mse'] = facts;
  record.end = { at: facts.ms, how: facts.ended === 'closed' ? 'peer_closed' : 'we_closed' };
  return record;
}
