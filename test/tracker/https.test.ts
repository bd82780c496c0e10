import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { announce, scrape } from '../../lib/tracker/client/announce.js';
import { TrackerError } from '../../lib/tracker/errors.js';
import { SwarmRegistry } from '../../lib/tracker/server/index.js';
import { httpTrackerHandler } from '../../lib/tracker/server/http.js';
import { encode } from '../../lib/bencode/encode.js';
import { formatPeer } from '../../lib/tracker/compact-peers.js';
import { handler as trackerTool } from '../../tools/commands/tracker.js';
import { captureIo } from '../../tools/io.js';
import { EXIT } from '../../tools/exit-codes.js';
import { UsageError } from '../../lib/core/errors.js';

/**
 * HTTPS trackers: a real TLS server on 127.0.0.1 with a self-signed certificate
 * made by openssl for this run. The client must refuse it by default (code `tls`)
 * and accept it when told to trust it (`ca` / `--ca FILE`).
 */
const HASH = new Uint8Array(20).fill(0x5a);
const req = (port: number) => ({ infoHash: HASH, peerId: new Uint8Array(20).fill(port & 0xff), port, uploaded: 0, downloaded: 0, left: 0, event: 'started' as const });

let dir: string;
let certPem: Buffer;
let otherCertPem: Buffer;
let tracker: Server;
let gzipServer: Server;
let trackerUrl: string;
let gzipUrl: string;
const gzipBody = encode({ interval: 900, complete: 3, incomplete: 1, peers: new Uint8Array([127, 0, 0, 1, 0x1a, 0xe1, 127, 0, 0, 2, 0x1a, 0xe2]) });

function makeCert(name: string): { key: Buffer; cert: Buffer } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btscope-https-'));
  const { key, cert } = makeCert('tracker');
  certPem = cert;
  otherCertPem = makeCert('other').cert;
  const config = { interval: 600, minInterval: 300, defaultNumwant: 50, maxNumwant: 200, maxScrape: 100, onAnnounce: undefined };
  tracker = createServer({ key, cert }, httpTrackerHandler(new SwarmRegistry({ peerTimeoutMs: 60_000, maxSwarms: 10, maxPeersPerSwarm: 100 }), config));
  trackerUrl = `https://127.0.0.1:${await listen(tracker)}/announce`;
  gzipServer = createServer({ key, cert }, (rq, res) => {
    const gz = gzipSync(gzipBody);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip', 'Content-Length': gz.length });
    res.end(gz);
  });
  gzipUrl = `https://127.0.0.1:${await listen(gzipServer)}/announce`;
}, 20_000);

afterAll(async () => {
  await Promise.all([tracker, gzipServer].filter(Boolean).map((s) => new Promise<void>((r) => s.close(() => r()))));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<TrackerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TrackerError);
    return e as TrackerError;
  }
  throw new Error('expected the exchange to fail');
}

describe('HTTPS tracker (real TLS on loopback, self-signed certificate)', () => {
  it('refuses the self-signed certificate by default: code tls, with the reason and a hint', async () => {
    const e = await failure(announce(trackerUrl, req(7001), { timeoutMs: 5000 }));
    expect(e.code).toBe('tls');
    expect(e.step).toBe('announce');
    expect(e.message).toMatch(/self[- ]signed/i);
    expect(e.message).toContain('--ca');
  });

  it('refuses it when a different CA is trusted', async () => {
    const e = await failure(announce(trackerUrl, req(7002), { timeoutMs: 5000, ca: otherCertPem }));
    expect(e.code).toBe('tls');
  });

  it('announces over TLS when the certificate is given as CA: the real tracker handler answers and remembers us', async () => {
    await announce(trackerUrl, req(7003), { timeoutMs: 5000, ca: certPem });
    const second = await announce(trackerUrl, req(7004), { timeoutMs: 5000, ca: certPem });
    expect(second.interval).toBe(600);
    expect(second.complete).toBe(2);
    expect(second.peers.map(formatPeer)).toEqual(['127.0.0.1:7003']);
    // The request frame is the plain HTTP head that went inside TLS.
    const sent = second.frames.find((f) => f.meta?.['dir'] === 'sent')!;
    expect(new TextDecoder().decode(sent.bytes)).toMatch(/^GET \/announce\?info_hash=ZZZZ/);
    const s = await scrape(trackerUrl, [HASH], { timeoutMs: 5000, ca: certPem });
    expect(s.files[0]).toMatchObject({ complete: 2, incomplete: 0 });
  });

  it('undoes a gzip Content-Encoding over HTTPS and says so', async () => {
    const r = await announce(gzipUrl, req(7005), { timeoutMs: 5000, ca: certPem });
    expect(r).toMatchObject({ interval: 900, complete: 3, incomplete: 1 });
    expect(r.peers.map(formatPeer)).toEqual(['127.0.0.1:6881', '127.0.0.2:6882']);
    const received = r.frames.find((f) => f.meta?.['dir'] === 'received')!;
    const note = received.diagnostics?.find((d) => d.code === 'content_encoding');
    expect(note?.message).toContain(`gzip-encoded (${gzipSync(gzipBody).length} bytes on the wire), shown decoded (${gzipBody.length} bytes)`);
  });
});

describe('btscope tracker --ca', () => {
  const base = { tracker: [] as string[], scrape: false, port: 6881, timeout: 5, json: true, frames: false, 'show-secrets': false, 'show-peers': 50 };
  const hex = '5a'.repeat(20);
  async function run(extra: Record<string, unknown>) {
    const io = captureIo();
    const code = await trackerTool({ ...base, target: hex, tracker: [trackerUrl], ...extra, io } as Parameters<typeof trackerTool>[0]);
    return { code, json: JSON.parse(io.text()) as { results: Array<Record<string, unknown>> } };
  }

  it('without --ca: the row fails with errorCode tls and exit 1', async () => {
    const { code, json } = await run({});
    expect(code).toBe(EXIT.failure);
    expect(json.results[0]).toMatchObject({ ok: false, errorCode: 'tls', protocol: 'https' });
  });

  it('with --ca FILE: the announce succeeds', async () => {
    const { code, json } = await run({ ca: join(dir, 'tracker.pem') });
    expect(code).toBe(EXIT.ok);
    expect(json.results[0]).toMatchObject({ ok: true, errorCode: null, interval: 600 });
    expect(await readFile(join(dir, 'tracker.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('--ca with a missing file or a non-PEM file is a usage error', async () => {
    await expect(run({ ca: join(dir, 'nope.pem') })).rejects.toBeInstanceOf(UsageError);
    await expect(run({ ca: join(dir, 'tracker.key') })).rejects.toThrow(/no PEM certificate/);
  });
});
