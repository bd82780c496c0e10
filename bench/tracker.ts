/**
 * `btscope tracker-serve` against Debian's opentracker under load, in one run, on loopback.
 * Run: npx tsc -p . && node dist/bench/tracker.js [--seconds 5] [--inflight 256] [--conns 64]
 *      [--modes udp,http-keepalive,http-close] [--peers 1000000] [--skip-memory]
 *
 * 1. Both servers run as processes (opentracker with a whitelist of the bench's
 *    info-hashes, as Debian builds it; `btscope tracker-serve --log summary`).
 *    For each mode, a client in this process keeps a fixed number of announces
 *    in flight against one server, then the other, for `--seconds` each:
 *    - udp: one BEP 15 connect, then announces with distinct peer ids (each a
 *      new peer, so the swarm grows all along), `--inflight` outstanding;
 *    - http-keepalive: `--conns` TCP connections, one GET each in flight,
 *      `Connection: keep-alive` (reconnecting when the server closes);
 *    - http-close: `--conns` requests in flight, a new connection for each.
 *    An announce unanswered after 1 s (UDP) or 2 s (HTTP) counts as lost and is
 *    replaced. Printed: answered a second, lost %, each server's RSS and peak
 *    RSS (/proc/PID/status) and its swarm's size (scraped) after the mode.
 * 2. Memory and cost per announce of btscope's swarm state alone, in this
 *    process: one swarm filled to `--peers` (1 000 000), the heap and
 *    array-buffer bytes it holds, and the cost of an announce (numwant 50) at
 *    1 000, 100 000 and 1 000 000 peers (flat: peer selection is O(numwant)).
 * Goals (issue 18): UDP and HTTP at least half of opentracker's rate, under 1 % lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI, numberOption } from './common.js';
import { scrape, clearConnectionIds } from '../lib/tracker/client/announce.js';
import { SwarmRegistry } from '../lib/tracker/server/index.js';
import { percentEncodeBytes } from '../lib/tracker/url.js';
import { toHex } from '../lib/core/bytes.js';

const argv = process.argv.slice(2);
const SECONDS = numberOption(argv, 'seconds', 5);
const INFLIGHT = Math.min(1024, numberOption(argv, 'inflight', 256));
const CONNS = numberOption(argv, 'conns', 64);
const PEERS = numberOption(argv, 'peers', 1_000_000);
const CLIENTS = numberOption(argv, 'clients', 1);
const modesAt = argv.indexOf('--modes');
const MODES = (modesAt >= 0 ? argv[modesAt + 1]! : 'udp,http-keepalive,http-close').split(',') as Mode[];
type Mode = 'udp' | 'http-keepalive' | 'http-close';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Server {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port in 20 tries');
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Resolves once `port` accepts TCP, within 5 s. */
async function waitForTcp(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port} after 5 s`);
}

async function startOpentracker(hashes: readonly Uint8Array[]): Promise<Server> {
  const dir = await mkdtemp(path.join(tmpdir(), 'btscope-bench-ot-'));
  await chmod(dir, 0o755);
  await writeFile(path.join(dir, 'whitelist.txt'), hashes.map((h) => `${toHex(h)}\n`).join(''), { mode: 0o644 });
  await writeFile(path.join(dir, 'empty.conf'), '', { mode: 0o644 });
  const port = await freePort();
  const child = spawn('opentracker', ['-f', path.join(dir, 'empty.conf'), '-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-u', 'nobody', '-w', 'whitelist.txt'], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.add(child);
  await waitForTcp(port);
  return {
    name: 'opentracker',
    port,
    pid: child.pid!,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startBtscope(): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'tracker-serve', '--port', String(port), '--log', 'summary', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  // Read its summary lines so the pipe never fills.
  child.stdout!.on('data', () => {});
  await waitForTcp(port);
  return { name: 'btscope', port, pid: child.pid!, stop: () => stopChild(child) };
}

/** CPU seconds (user + system) the process has used: /proc/PID/stat fields 14 and 15, in clock ticks (100 a second). */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

interface Load {
  sent: number;
  answered: number;
  lost: number;
  errors: number;
  /** HTTP keep-alive: connections the server closed after an answer (opentracker closes each one). */
  reconnects: number;
  seconds: number;
}

let peerSeq = 0;

/** BEP 15 load: one connect, then INFLIGHT announces outstanding for SECONDS. */
async function udpLoad(port: number, infoHash: Uint8Array): Promise<Load> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  // A connected socket: no address lookup per send.
  await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
  try {
    const connect = Buffer.alloc(16);
    connect.writeBigUInt64BE(0x41727101980n, 0);
    connect.writeUInt32BE(0, 8);
    connect.writeUInt32BE(0xc0ffee, 12);
    const connectionId = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connect answer in 2 s')), 2000);
      sock.once('message', (m) => (clearTimeout(timer), resolve(m.subarray(8, 16))));
      sock.send(connect);
    });
    const template = Buffer.alloc(98);
    connectionId.copy(template, 0);
    template.writeUInt32BE(1, 8);
    Buffer.from(infoHash).copy(template, 16);
    template.write('-BB0001-', 36, 'latin1');
    template.writeBigUInt64BE(1000n, 64); // left: a leecher
    template.writeUInt32BE(2, 80); // started
    template.writeInt32BE(-1, 92); // numwant: the server's default
    const load: Load = { sent: 0, answered: 0, lost: 0, errors: 0, reconnects: 0, seconds: 0 };
    const seq = new Uint32Array(INFLIGHT);
    const sentAt = new Float64Array(INFLIGHT);
    // One buffer per slot, reused: the next send from a slot waits for its answer.
    const packets = Array.from({ length: INFLIGHT }, () => Buffer.from(template));
    const clientTag = process.pid & 0xffff;
    let running = true;
    const fire = (slot: number): void => {
      if (!running) return;
      seq[slot] = (seq[slot]! + 1) & 0x3fffff;
      const b = packets[slot]!;
      b.writeUInt32BE(((seq[slot]! << 10) | slot) >>> 0, 12);
      // A new peer each time: the rest of the peer id is this client and a counter.
      b.writeUInt16BE(clientTag, 44);
      b.writeUInt32BE(++peerSeq, 46);
      b.writeUInt16BE(1024 + (peerSeq % 60000), 96);
      sentAt[slot] = performance.now();
      load.sent++;
      sock.send(b);
    };
    sock.on('message', (m) => {
      if (m.length < 8) return;
      const tid = m.readUInt32BE(4);
      const slot = tid & 1023;
      if (slot >= INFLIGHT || tid >>> 10 !== seq[slot]) return;
      if (m.readUInt32BE(0) === 1) load.answered++;
      else load.errors++;
      fire(slot);
    });
    const t0 = performance.now();
    for (let s = 0; s < INFLIGHT; s++) fire(s);
    const sweeper = setInterval(() => {
      const now = performance.now();
      for (let s = 0; s < INFLIGHT; s++) {
        if (now - sentAt[s]! > 1000) {
          load.lost++;
          fire(s);
        }
      }
    }, 100);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    running = false;
    clearInterval(sweeper);
    load.seconds = (performance.now() - t0) / 1000;
    return load;
  } finally {
    sock.close();
  }
}

/** HTTP load: CONNS requests in flight, on kept-alive connections or a new one each. */
async function httpLoad(port: number, infoHash: Uint8Array, keepAlive: boolean): Promise<Load> {
  const load: Load = { sent: 0, answered: 0, lost: 0, errors: 0, reconnects: 0, seconds: 0 };
  const hash = percentEncodeBytes(infoHash);
  let running = true;
  const request = (): string => {
    // A new peer each time: this client (its pid) and a counter.
    const id = `-BB0001-${String(process.pid % 100000).padStart(5, '0')}${String(++peerSeq).padStart(7, '0')}`;
    return (
      `GET /announce?info_hash=${hash}&peer_id=${id}&port=${1024 + (peerSeq % 60000)}&uploaded=0&downloaded=0&left=1000&compact=1&event=started HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${port}\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`
    );
  };
  const sockets = new Set<Socket>();
  /** One lane: a request in flight at a time, its connection reused while the server keeps it. */
  const lane = (): void => {
    if (!running) return;
    const s = connect(port, '127.0.0.1');
    sockets.add(s);
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let waiting = false;
    let answeredHere = 0;
    const send = (): void => {
      if (!running) return void s.destroy();
      sentAt = performance.now();
      waiting = true;
      load.sent++;
      s.write(request());
    };
    const timer = setInterval(() => {
      if (waiting && performance.now() - sentAt > 2000) {
        load.lost++;
        waiting = false;
        s.destroy();
      }
    }, 200);
    s.on('connect', send);
    s.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
        if (len < 0) return; // no length: read to close
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len);
        buf = buf.subarray(end + 4 + len);
        waiting = false;
        answeredHere++;
        if (head.startsWith('HTTP/1.1 200') || head.startsWith('HTTP/1.0 200')) {
          if (body.includes('failure reason')) load.errors++;
          else load.answered++;
        } else load.errors++;
        if (keepAlive && !/connection:\s*close/i.test(head)) send();
        else s.end();
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
      if (waiting && buf.indexOf('\r\n\r\n') >= 0) {
        // A body read to close (no Content-Length).
        load.answered++;
      } else if (waiting && answeredHere > 0 && buf.length === 0) {
        // The server closed a connection after answering on it (opentracker does, keep-alive asked or not):
        // the request sent meanwhile was never read. Not a loss: it goes again on a new connection.
        load.sent--;
        load.reconnects++;
      } else if (waiting) load.lost++;
      waiting = false;
      lane();
    });
  };
  const t0 = performance.now();
  for (let i = 0; i < CONNS; i++) lane();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  load.seconds = (performance.now() - t0) / 1000;
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  return load;
}

/** One load run: in this process, or split over CLIENTS processes (each with INFLIGHT / CLIENTS, CONNS / CLIENTS). */
async function runLoad(mode: Mode, port: number, infoHash: Uint8Array): Promise<Load> {
  if (CLIENTS <= 1) return mode === 'udp' ? udpLoad(port, infoHash) : httpLoad(port, infoHash, mode === 'http-keepalive');
  const self = new URL(import.meta.url).pathname;
  const args = ['--worker', mode, String(port), toHex(infoHash), '--seconds', String(SECONDS), '--inflight', String(Math.ceil(INFLIGHT / CLIENTS)), '--conns', String(Math.ceil(CONNS / CLIENTS))];
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, () => {
      const child = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.add(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 20) * 1000);
      return new Promise<Load>((resolve, reject) =>
        child.once('exit', () => {
          clearTimeout(timer);
          children.delete(child);
          try {
            resolve(JSON.parse(out) as Load);
          } catch {
            reject(new Error(`load client exited without a result: ${out.slice(0, 200)}`));
          }
        }),
      );
    }),
  );
  return results.reduce((a, b) => ({ sent: a.sent + b.sent, answered: a.answered + b.answered, lost: a.lost + b.lost, errors: a.errors + b.errors, reconnects: a.reconnects + b.reconnects, seconds: Math.max(a.seconds, b.seconds) }));
}

async function swarmSize(port: number, infoHash: Uint8Array): Promise<number> {
  clearConnectionIds();
  const s = await scrape(`udp://127.0.0.1:${port}/announce`, [infoHash], { timeoutMs: 3000 }).catch(() => undefined);
  const f = s?.files[0];
  return f ? f.complete + f.incomplete : -1;
}

/** Part 2: the swarm state alone, in this process. */
async function memoryAndCost(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const used = (): number => {
    gc?.();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const reg = new SwarmRegistry({ peerTimeoutMs: 3_600_000, maxSwarms: 10, maxPeersPerSwarm: 2_000_000 });
  const infoHash = new Uint8Array(randomBytes(20));
  const peerId = new Uint8Array(20);
  const address = new Uint8Array(4);
  const ids = Buffer.from('-BB0001-000000000000', 'latin1');
  const add = (n: number): void => {
    ids.write(String(n).padStart(12, '0'), 8, 'latin1');
    peerId.set(ids);
    address[0] = 10;
    address[1] = (n >> 16) & 255;
    address[2] = (n >> 8) & 255;
    address[3] = n & 255;
    reg.announce({ infoHash, peerId, ip: '', address, port: 1024 + (n % 60000), uploaded: 0, downloaded: 0, left: n % 3, numwant: 0 });
  };
  const before = used();
  const costs: string[] = [];
  let n = 0;
  for (const size of [1_000, 100_000, PEERS]) {
    for (; n < size; n++) add(n);
    // Re-announces of known peers, numwant 50, with the peer list built as the UDP server does.
    const rounds = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      const k = (i * 7919) % size;
      ids.write(String(k).padStart(12, '0'), 8, 'latin1');
      peerId.set(ids);
      const r = reg.announce({ infoHash, peerId, ip: '', address, port: 1024 + (k % 60000), uploaded: 0, downloaded: 0, left: 1, numwant: 50 });
      if (!('error' in r)) r.swarm.table(r.family).sample(50, r.skip);
    }
    costs.push(`${size.toLocaleString('en-US')} peers: ${(((performance.now() - t0) / rounds) * 1000).toFixed(2)} µs`);
  }
  const held = used() - before;
  const table = reg.get(toHex(infoHash))!.v4;
  console.log(`\nbtscope swarm state, in process (${gc ? 'after gc' : 'run with --expose-gc for exact figures'}):`);
  console.log(
    `  ${reg.peerCount.toLocaleString('en-US')} peers in one swarm: columns and index ${(table.bytes / 2 ** 20).toFixed(0)} MiB (${(table.bytes / reg.peerCount).toFixed(0)} bytes a peer); ` +
      `heap and buffers grew ${(held / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(`  an announce with numwant 50 (peers built): ${costs.join(', ')}`);
  // The memory figure the issue asks for, checked: a million peers under 64 MiB of columns and index.
  const ok = table.bytes <= 64 * 2 ** 20;
  console.log(`  check: 1 000 000 peers in <= 64 MiB: ${ok ? 'yes' : 'NO'}`);
  if (!ok && PEERS >= 1_000_000) process.exitCode = 1;
  // Every peer expires at once (the worst case), 5 000 a call as the server's sweeper does it.
  let longest = 0;
  let total = 0;
  for (let i = 0; i < 10_000; i++) {
    const t0 = performance.now();
    const n = reg.expire(Date.now() + 7_200_000, 5_000);
    const ms = performance.now() - t0;
    total += ms;
    longest = Math.max(longest, ms);
    if (n < 5_000) break;
  }
  console.log(`  all ${PEERS.toLocaleString('en-US')} peers expiring at once: ${total.toFixed(0)} ms in all, in steps of 5 000 peers of at most ${longest.toFixed(1)} ms`);
}

async function main(): Promise<void> {
  const hashes = Object.fromEntries(MODES.map((m) => [m, new Uint8Array(randomBytes(20))])) as Record<Mode, Uint8Array>;
  const servers: Server[] = [];
  try {
    servers.push(await startOpentracker(Object.values(hashes)));
    servers.push(await startBtscope());
    const rows: string[][] = [];
    for (const mode of MODES) {
      for (const server of servers) {
        const cpu0 = cpuOf(server.pid);
        const load = await runLoad(mode, server.port, hashes[mode]);
        const cpu = cpuOf(server.pid) - cpu0;
        const { rssMb, peakMb } = rssOf(server.pid);
        const size = await swarmSize(server.port, hashes[mode]);
        const rate = load.answered / load.seconds;
        const lostPct = load.sent ? (100 * load.lost) / load.sent : 0;
        const cpuUs = load.answered ? (cpu * 1e6) / load.answered : 0;
        const cpuPct = (100 * cpu) / load.seconds;
        rows.push([mode, server.name, Math.round(rate).toLocaleString('en-US'), `${lostPct.toFixed(2)} %`, String(load.errors), `${cpuPct.toFixed(0)} %`, cpuUs.toFixed(1), rssMb.toFixed(0), peakMb.toFixed(0), size.toLocaleString('en-US')]);
        console.log(
          `${mode.padEnd(15)} ${server.name.padEnd(12)} ${Math.round(rate)} answered/s, ${lostPct.toFixed(2)} % lost, ${load.errors} errors, ` +
            `server CPU ${cpuPct.toFixed(0)} % (${cpuUs.toFixed(1)} µs an answer), RSS ${rssMb.toFixed(0)} MiB (peak ${peakMb.toFixed(0)}), swarm ${size}`,
        );
        // A breath between runs, so the next one does not start on a backlog.
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    console.log('\n| mode | server | answered/s | lost | errors | server CPU | CPU µs an answer | RSS MiB | peak RSS MiB | swarm after |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    for (const mode of MODES) {
      const [ot, bt] = [rows.find((r) => r[0] === mode && r[1] === 'opentracker'), rows.find((r) => r[0] === mode && r[1] === 'btscope')];
      if (!ot || !bt) continue;
      const ratio = Number(bt[2]!.replace(/,/g, '')) / Number(ot[2]!.replace(/,/g, ''));
      const lost = parseFloat(bt[3]!);
      console.log(`${mode}: btscope / opentracker = ${ratio.toFixed(2)}x, btscope lost ${lost.toFixed(2)} % (goal: >= 0.5x, < 1 %: ${ratio >= 0.5 && lost < 1 ? 'met' : 'not met'})`);
    }
  } finally {
    for (const s of servers) await s.stop();
  }
  if (!argv.includes('--skip-memory')) await memoryAndCost();
}

const workerAt = argv.indexOf('--worker');
if (workerAt >= 0) {
  const [mode, port, hex] = argv.slice(workerAt + 1, workerAt + 4) as [Mode, string, string];
  const infoHash = Uint8Array.from(Buffer.from(hex, 'hex'));
  const load = mode === 'udp' ? await udpLoad(Number(port), infoHash) : await httpLoad(Number(port), infoHash, mode === 'http-keepalive');
  process.stdout.write(JSON.stringify(load));
} else await main();
