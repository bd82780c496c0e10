import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompliance } from '../../lib/compliance/runner.js';
import { ALL_CHECKS } from '../../lib/compliance/checks/index.js';
import { FAULTS, makeTestTorrent, startBrokenPeer, type Fault, type TestTorrent } from '../helpers/broken-peer.js';

/**
 * Every check is shown to fail on its fault (one fault at a time), so no check
 * can pass by accident; and the unbroken peer passes every check.
 */
// 64 pieces of 256 KiB + a short last piece: 65 pieces leave 7 spare bits, and 16 MiB is room for the
// cancel probe to queue its 12 MiB (more than loopback's socket buffers hold) ahead of the cancelled blocks.
// A hybrid (BEP 52), so the v2 checks run too: its piece layer is 65 hashes, padded to 128.
const torrent: TestTorrent = makeTestTorrent(16 * 1024 * 1024 + 5000, 256 * 1024, undefined, { v2: true });
const FAST = { settleMs: 250, answerMs: 1500, timeoutMs: 20_000 };

async function check(fault: Fault | undefined, only?: string[]) {
  const peer = await startBrokenPeer(torrent, fault);
  try {
    return await runCompliance(torrent.target, { host: '127.0.0.1', port: peer.port, ...FAST, ...(only ? { only } : {}) });
  } finally {
    await peer.close();
  }
}

/** The fault, and the check that must fail on it. */
const CASES: ReadonlyArray<[Fault, string]> = [
  ['bad_protocol_string', 'handshake.protocol'],
  ['wrong_info_hash', 'handshake.info_hash'],
  ['short_peer_id', 'handshake.peer_id'],
  ['message_before_handshake', 'ordering.nothing_before_handshake'],
  ['extended_without_bit', 'handshake.extended_bit'],
  ['fast_without_bit', 'handshake.fast_bit'],
  ['extended_when_off', 'extended.bit_off'],
  ['fast_when_off', 'fast.bit_off'],
  ['bitfield_twice', 'ordering.bitfield_once'],
  ['bitfield_late', 'ordering.bitfield_first'],
  ['bitfield_wrong_length', 'bitfield.length'],
  ['spare_bits', 'bitfield.spare_bits'],
  ['have_out_of_range', 'bitfield.have_range'],
  ['piece_before_request', 'ordering.piece_requested'],
  ['wrong_piece_bytes', 'requests.valid'],
  ['oversize_piece', 'requests.valid'],
  ['serve_when_choked', 'requests.choked'],
  ['no_reject_when_choked', 'requests.choked'],
  ['serve_oversize_request', 'requests.oversize'],
  ['serve_beyond_piece', 'requests.beyond_piece'],
  ['serve_bad_index', 'requests.bad_index'],
  ['ignore_cancel', 'requests.cancel'],
  ['keepalive_close', 'liveness.keepalive'],
  ['unknown_id_hang', 'liveness.unknown_id'],
  ['malformed_frame', 'liveness.wellformed'],
  ['ext_handshake_not_dict', 'extended.handshake'],
  ['m_id_out_of_range', 'extended.m_ids'],
  ['lying_metadata_size', 'extended.metadata_size'],
  ['metadata_piece_wrong_size', 'ut_metadata.pieces'],
  ['wrong_metadata', 'ut_metadata.pieces'],
  ['metadata_beyond_served', 'ut_metadata.beyond'],
  ['pex_malformed', 'ut_pex.wellformed'],
  ['pex_too_often', 'ut_pex.rate'],
  ['pex_too_many', 'ut_pex.limits'],
  ['pex_overlap', 'ut_pex.no_overlap'],
  ['no_bitfield_with_fast', 'fast.first_message'],
  ['allowed_fast_not_served', 'fast.allowed_fast'],
  ['double_answer', 'fast.one_answer'],
  ['no_reject_on_choke', 'fast.reject_on_choke'],
  ['wrong_hashes', 'v2.hash_answer'],
  ['no_hash_answer', 'v2.hash_answer'],
  ['hashes_for_invalid', 'v2.hash_invalid'],
];

describe('compliance checker against the broken peer', () => {
  it('covers every fault and every check', () => {
    expect(new Set(CASES.map(([f]) => f))).toEqual(new Set(FAULTS));
    expect(new Set(CASES.map(([, c]) => c))).toEqual(new Set(ALL_CHECKS.filter((c) => c.id !== 'extended.info' && c.id !== 'v2.reserved_bit').map((c) => c.id)));
  });

  it('the unbroken peer passes every check', async () => {
    const report = await check(undefined);
    const notPassed = report.checks.filter((c) => c.result !== 'pass').map((c) => `${c.id}: ${c.result} ${c.detail}`);
    expect(notPassed).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.passed).toBe(ALL_CHECKS.length);
  }, 30_000);

  it.each(CASES)('fault %s fails %s', async (fault, id) => {
    const report = await check(fault, [id]);
    const c = report.checks.find((x) => x.id === id)!;
    expect(c.result, `${id}: ${c.detail}`).toBe('fail');
    expect(report.failed).toBeGreaterThan(0);
  }, 30_000);
});
