import { expect } from 'vitest';
import type { ComplianceReport, CheckResult } from '../../lib/compliance/types.js';
import { makeTestTorrent, type TestTorrent } from '../helpers/broken-peer.js';

/**
 * What the comply interop tests share: the torrent every real client seeds
 * (16 MiB in 256 KiB pieces, a short last piece: room for the cancel probe's
 * 12 MiB queue), the checks any seeder that serves data must pass, and the
 * one-line-per-check summary the README table is written from.
 */
export const COMPLY_TORRENT: TestTorrent = makeTestTorrent(16 * 1024 * 1024 + 12345, 256 * 1024);

/** Checks any seeder that serves the data at all must pass. */
export const MUST_PASS = [
  'handshake.protocol',
  'handshake.info_hash',
  'handshake.peer_id',
  'handshake.extended_bit',
  'handshake.fast_bit',
  'ordering.nothing_before_handshake',
  'ordering.piece_requested',
  'bitfield.length',
  'bitfield.spare_bits',
  'requests.valid',
  'liveness.wellformed',
  'extended.handshake',
  'extended.metadata_size',
  'ut_metadata.pieces',
];

export function summary(name: string, r: Pick<ComplianceReport, 'checks'>): string {
  const n = (k: CheckResult['result']) => r.checks.filter((c) => c.result === k).length;
  // Non-passes in full, and the cancel verdict always (its numbers go in the README).
  const rows = r.checks.filter((c) => c.result !== 'pass' || c.id === 'requests.cancel').map((c) => `  ${c.id}: ${c.result} — ${c.detail}`);
  return `${name}: ${n('pass')} pass, ${n('fail')} fail, ${n('warn')} warn, ${n('skip')} skip\n${rows.join('\n')}\n`;
}

/** The MUST_PASS checks among those run all passed. */
export function expectCore(checks: readonly CheckResult[]): void {
  const bad = checks.filter((c) => MUST_PASS.includes(c.id) && c.result !== 'pass').map((c) => `${c.id}: ${c.result} ${c.detail}`);
  expect(bad).toEqual([]);
}

export const result = (checks: readonly CheckResult[], id: string): CheckResult['result'] | undefined => checks.find((c) => c.id === id)?.result;
