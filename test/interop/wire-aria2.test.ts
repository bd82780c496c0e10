import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { captureIo } from '../../tools/io.js';
import * as handshakeTool from '../../tools/commands/handshake.js';
import * as metadataTool from '../../tools/commands/metadata.js';
import * as pieceTool from '../../tools/commands/piece.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { toHex } from '../../lib/core/bytes.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitListening(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listening on ${port} after ${ms} ms`);
}

describe.skipIf(!havePeers('aria2c', 'mktorrent'))('wire interop: aria2c seeding on loopback (we dial in plaintext)', () => {
  let dir: string;
  let proc: ChildProcess;
  let port: number;
  let data: Uint8Array;
  let torrentPath: string;
  const pieceLength = 1 << 18;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btscope-wire-aria2-'));
    data = new Uint8Array(randomBytes(3 * pieceLength + 777));
    writeFileSync(join(dir, 'data.bin'), data);
    torrentPath = join(dir, 'x.torrent');
    execFileSync('mktorrent', ['-l', '18', '-a', 'http://127.0.0.1:1/announce', '-o', torrentPath, join(dir, 'data.bin')], { stdio: 'ignore' });
    port = await freePort();
    proc = spawn(
      'aria2c',
      ['--seed-ratio=0.0', '--check-integrity=true', `-d${dir}`, `--listen-port=${port}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--interface=127.0.0.1', '--console-log-level=warn', '--summary-interval=0', torrentPath],
      { stdio: 'ignore' },
    );
    await waitListening(port, 20_000);
  });
  afterAll(async () => {
    // aria2c shuts down gracefully on SIGTERM (a few seconds): wait for it, bounded, then SIGKILL.
    await stopChild(proc);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('handshake: aria2 peer id, extended handshake, have all and allowed fast', async () => {
    const io = captureIo();
    expect(await handshakeTool.handler({ target: torrentPath, peer: `127.0.0.1:${port}`, json: true, frames: false, timeout: 10, wait: 1, io })).toBe(0);
    const j = JSON.parse(io.text());
    expect(j.client).toBe('aria2');
    expect(j.extensions).toEqual(expect.arrayContaining(['extended', 'fast']));
    expect(j.extended.v).toMatch(/^aria2\//);
    expect(j.extended.m.ut_metadata).toBeGreaterThan(0);
  });

  it('metadata equals the original info dict', async () => {
    const t = parseTorrent(new Uint8Array(readFileSync(torrentPath)));
    const out = join(dir, 'fetched.torrent');
    const io = captureIo();
    expect(await metadataTool.handler({ magnet: `magnet:?xt=urn:btih:${toHex(t.infoHash!)}`, peer: [`127.0.0.1:${port}`], o: out, json: true, frames: false, timeout: 20, io })).toBe(0);
    expect(toHex(parseTorrent(new Uint8Array(readFileSync(out))).info)).toBe(toHex(t.info));
  });

  it('pieces equal the seeded bytes, the short last one included', async () => {
    for (const index of [0, 3]) {
      const out = join(dir, `p${index}.bin`);
      expect(await pieceTool.handler({ target: torrentPath, index, peer: [`127.0.0.1:${port}`], o: out, pipeline: 16, json: true, frames: false, timeout: 20, io: captureIo() })).toBe(0);
      expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(index * pieceLength, (index + 1) * pieceLength)))).toBe(0);
    }
  });
});
