import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeUtf8, toHex } from '../../lib/core/bytes.js';
import { runCompliance } from '../../lib/compliance/runner.js';
import { havePeers } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { freePort, waitForTcp } from './tracker-util.js';
import { COMPLY_TORRENT as T, expectCore, result, summary } from './comply-util.js';

/**
 * The checker against rtorrent 0.9.8 (libtorrent 0.13.8, rakshasa's) seeding
 * on loopback, headless: `-n` (no ~/.rtorrent.rc), `system.daemon.set`, its
 * session and an SCGI socket in a temp dir. Seen here: it drops a torrent
 * that names no tracker ("unknown download" to every peer), so the .torrent
 * it loads names a dead loopback announce URL (port 9); the info dict, hence
 * the info-hash, is the same.
 */
async function scgiCall(socketPath: string, method: string, ...params: string[]): Promise<string> {
  const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value><string>${p}</string></value></param>`).join('')}</params></methodCall>`;
  const header = `CONTENT_LENGTH\0${Buffer.byteLength(body)}\0SCGI\x001\0`;
  return new Promise((resolve, reject) => {
    const c = createConnection(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => c.destroy(new Error(`scgi ${method}: no answer in 5 s`)), 5000);
    c.on('connect', () => c.write(`${Buffer.byteLength(header)}:${header},${body}`));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

describe.skipIf(!havePeers('rtorrent'))('comply vs rtorrent 0.9.8', () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-comply-rt-'));
    const torrentPath = path.join(dir, 't.torrent');
    const announce = 'http://127.0.0.1:9/announce';
    await writeFile(torrentPath, Buffer.concat([encodeUtf8(`d8:announce${announce.length}:${announce}4:info`), T.target.info, encodeUtf8('e')]));
    await writeFile(path.join(dir, 'comply-test.bin'), T.data);
    await mkdir(path.join(dir, 'session'));
    port = await freePort();
    const scgi = path.join(dir, 'scgi.sock');
    const rc = [
      'system.daemon.set = true',
      `network.port_range.set = ${port}-${port}`,
      'network.port_random.set = no',
      'network.bind_address.set = 127.0.0.1',
      `directory.default.set = ${dir}`,
      `session.path.set = ${path.join(dir, 'session')}`,
      `network.scgi.open_local = ${scgi}`,
      'dht.mode.set = disable',
      'protocol.pex.set = no',
      'trackers.use_udp.set = no',
      `load.start = ${torrentPath}`,
    ];
    await writeFile(path.join(dir, 'rc'), rc.join('\n') + '\n');
    proc = spawn('rtorrent', ['-n', '-o', `import=${path.join(dir, 'rc')}`], { stdio: 'ignore', cwd: dir });
    await waitForTcp(port, 15_000);
    const hash = toHex(T.target.infoHash).toUpperCase();
    // Seeding once it has checked the data: d.complete = 1 (bounded poll).
    for (let i = 0; ; i++) {
      const r = await scgiCall(scgi, 'd.complete', hash).catch((e: Error) => e.message);
      if (/<i[48]>1<\/i[48]>/.test(r)) break;
      if (i >= 100) throw new Error(`rtorrent not seeding after 20 s: ${r.slice(-300)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }, 40_000);
  afterAll(async () => {
    await stopChild(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('rtorrent seeding', async () => {
    const r = await runCompliance(T.target, { host: '127.0.0.1', port, settleMs: 1500, answerMs: 4000, timeoutMs: 45_000 });
    process.stderr.write(summary('rtorrent 0.9.8', r));
    expectCore(r.checks);
    // Seen on every run here: it serves a 32 KiB request, and it drops cancelled blocks queued behind others.
    expect(result(r.checks, 'requests.oversize')).toBe('fail');
    expect(result(r.checks, 'requests.cancel')).toBe('pass');
  }, 55_000);
});
