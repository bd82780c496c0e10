import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { captureIo } from '../../tools/io.js';
import { handler as downloadHandler } from '../../tools/commands/download.js';
import { handler as seedHandler } from '../../tools/commands/seed.js';
import { fixture, sameFiles } from '../engine/helpers.js';
import { TransportError } from '../../lib/core/errors.js';
import { describeError } from '../../tools/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { createServer } from 'node:net';

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The download and seed tools called as handlers (what the CLI runs), against btscope seeders on loopback. */
let dir: string;
const seeders: RunningSeeder[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-tool-dl-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(seeders.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function seeded(length = 300_000) {
  const seedDir = path.join(dir, 'seed');
  const fx = await fixture(seedDir, { name: 't.bin', pieceLength: 32768, files: [{ path: ['t.bin'], length }], single: true });
  const torrentPath = path.join(dir, 't.torrent');
  await writeFile(torrentPath, fx.bytes);
  const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
  seeders.push(s);
  return { fx, torrentPath, seedDir, peer: `127.0.0.1:${s.port}` };
}

const base = { 'frames-limit': 40, 'max-peers': 5, timeout: 10, 'full-check': false };

describe('btscope download (handler)', () => {
  it('--json: the summary has ok, bytes, seconds, peers, hashFailures; nothing on stderr when it is not a TTY', async () => {
    const { fx, torrentPath, peer } = await seeded();
    const writes = vi.spyOn(process.stderr, 'write');
    const io = captureIo();
    const out = path.join(dir, 'out');
    const code = await downloadHandler({ ...base, target: torrentPath, o: out, peer: [peer], json: true, io });
    expect(code).toBe(0);
    const j = JSON.parse(io.text());
    expect(j).toMatchObject({ ok: true, bytes: 300_000, peers: 1, hashFailures: 0, resumedBytes: 0 });
    expect(typeof j.seconds).toBe('number');
    expect(io.stderr).toEqual([]);
    expect(writes).not.toHaveBeenCalled();
    expect(await sameFiles(out, 't.bin', fx.files, true)).toBe(true);
  });

  it('--verbose says on stderr what happened to each peer, each address once; without it, nothing', async () => {
    const { torrentPath, peer } = await seeded();
    const dead = await closedPort();
    const quiet = captureIo();
    expect(await downloadHandler({ ...base, target: torrentPath, o: path.join(dir, 'q'), peer: [`127.0.0.1:${dead}`, peer], json: false, io: quiet })).toBe(0);
    expect(quiet.stderr).toEqual([]);
    const loud = captureIo();
    expect(await downloadHandler({ ...base, target: torrentPath, o: path.join(dir, 'v'), peer: [`127.0.0.1:${dead}`, peer], json: false, verbose: true, io: loud })).toBe(0);
    const refused = loud.stderr.filter((l) => l.includes('ECONNREFUSED'));
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const l of refused) expect(l).toBe(`peer 127.0.0.1:${dead}: connect ECONNREFUSED 127.0.0.1:${dead}`);
  });

  it('-o names a file (or a path through one): a usage error naming it, not a crash', async () => {
    const { torrentPath, peer } = await seeded();
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    for (const o of [file, path.join(file, 'sub')]) {
      const err = (await downloadHandler({ ...base, target: torrentPath, o, peer: [peer], json: true, io: captureIo() }).catch((e: unknown) => e)) as Error;
      expect(describeError(err)).toMatchObject({ message: `-o ${o}: a file is in the way (the download goes into a folder, created if missing)`, exitCode: EXIT.usage });
    }
  });

  it('only a dead peer: stalled after --timeout, a TransportError (exit 4 in the CLI)', async () => {
    const { torrentPath } = await seeded();
    const dead = await closedPort();
    const err = (await downloadHandler({ ...base, timeout: 1, target: torrentPath, o: path.join(dir, 'd'), peer: [`127.0.0.1:${dead}`], json: true, io: captureIo() }).catch((e: unknown) => e)) as TransportError;
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe('stalled');
    expect(describeError(err).exitCode).toBe(EXIT.network);
    expect(err.message).toMatch(/no progress for 1 s: no peer connected \(1 address known, 0 banned\)/);
  });

  it('progress bar on stderr only when it is a TTY; a text summary on stdout', async () => {
    const { torrentPath, peer } = await seeded(2_000_000);
    const writes = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const io = { ...captureIo(), errIsTTY: true };
    const code = await downloadHandler({ ...base, target: torrentPath, o: path.join(dir, 'out'), peer: [peer], json: false, io });
    expect(code).toBe(0);
    const bars = writes.mock.calls.map((c) => String(c[0])).filter((s) => s.startsWith('\r'));
    expect(bars.length).toBeGreaterThanOrEqual(1);
    expect(bars.at(-1)).toMatch(/100/);
    expect(io.stdout.join('\n')).toMatch(/^downloaded t\.bin \([0-9a-f]{40}\) into .*\n {2}1\.9\d MiB verified in [\d.]+ s/);
  });

  it('--frames=handshake,have_all shows only those message types, at most --frames-limit', async () => {
    const { torrentPath, peer } = await seeded();
    const io = captureIo();
    const code = await downloadHandler({ ...base, target: torrentPath, o: path.join(dir, 'out'), peer: [peer], json: false, frames: 'handshake,have_all', io });
    expect(code).toBe(0);
    const titles = io.stdout.filter((s) => /^── [→←] /.test(s)).map((s) => s.split('\n')[0]!);
    // Ours and theirs; the seeder has every piece and speaks BEP 6, so it sends have all (not a bitfield).
    expect(titles.filter((t) => / handshake /.test(t))).toHaveLength(2);
    expect(titles.filter((t) => /^── ← .* have_all /.test(t))).toHaveLength(1);
    expect(titles).toHaveLength(3);

    const few = captureIo();
    await downloadHandler({ ...base, 'frames-limit': 3, target: torrentPath, o: path.join(dir, 'out2'), peer: [peer], json: false, frames: '', io: few });
    expect(few.stdout.filter((s) => /^── [→←] /.test(s))).toHaveLength(3);
    expect(few.stdout.some((s) => s.includes('more frames not shown (--frames-limit 3)'))).toBe(true);
  });

  it('no peer and no tracker: a usage error, nothing downloaded', async () => {
    const fx = await fixture(path.join(dir, 'seed'), { name: 'n.bin', pieceLength: 16384, files: [{ path: ['n.bin'], length: 10 }], single: true });
    const torrentPath = path.join(dir, 'n.torrent');
    await writeFile(torrentPath, fx.bytes);
    await expect(downloadHandler({ ...base, target: torrentPath, o: path.join(dir, 'out'), peer: [], json: true, io: captureIo() })).rejects.toMatchObject({
      name: 'UsageError',
    });
  });

  it('a bad --peer is a usage error naming it', async () => {
    const { torrentPath } = await seeded(100);
    await expect(downloadHandler({ ...base, target: torrentPath, o: path.join(dir, 'out'), peer: ['nope'], json: true, io: captureIo() })).rejects.toThrow(/--peer nope/);
  });
});

describe('btscope seed (handler)', () => {
  it('--json prints where it listens; a download from it completes; it stops when asked', async () => {
    const { fx, torrentPath, seedDir } = await seeded();
    const io = captureIo();
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const running = seedHandler({ target: torrentPath, dir: seedDir, port: 0, host: '127.0.0.1', tracker: [], connect: [], 'skip-check': false, 'frames-limit': 0, json: true, io, stop: stopped });
    for (let i = 0; i < 100 && io.stdout.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const ready = JSON.parse(io.stdout[0]!);
    expect(ready).toMatchObject({ ok: true, host: '127.0.0.1', pieces: fx.torrent.pieceCount, pieceCount: fx.torrent.pieceCount });
    const dl = captureIo();
    const out = path.join(dir, 'from-seed');
    expect(await downloadHandler({ ...base, target: torrentPath, o: out, peer: [`127.0.0.1:${ready.port}`], json: true, io: dl })).toBe(0);
    expect(await sameFiles(out, 't.bin', fx.files, true)).toBe(true);
    stop();
    expect(await running).toBe(0);
  });

  it('the built CLI with --seconds 120 stops at SIGTERM, at once: no timer or signal handler keeps it alive', async () => {
    const { torrentPath, seedDir } = await seeded();
    const cli = path.resolve('dist/tools/cli.js');
    const child = spawn(process.execPath, [cli, 'seed', torrentPath, seedDir, '--host', '127.0.0.1', '--port', '0', '--seconds', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      for (let i = 0; i < 250 && !out.includes('seeding'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(out).toMatch(/^seeding t\.bin on 127\.0\.0\.1:\d+ \(10\/10 pieces verified\)/);
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000))]);
      expect(code).toBe(0);
      expect(err).toMatch(/served 0 peer\(s\), uploaded 0 bytes/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 20_000);

  it('nothing to seed (empty folder): exit code 1 at once, without waiting for a stop, nothing started', async () => {
    const { torrentPath } = await seeded();
    const io = captureIo();
    const never = new Promise<void>(() => undefined);
    await mkdir(path.join(dir, 'empty'));
    const err = (await seedHandler({ target: torrentPath, dir: path.join(dir, 'empty'), port: 0, host: '127.0.0.1', tracker: [], connect: [], 'skip-check': false, 'frames-limit': 0, json: false, io, stop: never }).catch((e: unknown) => e)) as Error;
    const said = describeError(err);
    expect(said.exitCode).toBe(EXIT.failure);
    expect(said.message).toMatch(/^none of the 10 pieces is in .*empty \(check DIR/);
    // Said before anything is hashed, listened on or announced (issue 14, item 13).
    expect(io.stderr).toEqual([]);
  });
});
