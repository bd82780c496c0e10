/**
 * The downloader and the seeder against real clients, in one run, on loopback.
 * Run: npx tsc -p . && node dist/bench/download.js [--mib 256] [--rounds 1] [--seed-only] [--encryption require]
 *
 * --encryption require: every connection MSE/PE with RC4 (the libtorrent seeder
 * and client forced to it, btscope --encryption require, aria2c
 * --bt-require-crypto with arc4 as the minimum).
 *
 * 1. One libtorrent seeder (test/helpers/lt_seed.py) serves a 256 MiB
 *    single-file torrent (256 KiB pieces, made by mktorrent, announced to our
 *    tracker). The same torrent is downloaded by `btscope download`, by aria2c
 *    and by a libtorrent client (bench/lt_client.py), one after the other, each
 *    finding the seeder through the tracker; each result is SHA-1 compared with
 *    the source. Wall time of each process and its peak RSS (GNU time) printed.
 * 2. The libtorrent client downloads the same torrent from `btscope seed` and
 *    from a libtorrent seeder (direct peer, trackers off): both times printed.
 * Goals (issue 5): btscope faster than both clients with peak RSS < 150 MB;
 * btscope seed as fast as libtorrent's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI, LT_SEED, PY, numberOption, root } from './common.js';
import { startTracker } from '../lib/tracker/server/index.js';

const LT_CLIENT = path.join(root, 'bench', 'lt_client.py');

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => numberOption(argv, name, def);
const MIB = opt('mib', 256);
const ROUNDS = opt('rounds', 1);
/** Only part 2 (the seeders), e.g. while working on `btscope seed`. */
const SEED_ONLY = argv.includes('--seed-only');
/** Every connection MSE/PE with RC4. */
const ENCRYPT = argv.includes('--encryption') && argv[argv.indexOf('--encryption') + 1] === 'require';
/** btscope as its bin runs it: OpenSSL's RC4 is in the legacy provider. */
const NODE = [process.execPath, '--openssl-legacy-provider'] as const;
const PROC_TIMEOUT_MS = 180_000;

const children = new Set<ChildProcess>();
function cleanupChildren(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
}
process.on('exit', cleanupChildren);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Peak RSS in MB (GNU time's %M). */
  rssMb: number;
}

/** Run a command under GNU time; bounded by PROC_TIMEOUT_MS. */
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
      const seconds = (performance.now() - t0) / 1000;
      const m = /BENCH_RSS_KB=(\d+)/.exec(stderr);
      resolve({ code, stdout, stderr: stderr.replace(/BENCH_RSS_KB=\d+\n?/, ''), seconds, rssMb: m ? Number(m[1]) / 1024 : NaN });
    });
  });
}

/** Start a long-running process and wait for a line matching `ready` on stdout (bounded). */
function startUntil(cmd: string, args: string[], ready: RegExp, ms = 60_000): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(p);
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} not ready within ${ms / 1000} s: ${err}`));
    }, ms);
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: p, match: m });
      }
    });
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(p);
      reject(new Error(`${cmd} exited ${code} before it was ready: ${err}`));
    });
  });
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
  children.delete(p);
}

async function sha1File(file: string): Promise<string> {
  const h = createHash('sha1');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function makeData(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'w');
  const h = createHash('sha1');
  const chunk = Buffer.alloc(1 << 22);
  let seed = 0;
  for (let done = 0; done < bytes; done += chunk.length) {
    randomFillSync(chunk);
    chunk.writeUInt32BE(seed++, 0);
    const part = chunk.subarray(0, Math.min(chunk.length, bytes - done));
    h.update(part);
    await fh.write(part);
  }
  await fh.close();
  return h.digest('hex');
}

const fmt = (s: number) => `${s.toFixed(2)} s`;
const rate = (bytes: number, s: number) => `${(bytes / s / 1e6).toFixed(0)} MB/s`;

async function main(): Promise<void> {
  const bytes = MIB * 1024 * 1024;
  const work = await mkdtemp(path.join(tmpdir(), 'btscope-bench-dl-'));
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, udp: false, interval: 30 });
  const procs: ChildProcess[] = [];
  try {
    const seedDir = path.join(work, 'seed');
    await mkdir(seedDir);
    const dataFile = path.join(seedDir, 'bench.bin');
    process.stderr.write(`making ${MIB} MiB of data and the torrent in ${work}\n`);
    const sourceHash = await makeData(dataFile, bytes);
    const torrent = path.join(work, 'bench.torrent');
    const mk = await timed('mktorrent', ['-l', '18', '-a', tracker.url, '-o', torrent, dataFile]);
    if (mk.code !== 0) throw new Error(`mktorrent failed: ${mk.stderr}`);

    const seeder = await startUntil(PY, [LT_SEED, torrent, seedDir, '0', ...(ENCRYPT ? ['--encrypt'] : [])], /ready (\d+)/);
    procs.push(seeder.proc);
    const ltSeedPort = Number(seeder.match[1]);
    process.stderr.write(`libtorrent seeder on 127.0.0.1:${ltSeedPort}\n`);

    type Result = { name: string; seconds: number[]; inner: number[]; rss: number[] };
    const results: Record<string, Result> = {};
    const record = (name: string, r: Run, inner?: number): void => {
      const x = (results[name] ??= { name, seconds: [], inner: [], rss: [] });
      x.seconds.push(r.seconds);
      if (inner !== undefined) x.inner.push(inner);
      x.rss.push(r.rssMb);
    };
    const verify = async (name: string, out: string): Promise<void> => {
      const got = await sha1File(path.join(out, 'bench.bin'));
      if (got !== sourceHash) throw new Error(`${name}: downloaded data differs from the source (sha1 ${got} != ${sourceHash})`);
    };

    const clients: Record<string, (out: string) => Promise<void>> = {
      btscope: async (out) => {
        const r = await timed(NODE[0], [NODE[1], CLI, 'download', torrent, '-o', out, '--json', '--timeout', '60', ...(ENCRYPT ? ['--encryption', 'require'] : [])]);
        if (r.code !== 0) throw new Error(`btscope download exited ${r.code}: ${r.stderr}`);
        const s = JSON.parse(r.stdout) as { seconds: number; hashFailures: number };
        if (s.hashFailures) throw new Error(`btscope: ${s.hashFailures} hash failures`);
        await verify('btscope', out);
        record('btscope', r, s.seconds);
      },
      aria2c: async (out) => {
        const r = await timed('aria2c', [
          '--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
          '--interface=127.0.0.1', '--quiet=true', '--file-allocation=none', '--check-integrity=false', `--dir=${out}`,
          ...(ENCRYPT ? ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4'] : []), torrent,
        ]);
        if (r.code !== 0) throw new Error(`aria2c exited ${r.code}: ${r.stderr}`);
        await verify('aria2c', out);
        record('aria2c', r);
      },
      libtorrent: async (out) => {
        const r = await timed(PY, [LT_CLIENT, torrent, out, ...(ENCRYPT ? ['--encrypt'] : [])]);
        if (r.code !== 0) throw new Error(`lt_client exited ${r.code}: ${r.stderr}`);
        await verify('libtorrent', out);
        record('libtorrent', r, Number(/done ([\d.]+)/.exec(r.stdout)?.[1]));
      },
    };

    for (let round = 1; round <= (SEED_ONLY ? 0 : ROUNDS); round++) {
      for (const [name, run] of Object.entries(clients)) {
        const out = path.join(work, `out-${name}`);
        await rm(out, { recursive: true, force: true });
        await mkdir(out);
        process.stderr.write(`round ${round}: ${name} downloading from the libtorrent seeder...\n`);
        await run(out);
        await rm(out, { recursive: true, force: true });
      }
    }

    // 2. btscope seed vs libtorrent seed, the libtorrent client downloading (direct peer, no trackers).
    const seedResults: Record<string, number[]> = { 'btscope seed': [], 'libtorrent seed': [] };
    const btSeed = await startUntil(NODE[0], [NODE[1], CLI, 'seed', torrent, seedDir, '--port', '0', '--json', '--tracker', 'http://127.0.0.1:1/announce', ...(ENCRYPT ? ['--encryption', 'require'] : [])], /"port":(\d+)/);
    procs.push(btSeed.proc);
    const btSeedPort = Number(btSeed.match[1]);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, port] of [['btscope seed', btSeedPort], ['libtorrent seed', ltSeedPort]] as const) {
        const out = path.join(work, 'out-lt-from-seed');
        await rm(out, { recursive: true, force: true });
        await mkdir(out);
        process.stderr.write(`round ${round}: libtorrent client downloading from ${name}...\n`);
        const r = await timed(PY, [LT_CLIENT, torrent, out, '--peer', `127.0.0.1:${port}`, '--no-trackers', ...(ENCRYPT ? ['--encrypt'] : [])]);
        if (r.code !== 0) throw new Error(`lt_client from ${name} exited ${r.code}: ${r.stderr}`);
        await verify(`libtorrent from ${name}`, out);
        seedResults[name]!.push(Number(/done ([\d.]+)/.exec(r.stdout)?.[1]));
        await rm(out, { recursive: true, force: true });
      }
    }

    // Report: best of the rounds.
    const best = (xs: number[]) => Math.min(...xs);
    const bt = results['btscope'];
    if (bt) {
      console.log(`\nbench/download: ${MIB} MiB, 256 KiB pieces, one libtorrent seeder on loopback, ${ROUNDS} round(s), best shown, every result SHA-1 verified${ENCRYPT ? ', every connection MSE/PE RC4' : ''}`);
      console.log('client       wall      inner     rate(wall)  peak RSS');
      for (const r of Object.values(results)) {
        const inner = r.inner.length ? fmt(best(r.inner)) : '   -  ';
        console.log(`${r.name.padEnd(12)} ${fmt(best(r.seconds)).padEnd(9)} ${inner.padEnd(9)} ${rate(bytes, best(r.seconds)).padEnd(11)} ${best(r.rss).toFixed(0)} MB`);
      }
      for (const other of ['aria2c', 'libtorrent']) {
        const o = results[other]!;
        console.log(`btscope / ${other}: ${(best(bt.seconds) / best(o.seconds)).toFixed(2)}x wall time (< 1 = btscope faster)`);
      }
      console.log(`btscope peak RSS ${Math.max(...bt.rss).toFixed(0)} MB (goal < 150 MB)`);
    }
    console.log('\nseeding to the libtorrent client (its own time from add to complete):');
    for (const [name, xs] of Object.entries(seedResults)) console.log(`${name.padEnd(16)} ${fmt(best(xs))}  ${rate(bytes, best(xs))}  (rounds: ${xs.map((x) => x.toFixed(2)).join(' ')})`);
    console.log(`btscope seed / libtorrent seed: ${(best(seedResults['btscope seed']!) / best(seedResults['libtorrent seed']!)).toFixed(2)}x`);
  } finally {
    for (const p of procs) await stop(p);
    await tracker.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(`bench/download failed: ${e.message}`);
  cleanupChildren();
  process.exitCode = 1;
});
