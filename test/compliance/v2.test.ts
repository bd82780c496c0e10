import { describe, expect, it } from 'vitest';
import { V2_CHECKS, expectedHashes, foldHashes, v2Plan, type V2Plan } from '../../lib/compliance/checks/v2.js';
import { evaluateChecks } from '../../lib/compliance/runner.js';
import { runScenario } from '../../lib/compliance/scenarios.js';
import type { CheckResultKind, SessionRecord } from '../../lib/compliance/types.js';
import type { Message } from '../../lib/wire/messages.js';
import { makeTestTorrent } from '../helpers/broken-peer.js';
import { Transcript } from './transcript.js';

/**
 * The BEP 52 checks on hand-written transcripts: a hybrid of 5 pieces of
 * 32 KiB + 100 bytes (6 pieces; the piece layer padded to 8), so the valid
 * probe asks for hashes 4..7 (2 real, 2 padding) with proof layers 2: one uncle.
 */
const torrent = makeTestTorrent(5 * 32 * 1024 + 100, 32 * 1024, 'v2.bin', { v2: true });
const T = torrent.target;
const plan = v2Plan(T) as V2Plan;
const v1 = makeTestTorrent(5 * 32 * 1024 + 100, 32 * 1024);

const answer = (type: 'hashes' | 'hash_reject', req = plan.valid, hashes = expectedHashes(plan, req)): Message =>
  type === 'hashes' ? { type, ...req, hashes } : { type, ...req };
const ask = (req = plan.valid): Message => ({ type: 'hash_request', ...req });
const [pastLayer, length3, unknownRoot] = plan.invalid.map((x) => x.request) as [typeof plan.valid, typeof plan.valid, typeof plan.valid];

function s(v2Bit = true): Transcript {
  const t = new Transcript('v2_hashes', { infoHash: T.infoHash });
  if (v2Bit) t.record.handshake!.bytes[27]! |= 0x10;
  return t.in({ type: 'have_all' });
}
const good = () => s().out('hash_request', ask()).in(answer('hashes'));
const withInvalid = (t: Transcript, answers: Array<Message | null>) => {
  [pastLayer, length3, unknownRoot].forEach((r, i) => {
    t.out('hash_invalid', ask(r));
    if (answers[i]) t.in(answers[i]!);
  });
  return t;
};
const flip = (b: Uint8Array, at: number) => {
  const c = b.slice();
  c[at]! ^= 1;
  return c;
};

type Case = [id: string, what: string, sessions: () => SessionRecord<Message>[], expected: CheckResultKind];
const CASES: Case[] = [
  ['v2.hash_answer', 'the layer and its uncle', () => [good().end()], 'pass'],
  ['v2.hash_answer', 'hash reject from a seeder', () => [s().out('hash_request', ask()).in(answer('hash_reject')).end()], 'warn'],
  ['v2.hash_answer', 'no answer', () => [s().out('hash_request', ask()).end()], 'fail'],
  ['v2.hash_answer', 'two answers', () => [good().in(answer('hashes')).end()], 'fail'],
  ['v2.hash_answer', 'a padding hash wrong', () => [s().out('hash_request', ask()).in(answer('hashes', plan.valid, flip(expectedHashes(plan, plan.valid), 3 * 32))).end()], 'fail'],
  ['v2.hash_answer', 'the uncle wrong', () => [s().out('hash_request', ask()).in(answer('hashes', plan.valid, flip(expectedHashes(plan, plan.valid), 4 * 32))).end()], 'fail'],
  ['v2.hash_answer', 'the uncle missing', () => [s().out('hash_request', ask()).in(answer('hashes', plan.valid, expectedHashes(plan, plan.valid).subarray(0, 4 * 32))).end()], 'fail'],
  ['v2.hash_invalid', 'three rejects', () => [withInvalid(good(), [answer('hash_reject', pastLayer), answer('hash_reject', length3), answer('hash_reject', unknownRoot)]).end()], 'pass'],
  ['v2.hash_invalid', 'rejects, then a close', () => [withInvalid(good(), [answer('hash_reject', pastLayer), answer('hash_reject', length3), null]).end('peer_closed')], 'pass'],
  ['v2.hash_invalid', 'hashes for an unknown root', () => [withInvalid(good(), [answer('hash_reject', pastLayer), answer('hash_reject', length3), answer('hashes', unknownRoot, new Uint8Array(64))]).end()], 'fail'],
  ['v2.hash_invalid', 'hashes past the layer', () => [withInvalid(good(), [answer('hashes', pastLayer, new Uint8Array(64)), answer('hash_reject', length3), answer('hash_reject', unknownRoot)]).end()], 'fail'],
  ['v2.hash_invalid', 'length 3 answered (lenient)', () => [withInvalid(good(), [answer('hash_reject', pastLayer), answer('hashes', length3, new Uint8Array(96)), answer('hash_reject', unknownRoot)]).end()], 'warn'],
  ['v2.hash_invalid', 'silence', () => [withInvalid(good(), [null, null, null]).end()], 'warn'],
  ['v2.reserved_bit', 'hybrid, bit set', () => [good().end()], 'pass'],
  ['v2.reserved_bit', 'hybrid, bit clear', () => [s(false).note('the peer did not set the v2 reserved bit: no hash requests sent').end()], 'warn'],
];

function verdict(id: string, sessions: SessionRecord<Message>[], target = T) {
  const check = V2_CHECKS.find((c) => c.id === id)!;
  return evaluateChecks('transcript', target, [check], new Map(sessions.map((x) => [x.scenario, x]))).checks[0]!;
}

describe('BEP 52 checks on hand-written transcripts', () => {
  it('the probe: hashes 4..7 of the 8-wide padded layer, proof layers 2 (one uncle)', () => {
    expect(plan.pieces).toBe(6);
    expect(plan.width).toBe(8);
    expect(plan.valid).toMatchObject({ baseLayer: 1, index: 4, length: 4, proofLayers: 2 });
    expect(expectedHashes(plan, plan.valid).length).toBe(5 * 32);
    // The expected answer folds to the pieces root (independently of how it was built).
    expect(foldHashes(plan.valid, expectedHashes(plan, plan.valid))).toEqual(plan.file.piecesRoot);
    // An uncle closer to the root than the range, on the left: index 2 of 4 with proof layers 2, two uncles.
    const r = { ...plan.valid, index: 2, length: 2 };
    expect(expectedHashes(plan, r).length).toBe(4 * 32);
    expect(foldHashes(r, expectedHashes(plan, r))).toEqual(plan.file.piecesRoot);
  });

  it('every v2 check has a passing and a failing (or warning) transcript', () => {
    for (const c of V2_CHECKS) {
      const mine = CASES.filter(([id]) => id === c.id).map(([, , , r]) => r);
      expect(mine, c.id).toContain('pass');
      expect(mine.some((r) => r === 'fail' || r === 'warn'), c.id).toBe(true);
    }
  });

  it.each(CASES.map(([id, what, sessions, expected]) => ({ id, what, sessions, expected })))('$id: $what -> $expected', ({ id, sessions, expected }) => {
    const r = verdict(id, sessions());
    expect(r.result, `${id}: ${r.detail}`).toBe(expected);
  });

  it('a v1 torrent, or no file larger than a piece: skip, with the reason, and no connection', async () => {
    // Port 1: nothing listens there; the scenario must not even dial.
    const rec = (await runScenario('v2_hashes', v1.target, { host: '127.0.0.1', port: 1, timeoutMs: 1000 })) as SessionRecord<Message>;
    expect(rec.end).toBeUndefined();
    expect(rec.events).toEqual([]);
    for (const c of V2_CHECKS) expect(verdict(c.id, [rec], v1.target).result).toBe('skip');
    expect(verdict('v2.hash_answer', [rec], v1.target).detail).toMatch(/v1 torrent/);
    const small = makeTestTorrent(20_000, 32 * 1024, 'small.bin', { v2: true });
    expect(v2Plan(small.target)).toMatch(/no file is larger than a piece/);
  });
});
