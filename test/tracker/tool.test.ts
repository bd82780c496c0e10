import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler as trackerTool } from '../../tools/commands/tracker.js';
import { handler as serveTool } from '../../tools/commands/tracker-serve.js';
import { captureIo } from '../../tools/io.js';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';
import { announce } from '../../lib/tracker/client/announce.js';
import { encode } from '../../lib/bencode/encode.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { describeError } from '../../tools/errors.js';

const HASH = '0123456789abcdef0123456789abcdef01234567';
let n = 0;
/** A fresh swarm with one seeder on port 5555 (each probe adds itself as a peer, as real probes do). */
async function swarm(): Promise<string> {
  const hash = toHex(new Uint8Array(20).fill(0x40 + ++n));
  await announce(tracker.url, { infoHash: fromHex(hash), peerId: new Uint8Array(20).fill(9), port: 5555, uploaded: 0, downloaded: 0, left: 0, event: 'started' }, { timeoutMs: 3000 });
  return hash;
}
const base = { tracker: [] as string[], scrape: false, port: 6881, timeout: 3, json: false, frames: false, 'show-secrets': false, 'show-peers': 50 };

let tracker: RunningTracker;
let dir: string;
beforeAll(async () => {
  tracker = await startTracker({ interval: 300 });
  dir = await mkdtemp(join(tmpdir(), 'btscope-tracker-tool-'));
  // A real peer already in the swarm, so the probe has someone to see.
  await announce(tracker.url, { infoHash: fromHex(HASH), peerId: new Uint8Array(20).fill(9), port: 5555, uploaded: 0, downloaded: 0, left: 0, event: 'started' }, { timeoutMs: 3000 });
});
afterAll(async () => {
  await tracker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(args: Partial<typeof base> & { target: string; [k: string]: unknown }) {
  const io = captureIo();
  const code = await trackerTool({ ...base, ...args, io } as Parameters<typeof trackerTool>[0]);
  return { code, out: io.text(), io };
}

describe('btscope tracker', () => {
  it('a table row per tracker, a failing one among them, then the peers; exit 0', async () => {
    const { code, out } = await run({ target: HASH, tracker: [tracker.url, tracker.udpUrl, 'udp://127.0.0.1:9/announce'] });
    expect(code).toBe(EXIT.ok);
    expect(out).toMatch(/│ http:\/\/127\.0\.0\.1:\d+\/announce\s*│ http\s*│ ok\s*│ \d+ ms\s*│ 300 s\s*│ 1\s*│ \d\s*│ 1\s*│/);
    expect(out).toMatch(/udp:\/\/127\.0\.0\.1:9\/announce\s*│ udp\s*│ failed.*refused/);
    expect(out).toMatch(/peers \(1 unique\)\n\s+127\.0\.0\.1:5555\s+from #1, #2/);
    expect(out).toMatch(/2 of 3 trackers answered/);
  });

  it('--json has the documented shape; exit 1 when nothing answered', async () => {
    const ok = await run({ target: await swarm(), tracker: [tracker.udpUrl], json: true });
    const j = JSON.parse(ok.out);
    expect(j.results).toHaveLength(1);
    expect(j.results[0]).toMatchObject({ tracker: tracker.udpUrl, ok: true, error: null, interval: 300, complete: 1, peers: ['127.0.0.1:5555'] });
    for (const k of ['tracker', 'ok', 'error', 'interval', 'complete', 'incomplete', 'downloaded', 'peers']) expect(j.results[0]).toHaveProperty(k);
    const none = await run({ target: HASH, tracker: ['http://127.0.0.1:9/announce'], json: true });
    expect(none.code).toBe(EXIT.failure);
    expect(JSON.parse(none.out).results[0]).toMatchObject({ ok: false, errorCode: 'refused', step: 'announce', peers: [] });
  });

  it('passkeys are masked in the table, JSON and frames, unless --show-secrets', async () => {
    const key = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';
    const url = tracker.url.replace('/announce', `/${key}/announce`);
    const masked = await run({ target: HASH, tracker: [url], frames: true });
    expect(masked.out).not.toContain(key);
    expect(masked.out).toContain('/***/announce');
    expect(masked.out).toMatch(/2f 2a 2a 2a 2a 2a 2a 2a\s+\/\*{7}/);
    const json = await run({ target: HASH, tracker: [url], json: true, frames: true });
    expect(json.out).not.toContain(key);
    expect(json.out).not.toContain(Buffer.from(key).toString('hex'));
    const shown = await run({ target: HASH, tracker: [url], 'show-secrets': true, json: true });
    expect(shown.out).toContain(key);
  });

  it('--frames shows each step with its timing; a timeout names its step', async () => {
    const { out } = await run({ target: HASH, tracker: [tracker.udpUrl], frames: true });
    expect(out).toMatch(/── UDP (connect|announce) request {2}step=(connect|announce) dir=sent peer=127\.0\.0\.1:\d+ t=\+[\d.]+ms/);
    expect(out).toMatch(/UDP announce response {2}step=announce dir=received/);
  });

  it('--scrape shows seeders, leechers, downloaded', async () => {
    const { code, out } = await run({ target: await swarm(), tracker: [tracker.url, tracker.udpUrl], scrape: true, json: true });
    expect(code).toBe(0);
    const results = JSON.parse(out).results;
    expect(results.map((r: { complete: number; incomplete: number }) => [r.complete, r.incomplete])).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });

  it('targets: a .torrent (every tier), a magnet, a v2 hash truncated to 20 bytes (BEP 52)', async () => {
    const info = { length: 1, name: 'x', 'piece length': 16384, pieces: new Uint8Array(20) };
    const file = join(dir, 'x.torrent');
    await writeFile(file, encode({ announce: tracker.url, 'announce-list': [[tracker.url], [tracker.udpUrl]], info }));
    const t = JSON.parse((await run({ target: file, json: true })).out);
    expect(t.infoHash).toMatch(/^[0-9a-f]{40}$/);
    expect(t.results.map((r: { tracker: string; ok: boolean }) => [r.tracker, r.ok])).toEqual([
      [tracker.url, true],
      [tracker.udpUrl, true],
    ]);
    const m = JSON.parse((await run({ target: `magnet:?xt=urn:btih:${await swarm()}&tr=${encodeURIComponent(tracker.udpUrl)}`, json: true })).out);
    expect(m.results[0].peers).toEqual(['127.0.0.1:5555']);
    const v2 = 'ab'.repeat(32);
    const r = JSON.parse((await run({ target: v2, tracker: [tracker.url], json: true })).out);
    expect(r.infoHash).toBe('ab'.repeat(20));
    expect(tracker.swarms.has('ab'.repeat(20))).toBe(true);
  });

  it('usage errors: no trackers, a target that is nothing', async () => {
    await expect(run({ target: HASH })).rejects.toBeInstanceOf(UsageError);
    await expect(run({ target: 'nonsense', tracker: [tracker.url] })).rejects.toBeInstanceOf(UsageError);
  });
});

/** tracker-serve writes its lines in batches (one write per batch, not per announce). */
const jsonLines = (out: readonly string[]) => out.flatMap((chunk) => chunk.split('\n')).map((l) => JSON.parse(l));

describe('btscope tracker-serve', () => {
  it('serves, logs each announce as JSON, and stops on its signal', async () => {
    const io = captureIo();
    const stop = new AbortController();
    const running = serveTool({ host: '127.0.0.1', port: 0, http: true, udp: true, interval: 60, json: true, io, signal: stop.signal });
    let listening: { url: string; udpUrl: string } | undefined;
    for (let i = 0; i < 100 && !listening; i++) {
      await new Promise((r) => setTimeout(r, 20));
      listening = jsonLines(io.stdout).find((l) => l.type === 'listening');
    }
    expect(listening).toBeDefined();
    await announce(listening!.udpUrl, { infoHash: fromHex(HASH), peerId: new Uint8Array(20).fill(1), port: 7777, uploaded: 0, downloaded: 0, left: 10, event: 'started' }, { timeoutMs: 3000 });
    stop.abort();
    expect(await running).toBe(0);
    const lines = jsonLines(io.stdout);
    expect(lines.find((l) => l.type === 'announce')).toMatchObject({ protocol: 'udp', infoHash: HASH, peer: '127.0.0.1:7777', event: 'started', incomplete: 1 });
    expect(lines[lines.length - 1]).toEqual({ type: 'stopped', torrents: 1 });
    expect(toHex(fromHex(HASH))).toBe(HASH);
  });

  it('a port out of range is a usage error (exit 2); a busy port one line, no stack (issue 14)', async () => {
    const args = { host: '127.0.0.1', http: true, udp: true, interval: 60, json: false, io: captureIo() };
    for (const port of [99999, -1, 1.5, Number.NaN]) {
      const e = await serveTool({ ...args, port }).catch((x) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect(describeError(e)).toMatchObject({ message: expect.stringMatching(/^--port .*: must be a whole number from 0 to 65535$/), exitCode: EXIT.usage });
    }
    for (const [busy, extra] of [
      [tracker.httpPort, {}],
      [tracker.udpPort, { http: false }],
    ] as const) {
      const e = await serveTool({ ...args, ...extra, port: busy }).catch((x) => x);
      // A BtscopeError('listen') with the errno as its cause: tools/errors.ts words it and picks the exit code.
      expect(e).toMatchObject({ code: 'listen', cause: { code: 'EADDRINUSE' } });
      const { message, exitCode } = describeError(e);
      expect([EXIT.failure, EXIT.usage]).toContain(exitCode);
      expect(message).toMatch(new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${busy} \\(${'http' in extra ? 'udp' : 'tcp'}\\): the port is in use`));
      expect(message).not.toMatch(/\n|    at /);
    }
  });
});

