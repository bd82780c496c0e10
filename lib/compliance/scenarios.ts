import { randomBytes } from 'node:crypto';
import { encodeUtMetadata, UT_METADATA_PIECE_LENGTH } from '../wire/ut-metadata.js';
import { encodeExtendedHandshake, decodeExtendedHandshake, LOCAL_EXTENSION_IDS } from '../wire/extended.js';
import { makeReserved, supportsV2 } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import { encodeUtf8 } from '../core/bytes.js';
import { ProbeSession } from './probe-session.js';
import { extendedOn, fastOn, isAnswered, type Event } from './view.js';
import type { ComplyTarget, ScenarioName, SessionRecord } from './types.js';
import { answersHashRequest, v2Plan } from './checks/v2.js';
import { makePeerId } from '../peer/identity.js';
import { runMseScenario } from './mse-scenarios.js';
import { encryptedDialer } from '../transport/mse.js';
import type { EncryptionPolicy } from '../mse/constants.js';

/** BEP 3 convention: requests are for 16 KiB blocks. */
export const BLOCK = 16 * 1024;

export interface ScenarioOptions {
  readonly host: string;
  readonly port: number;
  /** Time left for the whole run; each wait is also bounded by its own timeout below. */
  readonly timeoutMs: number;
  /** How long to listen for what a peer sends unprompted after the handshake (bitfield, extended handshake, allowed fast). */
  readonly settleMs?: number;
  /** How long to wait for an answer (handshake, unchoke, a piece, a reject). */
  readonly answerMs?: number;
  /** Largest piece fetched whole to hash-check. */
  readonly maxPieceBytes?: number;
  /** Our peer id (btscope's own, `-bS0100-` and 12 random bytes, by default). */
  readonly peerId?: Uint8Array;
  /**
   * Cancel probe: how many bytes of requests to queue ahead of the cancelled
   * ones. It must exceed what a peer can have in flight (loopback kernel
   * buffers hold about 4 MiB, libtorrent's send buffer up to 3 MiB more) for
   * "every cancelled block still came" to mean the peer ignored cancel.
   */
  readonly cancelQueueBytes?: number;
  /** Cancel probe: how many of the last requested blocks to cancel. */
  readonly cancelCount?: number;
  /** Cancel probe: how long to hold reading (the peer fills its buffers) before cancelling. */
  readonly cancelHoldMs?: number;
  /** MSE/PE for every probe connection (`require`: the whole battery over RC4). Default plaintext. */
  readonly encryption?: EncryptionPolicy;
}

/** Defaults of the cancel probe (see ScenarioOptions). */
export const CANCEL_QUEUE_BYTES = 12 * 1024 * 1024;
export const CANCEL_COUNT = 32;
export const CANCEL_HOLD_MS = 1000;

interface Timing {
  settle: number;
  answer: number;
  deadline: number;
}

/** Our peer id: the one btscope uses everywhere (lib/peer/identity.ts). */
export const defaultPeerId = makePeerId;

const pieceSize = (t: ComplyTarget, index: number): number => (index === t.pieceCount - 1 ? t.lastPieceLength : t.pieceLength);
const req = (index: number, begin: number, length: number): Message => ({ type: 'request', index, begin, length });

/** The scenario table: what each one does is described where it is defined. */
const SCENARIOS: Record<Exclude<ScenarioName, 'mse' | 'mse_wrong_skey'>, (s: ProbeSession, t: ComplyTarget, time: Timing, o: ScenarioOptions) => Promise<void>> = {
  main: mainScenario,
  plain: plainScenario,
  cancel: cancelScenario,
  keepalive: (s, t, time) => probeThenWork(s, t, time, { type: 'keep_alive' }, 'keepalive'),
  unknown_id: (s, t, time) => probeThenWork(s, t, time, { type: 'unknown', id: 99, payload: Uint8Array.of(1, 2, 3) }, 'unknown_id'),
  oversize_request: (s, t, time) => badRequest(s, t, time, req(0, 0, 2 * BLOCK)),
  beyond_piece_request: (s, t, time) => badRequest(s, t, time, req(0, Math.max(0, pieceSize(t, 0) - 8), Math.min(BLOCK, pieceSize(t, 0)))),
  bad_index_request: (s, t, time) => badRequest(s, t, time, req(t.pieceCount, 0, Math.min(BLOCK, t.pieceLength))),
  v2_hashes: v2HashesScenario,
};

/** The reserved bits each scenario offers: all of them clear only in `plain`. */
const RESERVED: Record<ScenarioName, Uint8Array> = {
  main: makeReserved({ extended: true, fast: true }),
  plain: makeReserved({}),
  cancel: makeReserved({ extended: true, fast: true }),
  keepalive: makeReserved({ extended: true, fast: true }),
  unknown_id: makeReserved({ extended: true, fast: true }),
  oversize_request: makeReserved({ extended: true, fast: true }),
  beyond_piece_request: makeReserved({ extended: true, fast: true }),
  bad_index_request: makeReserved({ extended: true, fast: true }),
  v2_hashes: makeReserved({ extended: true, fast: true, v2: true }),
  mse: makeReserved({ extended: true, fast: true }),
  mse_wrong_skey: makeReserved({ extended: true, fast: true }),
};

/**
 * The info-hash our handshake carries: the SHA-1 one (v1, hybrid), else the
 * first 20 bytes of the SHA-256 one (BEP 52, a v2-only torrent).
 */
export function handshakeInfoHash(t: ComplyTarget): Uint8Array {
  if (t.infoHash) return t.infoHash;
  if (t.infoHashV2) return t.infoHashV2.subarray(0, 20);
  throw new RangeError('the target has no info-hash');
}

/** Connect, run one scenario, close. Always returns a record (a refused connection is a record too). */
export async function runScenario(name: ScenarioName, target: ComplyTarget, o: ScenarioOptions): Promise<SessionRecord> {
  const answer = o.answerMs ?? 5000;
  if (name === 'mse' || name === 'mse_wrong_skey') {
    return runMseScenario(name, target, handshakeInfoHash(target), { host: o.host, port: o.port, answerMs: Math.min(answer, o.timeoutMs), peerId: o.peerId ?? defaultPeerId() });
  }
  // Nothing to ask a v2 question about: no connection at all, the checks say why they skip.
  const plan = name === 'v2_hashes' ? v2Plan(target) : undefined;
  if (typeof plan === 'string') {
    return { scenario: name, ourReserved: RESERVED[name], ourInfoHash: handshakeInfoHash(target), preHandshake: new Uint8Array(0), events: [], notes: [plan], facts: {} };
  }
  const time: Timing = { settle: o.settleMs ?? 1500, answer, deadline: Date.now() + o.timeoutMs };
  const s = await ProbeSession.open({
    host: o.host,
    port: o.port,
    scenario: name,
    infoHash: handshakeInfoHash(target),
    peerId: o.peerId ?? defaultPeerId(),
    reserved: RESERVED[name],
    connectTimeoutMs: Math.min(answer, o.timeoutMs),
    // Room for a wrong-sized piece (so it is seen, not cut off) and a full bitfield.
    maxFrameLength: Math.max(1024 * 1024, 5 + Math.ceil(target.pieceCount / 8), 13 + 4 * BLOCK),
    maxBytes: 64 * 1024 * 1024 + 2 * (o.maxPieceBytes ?? 4 * 1024 * 1024),
    ...(o.encryption && o.encryption !== 'plaintext' ? { dial: encryptedDialer(o.encryption, handshakeInfoHash(target)) } : {}),
  });
  try {
    if (!s.closed) {
      const got = await s.until(() => s.handshaken, Math.min(answer, left(time)));
      if (!got) s.record.notes.push(s.closed ? 'the connection ended before a handshake' : `no handshake within ${answer} ms`);
      else await SCENARIOS[name](s, target, time, o);
    }
  } finally {
    s.close();
  }
  return s.record;
}

const left = (t: Timing): number => Math.max(0, t.deadline - Date.now());
const wait = (t: Timing, ms: number): number => Math.min(ms, left(t));

/** What a well-behaved downloader with nothing sends after the handshake: have none (fast) and its extended handshake. */
function greet(s: ProbeSession): void {
  const msgs: Array<{ message: Message }> = [];
  if (fastOn(s.record)) msgs.push({ message: { type: 'have_none' } });
  if (extendedOn(s.record)) {
    msgs.push({ message: { type: 'extended', extId: 0, payload: encodeExtendedHandshake({ m: LOCAL_EXTENSION_IDS, v: 'btscope comply', reqq: 250 }) } });
  }
  if (msgs.length > 0) s.send(msgs);
}

const isUnchoke = (e: Event) => e.message.type === 'unchoke';
const unchoked = (s: ProbeSession): boolean => {
  let state = false;
  for (const e of s.record.events) {
    if (e.dir !== 'in') continue;
    if (e.message.type === 'unchoke') state = true;
    else if (e.message.type === 'choke') state = false;
  }
  return state;
};

/** Every request sent so far has a piece or a reject (or the peer closed). */
function answered(s: ProbeSession, tags?: readonly string[]): boolean {
  return s.record.events.every((e) => {
    if (e.dir !== 'out' || e.message.type !== 'request' || (tags && !tags.includes(e.tag ?? ''))) return true;
    return isAnswered(s.record, e);
  });
}

/** Send interested and wait to be unchoked. */
async function getUnchoked(s: ProbeSession, time: Timing): Promise<boolean> {
  if (unchoked(s)) return true;
  s.send({ type: 'interested' }, 'interested');
  await s.until(() => unchoked(s), wait(time, time.answer));
  if (!unchoked(s)) s.record.notes.push(s.closed ? 'the peer closed the connection before unchoking us' : `not unchoked within ${time.answer} ms of interested`);
  return unchoked(s);
}

/**
 * main: both extension bits on, as a good downloader. Listens to what the
 * peer sends first; asks while choked (for an ordinary and an allowed fast
 * piece); fetches all metadata pieces and one past the end; then interested,
 * whole pieces to hash-check, and requests followed by not_interested to see how a choke treats them.
 */
async function mainScenario(s: ProbeSession, t: ComplyTarget, time: Timing, o: ScenarioOptions): Promise<void> {
  await mainBody(s, t, time, o);
  // Last, as some peers close on it: a ut_metadata request past the end.
  const r = s.record;
  const id = r.facts['metadataPeerId'] as number | undefined;
  if (id !== undefined && !s.closed) {
    const before = metadataReplies(r);
    s.send({ type: 'extended', extId: id, payload: encodeUtMetadata({ msgType: 'request', piece: r.facts['metadataBeyondPiece'] as number }) }, 'metadata_beyond');
    await s.until(() => metadataReplies(r) > before, wait(time, Math.min(time.answer, 2000)));
  }
}

const metadataReplies = (r: SessionRecord): number =>
  r.events.filter((e) => e.dir === 'in' && (e.message as Message).type === 'extended' && (e.message as { extId: number }).extId === LOCAL_EXTENSION_IDS.ut_metadata).length;

async function mainBody(s: ProbeSession, t: ComplyTarget, time: Timing, o: ScenarioOptions): Promise<void> {
  const r = s.record;
  greet(s);
  // What the peer sends unprompted: bitfield / have all, extended handshake, allowed fast.
  const extHs = (e: Event) => e.message.type === 'extended' && e.message.extId === 0;
  const bitfieldLike = (e: Event) => ['bitfield', 'have_all', 'have_none'].includes(e.message.type);
  await s.until(
    () => r.events.some((e) => e.dir === 'in' && bitfieldLike(e)) && (!extendedOn(r) || r.events.some((e) => e.dir === 'in' && extHs(e))),
    wait(time, time.settle),
  );
  await s.idle(wait(time, Math.min(300, time.settle)));

  // A request while choked, for a piece not in the peer's allowed fast set.
  const allowed = new Set(r.events.filter((e) => e.dir === 'in' && e.message.type === 'allowed_fast').map((e) => (e.message as { index: number }).index));
  if (unchoked(s)) r.notes.push('the peer unchoked us before we were interested: no request while choked');
  else {
    let p = 0;
    while (p < t.pieceCount && allowed.has(p)) p++;
    if (p < t.pieceCount) {
      s.send(req(p, 0, Math.min(BLOCK, pieceSize(t, p))), 'choked_request');
      if (fastOn(r)) await s.until(() => answered(s, ['choked_request']), wait(time, time.answer));
      else await s.idle(wait(time, Math.min(1000, time.settle)));
    }
    // BEP 6 allowed fast: "if you ask me for this, I will give it to you even if you're choked".
    if (fastOn(r) && allowed.size > 0 && !unchoked(s)) {
      const a = [...allowed].find((i) => i < t.pieceCount);
      if (a !== undefined) {
        s.send(req(a, 0, Math.min(BLOCK, pieceSize(t, a))), 'allowed_fast_request');
        await s.until(() => answered(s, ['allowed_fast_request']), wait(time, time.answer));
      }
    } else if (fastOn(r) && allowed.size === 0) r.notes.push('no allowed fast messages from the peer');
  }

  // ut_metadata (BEP 9): every piece, and one past the end.
  const hsEvent = [...r.events].reverse().find((e) => e.dir === 'in' && extHs(e));
  if (extendedOn(r) && hsEvent && hsEvent.message.type === 'extended') {
    let peerIds: ReadonlyMap<string, number> | undefined;
    let size: number | undefined;
    try {
      const hs = decodeExtendedHandshake(hsEvent.message.payload, hsEvent.offset + 6).value;
      peerIds = hs.m;
      size = hs.metadataSize;
    } catch {
      r.notes.push('ut_metadata not probed: the extended handshake does not decode');
    }
    const id = peerIds?.get('ut_metadata');
    if (peerIds && (!id || size === undefined || size <= 0 || size > 8 * 1024 * 1024)) {
      r.notes.push(id ? `ut_metadata not probed: metadata_size ${size ?? 'missing'}` : 'the peer does not offer ut_metadata');
    } else if (id && size !== undefined) {
      const n = Math.ceil(size / UT_METADATA_PIECE_LENGTH);
      r.facts['metadataSize'] = size;
      r.facts['metadataBeyondPiece'] = n;
      const msgs: Array<{ message: Message; tag: string }> = [];
      for (let i = 0; i < n; i++) msgs.push({ message: { type: 'extended', extId: id, payload: encodeUtMetadata({ msgType: 'request', piece: i }) }, tag: 'metadata_request' });
      s.send(msgs);
      r.facts['metadataPeerId'] = id;
      await s.until(() => metadataReplies(r) >= n, wait(time, time.answer));
    }
  } else if (!extendedOn(r)) r.notes.push('ut_metadata not probed: no extension protocol');

  if (!(await getUnchoked(s, time))) return;

  // Whole pieces, to hash-check: the first and the last (a short last piece is a classic off-by-one).
  const maxPiece = o.maxPieceBytes ?? 4 * 1024 * 1024;
  const whole = [...new Set([0, t.pieceCount - 1])];
  const blocks: Message[] = [];
  for (const p of whole) {
    const size = Math.min(pieceSize(t, p), maxPiece);
    if (size < pieceSize(t, p)) r.notes.push(`piece ${p} is ${pieceSize(t, p)} bytes: only the first ${maxPiece} fetched, not hash-checked`);
    for (let b = 0; b < size; b += BLOCK) blocks.push(req(p, b, Math.min(BLOCK, size - b)));
  }
  // A window of outstanding requests, as a real downloader keeps.
  const WINDOW = 32;
  let sent = 0;
  while (sent < blocks.length && !s.closed && left(time) > 0) {
    const batch = blocks.slice(sent, sent + WINDOW);
    s.send(batch.map((message) => ({ message, tag: 'valid_request' })));
    sent += batch.length;
    const ok = await s.until(() => answered(s, ['valid_request']), wait(time, time.answer));
    if (!ok) break;
  }
  if (s.closed || !unchoked(s)) return;

  // Requests, then not_interested: if the peer chokes us, BEP 6 wants a reject for each request it drops.
  const probe: Message[] = [];
  const p = t.pieceCount - 1;
  for (let b = 0; b < pieceSize(t, p) && probe.length < 4; b += BLOCK) probe.push(req(p, b, Math.min(BLOCK, pieceSize(t, p) - b)));
  s.send([...probe.map((message) => ({ message, tag: 'choke_probe' })), { message: { type: 'not_interested' }, tag: 'not_interested' }]);
  const since = r.events[r.events.length - 1]!.seq;
  await s.until(() => answered(s, ['choke_probe']) || r.events.some((e) => e.seq > since && e.message.type === 'choke'), wait(time, time.answer));
  if (r.events.some((e) => e.seq > since && e.message.type === 'choke') && fastOn(r)) {
    await s.until(() => answered(s, ['choke_probe']), wait(time, time.answer));
  }
  if (!r.events.some((e) => e.seq > since && e.message.type === 'choke')) r.notes.push('the peer did not choke us after not_interested');
  // Give stragglers a last chance, then say whether every request had its time.
  await s.until(() => answered(s), wait(time, time.answer));
  r.facts['requestsSettled'] = answered(s) || left(time) > 0;
  r.facts['unchokedAt'] = r.events.find((e) => e.dir === 'in' && isUnchoke(e))?.at;
}

/**
 * cancel: with reading held, a long queue of requests and then cancels for
 * its last few blocks. The peer cannot send while we do not read, so the
 * cancelled blocks sit behind `cancelQueueBytes` of others in its queue: a
 * peer that honours cancel drops (or, with fast, rejects) at least some of
 * them; one that sends every one of them ignores cancel. The transcript
 * records the hold (facts) so the check can tell a conclusive probe from one
 * the torrent or the peer's reqq kept too short.
 */
async function cancelScenario(s: ProbeSession, t: ComplyTarget, time: Timing, o: ScenarioOptions): Promise<void> {
  const r = s.record;
  greet(s);
  const extHs = (e: Event) => e.message.type === 'extended' && e.message.extId === 0;
  await s.until(() => !extendedOn(r) || r.events.some((e) => e.dir === 'in' && extHs(e)), wait(time, time.settle));
  let reqq: number | undefined;
  const hsEvent = r.events.find((e) => e.dir === 'in' && extHs(e));
  if (hsEvent && hsEvent.message.type === 'extended') {
    try {
      reqq = decodeExtendedHandshake(hsEvent.message.payload, hsEvent.offset + 6).value.reqq;
    } catch {
      /* judged by extended.handshake */
    }
  }
  if (!(await getUnchoked(s, time))) return;

  const queueBytes = o.cancelQueueBytes ?? CANCEL_QUEUE_BYTES;
  const want = Math.ceil(queueBytes / BLOCK) + (o.cancelCount ?? CANCEL_COUNT);
  // BEP 10 reqq: more outstanding requests than the peer said it keeps may be dropped, which would look like honoured cancels.
  const cap = reqq !== undefined && reqq > 0 ? Math.min(want, reqq) : want;
  const blocks: Message[] = [];
  // Whole pieces between the first and the last, so every queued block is a full 16 KiB.
  const start = t.pieceCount > 1 ? 1 : 0;
  const end = t.pieceCount > 2 ? t.pieceCount - 1 : t.pieceCount;
  for (let p = start; p < end && blocks.length < cap; p++) {
    for (let b = 0; b < pieceSize(t, p) && blocks.length < cap; b += BLOCK) blocks.push(req(p, b, Math.min(BLOCK, pieceSize(t, p) - b)));
  }
  if (blocks.length < 2) {
    r.notes.push('too few blocks in the torrent to test cancel');
    return;
  }
  const k = Math.min(o.cancelCount ?? CANCEL_COUNT, Math.floor(blocks.length / 2));
  r.facts['cancelQueueBytes'] = queueBytes;
  if (blocks.length < want) r.notes.push(`cancel probe: ${blocks.length} requests (${reqq !== undefined && reqq < want ? `the peer's reqq is ${reqq}` : 'the torrent is small'}), ${want} wanted`);

  s.pauseReading();
  s.send(blocks.map((message) => ({ message, tag: 'cancel_request' })));
  await s.idle(wait(time, o.cancelHoldMs ?? CANCEL_HOLD_MS));
  s.send(blocks.slice(blocks.length - k).map((m) => ({ message: { ...(m as Extract<Message, { type: 'request' }>), type: 'cancel' as const }, tag: 'cancel' })));
  // Let the peer read the cancels before its queue drains.
  await s.idle(wait(time, 300));
  s.resumeReading();
  const burst = r.events.filter((e) => e.tag === 'cancel_request');
  const kept = burst.slice(0, burst.length - k);
  await s.until(() => kept.every((e) => isAnswered(r, e)), wait(time, time.answer));
  // The cancelled ones: a reject each with fast (BEP 6), else quiet; give stragglers a moment either way.
  if (fastOn(r)) await s.until(() => burst.every((e) => isAnswered(r, e)), wait(time, Math.min(time.answer, 2000)));
  else await s.idle(wait(time, 500));
}

/** plain: no extension bits at all; listen, ask while choked, say interested, listen. */
async function plainScenario(s: ProbeSession, t: ComplyTarget, time: Timing): Promise<void> {
  await s.idle(wait(time, time.settle));
  if (!unchoked(s)) {
    s.send(req(0, 0, Math.min(BLOCK, pieceSize(t, 0))), 'choked_request');
    await s.idle(wait(time, Math.min(1000, time.settle)));
  }
  s.send({ type: 'interested' }, 'interested');
  await s.until(() => unchoked(s), wait(time, Math.min(time.answer, 2000)));
  await s.idle(wait(time, 300));
}

/** keepalive / unknown_id: send the probe first, then behave: interested, one request; does the peer still work? */
async function probeThenWork(s: ProbeSession, t: ComplyTarget, time: Timing, probe: Message, tag: string): Promise<void> {
  greet(s);
  await s.idle(wait(time, Math.min(300, time.settle)));
  s.send(probe, tag);
  await s.idle(wait(time, 200));
  if (s.closed) return;
  if (!(await getUnchoked(s, time))) return;
  s.send(req(0, 0, Math.min(BLOCK, pieceSize(t, 0))), 'probe_request');
  await s.until(() => answered(s, ['probe_request']), wait(time, time.answer));
}

/** One request that breaks a rule, sent while unchoked; the peer may close. */
async function badRequest(s: ProbeSession, _t: ComplyTarget, time: Timing, bad: Message): Promise<void> {
  greet(s);
  await s.idle(wait(time, Math.min(300, time.settle)));
  if (!(await getUnchoked(s, time))) return;
  s.send(bad, 'bad_request');
  await s.until(() => answered(s, ['bad_request']), wait(time, Math.min(time.answer, 3000)));
}

/**
 * v2_hashes (BEP 52): the three extension bits on. After the peer's first
 * messages, one valid hash request (the second half of the largest file's
 * padded piece layer, proof layers up to the root), then invalid ones one at
 * a time (each may end the connection): index past the layer, length 3, an
 * unknown pieces root. On a hybrid the peer must set the v2 bit first.
 */
async function v2HashesScenario(s: ProbeSession, t: ComplyTarget, time: Timing): Promise<void> {
  const r = s.record;
  const plan = v2Plan(t);
  if (typeof plan === 'string') return;
  greet(s);
  const bitfieldLike = (e: Event) => ['bitfield', 'have_all', 'have_none'].includes(e.message.type);
  await s.until(() => r.events.some((e) => e.dir === 'in' && bitfieldLike(e)), wait(time, time.settle));
  await s.idle(wait(time, Math.min(300, time.settle)));
  if (s.closed) return;
  // BEP 52 upgrade path: on a hybrid's v1 info-hash only a peer that set the v2 bit speaks v2 messages.
  if (t.infoHash && !supportsV2(r.handshake!.reserved)) {
    r.notes.push('the peer did not set the v2 reserved bit: no hash requests sent');
    return;
  }
  r.facts['v2File'] = plan.file.path.join('/');
  s.send({ type: 'hash_request', ...plan.valid }, 'hash_request');
  const valid = r.events[r.events.length - 1]!;
  await s.until(() => r.events.some((e) => e.dir === 'in' && e.seq > valid.seq && answersHashRequest(plan.valid, e.message)), wait(time, time.answer));
  // Stragglers: a second answer would be a finding.
  await s.idle(wait(time, 200));
  for (const bad of plan.invalid) {
    if (s.closed || left(time) <= 0) break;
    s.send({ type: 'hash_request', ...bad.request }, 'hash_invalid');
    const sent = r.events[r.events.length - 1]!;
    await s.until(() => r.events.some((e) => e.dir === 'in' && e.seq > sent.seq && answersHashRequest(bad.request, e.message)), wait(time, Math.min(time.answer, 3000)));
  }
  if (!s.closed) await s.idle(wait(time, 200));
}
