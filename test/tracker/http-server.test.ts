import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';
import { percentEncodeBytes } from '../../lib/tracker/url.js';
import { decodeHttpAnnounceResponse } from '../../lib/tracker/http-announce.js';

let tracker: RunningTracker;
beforeAll(async () => {
  tracker = await startTracker({ host: '127.0.0.1', udp: false, interval: 60 });
});
afterAll(async () => {
  await tracker?.close();
});

const hash = percentEncodeBytes(new Uint8Array(20).fill(7));
const get = (n: number, extra = '') => `GET /announce?info_hash=${hash}&peer_id=-BS0001-${String(n).padStart(12, '0')}&port=${n}&left=1 HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

/** Sends `bytes`, collects everything until the server closes or `ms` pass (bounded). */
function exchange(bytes: string, ms = 1500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(tracker.httpPort, '127.0.0.1', () => s.write(bytes, 'latin1'));
    let text = '';
    const timer = setTimeout(() => (s.destroy(), resolve({ text, closed: false })), ms);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => (clearTimeout(timer), resolve({ text, closed: true })));
  });
}
const bodies = (text: string) =>
  text
    .split('HTTP/1.1 ')
    .slice(1)
    .map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));

describe('the HTTP front end (plain TCP, RFC 9112)', () => {
  it('keep-alive with pipelined requests: every answer in order, the connection stays open', async () => {
    const r = await exchange(get(1) + get(2) + get(3), 400);
    expect(r.closed).toBe(false);
    const answers = bodies(r.text).map((b) => decodeHttpAnnounceResponse(new TextEncoder().encode(b)).value);
    expect(answers.map((a) => a.incomplete)).toEqual([1, 2, 3]);
    expect(r.text).not.toMatch(/Connection: close/);
  });

  it('Connection: close and HTTP/1.0 get one answer and a closed connection', async () => {
    const a = await exchange(get(4, 'Connection: close\r\n') + get(5));
    expect(a.closed).toBe(true);
    expect(bodies(a.text)).toHaveLength(1);
    expect(a.text).toMatch(/^HTTP\/1\.1 200 OK\r\n.*Connection: close\r\n/s);
    const b = await exchange(get(6).replace('HTTP/1.1', 'HTTP/1.0'));
    expect(b.closed).toBe(true);
    expect(bodies(b.text)).toHaveLength(1);
  });

  it('not HTTP: 400 and closed; a head over 80 KiB: 431 and closed; POST: 405', async () => {
    const junk = await exchange('\x13BitTorrent protocol\r\n\r\n');
    expect(junk.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(junk.closed).toBe(true);
    const big = await exchange(`GET /announce?${'x'.repeat(90 * 1024)}`);
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /);
    expect(big.closed).toBe(true);
    const post = await exchange('POST /announce HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
    expect(post.text).toMatch(/^HTTP\/1\.1 405 .*method POST not allowed/s);
    expect(post.closed).toBe(true);
  });

  it('a head split byte by byte is read whole', async () => {
    const text = get(7, 'Connection: close\r\n');
    const r = await new Promise<string>((resolve) => {
      const s = connect(tracker.httpPort, '127.0.0.1');
      let out = '';
      s.on('connect', async () => {
        for (const ch of text) {
          s.write(ch);
          await new Promise((w) => setImmediate(w));
        }
      });
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('close', () => resolve(out));
      s.on('error', () => {});
      setTimeout(() => s.destroy(), 3000).unref();
    });
    expect(r).toMatch(/^HTTP\/1\.1 200 OK/);
  });
});
