import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createServer } from 'node:net';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { download } from '../../lib/engine/downloader.js';
import { startThrottleProxy } from '../helpers/throttle-proxy.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../../lib/wire/extended.js';
import { decodeUtPex, PEX_FLAGS, type UtPex } from '../../lib/wire/ut-pex.js';
import { fixture } from './helpers.js';
import { WireClient } from './wire-client.js';

/**
 * BEP 11 out of btscope's swarm: seeder S with another btscope seeder P
 * connected; a scripted client that offers ut_pex must hear of P's listen
 * address (not of itself), under the id IT chose, and then no more than one
 * message a pexIntervalMs, and only when something changed.
 */
const THEIR_PEX_ID = 5;
const INTERVAL = 1500;
let dir: string;
let torrent: Awaited<ReturnType<typeof fixture>>['torrent'];
const closers: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-pex-send-'));
  torrent = (await fixture(dir, { name: 'p.bin', pieceLength: 16384, files: [{ path: ['p.bin'], length: 5 * 16384 + 7 }], single: true })).torrent;
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

async function seeder(o: Partial<Parameters<typeof startSeeder>[0]> = {}): Promise<RunningSeeder> {
  const s = await startSeeder({ torrent, dir, skipCheck: true, pexIntervalMs: INTERVAL, pexFirstDelayMs: 200, ...o });
  closers.push(() => s.close());
  return s;
}

/** Until `s` has `n` peers whose extended handshake arrived (bounded). */
async function peersReady(s: RunningSeeder, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ([...s.swarm.peers].filter((p) => p.session.remoteExtended).length < n) {
    if (Date.now() > deadline) throw new Error(`seeder has ${s.swarm.peers.size} peers, not ${n}, after 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A scripted peer: handshake, then its extended handshake with `m` and `p` as given. */
async function client(s: RunningSeeder, ext: { m: Record<string, number>; p?: number }): Promise<WireClient & { pex: { at: number; value: UtPex }[] }> {
  const c = await WireClient.open(s.port, torrent.infoHash!, { fast: true, extended: true });
  closers.push(() => c.close());
  c.send({ type: 'extended', extId: 0, payload: encodeExtendedHandshake({ m: ext.m, v: 'pex test', ...(ext.p ? { p: ext.p } : {}) }) });
  const pex: { at: number; value: UtPex }[] = [];
  // Stamp each ut_pex when it arrives. This listener runs right after the client's own (same 'data'
  // event), before the waiters it woke resume, so `until` sees the stamped list.
  let seen = 0;
  c.socket.on('data', () => {
    const now = c.of('extended').filter((m) => m.extId === THEIR_PEX_ID);
    for (; seen < now.length; seen++) pex.push({ at: Date.now(), value: decodeUtPex(now[seen]!.payload).value });
  });
  return Object.assign(c, { pex });
}

const endpoints = (l: { ip: string; port: number }[]): string[] => l.map((p) => `${p.ip}:${p.port}`);

describe('btscope sends ut_pex (BEP 11)', () => {
  it('lists the other connected peer (it dialled S: its IP and the p of its extended handshake), seed flag, not the recipient', async () => {
    const s = await seeder();
    const p = await seeder({ connectTo: [{ host: '127.0.0.1', port: s.port }] });
    await peersReady(s, 1);
    const c = await client(s, { m: { ut_pex: THEIR_PEX_ID }, p: 45678 });
    expect(await c.until(() => c.pex.length >= 1, 5000)).toBe(true);
    // Our extended handshake offers ut_pex, under LOCAL_EXTENSION_IDS' id.
    const ours = decodeExtendedHandshake(c.of('extended').find((m) => m.extId === 0)!.payload).value;
    expect(ours.m.get('ut_pex')).toBe(1);
    expect(ours.p).toBe(s.port);
    const first = c.pex[0]!.value;
    expect(endpoints(first.added)).toEqual([`127.0.0.1:${p.port}`]);
    // P has every piece (seed); S did not dial it, so not "reachable"; never "prefers encryption".
    expect(first.added[0]!.flags).toBe(PEX_FLAGS.seed);
    expect(endpoints([...first.added, ...first.added6])).not.toContain('127.0.0.1:45678');
    expect([first.dropped, first.added6, first.dropped6]).toEqual([[], [], []]);
  }, 20_000);

  it('a peer S dialled is listed as reachable (0x10) at the address dialled', async () => {
    const p = await seeder();
    const s = await seeder({ connectTo: [{ host: '127.0.0.1', port: p.port }] });
    await peersReady(s, 1);
    const c = await client(s, { m: { ut_pex: THEIR_PEX_ID } });
    expect(await c.until(() => c.pex.length >= 1, 5000)).toBe(true);
    expect(c.pex[0]!.value.added).toEqual([{ ip: '127.0.0.1', port: p.port, flags: PEX_FLAGS.seed | PEX_FLAGS.reachable }]);
  }, 20_000);

  it('second message not before pexIntervalMs, only on a change; a peer gone is dropped, never both added and dropped', async () => {
    const s = await seeder();
    const p = await seeder({ connectTo: [{ host: '127.0.0.1', port: s.port }] });
    await peersReady(s, 1);
    const c = await client(s, { m: { ut_pex: THEIR_PEX_ID } });
    expect(await c.until(() => c.pex.length >= 1, 5000)).toBe(true);
    // A leecher with a listen port joins right after the first message: it must wait for the interval.
    const other = await client(s, { m: {}, p: 34567 });
    await peersReady(s, 3);
    expect(await c.until(() => c.pex.length >= 2, INTERVAL + 3000)).toBe(true);
    const gap = c.pex[1]!.at - c.pex[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(INTERVAL - 25); // stamped on arrival: loopback jitter only
    expect(endpoints(c.pex[1]!.value.added)).toEqual(['127.0.0.1:34567']);
    expect(c.pex[1]!.value.added[0]!.flags).toBe(0); // has nothing, dialled us
    expect(c.pex[1]!.value.dropped).toEqual([]);
    // The leecher offered no ut_pex: it is told nothing.
    // The leecher leaves: the next message drops it, and only it.
    other.close();
    expect(await c.until(() => c.pex.length >= 3, INTERVAL + 3000)).toBe(true);
    const third = c.pex[2]!.value;
    expect(endpoints(third.dropped)).toEqual(['127.0.0.1:34567']);
    expect(third.added).toEqual([]);
    expect(c.pex[2]!.at - c.pex[1]!.at).toBeGreaterThanOrEqual(INTERVAL - 25);
    // Nothing changes any more: no fourth message in two more intervals.
    await new Promise((r) => setTimeout(r, 2 * INTERVAL + 300));
    expect(c.pex.length).toBe(3);
    expect(endpoints(c.pex.flatMap((m) => m.value.added))).toContain(`127.0.0.1:${p.port}`);
    expect(other.of('extended').filter((m) => m.extId !== 0)).toEqual([]);
  }, 20_000);

  it('no ut_pex to a peer that does not offer it, nor when there is nobody else to tell of', async () => {
    const s = await seeder();
    const alone = await client(s, { m: { ut_pex: THEIR_PEX_ID } });
    await peersReady(s, 1);
    // Past the first-message delay with nobody else connected: nothing (BEP 11 has no empty messages).
    await new Promise((r) => setTimeout(r, 800));
    expect(alone.pex.length).toBe(0);
    const noPex = await client(s, { m: { ut_metadata: 3 }, p: 40001 });
    await peersReady(s, 2);
    // alone is told of noPex (it has a listen port); noPex hears nothing, ever.
    expect(await alone.until(() => alone.pex.length >= 1, 5000)).toBe(true);
    expect(endpoints(alone.pex[0]!.value.added)).toEqual(['127.0.0.1:40001']);
    await new Promise((r) => setTimeout(r, 800));
    expect(noPex.of('extended').filter((m) => m.extId !== 0)).toEqual([]);
    expect(alone.pex.length).toBe(1);
  }, 20_000);

  it('a downloader tells the peers that connect to it of the peers it dialled: D2, given only D1, reaches the seeder through D1', async () => {
    const s = await seeder();
    // The seeder behind a slow relay, so D1 is still downloading (and listening) when D2 comes.
    const relay = await startThrottleProxy({ host: '127.0.0.1', port: s.port }, 16 * 1024);
    closers.push(() => relay.close());
    const d1Port = await freePort();
    const d1 = download({ torrent, outDir: path.join(dir, 'd1'), peers: [{ host: '127.0.0.1', port: relay.port }], listenPort: d1Port, timeoutMs: 20_000 });
    closers.push(() => d1.then(() => undefined, () => undefined));
    const d2Lines: string[] = [];
    const r2 = await download({ torrent, outDir: path.join(dir, 'd2'), peers: [{ host: '127.0.0.1', port: d1Port }], timeoutMs: 20_000, stallTimeoutMs: 15_000, log: (l) => d2Lines.push(l) });
    expect(r2.ok).toBe(true);
    // D1, and the relay, which D2 knew of only from D1's ut_pex.
    expect(r2.peers, d2Lines.join('\n')).toBe(2);
    expect((await d1).ok).toBe(true);
  }, 30_000);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
