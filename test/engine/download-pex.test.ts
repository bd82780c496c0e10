import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { TransportError } from '../../lib/core/errors.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { makeReserved } from '../../lib/wire/handshake.js';
import { decodeExtendedHandshake } from '../../lib/wire/extended.js';
import { encodeUtPex } from '../../lib/wire/ut-pex.js';
import { startHostilePeer, type HostilePeer, type ScriptedConnection } from '../helpers/hostile-peer.js';
import { fixture, sameFiles } from './helpers.js';

/**
 * BEP 11 in the downloader: it is given only peer A. A has nothing (have none,
 * never unchokes) but tells us about seeder B over ut_pex. The download can
 * only finish if the engine dials B and takes the data from it.
 */
let dir: string;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-pex-'));
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

interface PexLog {
  ourPexId?: number;
  sent: boolean;
}

/**
 * Peer A: handshake (fast + extended), extended handshake offering ut_pex as id 7,
 * have none; after our extended handshake, one ut_pex message naming `peers`
 * under the id WE advertised (or `useId` to test a wrong one). Then it idles.
 */
const pexPeer =
  (peers: { ip: string; port: number }[], log: PexLog, useId?: number) =>
  async (c: ScriptedConnection): Promise<void> => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: hs.infoHash, reserved: makeReserved({ extended: true, fast: true }) });
    await c.sendExtendedHandshake({ m: { ut_pex: 7 }, v: 'pex-only 1.0' });
    await c.send({ type: 'have_none' });
    for (;;) {
      const m = await c.readMessage();
      if (!m) return;
      if (m.type === 'extended' && m.extId === 0 && !log.sent) {
        log.ourPexId = decodeExtendedHandshake(m.payload).value.m.get('ut_pex');
        const id = useId ?? log.ourPexId;
        if (id === undefined) return;
        await c.send({ type: 'extended', extId: id, payload: encodeUtPex({ added: peers.map((p) => ({ ...p, flags: 0x02 })) }) });
        log.sent = true;
      }
    }
  };

async function setup() {
  const seedDir = path.join(dir, 'seed');
  const fx = await fixture(seedDir, { name: 'pex.bin', pieceLength: 16384, files: [{ path: ['pex.bin'], length: 256 * 1024 + 33 }], single: true });
  const b: RunningSeeder = await startSeeder({ torrent: fx.torrent, dir: seedDir });
  closers.push(() => b.close());
  return { fx, b };
}

async function peerA(script: (c: ScriptedConnection) => Promise<void>): Promise<HostilePeer> {
  const a = await startHostilePeer(script, { timeoutMs: 15_000 });
  closers.push(() => a.close());
  return a;
}

describe('download: PEX peers are used (BEP 11)', () => {
  it('given only A, learns seeder B from A\'s ut_pex, connects to B and gets every byte from it', async () => {
    const { fx, b } = await setup();
    const log: PexLog = { sent: false };
    const a = await peerA(pexPeer([{ ip: '127.0.0.1', port: b.port }], log));
    const lines: string[] = [];
    const out = path.join(dir, 'out');
    // Plaintext: the scripted peer A speaks no MSE, and this test counts its connections.
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: a.host, port: a.port }], stallTimeoutMs: 15_000, timeoutMs: 25_000, log: (l) => lines.push(l), encryption: 'plaintext' });
    expect(log.ourPexId).toBeGreaterThan(0); // we advertise ut_pex in our extended handshake
    expect(log.sent).toBe(true);
    expect(r.ok).toBe(true);
    expect(r.bytes).toBe(256 * 1024 + 33);
    expect(r.peers).toBe(2); // A, then B
    expect(r.peersWithData).toBe(1); // A has nothing: all of it came from B
    expect(b.peersServed()).toBe(1);
    expect(a.accepted()).toBe(1);
    expect(a.scriptErrors).toEqual([]);
    expect(await sameFiles(out, 'pex.bin', fx.files, true)).toBe(true);
  }, 30_000);

  it('a ut_pex under an id we never advertised is not taken as PEX: B is not dialled, the download stalls', async () => {
    const { fx, b } = await setup();
    const log: PexLog = { sent: false };
    const a = await peerA(pexPeer([{ ip: '127.0.0.1', port: b.port }], log, 9));
    const r = await download({ torrent: fx.torrent, outDir: path.join(dir, 'out'), peers: [{ host: a.host, port: a.port }], stallTimeoutMs: 1500, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(log.sent).toBe(true);
    expect(b.peersServed()).toBe(0);
    expect(r).toBeInstanceOf(TransportError);
    expect((r as TransportError).code).toBe('stalled');
    expect((r as TransportError).message).toContain('1 peer(s) connected'); // A only
  }, 30_000);
});
