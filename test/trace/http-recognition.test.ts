import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { trackerRequest } from '../../lib/trace/http-stream.js';
import { pcapFile } from '../capture/build.js';
import { Conversation } from './conv.js';

/**
 * Issue 14, item 11: HTTP is a tracker's only by its content (an `info_hash=`
 * query, a full scrape, a bencoded tracker answer); any other HTTP is shown as
 * `http (not a tracker)` in lines, --json and --summary. The capture is built
 * here: a web page fetched from a server on port 80 (with a page whose path
 * is /announce), beside a tracker announce on the same port, a full scrape,
 * and an announce reply whose request was not captured.
 */
const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const response = (status: string, type: string, body: string) => ascii(`HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
const HTML = '<!doctype html><html><body>hello</body></html>';
const ANNOUNCE_REPLY = 'd8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e';

let dir: string;
let pcap: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btscope-trace-http-'));
  const web = new Conversation({ ip: '10.0.0.5', port: 51000 }, { ip: '10.0.0.80', port: 80 }).handshake();
  web.send('a', ascii('GET / HTTP/1.1\r\nHost: example.org\r\nAccept: text/html\r\n\r\n'));
  web.send('b', response('200 OK', 'text/html', HTML));
  web.send('a', ascii('GET /announce HTTP/1.1\r\nHost: example.org\r\n\r\n'));
  web.send('b', response('404 Not Found', 'text/plain', 'no such page'));

  const tracker = new Conversation({ ip: '10.0.0.5', port: 51001 }, { ip: '10.0.0.69', port: 80 }).handshake();
  tracker.time = web.time;
  tracker.send('a', ascii(`GET /announce?info_hash=${'%aa'.repeat(20)}&peer_id=-qB4520-xxxxxxxxxxxx&port=6881&uploaded=0&downloaded=0&left=5&compact=1 HTTP/1.1\r\nHost: t\r\n\r\n`));
  tracker.send('b', response('200 OK', 'text/plain', ANNOUNCE_REPLY));
  tracker.send('a', ascii('GET /scrape HTTP/1.1\r\nHost: t\r\n\r\n'));
  tracker.send('b', response('200 OK', 'text/plain', 'd5:filesdee'));

  // Captured from the middle: only the tracker's answer; its body says what it is.
  const midway = new Conversation({ ip: '10.0.0.6', port: 52000 }, { ip: '10.0.0.69', port: 6969 });
  midway.time = tracker.time;
  midway.send('b', response('200 OK', 'text/plain', ANNOUNCE_REPLY));

  pcap = join(dir, 'http.pcap');
  await writeFile(pcap, pcapFile(1, [...web.records, ...tracker.records, ...midway.records]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: Record<string, unknown>): Promise<{ code: number; out: string }> {
  const io = captureIo();
  const code = await handler({ capture: pcap, json: false, frames: false, summary: false, io, ...args } as never);
  return { code, out: io.stdout.join('\n') };
}

describe('trace: plain HTTP is not tracker traffic', () => {
  it('lines: the web exchange is `http (not a tracker)`, the tracker exchanges are http-tracker', async () => {
    const { code, out } = await run({});
    expect(code).toBe(0);
    const lines = out.split('\n').filter(Boolean).map((l) => l.replace(/^\s*[\d.]+\s+#\d+\s+/, ''));
    expect(lines).toEqual([
      '10.0.0.5:51000 → 10.0.0.80:80  http (not a tracker) GET /',
      expect.stringMatching(/^10\.0\.0\.80:80 → 10\.0\.0\.5:51000  http \(not a tracker\) response status=200 rtt=[\d.]+ms$/),
      '10.0.0.5:51000 → 10.0.0.80:80  http (not a tracker) GET /announce',
      expect.stringMatching(/^10\.0\.0\.80:80 → 10\.0\.0\.5:51000  http \(not a tracker\) response status=404 rtt=/),
      `10.0.0.5:51001 → 10.0.0.69:80  http-tracker announce info_hash=${'aa'.repeat(20)} port=6881 left=5`,
      expect.stringMatching(/^10\.0\.0\.69:80 → 10\.0\.0\.5:51001  http-tracker announce reply interval=1800 peers=1 rtt=/),
      '10.0.0.5:51001 → 10.0.0.69:80  http-tracker scrape /scrape',
      expect.stringMatching(/^10\.0\.0\.69:80 → 10\.0\.0\.5:51001  http-tracker scrape reply files=0 rtt=/),
      '10.0.0.69:6969 → 10.0.0.6:52000  http-tracker announce reply interval=1800 peers=1',
    ]);
  });

  it('--json: protocol and type say which is which', async () => {
    const { out } = await run({ json: true });
    const events = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stream: number; protocol: string; type: string; fields: Record<string, unknown> });
    expect(events.map((e) => [e.stream, e.protocol, e.type])).toEqual([
      [1, 'http', 'http.request'],
      [1, 'http', 'http.response'],
      [1, 'http', 'http.request'],
      [1, 'http', 'http.response'],
      [2, 'http-tracker', 'http-tracker.announce_request'],
      [2, 'http-tracker', 'http-tracker.announce_response'],
      [2, 'http-tracker', 'http-tracker.scrape_request'],
      [2, 'http-tracker', 'http-tracker.scrape_response'],
      [3, 'http-tracker', 'http-tracker.announce_response'],
    ]);
    expect(events[0]!.fields).toEqual({ method: 'GET', target: '/' });
    expect(events[1]!.fields).toMatchObject({ status: 200 });
  });

  it('--summary --json: the web stream is labelled `http (not a tracker)`, counted apart, and has no tracker transaction', async () => {
    const { out } = await run({ summary: true, json: true });
    const s = JSON.parse(out) as { streamList: Array<Record<string, unknown>>; other: Record<string, number>; transactions: Array<Record<string, unknown>> };
    expect(s.streamList.map((x) => [x['protocol'], x['label']])).toEqual([
      ['http', 'http (not a tracker)'],
      ['http-tracker', 'HTTP tracker'],
      ['http-tracker', 'HTTP tracker'],
    ]);
    expect(s.other).toEqual({
      'http.request': 2,
      'http.response': 2,
      'http-tracker.announce_request': 1,
      'http-tracker.announce_response': 2,
      'http-tracker.scrape_request': 1,
      'http-tracker.scrape_response': 1,
    });
    expect(s.transactions.map((t) => [t['stream'], t['kind']])).toEqual([
      [2, 'announce'],
      [2, 'scrape'],
      [3, 'announce'],
    ]);
  });

  it('--summary (tables): the web stream reads `http (not a tracker)`', async () => {
    const { out } = await run({ summary: true });
    expect(out).toContain('http (not a tracker)');
    expect(out).toMatch(/http\.request\D+2/);
  });

  it('--type http keeps only plain HTTP; --type http-tracker only the tracker', async () => {
    const plain = (await run({ json: true, type: ['http'] })).out.split('\n').filter(Boolean).map((l) => JSON.parse(l).protocol);
    expect(plain).toEqual(['http', 'http', 'http', 'http']);
    const tracker = (await run({ json: true, type: ['http-tracker'] })).out.split('\n').filter(Boolean).map((l) => JSON.parse(l).protocol);
    expect(new Set(tracker)).toEqual(new Set(['http-tracker']));
    expect(tracker).toHaveLength(5);
  });
});

describe('trackerRequest: a tracker request by its content', () => {
  it.each([
    ['/announce?info_hash=%aa&peer_id=x', 'announce'],
    ['/a/1f2e/announce.php?passkey=z&info_hash=%aa', 'announce'],
    ['/tracker?info_hash=%aa', 'announce'],
    ['/scrape?info_hash=%aa&info_hash=%bb', 'scrape'],
    ['/scrape', 'scrape'],
    ['/scrape.php?', 'scrape'],
    ['/', 'http'],
    ['/announce', 'http'],
    ['/announce?page=2', 'http'],
    ['/scrape?page=2', 'http'],
    ['/search?q=info_hash%3D', 'http'],
    ['/search?my_info_hash=1', 'http'],
  ] as const)('%s -> %s', (target, kind) => {
    expect(trackerRequest(target)).toBe(kind);
  });
});
