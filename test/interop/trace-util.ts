import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { MESSAGE_NAMES } from '../../lib/wire/messages.js';
import { LIBTORRENT_PYTHON } from '../helpers/peers.js';

const execFileP = promisify(execFile);
const HELPERS = new URL('../helpers/', import.meta.url).pathname;

import { stopChild } from '../helpers/child.js';

export { stopChild };
/** libtorrent seeding on 127.0.0.1 (test/helpers/lt-seed.ts). */
export { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';

/** Wait for a line matching `re` on a child's stdout or stderr, bounded in time. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no ${re} within ${timeoutMs} ms; output: ${seen.slice(-2000)}`)), timeoutMs);
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
    child.once('exit', (code) => {
      const m = re.exec(seen);
      if (m) return;
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}; output: ${seen.slice(-2000)}`));
    });
  });
}

/** tcpdump on loopback for the given ports (TCP and UDP), written to `file`. Stop it with SIGINT. */
export async function startCapture(file: string, ports: number[]): Promise<{ stop(): Promise<{ droppedByKernel: number; stderr: string }> }> {
  const filter = ports.map((p) => `port ${p}`).join(' or ');
  const child = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-B', '65536', '--immediate-mode', '-U', '-n', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  await waitForLine(child, /listening on/, 10_000, 'tcpdump');
  return {
    stop: async () => {
      // Let the last packets reach the file before stopping.
      await new Promise((r) => setTimeout(r, 300));
      await stopChild(child, 'SIGINT');
      const dropped = /(\d+) packets? dropped by kernel/.exec(stderr);
      return { droppedByKernel: dropped ? Number(dropped[1]) : 0, stderr };
    },
  };
}

/** A file of random bytes and a torrent for it (mktorrent). */
export async function makeTorrent(dir: string, name: string, size: number, pieceLengthLog2 = 16, announce = 'http://127.0.0.1:1/announce'): Promise<{ torrent: string; data: Buffer; dataDir: string }> {
  const dataDir = join(dir, 'seed');
  await mkdir(dataDir, { recursive: true });
  const data = randomBytes(size);
  await writeFile(join(dataDir, name), data);
  const torrent = join(dir, `${name}.torrent`);
  await execFileP('mktorrent', ['-l', String(pieceLengthLog2), '-a', announce, '-o', torrent, join(dataDir, name)], { timeout: 30_000 });
  return { torrent, data, dataDir };
}

export async function ltDownload(source: string, saveDir: string, peer: string, opts: { utp?: boolean; encrypt?: boolean; timeoutS?: number } = {}): Promise<void> {
  await mkdir(saveDir, { recursive: true });
  const args = [join(HELPERS, 'lt_download.py'), source, saveDir, peer, '--timeout', String(opts.timeoutS ?? 45), ...(opts.utp ? ['--utp'] : []), ...(opts.encrypt ? ['--encrypt'] : [])];
  await execFileP(LIBTORRENT_PYTHON, args, { timeout: ((opts.timeoutS ?? 45) + 10) * 1000 });
}

/**
 * tshark's own count of BitTorrent PDUs by type on a capture, with decode-as
 * rules like `tcp.port==6881,bittorrent` or `udp.port==6881,bt-utp`. From the
 * PDML: a PDU with `bittorrent.protocol.name` is a handshake, one with
 * `bittorrent.msg.type` is that message, one with neither is a keep-alive.
 */
export async function tsharkCounts(file: string, decodeAs: string[]): Promise<Record<string, number>> {
  const args = ['-r', file, ...decodeAs.flatMap((d) => ['-d', d]), '-T', 'pdml'];
  const { stdout } = await execFileP('tshark', args, { maxBuffer: 1 << 30, timeout: 120_000 });
  const counts: Record<string, number> = {};
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const parts = stdout.split('<proto name="bittorrent"').slice(1);
  for (const p of parts) {
    const body = p.slice(0, p.indexOf('</proto>') >= 0 ? endOfProto(p) : p.length);
    // "Continuation data": bytes tshark could not frame (e.g. an MSE/PE exchange), not a message.
    if (body.includes('name="bittorrent.continuous_data"')) continue;
    if (body.includes('name="bittorrent.protocol.name"')) add('handshake');
    else {
      const m = /name="bittorrent\.msg\.type"[^>]*show="(\d+)"/.exec(body);
      if (m) add(MESSAGE_NAMES[Number(m[1])] ?? `unknown`);
      else if (body.includes('name="bittorrent.msg.length"') || !body.includes('name="bittorrent.')) add('keep_alive');
      else add('other');
    }
  }
  return counts;
}

/** The end of the bittorrent proto element (it nests fields, not protos). */
function endOfProto(p: string): number {
  return p.indexOf('</proto>');
}

/** btscope's counts, through the tool's handler with --summary --json. */
export async function btscopeSummary(file: string): Promise<{ streams: number; messages: Record<string, number>; other: Record<string, number>; streamList: Array<Record<string, unknown>>; transactions: Array<Record<string, unknown>> }> {
  const io = captureIo();
  const code = await handler({ capture: file, json: true, frames: false, summary: true, io });
  if (code !== 0) throw new Error(`trace exited ${code}: ${io.stderr.join('\n')}`);
  return JSON.parse(io.stdout.join('\n'));
}

/** btscope's lines (default output) for a capture. */
export async function btscopeLines(file: string, extra: Record<string, unknown> = {}): Promise<string[]> {
  const io = captureIo();
  await handler({ capture: file, json: false, frames: false, summary: false, io, ...extra });
  return io.stdout.join('\n').split('\n').filter(Boolean);
}
