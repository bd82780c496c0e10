/**
 * The wire tracer against tshark, in one run, on a capture of a real download.
 * Run (as root for --net veth): npx tsc -p . && node dist/bench/trace.js [--mib 256] [--small-mib 64] [--net veth|lo] [--runs 3]
 * Or on a capture kept by an earlier run (BTSCOPE_KEEP=1): node dist/bench/trace.js --pcap FILE --port PORT [--runs 3]
 *
 * --net veth (default): the bench makes two network namespaces of its own
 * (btscope-bench-a, btscope-bench-b) joined by a veth pair with MTU 1500 and
 * addresses 10.203.0.1/2 that exist only inside them, turns GRO/GSO/TSO off
 * with ethtool so packets stay MTU-sized as on a real network (~180 000
 * packets for 256 MiB), runs a libtorrent seeder (bench/trace_seed.py) in A
 * and a libtorrent downloader (test/helpers/lt_download.py) in B, and captures
 * with tcpdump inside A. Everything is torn down at the end, on failure and
 * on Ctrl-C. --net lo: the old loopback capture (64 KiB segments, ~5 700
 * packets for 256 MiB: both tools just read the file).
 *
 * This is done at --small-mib and --mib so memory can be compared as the
 * capture grows. Each capture is decoded --runs times by `btscope trace
 * --summary --json` and by tshark decoding BitTorrent on the same port
 * (`-d tcp.port==P,bittorrent -T fields -e bittorrent.msg.type`), the runs of
 * the two interleaved; the median
 * wall times, CPU times, the ratio and both peak RSS (GNU time) are printed,
 * and the piece counts of both are checked equal.
 * Goal (issue 6): btscope at least 10x tshark's speed, memory flat.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI, LT_SEED, PY, numberOption, root } from './common.js';

const LT_DOWNLOAD = path.join(root, 'test', 'helpers', 'lt_download.py');
const NETNS_SEED = path.join(root, 'bench', 'trace_seed.py');

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => numberOption(argv, name, def);
const MIB = opt('mib', 256);
const SMALL_MIB = opt('small-mib', 64);
const RUNS = opt('runs', 3);
/** An existing capture (one BTSCOPE_KEEP=1 kept) instead of making new ones: --pcap FILE --port PORT. */
const PCAP = argv.includes('--pcap') ? argv[argv.indexOf('--pcap') + 1]! : undefined;
const PCAP_PORT = opt('port', 0);
if (PCAP !== undefined && !PCAP_PORT) throw new Error('--pcap FILE needs --port PORT (the seeder port, for tshark -d)');
const NET = argv.includes('--net') ? argv[argv.indexOf('--net') + 1]! : 'veth';
if (NET !== 'veth' && NET !== 'lo') throw new Error(`--net ${NET}: veth or lo`);
const NS_A = 'btscope-bench-a';
const NS_B = 'btscope-bench-b';
const ADDR_A = '10.203.0.1';
const ADDR_B = '10.203.0.2';
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

/** A random file and its torrent (mktorrent, 256 KiB pieces). */
async function makeTorrent(dir: string, mib: number): Promise<{ torrent: string; seedDir: string }> {
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
  return { torrent, seedDir };
}

/**
 * Stop tcpdump once its file has stopped growing, then by SIGINT. It writes
 * behind the traffic: without --immediate-mode libpcap hands packets over in
 * blocks, and a half-filled block only after tcpdump's 1 s timeout, so the
 * file must stay unchanged for longer than that (stopping sooner lost the
 * last ~150 KB of a download: a few piece messages).
 */
async function stopDump(dump: ChildProcess, file: string): Promise<void> {
  let last = -1;
  let stillMs = 0;
  for (let i = 0; i < 60 && stillMs < 1500; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const size = (await stat(file).catch(() => ({ size: 0 }))).size;
    stillMs = size === last ? stillMs + 250 : 0;
    last = size;
  }
  await stop(dump, 'SIGINT');
}

function reportDump(dumpErr: string): void {
  const dropped = /(\d+) packets? dropped by kernel/.exec(dumpErr);
  if (dropped && Number(dropped[1]) > 0) console.log(`  (tcpdump: ${dropped[1]} packets dropped by kernel)`);
  const got = /(\d+) packets? captured/.exec(dumpErr);
  if (got) console.log(`  tcpdump: ${got[1]} packets captured`);
}

/** A capture of one libtorrent-to-libtorrent download of `mib` MiB on loopback; returns its path and the seeder's port. */
async function captureLoopback(dir: string, mib: number): Promise<{ file: string; port: number }> {
  const { torrent, seedDir } = await makeTorrent(dir, mib);
  const seed = spawn(PY, [LT_SEED, torrent, seedDir, '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const port = Number((await waitLine(seed, /ready (\d+)/, 120_000))[1]);
    const file = path.join(dir, `bench-${mib}.pcap`);
    const dump = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-B', '262144', '--immediate-mode', '-U', '-n', '-w', file, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let dumpErr = '';
    dump.stderr!.on('data', (d) => (dumpErr += d));
    await waitLine(dump, /listening on/, 10_000);
    const dl = await run(PY, [LT_DOWNLOAD, torrent, path.join(dir, `dl-${mib}`), `127.0.0.1:${port}`, '--timeout', '120'], { timeoutMs: 150_000 });
    await stopDump(dump, file);
    if (dl.code !== 0) throw new Error(`download failed: ${dl.stderr}`);
    reportDump(dumpErr);
    return { file, port };
  } finally {
    await stop(seed);
  }
}

/** `ip` inside or outside a namespace; throws with its stderr. */
function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function teardownNetns(): void {
  for (const ns of [NS_A, NS_B]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there
    }
  }
}

/**
 * Two namespaces of our own joined by a veth pair (MTU 1500), offloads off so
 * the capture holds MTU-sized packets. Addresses exist only inside them.
 */
function setupNetns(): void {
  teardownNetns();
  ip('netns', 'add', NS_A);
  ip('netns', 'add', NS_B);
  ip('link', 'add', 'btsv-a', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'btsv-b', 'netns', NS_B);
  for (const [ns, dev, addr] of [[NS_A, 'btsv-a', ADDR_A], [NS_B, 'btsv-b', ADDR_B]] as const) {
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
    ip('-n', ns, 'link', 'set', dev, 'mtu', '1500', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'gro', 'off', 'gso', 'off', 'tso', 'off'], { stdio: 'ignore' });
    } catch {
      console.log(`  (ethtool not available: ${dev} keeps its offloads; the capture may hold segments larger than the MTU)`);
    }
  }
}

/** The same download between two namespaces over a veth pair with MTU 1500. */
async function captureVeth(dir: string, mib: number): Promise<{ file: string; port: number }> {
  const { torrent, seedDir } = await makeTorrent(dir, mib);
  setupNetns();
  const seed = spawn('ip', ['netns', 'exec', NS_A, PY, NETNS_SEED, torrent, seedDir, ADDR_A, '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const port = Number((await waitLine(seed, /ready (\d+)/, 120_000))[1]);
    const file = path.join(dir, `bench-${mib}.pcap`);
    const dump = spawn('ip', ['netns', 'exec', NS_A, 'tcpdump', '-i', 'btsv-a', '-s', '0', '-B', '65536', '-U', '-n', '-w', file, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let dumpErr = '';
    dump.stderr!.on('data', (d) => (dumpErr += d));
    await waitLine(dump, /listening on/, 10_000);
    const dl = await run('ip', ['netns', 'exec', NS_B, PY, LT_DOWNLOAD, torrent, path.join(dir, `dl-${mib}`), `${ADDR_A}:${port}`, '--bind', ADDR_B, '--timeout', '200'], { timeoutMs: 230_000 });
    await stopDump(dump, file);
    if (dl.code !== 0) throw new Error(`download failed: ${dl.stderr}`);
    reportDump(dumpErr);
    return { file, port };
  } finally {
    await stop(seed);
    teardownNetns();
  }
}

interface Timing {
  ms: number;
  cpuMs: number;
  rssMiB: number;
}

async function timed(cmd: string, args: string[]): Promise<Timing & { stdout: string }> {
  const r = await run('/usr/bin/time', ['-f', 'BTSCOPE_TIME %e %U %S %M', cmd, ...args]);
  const m = /BTSCOPE_TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.code !== 0 || !m) throw new Error(`${cmd} failed (${r.code}): ${r.stderr.slice(-500)}`);
  return { ms: r.ms, cpuMs: (Number(m[2]) + Number(m[3])) * 1000, rssMiB: Number(m[4]) / 1024, stdout: r.stdout };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function medianOf(ts: Timing[]): Timing {
  return { ms: median(ts.map((t) => t.ms)), cpuMs: median(ts.map((t) => t.cpuMs)), rssMiB: Math.max(...ts.map((t) => t.rssMiB)) };
}

/** One `btscope trace --summary --json` run and what it counted. */
async function btscopeRun(file: string): Promise<Timing & { pieces: number; streams: number; packets: number }> {
  const r = await timed(process.execPath, [CLI, 'trace', file, '--summary', '--json']);
  const j = JSON.parse(r.stdout) as { streams: number; packets: number; messages: Record<string, number> };
  return { ...r, pieces: j.messages['piece'] ?? 0, streams: j.streams, packets: j.packets };
}

/** One tshark run (BitTorrent decoded on the seeder's port) and the piece messages it saw. */
async function tsharkRun(file: string, port: number): Promise<Timing & { pieces: number }> {
  const r = await timed('tshark', ['-r', file, '-d', `tcp.port==${port},bittorrent`, '-T', 'fields', '-e', 'bittorrent.msg.type']);
  let pieces = 0;
  for (const line of r.stdout.split('\n')) for (const t of line.split(',')) if (t === '7') pieces++;
  return { ...r, pieces };
}

/**
 * Both tools, their runs interleaved (btscope, tshark, btscope, ...) so a
 * burst of load from other jobs on a shared machine falls on both alike.
 */
async function compare(file: string, port: number): Promise<{ ours: Timing & { pieces: number; packets: number; all: string }; theirs: Timing & { pieces: number; all: string } }> {
  const ours: Array<Awaited<ReturnType<typeof btscopeRun>>> = [];
  const theirs: Array<Awaited<ReturnType<typeof tsharkRun>>> = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(await btscopeRun(file));
    theirs.push(await tsharkRun(file, port));
  }
  const all = (ts: Timing[]): string => ts.map((r) => (r.ms / 1000).toFixed(2)).join('/');
  for (const [who, runs] of [['btscope', ours], ['tshark', theirs]] as const) {
    if (new Set(runs.map((r) => r.pieces)).size > 1) console.log(`  ${who}: runs counted different piece totals (${runs.map((r) => r.pieces).join('/')})`);
  }
  return {
    ours: { ...medianOf(ours), pieces: ours[0]!.pieces, packets: ours[0]!.packets, all: all(ours) },
    theirs: { ...medianOf(theirs), pieces: theirs[0]!.pieces, all: all(theirs) },
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'btscope-bench-trace-'));
  try {
    const rows: string[] = [];
    const given = PCAP !== undefined ? [{ file: PCAP, port: PCAP_PORT, label: path.basename(PCAP) }] : undefined;
    for (const job of given ?? [SMALL_MIB, MIB]) {
      let cap: { file: string; port: number };
      let label: string;
      if (typeof job === 'number') {
        console.log(`capturing a ${job} MiB libtorrent download ${NET === 'veth' ? 'over a veth pair (MTU 1500) between two namespaces' : 'on loopback'}…`);
        cap = NET === 'veth' ? await captureVeth(dir, job) : await captureLoopback(dir, job);
        label = `${job} MiB`;
      } else {
        console.log(`decoding ${job.file} (BitTorrent on port ${job.port})…`);
        cap = job;
        label = job.label;
      }
      const size = (await stat(cap.file)).size;
      const { ours, theirs } = await compare(cap.file, cap.port);
      console.log(`  btscope runs ${ours.all} s; tshark runs ${theirs.all} s`);
      const agree = ours.pieces === theirs.pieces ? 'equal' : `DIFFER (btscope ${ours.pieces}, tshark ${theirs.pieces})`;
      rows.push(
        `| ${label} | ${(size / 2 ** 20).toFixed(0)} MiB, ${ours.packets} packets | ${(ours.ms / 1000).toFixed(2)} s (cpu ${(ours.cpuMs / 1000).toFixed(2)}) | ${(theirs.ms / 1000).toFixed(2)} s (cpu ${(theirs.cpuMs / 1000).toFixed(2)}) | ${(theirs.ms / ours.ms).toFixed(1)}x (cpu ${(theirs.cpuMs / ours.cpuMs).toFixed(1)}x) | ${ours.rssMiB.toFixed(0)} MiB | ${theirs.rssMiB.toFixed(0)} MiB | ${ours.pieces} (${agree}) |`,
      );
      if (given) continue;
      if (process.env['BTSCOPE_KEEP']) console.log(`  kept ${cap.file} (port ${cap.port})`);
      else await rm(cap.file, { force: true });
    }
    const start = await timed(process.execPath, [CLI, '--version']);
    console.log(`\nnode + btscope CLI start-up alone (btscope --version): ${(start.ms / 1000).toFixed(2)} s`);
    console.log(`\n${NET === 'veth' ? 'veth, MTU 1500' : 'loopback'}; median of ${RUNS} runs each (wall, and user+sys CPU)\n`);
    console.log('| download | capture | btscope trace --summary --json | tshark -d bittorrent -T fields | tshark / btscope | btscope peak RSS | tshark peak RSS | piece messages |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log('\nGoal: tshark / btscope >= 10x; peak RSS about the same for both capture sizes.');
  } finally {
    if (!process.env['BTSCOPE_KEEP']) await rm(dir, { recursive: true, force: true });
  }
}

// Ctrl-C: the namespaces go too (finally blocks do not run on a signal).
process.once('SIGINT', () => {
  if (NET === 'veth') teardownNetns();
  process.exit(130);
});

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
