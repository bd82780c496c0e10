import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LookupFunction } from 'node:net';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';
import { announce, clearConnectionIds, scrape } from '../../lib/tracker/client/announce.js';
import { TrackerError } from '../../lib/tracker/errors.js';
import type { AnnounceRequest } from '../../lib/tracker/types.js';

/**
 * Name resolution of a tracker's host, through the client's `lookup` option so
 * that no query leaves the machine: a resolver that fails as the system one does
 * (ENOTFOUND, EAI_AGAIN) gives a `dns` error naming the host, for HTTP and UDP,
 * in the step that needed the name; a resolver that answers 127.0.0.1 for a made-up
 * name reaches our tracker, which shows the option is the one the transports use.
 */
const infoHash = new Uint8Array(20).fill(0x5a);
const req: AnnounceRequest = {
  infoHash,
  peerId: new TextEncoder().encode('-BS0001-dnsdnsdnsdns'),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 1,
  event: 'started',
};

function failingLookup(code: string, asked: string[]): LookupFunction {
  return (hostname, _options, callback) => {
    asked.push(hostname);
    const err = Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, hostname }) as NodeJS.ErrnoException;
    setImmediate(() => (callback as (e: NodeJS.ErrnoException | null, a: string, f: number) => void)(err, '', 0));
  };
}

/** Answers 127.0.0.1 for `tracker.test` and ENOTFOUND for anything else. */
function testLookup(asked: string[]): LookupFunction {
  return (hostname, options, callback) => {
    asked.push(hostname);
    const cb = callback as (e: NodeJS.ErrnoException | null, a: string | { address: string; family: number }[], f?: number) => void;
    if (hostname !== 'tracker.test') {
      setImmediate(() => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0));
    } else if ((options as { all?: boolean }).all) {
      setImmediate(() => cb(null, [{ address: '127.0.0.1', family: 4 }]));
    } else {
      setImmediate(() => cb(null, '127.0.0.1', 4));
    }
  };
}

let tracker: RunningTracker;
beforeAll(async () => {
  tracker = await startTracker({ host: '127.0.0.1', port: 0, interval: 120 });
});
afterAll(async () => {
  await tracker.close();
});

describe.each(['http', 'udp'] as const)('%s tracker whose name does not resolve', (proto) => {
  const url = (host: string, port: number) => (proto === 'http' ? `http://${host}:${port}/announce` : `udp://${host}:${port}/announce`);

  it.each(['ENOTFOUND', 'EAI_AGAIN'])('%s: a dns error naming the host, in the announce step, well before the timeout', async (code) => {
    clearConnectionIds();
    const asked: string[] = [];
    const started = performance.now();
    const err = await announce(url('tracker.invalid', 6969), req, { timeoutMs: 5000, lookup: failingLookup(code, asked) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrackerError);
    const te = err as TrackerError;
    expect(te.code).toBe('dns');
    expect(te.message).toContain('tracker.invalid');
    expect(te.message).toContain(code);
    expect(asked).toEqual(['tracker.invalid']);
    expect(performance.now() - started).toBeLessThan(4000);
    // UDP needs the name before its connect step; HTTP before the announce request goes out.
    expect(te.step).toBe(proto === 'udp' ? 'connect' : 'announce');
  });

  it('a scrape fails the same way', async () => {
    clearConnectionIds();
    const err = (await scrape(url('tracker.invalid', 6969), [infoHash], { timeoutMs: 5000, lookup: failingLookup('ENOTFOUND', []) }).catch((e: unknown) => e)) as TrackerError;
    expect(err).toBeInstanceOf(TrackerError);
    expect(err.code).toBe('dns');
  });

  it('a made-up name that the given resolver maps to 127.0.0.1 reaches our tracker', async () => {
    clearConnectionIds();
    const asked: string[] = [];
    const port = proto === 'http' ? tracker.httpPort : tracker.udpPort;
    const r = await announce(url('tracker.test', port), req, { timeoutMs: 5000, lookup: testLookup(asked) });
    expect(r.interval).toBe(120);
    expect(asked).toContain('tracker.test');
  });
});
