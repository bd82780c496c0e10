/**
 * The wire tracer against tshark, in one run, on a capture of a real download.
 * Run: npx tsc -p . && node dist/bench/trace.js [--mib 256] [--small-mib 64]
 *
 * A libtorrent seeder (test/helpers/lt_seed.py) serves a random file; a
 * libtorrent client (test/helpers/lt_download.py) downloads it over TCP on
 * loopback while tcpdump captures the port. This is done twice (--small-mib
 * and --mib) so memory can be compared as the capture grows. Each capture is
 * then decoded by `btscope trace --summary --json` and by tshark decoding
 * BitTorrent on the same port (`-d tcp.port==P,bittorrent`, message types as
 * fields); both wall times, the ratio and btscope's peak RSS (GNU time) are
 * printed, and the piece counts of both are checked equal.
 * Goal (issue 6): btscope at least 10x tshark's speed, memory flat.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const CLI = path.join(root, 'dist', 'tools', 'cli.js');
const LT_SEED = path.join(root, 'test', 'helpers', 'lt_seed.py');
const LT_DOWNLOAD = path.join(root, 'test', 'helpers', 'lt_download.py');
const PY = '/usr/bin/python3';

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const MIB = opt('mib', 256);
const SMALL_MIB = opt('small-mib', 64);
const TIMEOUT_MS = 300_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

function waitLine(child: ChildProcess, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} in ${ms} ms: ${seen}`)), ms);
    const on = (d: Buffer) => {
      seen += String(d);
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/** A capture of one libtorrent-to-libtorrent download of `mib` MiB; returns its path and the seeder's port. */
async function capture(dir: string, mib: number): Promise<{ file: string; port: number }> {
  const seedDir = path.join(dir, `seed-${mib}`);
  await mkdir(seedDir, { recursive: true });
  const data = path.join(seedDir, `bench-${mib}.bin`);
  const fh = await open(data, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib; i++) {
    randomFillSync(chunk);
    await fh.write(chunk);
  }
  await fh.close();
  const torrent = path.join(dir, `bench-${mib}.torrent`);
  const mk = await run('mktorrent', ['-l', '18', '-a', 'http://127.0.0.1:1/announce', '-o', torrent, data]);
  if (mk.code !== 0) throw new Error(`mktorrent: ${mk.stderr}`);
  const seed = spawn(PY, [LT_SEED, torrent, seedDir, '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const port = Number((await waitLine(seed, /ready (\d+)/, 120_000))[1]);
    const file = path.join(dir, `bench-${mib}.pcap`);
    const dump = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-B', '262144', '--immediate-mode', '-U', '-n', '-w', file, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let dumpErr = '';
    dump.stderr!.on('data', (d) => (dumpErr += d));
    await waitLine(dump, /listening on/, 10_000);
    const dl = await run(PY, [LT_DOWNLOAD, torrent, path.join(dir, `dl-${mib}`), `127.0.0.1:${port}`, '--timeout', '120'], { timeoutMs: 150_000 });
    await new Promise((r) => setTimeout(r, 500));
    await stop(dump, 'SIGINT');
    if (dl.code !== 0) throw new Error(`download failed: ${dl.stderr}`);
    const dropped = /(\d+) packets? dropped by kernel/.exec(dumpErr);
    if (dropped && Number(dropped[1]) > 0) console.log(`  (tcpdump: ${dropped[1]} packets dropped by kernel)`);
    return { file, port };
  } finally {
    await stop(seed);
  }
}

async function btscope(file: string): Promise<{ ms: number; rssMiB: number; pieces: number; streams: number }> {
  const r = await run('/usr/bin/time', ['-f', 'MAXRSS %M', process.execPath, CLI, 'trace', file, '--summary', '--json']);
  if (r.code !== 0) throw new Error(`btscope trace failed: ${r.stderr}`);
  const rss = Number(/MAXRSS (\d+)/.exec(r.stderr)![1]) / 1024;
  const j = JSON.parse(r.stdout) as { streams: number; messages: Record<string, number> };
  return { ms: r.ms, rssMiB: rss, pieces: j.messages['piece'] ?? 0, streams: j.streams };
}

async function tshark(file: string, port: number): Promise<{ ms: number; pieces: number }> {
  const r = await run('tshark', ['-r', file, '-d', `tcp.port==${port},bittorrent`, '-T', 'fields', '-e', 'bittorrent.msg.type']);
  if (r.code !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  let pieces = 0;
  for (const line of r.stdout.split('\n')) for (const t of line.split(',')) if (t === '7') pieces++;
  return { ms: r.ms, pieces };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'btscope-bench-trace-'));
  try {
    const rows: string[] = [];
    for (const mib of [SMALL_MIB, MIB]) {
      console.log(`capturing a ${mib} MiB libtorrent download on loopback…`);
      const cap = await capture(dir, mib);
      const size = (await stat(cap.file)).size;
      const ours = await btscope(cap.file);
      const theirs = await tshark(cap.file, cap.port);
      const ratio = theirs.ms / ours.ms;
      const agree = ours.pieces === theirs.pieces ? 'equal' : `DIFFER (btscope ${ours.pieces}, tshark ${theirs.pieces})`;
      rows.push(
        `| ${mib} MiB | ${(size / 2 ** 20).toFixed(0)} MiB | ${(ours.ms / 1000).toFixed(2)} s | ${(theirs.ms / 1000).toFixed(2)} s | ${ratio.toFixed(1)}x | ${ours.rssMiB.toFixed(0)} MiB | ${ours.pieces} (${agree}) |`,
      );
      if (process.env['BTSCOPE_KEEP']) console.log(`  kept ${cap.file} (port ${cap.port})`);
      else await rm(cap.file, { force: true });
    }
    console.log('\n| download | capture | btscope trace --summary | tshark -d bittorrent | tshark / btscope | btscope peak RSS | piece messages |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log('\nGoal: tshark / btscope >= 10x; peak RSS about the same for both capture sizes.');
  } finally {
    if (!process.env['BTSCOPE_KEEP']) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
