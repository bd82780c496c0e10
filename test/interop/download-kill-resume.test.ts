import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { RESUME_HEADER_LENGTH, resumeFileName } from '../../lib/engine/resume.js';
import { toHex } from '../../lib/core/bytes.js';
import { fixture, sameFiles } from '../engine/helpers.js';
import { startThrottleProxy, type ThrottleProxy } from '../helpers/throttle-proxy.js';

/**
 * `btscope download` killed with SIGKILL in the middle of a transfer, then
 * started again: the second run finds what the first verified, fetches only
 * the rest, and the result is byte-identical. Runs the built CLI
 * (dist/tools/cli.js, `npx tsc -p .` first).
 */
const CLI = path.resolve('dist/tools/cli.js');
const PIECE = 65536;
const LENGTH = 8 * 1024 * 1024 + 12_345;

let dir: string;
let seeder: RunningSeeder | undefined;
let proxy: ThrottleProxy | undefined;
const children: ChildProcess[] = [];

function countBits(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) for (let x = b; x; x &= x - 1) n++;
  return n;
}

/** The verified-pieces bitfield of the resume journal on disk (undefined when it does not exist yet). */
async function journalBits(file: string, pieceCount: number): Promise<Uint8Array | undefined> {
  const j = await readFile(file).catch(() => undefined);
  if (!j || j.length < RESUME_HEADER_LENGTH + Math.ceil(pieceCount / 8)) return undefined;
  return j.subarray(RESUME_HEADER_LENGTH, RESUME_HEADER_LENGTH + Math.ceil(pieceCount / 8));
}

/** Verified pieces in the resume journal on disk (0 when it does not exist yet). */
async function verifiedInJournal(file: string, pieceCount: number): Promise<number> {
  const bits = await journalBits(file, pieceCount);
  return bits ? countBits(bits) : 0;
}

/** Bytes the journal calls verified: the last piece counts at its real, shorter length. */
async function verifiedBytesInJournal(file: string, pieceCount: number, length: number): Promise<number> {
  const bits = await journalBits(file, pieceCount);
  if (!bits) return 0;
  let bytes = 0;
  for (let i = 0; i < pieceCount; i++) {
    if ((bits[i >> 3]! & (0x80 >> (i & 7))) !== 0) bytes += Math.min(PIECE, length - i * PIECE);
  }
  return bytes;
}

function runCli(args: string[]): { proc: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { proc, done };
}

describe('kill -9 and resume through the CLI', () => {
  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p .)`);
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-kill-resume-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await proxy?.close();
    await seeder?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGKILL mid-download, restart: only the missing pieces are fetched, result byte-identical', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'resume.bin', pieceLength: PIECE, files: [{ path: ['resume.bin'], length: LENGTH }], single: true });
    const torrentPath = path.join(dir, 'resume.torrent');
    await writeFile(torrentPath, fx.bytes);
    seeder = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    // About 4 s for the whole torrent through the relay: plenty of time to kill it half-way.
    proxy = await startThrottleProxy({ host: '127.0.0.1', port: seeder.port }, 2 * 1024 * 1024);
    const out = path.join(dir, 'out');
    const journal = path.join(out, resumeFileName(toHex(fx.torrent.infoHash!)));
    const pieces = fx.torrent.pieceCount;

    const first = runCli(['download', torrentPath, '-o', out, '--peer', `127.0.0.1:${proxy.port}`, '--json', '--timeout', '30']);
    // Kill once a quarter of the pieces are verified (bounded: 20 s).
    const deadline = Date.now() + 20_000;
    let seen = 0;
    while (Date.now() < deadline && first.proc.exitCode === null) {
      seen = await verifiedInJournal(journal, pieces);
      if (seen >= pieces / 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBeGreaterThanOrEqual(pieces / 4);
    first.proc.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const verifiedAtKill = await verifiedInJournal(journal, pieces);
    const verifiedBytesAtKill = await verifiedBytesInJournal(journal, pieces, LENGTH);
    expect(verifiedAtKill).toBeGreaterThanOrEqual(seen);
    expect(verifiedAtKill).toBeLessThan(pieces);
    expect(await sameFiles(out, 'resume.bin', fx.files, true)).toBe(false);

    const uploadedBefore = seeder.swarm.uploaded.total;
    const second = runCli(['download', torrentPath, '-o', out, '--peer', `127.0.0.1:${seeder.port}`, '--json', '--timeout', '30']);
    const r = await second.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { ok: boolean; bytes: number; resumedBytes: number; checkedPieces: number; hashFailures: number };
    expect(summary.ok).toBe(true);
    expect(summary.hashFailures).toBe(0);
    // Every piece the journal called verified was found again (pieces written but not yet verified may be found too).
    expect(summary.resumedBytes).toBeGreaterThanOrEqual(verifiedBytesAtKill);
    expect(summary.resumedBytes + summary.bytes).toBe(LENGTH);
    // Only what the journal names was re-hashed, and only the missing pieces crossed the wire.
    expect(summary.checkedPieces).toBeLessThan(pieces);
    expect(seeder.swarm.uploaded.total - uploadedBefore).toBe(summary.bytes);
    expect(await sameFiles(out, 'resume.bin', fx.files, true)).toBe(true);
  }, 50_000);
});
