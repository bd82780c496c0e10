/**
 * Torrent creation, btscope vs mktorrent vs libtorrent, side by side in one run.
 * Run: npx tsc -p . && node dist/bench/create.js [--mib 256] [--runs 3] [--big] [--cold]
 *
 * Writes one file of random data (--mib, default 256; --big adds a 2 GiB run),
 * then times, interleaved run by run (a burst of load from other jobs falls on
 * all of them): `btscope create --kind v1`, `mktorrent -t 2`, libtorrent's
 * create_torrent (python bindings, v1 only; test/helpers/lt_make.py), all with
 * the same piece length (256 KiB: -l 18), and `btscope create --kind hybrid`
 * (SHA-1 and SHA-256 trees). Median wall time per tool, MB/s, peak RSS (GNU
 * time). The v1 info-hashes of btscope and mktorrent must be equal (checked).
 * Warm cache by default (the data was just written or read); --cold drops the
 * page cache before each run (root: /proc/sys/vm/drop_caches), and says so.
 * Not part of `npm test`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI, PY, numberOption, root } from './common.js';

const argv = process.argv.slice(2);
const MIB = numberOption(argv, 'mib', 256);
const RUNS = numberOption(argv, 'runs', 3);
const BIG = argv.includes('--big');
const COLD = argv.includes('--cold');
const PIECE = 256 * 1024;
const LT_MAKE = path.join(root, 'test', 'helpers', 'lt_make.py');
const PROC_TIMEOUT_MS = 600_000;

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  rssMb: number;
}

/** A command under GNU time, bounded by PROC_TIMEOUT_MS. */
function timed(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('/usr/bin/time', ['-f', 'BENCH_RSS_KB=%M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} did not finish within ${PROC_TIMEOUT_MS / 1000} s`));
    }, PROC_TIMEOUT_MS);
    p.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(p);
      const m = /BENCH_RSS_KB=(\d+)/.exec(stderr);
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000, rssMb: m ? Number(m[1]) / 1024 : NaN });
    });
  });
}

async function writeData(file: string, mib: number): Promise<void> {
  const f = await open(file, 'w');
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (let left = mib * 1024 * 1024; left > 0; left -= chunk.length) {
    randomFillSync(chunk);
    await f.write(chunk, 0, Math.min(left, chunk.length));
  }
  await f.close();
}

function dropCaches(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bench(dir: string, mib: number): Promise<void> {
  const data = path.join(dir, `data-${mib}.bin`);
  await writeData(data, mib);
  const out = (n: string): string => path.join(dir, `${n}.torrent`);
  const tools: { name: string; run: () => Promise<Run> }[] = [
    { name: 'btscope create --kind v1', run: () => timed(process.execPath, [CLI, 'create', data, '-o', out('bt-v1'), '--force', '--kind', 'v1', '--piece-length', String(PIECE), '--no-date', '--no-attr', '--json']) },
    { name: 'mktorrent -t 2', run: async () => (await rm(out('mk'), { force: true }), timed('mktorrent', ['-t', '2', '-d', '-l', '18', '-a', 'http://127.0.0.1:6969/announce', '-o', out('mk'), data])) },
    { name: 'libtorrent create_torrent v1', run: () => timed(PY, [LT_MAKE, data, out('lt'), String(PIECE), 'v1']) },
    { name: 'btscope create --kind hybrid', run: () => timed(process.execPath, [CLI, 'create', data, '-o', out('bt-hy'), '--force', '--kind', 'hybrid', '--piece-length', String(PIECE), '--no-date', '--json']) },
  ];
  const times = new Map<string, Run[]>(tools.map((t) => [t.name, []]));
  let cold = false;
  for (let r = 0; r < RUNS; r++) {
    for (const t of tools) {
      if (COLD) cold = dropCaches();
      const run = await t.run();
      if (run.code !== 0) throw new Error(`${t.name} failed (${run.code}): ${run.stderr}`);
      times.get(t.name)!.push(run);
    }
  }
  const bt = JSON.parse(times.get('btscope create --kind v1')![0]!.stdout) as { infoHash: string };
  const mkHash = /"infoHash": "([0-9a-f]{40})"/.exec((await timed(process.execPath, [CLI, 'torrent', '--json', out('mk')])).stdout)?.[1];
  const lt = JSON.parse(times.get('libtorrent create_torrent v1')![0]!.stdout.trim()) as { v1: string };
  console.log(`\n${mib} MiB, one file, piece length ${PIECE / 1024} KiB, ${RUNS} runs each, interleaved; cache ${COLD ? (cold ? 'cold (dropped before each run)' : 'WARM: could not drop caches (not root?)') : 'warm (data in the page cache)'}`);
  console.log(`v1 info-hashes: btscope ${bt.infoHash}, mktorrent ${mkHash}, libtorrent ${lt.v1} ${bt.infoHash === mkHash && mkHash === lt.v1 ? '(equal)' : '(DIFFERENT)'}`);
  console.log('tool                            median wall   MB/s      peak RSS   (runs)');
  const mk = median(times.get('mktorrent -t 2')!.map((x) => x.seconds));
  for (const [name, runs] of times) {
    const s = median(runs.map((x) => x.seconds));
    const rss = Math.max(...runs.map((x) => x.rssMb));
    console.log(
      `${name.padEnd(32)}${`${s.toFixed(2)} s`.padStart(10)}${((mib * 1.048576) / s).toFixed(0).padStart(8)}${`${rss.toFixed(0)} MB`.padStart(12)}   (${runs.map((x) => x.seconds.toFixed(2)).join(' ')})  ${(s / mk).toFixed(2)}x mktorrent`,
    );
  }
  await rm(data, { force: true });
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`build first: npx tsc -p . (${CLI} missing)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'btscope-bench-create-'));
  try {
    await bench(dir, MIB);
    if (BIG) await bench(dir, 2048);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
