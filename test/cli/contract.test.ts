import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { encodeMessage } from '../../lib/wire/messages.js';
import { pcapFile } from '../capture/build.js';
import { Conversation, concatBytes } from '../trace/conv.js';
import { testTorrent } from '../helpers/hostile-peer.js';

/**
 * The CLI contract under misuse (issue 14): every tool, run as `node dist/tools/cli.js`
 * (build first: `npx tsc -p .`) with bad input, exits with a documented code in
 * {1, 2, 3, 4}, says why in exactly one line on stderr (never a stack frame), ends
 * within its bound, and with --json prints one JSON object on stdout with `ok: false`.
 * Network: loopback only; the busy port is one this test holds, the dead one was
 * bound and closed by it.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-contract-'));

const listen = (): Promise<Server> =>
  new Promise((resolve) => {
    const s = createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => resolve(s));
  });
const portOf = (s: Server): number => (s.address() as { port: number }).port;

let busy: Server;
const f = {
  torrent: path.join(tmp, 'x.torrent'),
  wrongTorrent: path.join(tmp, 'other.torrent'),
  notTorrent: path.join(tmp, 'notes.txt'),
  pcap: path.join(tmp, 'one-stream.pcap'),
  dir: path.join(tmp, 'a-folder'),
  emptyDir: path.join(tmp, 'empty'),
  seedDir: path.join(tmp, 'seed'),
  missing: path.join(tmp, 'no-such-thing'),
  out: path.join(tmp, 'out'),
  busyPort: 0,
  deadPort: 0,
  hex: 'ab'.repeat(20),
};
const dead = (): string => `127.0.0.1:${f.deadPort}`;

beforeAll(async () => {
  busy = await listen();
  f.busyPort = portOf(busy);
  const gone = await listen();
  f.deadPort = portOf(gone);
  await new Promise((r) => gone.close(r));
  const tracker = `http://127.0.0.1:${f.deadPort}/announce`;
  const t = testTorrent();
  writeFileSync(f.torrent, torrentFromMetadata(t.info, [tracker]));
  writeFileSync(f.wrongTorrent, torrentFromMetadata(testTorrent().info, [tracker]));
  writeFileSync(f.notTorrent, 'these are notes, not a torrent\n');
  for (const d of [f.dir, f.emptyDir, f.seedDir]) mkdirSync(d);
  writeFileSync(path.join(f.seedDir, 'test.bin'), t.data);
  const conv = new Conversation().handshake();
  conv.send('a', encodeHandshake({ infoHash: t.infoHash, peerId: new TextEncoder().encode('-qB4520-xxxxxxxxxxxx') }));
  conv.send('b', concatBytes(encodeHandshake({ infoHash: t.infoHash, peerId: new TextEncoder().encode('-lt0D80-xxxxxxxxxxxx') }), encodeMessage({ type: 'unchoke' })));
  writeFileSync(f.pcap, pcapFile(1, conv.records));
  void toHex;
});
afterAll(async () => {
  await new Promise((r) => busy.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[], boundMs: number): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: tmp, timeout: boundMs, killSignal: 'SIGKILL', env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, ms: Date.now() - started });
    });
  });
}

type Case = readonly [what: string, args: () => string[], exit: 1 | 2 | 3 | 4];

/** Each row: what is wrong, the command line, the exit code its tool documents. */
const CASES: Case[] = [
  // torrent, bdecode, magnet: files and strings
  ['torrent: no argument', () => ['torrent'], 2],
  ['torrent: nonexistent file', () => ['torrent', f.missing], 2],
  ['torrent: a directory', () => ['torrent', f.dir], 2],
  ['torrent: not a torrent', () => ['torrent', f.notTorrent], 3],
  ['bdecode: nonexistent file', () => ['bdecode', f.missing], 2],
  ['bdecode: a directory', () => ['bdecode', f.dir], 2],
  ['bdecode: not bencode', () => ['bdecode', f.notTorrent], 3],
  ['magnet: no argument', () => ['magnet'], 2],
  ['magnet: not a magnet link', () => ['magnet', 'http://example.invalid/'], 3],
  ['unknown option', () => ['torrent', f.torrent, '--bogus'], 2],
  // tracker
  ['tracker: no argument', () => ['tracker'], 2],
  ['tracker: nonexistent file', () => ['tracker', f.missing], 2],
  ['tracker: not a torrent', () => ['tracker', f.notTorrent], 3],
  ['tracker: --timeout abc', () => ['tracker', f.torrent, '--timeout', 'abc'], 2],
  ['tracker: --timeout -1', () => ['tracker', f.torrent, '--timeout', '-1'], 2],
  ['tracker: --port 99999', () => ['tracker', f.torrent, '--port', '99999'], 2],
  ['tracker: --event bogus', () => ['tracker', f.torrent, '--event', 'bogus'], 2],
  ['tracker: unreachable tracker', () => ['tracker', f.torrent, '--timeout', '2'], 1],
  ['tracker: bare hash, unreachable --tracker', () => ['tracker', f.hex, '--tracker', `udp://${dead()}/announce`, '--timeout', '1'], 1],
  // handshake
  ['handshake: no argument', () => ['handshake'], 2],
  ['handshake: no peer', () => ['handshake', f.torrent], 2],
  ['handshake: nonexistent torrent', () => ['handshake', f.missing, dead()], 2],
  ['handshake: a directory for the torrent', () => ['handshake', f.dir, dead()], 2],
  ['handshake: not a torrent', () => ['handshake', f.notTorrent, dead()], 3],
  ['handshake: not HOST:PORT', () => ['handshake', f.torrent, 'localhost'], 2],
  ['handshake: port 99999', () => ['handshake', f.torrent, '127.0.0.1:99999'], 2],
  ['handshake: port 0', () => ['handshake', f.torrent, '127.0.0.1:0'], 2],
  ['handshake: --wait abc', () => ['handshake', f.torrent, dead(), '--wait', 'abc'], 2],
  ['handshake: unreachable peer', () => ['handshake', f.torrent, dead(), '--timeout', '2'], 4],
  // metadata
  ['metadata: no argument', () => ['metadata'], 2],
  ['metadata: a .torrent', () => ['metadata', f.torrent], 2],
  ['metadata: -o a directory', () => ['metadata', f.hex, '--peer', dead(), '-o', f.dir, '--timeout', '2'], 2],
  ['metadata: --timeout NaN', () => ['metadata', f.hex, '--peer', dead(), '--timeout', 'NaN'], 2],
  ['metadata: unreachable peer', () => ['metadata', f.hex, '--peer', dead(), '--timeout', '2', '-o', path.join(tmp, 'm.torrent')], 4],
  ['metadata: no peer and no tracker', () => ['metadata', f.hex, '--timeout', '2'], 2],
  // piece
  ['piece: no index', () => ['piece', f.torrent], 2],
  ['piece: index abc', () => ['piece', f.torrent, 'abc', '--peer', dead(), '-o', path.join(tmp, 'p.bin')], 2],
  ['piece: index out of range', () => ['piece', f.torrent, '99', '--peer', dead(), '-o', path.join(tmp, 'p.bin')], 2],
  ['piece: index -1', () => ['piece', f.torrent, '-1', '--peer', dead(), '-o', path.join(tmp, 'p.bin')], 2],
  ['piece: -o a directory', () => ['piece', f.torrent, '0', '--peer', dead(), '-o', f.dir], 2],
  ['piece: wrong torrent file', () => ['piece', f.notTorrent, '0', '--peer', dead(), '-o', path.join(tmp, 'p.bin')], 3],
  ['piece: unreachable peer', () => ['piece', f.torrent, '0', '--peer', dead(), '-o', path.join(tmp, 'p.bin'), '--timeout', '2'], 4],
  // download
  ['download: no argument', () => ['download'], 2],
  ['download: nonexistent torrent', () => ['download', f.missing], 2],
  ['download: a directory for the torrent', () => ['download', f.dir], 2],
  ['download: not a torrent', () => ['download', f.notTorrent, '--peer', dead()], 3],
  ['download: -o /proc/nope', () => ['download', f.torrent, '-o', '/proc/nope', '--peer', dead(), '--timeout', '2'], 2],
  ['download: -o /sys/nope', () => ['download', f.torrent, '-o', '/sys/nope', '--peer', dead(), '--timeout', '2'], 2],
  ['download: -o a file', () => ['download', f.torrent, '-o', f.notTorrent, '--peer', dead(), '--timeout', '2'], 2],
  ['download: --max-peers abc', () => ['download', f.torrent, '--max-peers', 'abc'], 2],
  ['download: --listen-port 99999', () => ['download', f.torrent, '--listen-port', '99999', '--peer', dead(), '-o', path.join(tmp, 'dl-1')], 2],
  ['download: --listen-port busy', () => ['download', f.torrent, '--listen-port', String(f.busyPort), '--peer', dead(), '-o', path.join(tmp, 'dl-2'), '--timeout', '2'], 2],
  ['download: bad --peer', () => ['download', f.torrent, '--peer', 'nowhere', '-o', path.join(tmp, 'dl-3')], 2],
  ['download: unreachable peer and tracker', () => ['download', f.torrent, '--peer', dead(), '-o', path.join(tmp, 'dl-4'), '--timeout', '2'], 4],
  // seed
  ['seed: no argument', () => ['seed'], 2],
  ['seed: no folder', () => ['seed', f.torrent], 2],
  ['seed: not a torrent', () => ['seed', f.notTorrent, f.seedDir], 3],
  ['seed: nonexistent folder', () => ['seed', f.torrent, f.missing, '--duration', '1'], 2],
  ['seed: a file for the folder', () => ['seed', f.torrent, f.notTorrent, '--duration', '1'], 2],
  ['seed: folder without the data', () => ['seed', f.torrent, f.emptyDir, '--duration', '1'], 1],
  ['seed: --port 99999', () => ['seed', f.torrent, f.seedDir, '--port', '99999', '--duration', '1'], 2],
  ['seed: busy port', () => ['seed', f.torrent, f.seedDir, '--port', String(f.busyPort), '--duration', '1'], 2],
  // trace
  ['trace: no argument', () => ['trace'], 2],
  ['trace: nonexistent capture', () => ['trace', f.missing], 2],
  ['trace: a directory', () => ['trace', f.dir], 2],
  ['trace: not a capture', () => ['trace', f.notTorrent], 3],
  ['trace: --listen without --forward', () => ['trace', '--listen', '17030'], 2],
  ['trace: --extract without --torrent', () => ['trace', f.pcap, '--extract', f.out], 2],
  ['trace: --type bogus', () => ['trace', f.pcap, '--type', 'bogus'], 2],
  ['trace: --stream 99', () => ['trace', f.pcap, '--stream', '99'], 2],
  ['trace: --stream abc', () => ['trace', f.pcap, '--stream', 'abc'], 2],
  ['trace: --listen 99999', () => ['trace', '--listen', '99999', '--forward', dead(), '--duration', '1'], 2],
  ['trace: --listen busy', () => ['trace', '--listen', String(f.busyPort), '--forward', dead(), '--duration', '1'], 2],
  ['trace: --forward not HOST:PORT', () => ['trace', '--listen', '0', '--forward', 'nowhere', '--duration', '1'], 2],
  ['trace: --extract with a wrong torrent', () => ['trace', f.pcap, '--extract', path.join(tmp, 'x-out'), '--torrent', f.wrongTorrent], 1],
  ['trace: --extract with not a torrent', () => ['trace', f.pcap, '--extract', path.join(tmp, 'x-out2'), '--torrent', f.notTorrent], 3],
  // comply
  ['comply: no argument', () => ['comply'], 2],
  ['comply: no peer', () => ['comply', f.torrent], 2],
  ['comply: port 99999', () => ['comply', f.torrent, '127.0.0.1:99999'], 2],
  ['comply: not a torrent', () => ['comply', f.notTorrent, dead()], 3],
  ['comply: nonexistent torrent', () => ['comply', f.missing, dead()], 2],
  ['comply: --only bogus', () => ['comply', f.torrent, dead(), '--only', 'bogus'], 2],
  ['comply: --answer abc', () => ['comply', f.torrent, dead(), '--answer', 'abc'], 2],
  ['comply: unreachable peer', () => ['comply', f.torrent, dead(), '--timeout', '3'], 4],
];

const BOUND_MS = 12_000;

describe('CLI contract under misuse (node dist/tools/cli.js)', () => {
  describe.each(CASES)('%s', (_what, args, exit) => {
    it.concurrent('exit code, one line on stderr, no stack frame, bounded', async () => {
      const r = await runCli(args(), BOUND_MS);
      const ctx = `btscope ${args().join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
      expect(r.code, ctx).toBe(exit);
      expect(r.ms, ctx).toBeLessThan(BOUND_MS);
      expect(r.stderr, ctx).not.toContain('    at ');
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines, ctx).toHaveLength(1);
      expect(lines[0]!.length, ctx).toBeGreaterThan(10);
    });
    it.concurrent('--json: one JSON object on stdout with ok: false and why', async () => {
      const r = await runCli([...args(), '--json'], BOUND_MS);
      const ctx = `btscope ${args().join(' ')} --json\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
      expect(r.code, ctx).toBe(exit);
      expect(r.stderr, ctx).not.toContain('    at ');
      let doc: Record<string, unknown> | undefined;
      // trace --json streams one document a line (its documented form): the failure is the last line.
      const text = args()[0] === 'trace' ? (r.stdout.trim().split('\n').at(-1) ?? '') : r.stdout;
      expect(() => (doc = JSON.parse(text) as Record<string, unknown>), ctx).not.toThrow();
      expect(doc, ctx).toMatchObject({ ok: false });
      expect(typeof doc!['error'], ctx).toBe('string');
      expect((doc!['error'] as string).length, ctx).toBeGreaterThan(5);
    });
  });
});
