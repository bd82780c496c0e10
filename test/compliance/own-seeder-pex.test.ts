import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCompliance } from '../../lib/compliance/runner.js';
import type { ComplianceReport } from '../../lib/compliance/types.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { LOCAL_EXTENSION_IDS } from '../../lib/wire/extended.js';
import { decodeUtPex, PEX_FLAGS, type UtPex } from '../../lib/wire/ut-pex.js';
import type { Message } from '../../lib/wire/messages.js';
import { makeTestTorrent } from '../helpers/broken-peer.js';

/**
 * btscope comply's ut_pex checks (BEP 11) against btscope's own seeder. With
 * nobody else connected there is nothing to exchange (skip); with another
 * peer connected first, the seeder's ut_pex reaches the probe's main session
 * and every check passes. A seeder set to send faster than BEP 11 allows is
 * caught by ut_pex.rate.
 */
const T = makeTestTorrent(2 * 1024 * 1024 + 4321, 256 * 1024);
const torrent = parseTorrent(T.torrentFile);
const RUN = { host: '127.0.0.1', settleMs: 1000, answerMs: 3000, timeoutMs: 20_000, only: ['ut_pex'] };
let dir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-comply-pex-'));
  await writeFile(path.join(dir, 'comply-test.bin'), T.data);
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function seeder(o: Partial<Parameters<typeof startSeeder>[0]> = {}): Promise<RunningSeeder> {
  const s = await startSeeder({ torrent, dir, skipCheck: true, ...o });
  closers.push(() => s.close());
  return s;
}

async function until(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const withExtended = (s: RunningSeeder): number => [...s.swarm.peers].filter((p) => p.session.remoteExtended).length;
const verdicts = (r: ComplianceReport): Record<string, string> => Object.fromEntries(r.checks.map((c) => [c.id, c.result]));

/** The ut_pex messages the seeder sent the probe's main session, decoded. */
function pexSeen(r: ComplianceReport): UtPex[] {
  const main = r.sessions.find((s) => s.scenario === 'main')!;
  return main.events
    .filter((e) => e.dir === 'in' && (e.message as Message).type === 'extended' && (e.message as { extId: number }).extId === LOCAL_EXTENSION_IDS.ut_pex)
    .map((e) => decodeUtPex((e.message as { payload: Uint8Array }).payload).value);
}

describe('comply ut_pex vs btscope seed', () => {
  it('alone: nothing to exchange, every ut_pex check skips', async () => {
    const s = await seeder();
    const r = await runCompliance(T.target, { ...RUN, port: s.port });
    expect(verdicts(r)).toEqual({ 'ut_pex.wellformed': 'skip', 'ut_pex.rate': 'skip', 'ut_pex.limits': 'skip', 'ut_pex.no_overlap': 'skip' });
    expect(pexSeen(r)).toEqual([]);
  }, 30_000);

  it('with another peer connected first: the probe is told of it and every ut_pex check passes', async () => {
    const s = await seeder();
    const p = await seeder({ connectTo: [{ host: '127.0.0.1', port: s.port }] });
    await until('P connected to S', () => withExtended(s) === 1);
    const r = await runCompliance(T.target, { ...RUN, port: s.port });
    process.stderr.write(`btscope seed with a second peer: ${r.checks.map((c) => `${c.id} ${c.result} (${c.detail})`).join('; ')}\n`);
    expect(verdicts(r)).toEqual({ 'ut_pex.wellformed': 'pass', 'ut_pex.rate': 'pass', 'ut_pex.limits': 'pass', 'ut_pex.no_overlap': 'pass' });
    const seen = pexSeen(r);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.added).toEqual([{ ip: '127.0.0.1', port: p.port, flags: PEX_FLAGS.seed }]);
  }, 30_000);

  it('a seeder set to send on every change (pexIntervalMs 0) fails ut_pex.rate when a peer joins during the session', async () => {
    const s = await seeder({ pexIntervalMs: 0 });
    const p = await seeder({ connectTo: [{ host: '127.0.0.1', port: s.port }] });
    await until('P connected to S', () => withExtended(s) === 1);
    const probe = runCompliance(T.target, { ...RUN, port: s.port });
    // As soon as S has told the probe of P, a third peer joins: S tells the probe again at once.
    await until('first ut_pex to the probe', () => [...s.swarm.peers].some((q) => (q.pex?.sent ?? 0) >= 1));
    const q = await seeder({ connectTo: [{ host: '127.0.0.1', port: s.port }] });
    const r = await probe;
    const seen = pexSeen(r);
    expect(seen.map((m) => m.added.map((a) => a.port))).toEqual([[p.port], [q.port]]);
    const rate = r.checks.find((c) => c.id === 'ut_pex.rate')!;
    expect(rate.result).toBe('fail');
    expect(rate.detail).toMatch(/^two ut_pex messages \d+ ms apart$/);
    expect(verdicts(r)['ut_pex.no_overlap']).toBe('pass');
  }, 30_000);
});
