import { encodeUtf8 } from '../../lib/core/bytes.js';
import { HANDSHAKE_LENGTH, encodeHandshake, makeReserved } from '../../lib/wire/handshake.js';
import { encodeMessage, type Message } from '../../lib/wire/messages.js';
import type { ScenarioName, SessionEnd, SessionRecord, WireEvent } from '../../lib/compliance/types.js';

/**
 * Hand-written transcripts for testing checks without a peer: the same
 * SessionRecord a ProbeSession records, built message by message. Offsets
 * and bytes are the real encodings, so evidence refs point at real frames.
 */
export interface TranscriptOptions {
  /** Reserved bits we offered (default: extended + fast, as every scenario but `plain`). */
  readonly ours?: { extended?: boolean; fast?: boolean };
  /** Reserved bits the peer sent (default: extended + fast). */
  readonly peer?: { extended?: boolean; fast?: boolean };
  readonly infoHash: Uint8Array;
  /** The peer's info-hash when it differs from ours. */
  readonly peerInfoHash?: Uint8Array;
  /** Bytes before the peer's handshake. */
  readonly preHandshake?: Uint8Array;
  /** Cut the peer id short (the peer closed mid-handshake). */
  readonly peerIdLength?: number;
  /** No handshake at all: these bytes came instead (bad protocol string). */
  readonly badHandshake?: Uint8Array;
}

export class Transcript {
  readonly record: SessionRecord<Message> & { malformed: Array<{ offset: number; bytes: Uint8Array; code: string; message: string; at: number }> };
  private inOffset: number;
  private outOffset = HANDSHAKE_LENGTH;
  private clock = 0;

  constructor(scenario: ScenarioName, o: TranscriptOptions) {
    const ours = o.ours ?? { extended: true, fast: true };
    this.record = {
      scenario,
      ourReserved: makeReserved(ours),
      ourInfoHash: o.infoHash,
      preHandshake: o.preHandshake ?? new Uint8Array(0),
      events: [],
      notes: [],
      facts: {},
      malformed: [],
    };
    const pre = o.preHandshake?.length ?? 0;
    this.inOffset = pre + HANDSHAKE_LENGTH;
    if (o.badHandshake) {
      this.record.badHandshake = { bytes: o.badHandshake, code: 'bad_protocol', offset: 1, message: 'not "BitTorrent protocol"' };
      this.record.end = { at: 5, how: 'handshake_failed', code: 'bad_protocol', offset: 1 };
      return;
    }
    const bytes = encodeHandshake({ reserved: makeReserved(o.peer ?? { extended: true, fast: true }), infoHash: o.peerInfoHash ?? o.infoHash, peerId: encodeUtf8('-XX0001-transcript01') }).slice(
      0,
      HANDSHAKE_LENGTH - (20 - (o.peerIdLength ?? 20)),
    );
    this.record.handshake = { offset: pre, bytes, reserved: bytes.subarray(20, 28), infoHash: bytes.subarray(28, 48), peerId: bytes.subarray(48, 68), at: 1 };
  }

  /** Advance the clock (ms) before the next event. */
  wait(ms: number): this {
    this.clock += ms;
    return this;
  }

  /** A message from the peer. */
  in(...messages: Message[]): this {
    for (const message of messages) this.push('in', message);
    return this;
  }

  /** A message we sent, with the tag the scenario would give it. */
  out(tag: string | undefined, ...messages: Message[]): this {
    for (const message of messages) this.push('out', message, tag);
    return this;
  }

  malformed(bytes: Uint8Array): this {
    this.record.malformed.push({ offset: this.inOffset, bytes, code: 'bad_length', message: 'have payload is 5 bytes, not 4', at: this.clock });
    this.inOffset += bytes.length;
    return this;
  }

  fact(key: string, value: unknown): this {
    this.record.facts[key] = value;
    return this;
  }

  note(text: string): this {
    this.record.notes.push(text);
    return this;
  }

  end(how: SessionEnd['how'] = 'we_closed'): SessionRecord<Message> {
    this.record.end = { at: ++this.clock, how };
    return this.record;
  }

  private push(dir: 'in' | 'out', message: Message, tag?: string): void {
    const bytes = encodeMessage(message);
    const offset = dir === 'in' ? this.inOffset : this.outOffset;
    if (dir === 'in') this.inOffset += bytes.length;
    else this.outOffset += bytes.length;
    const e: WireEvent<Message> = { seq: this.record.events.length, dir, at: ++this.clock, offset, bytes, message, ...(tag ? { tag } : {}) };
    this.record.events.push(e);
  }
}
