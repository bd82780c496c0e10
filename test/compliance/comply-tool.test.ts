import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler, parsePeer } from '../../tools/commands/comply.js';
import { captureIo } from '../../tools/io.js';
import { EXIT } from '../../tools/exit-codes.js';
import { TransportError, UsageError } from '../../lib/core/errors.js';
import { describeError } from '../../tools/errors.js';
import { MSE_CHECKS } from '../../lib/compliance/checks/mse.js';
import { ALL_CHECKS } from '../../lib/compliance/checks/index.js';
import { makeTestTorrent, startBrokenPeer } from '../helpers/broken-peer.js';

// Big enough for the cancel probe's queue (see broken-peer.test.ts).
// A hybrid (BEP 52): the v2 checks pass too.
const torrent = makeTestTorrent(16 * 1024 * 1024 + 777, 256 * 1024, undefined, { v2: true });
let dir: string;
let file: string;
const fast = { settle: 0.25, answer: 1.5, timeout: 20, list: false, frames: false, json: false };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btscope-comply-'));
  file = join(dir, 't.torrent');
  await writeFile(file, torrent.torrentFile);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('btscope comply', () => {
  it('--json: every check, exit 0, on an unbroken peer', async () => {
    const peer = await startBrokenPeer(torrent);
    try {
      const io = captureIo();
      const code = await handler({ ...fast, json: true, target: file, peer: `127.0.0.1:${peer.port}`, io });
      const out = JSON.parse(io.text());
      expect(out.checks.map((c: { id: string }) => c.id)).toEqual(ALL_CHECKS.map((c) => c.id));
      expect(out.failed).toBe(0);
      expect(out.passed).toBe(ALL_CHECKS.length);
      expect(code).toBe(EXIT.ok);
    } finally {
      await peer.close();
    }
  }, 30_000);

  it('table and --frames: a failing check shows its evidence, exit 1', async () => {
    const peer = await startBrokenPeer(torrent, 'bitfield_twice');
    try {
      const io = captureIo();
      const code = await handler({ ...fast, frames: true, only: ['ordering'], target: file, peer: `127.0.0.1:${peer.port}`, io });
      const text = io.text();
      expect(code).toBe(EXIT.failure);
      expect(text).toMatch(/ordering\.bitfield_once[^\n]*│[^\n]*fail/);
      expect(text).toContain('── ordering.bitfield_once: fail ──');
      // The evidence frames are the two bitfields, with their stream offsets (68: right after the handshake).
      expect(text).toMatch(/bitfield/);
      expect(text).toContain('00000044');
    } finally {
      await peer.close();
    }
  }, 30_000);

  it('on an 80-column TTY the report and its evidence frames fit 80 columns, words whole; piped it keeps its width (issue 14 item 10)', async () => {
    const peer = await startBrokenPeer(torrent, 'bitfield_twice');
    try {
      const run = async (columns?: number): Promise<string> => {
        const io = captureIo({ columns });
        expect(await handler({ ...fast, frames: true, only: ['ordering', 'handshake'], target: file, peer: `127.0.0.1:${peer.port}`, io })).toBe(EXIT.failure);
        return io.text();
      };
      const tty = await run(80);
      expect(tty.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
      expect(tty).toContain('ordering.bitfield_once');
      const piped = await run();
      expect(Math.max(...piped.split('\n').map((l) => [...l].length))).toBeGreaterThan(80);
    } finally {
      await peer.close();
    }
  }, 60_000);

  it('no colour codes unless stdout takes colour (table header and borders included)', async () => {
    const plain = captureIo();
    await handler({ ...fast, list: true, io: plain });
    expect(plain.text()).toContain('handshake.protocol');
    expect(plain.text()).not.toContain('\x1b[');
    const coloured = { ...captureIo(), color: true };
    const out: string[] = [];
    coloured.out = (t: string) => void out.push(t);
    await handler({ ...fast, list: true, io: coloured });
    expect(out.join('\n')).toContain('\x1b[');
  });

  it('--list names every check with its BEP (the MSE/PE checks, run with --encryption, last, BEP 0: no BEP defines MSE)', async () => {
    const io = captureIo();
    expect(await handler({ ...fast, list: true, json: true, io })).toBe(EXIT.ok);
    const list = JSON.parse(io.text());
    expect(list).toHaveLength(ALL_CHECKS.length + MSE_CHECKS.length);
    expect(list.at(-1)).toMatchObject({ id: 'mse.rc4_stream', bep: 0 });
    expect(list[0]).toMatchObject({ id: 'handshake.protocol', bep: 3 });
  });

  it('usage errors: bad peer address, unknown check id', async () => {
    expect(() => parsePeer('localhost')).toThrow(UsageError);
    expect(parsePeer('[::1]:6881')).toEqual({ host: '::1', port: 6881 });
    await expect(handler({ ...fast, only: ['no.such'], target: file, peer: '127.0.0.1:1', io: captureIo() })).rejects.toThrow(/unknown check "no.such"/);
  });

  it('a refused connection is a network error (exit 4), not a verdict', async () => {
    const peer = await startBrokenPeer(torrent);
    const port = peer.port;
    await peer.close();
    const err = await handler({ ...fast, json: true, target: file, peer: `127.0.0.1:${port}`, io: captureIo() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(describeError(err).exitCode).toBe(EXIT.network);
  }, 30_000);
});
