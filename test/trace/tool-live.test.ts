import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { download } from '../../lib/engine/downloader.js';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { describeError } from '../../tools/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { stopChild } from '../helpers/child.js';
import { testTorrent } from '../helpers/hostile-peer.js';

/**
 * Issue 14 "Also": `trace -` reads a capture from stdin as it comes, and `trace --interface IF
 * [--bpf FILTER]` runs tcpdump itself. Runs `node dist/tools/cli.js` (build first:
 * `npx tsc -p .`); every child is stopped by PID, every wait bounded; loopback only.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const CAPTURES = readdirSync(path.join(repoRoot, 'captures'))
  .filter((f) => f.endsWith('.pcap'))
  .map((f) => path.join(repoRoot, 'captures', f));
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-trace-live-'));
const children: ChildProcess[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c, 'SIGKILL')));
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}
function cli(args: string[], timeoutMs = 20_000): Run {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (err += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve(code))));
  return { child, stdout: () => out, stderr: () => err, exit };
}

function spawnShell(line: string): Run {
  const child = spawn('sh', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (err += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve(code))));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Resolves when `test` holds, checked every 50 ms; rejects after `ms`. */
async function waitFor(test: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('trace - (a capture on stdin)', () => {
  it.each(CAPTURES.map((c) => [path.basename(c), c]))('%s piped into stdin prints what the file-path run prints', async (_name, file) => {
    for (const extra of [[], ['--summary']]) {
      const fromFile = cli(['trace', file, ...extra]);
      const fromStdin = cli(['trace', '-', ...extra]);
      fromStdin.child.stdin!.end(readFileSync(file));
      fromFile.child.stdin!.end();
      expect(await fromStdin.exit, fromStdin.stderr()).toBe(0);
      expect(await fromFile.exit).toBe(0);
      expect(fromStdin.stdout().length).toBeGreaterThan(100);
      expect(fromStdin.stdout()).toBe(fromFile.stdout());
    }
  });

  it('through a shell: `cat FILE | btscope trace -` (a pipe) and `btscope trace - < FILE` (a file) print what the file-path run prints', async () => {
    const file = CAPTURES[0]!;
    const direct = cli(['trace', file]);
    direct.child.stdin!.end();
    const node = `${JSON.stringify(process.execPath)} --openssl-legacy-provider ${JSON.stringify(CLI)}`;
    const piped = spawnShell(`cat ${JSON.stringify(file)} | ${node} trace -`);
    const redirected = spawnShell(`${node} trace - < ${JSON.stringify(file)}`);
    expect(await direct.exit).toBe(0);
    for (const r of [piped, redirected]) {
      expect(await r.exit, r.stderr()).toBe(0);
      expect(r.stdout()).toBe(direct.stdout());
    }
  });

  it('streams: lines come out while stdin is still open (a live tcpdump -w - pipe)', async () => {
    const run = cli(['trace', '-']);
    run.child.stdin!.write(readFileSync(CAPTURES[0]!));
    // The capture is all there but stdin has not ended: the lines must not wait for the end.
    await waitFor(() => run.stdout().includes('handshake'), 10_000, 'the first trace lines before stdin ends');
    expect(run.child.exitCode).toBeNull();
    run.child.stdin!.end();
    expect(await run.exit).toBe(0);
  });
});

describe('trace --interface (tcpdump run by btscope)', () => {
  it('a missing tcpdump is a usage error that says what to install', async () => {
    const saved = process.env['PATH'];
    process.env['PATH'] = tmp;
    try {
      await handler({ interface: 'lo', json: false, frames: false, summary: false, duration: 1, io: captureIo() } as never);
      expect.unreachable();
    } catch (e) {
      const d = describeError(e);
      expect(d.exitCode).toBe(EXIT.usage);
      expect(d.message).toMatch(/tcpdump is not installed.*apt-get install tcpdump.*btscope trace -/);
    } finally {
      process.env['PATH'] = saved;
    }
  });

  it('a real transfer on loopback (btscope seeder → downloader), traced live from lo', async () => {
    const t = testTorrent();
    const torrent = parseTorrent(torrentFromMetadata(t.info, []));
    const seedDir = path.join(tmp, 'seed');
    const outDir = path.join(tmp, 'out');
    rmSync(seedDir, { recursive: true, force: true });
    mkdirSync(seedDir, { recursive: true });
    writeFileSync(path.join(seedDir, 'test.bin'), t.data);
    let seeder: RunningSeeder | undefined;
    try {
      seeder = await startSeeder({ torrent, dir: seedDir, host: '127.0.0.1', encryption: 'plaintext' });
      const run = cli(['trace', '--interface', 'lo', '--bpf', `tcp port ${seeder.port}`, '--duration', '30'], 40_000);
      await waitFor(() => /listening on lo/.test(run.stderr()), 10_000, 'tcpdump listening');
      const r = await download({ torrent, outDir, peers: [{ host: '127.0.0.1', port: seeder.port }], encryption: 'plaintext', stallTimeoutMs: 10_000, timeoutMs: 20_000 });
      expect(r.ok).toBe(true);
      expect(readFileSync(path.join(outDir, 'test.bin')).equals(Buffer.from(t.data))).toBe(true);
      // Lines appear while the capture runs (last piece sent, then the connection closes).
      await waitFor(() => /piece index=4 /.test(run.stdout()), 10_000, `the last piece traced live; got:\n${run.stdout()}\n${run.stderr()}`);
      // Ctrl-C (SIGINT to btscope's PID): tcpdump is stopped, the run ends cleanly.
      run.child.kill('SIGINT');
      expect(await run.exit, run.stderr()).toBe(0);
      const out = run.stdout();
      expect(out).toMatch(new RegExp(`127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:${seeder.port}  handshake info_hash=${Buffer.from(t.infoHash).toString('hex')}`));
      expect(out).toMatch(/have_all|bitfield/);
      for (let i = 0; i < 5; i++) expect(out).toMatch(new RegExp(`piece index=${i} begin=0 `));
      expect(run.stderr()).toMatch(/packets captured/);
    } finally {
      await seeder?.close();
    }
  }, 60_000);
});
