import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { havePeers } from '../helpers/peers.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { download } from '../../lib/engine/downloader.js';
import type { Frame } from '../../lib/core/field.js';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { keylogWriter } from '../../tools/keylog.js';
import { makeTorrent, startCapture, startLtSeed, stopChild } from './trace-util.js';

async function summary(file: string, keylog?: string): Promise<{ messages: Record<string, number>; streamList: Array<Record<string, unknown>> }> {
  const io = captureIo();
  const code = await handler({ capture: file, json: true, frames: false, summary: true, io, ...(keylog ? { keylog } : {}) });
  if (code !== 0) throw new Error(`trace exited ${code}: ${io.stderr.join('\n')}`);
  return JSON.parse(io.stdout.join('\n'));
}

/**
 * An encrypted download (libtorrent forced to MSE/RC4, btscope --encryption
 * require --keylog) captured with tcpdump: without the key log the stream is
 * only "encrypted"; with it, trace decodes every message, and the counts by
 * type equal the downloader's own frame log.
 */
describe.skipIf(!havePeers('libtorrent', 'tcpdump', 'mktorrent'))('trace --keylog decrypts a captured MSE/PE download', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'btscope-trace-mse-'));
  });
  afterAll(async () => {
    for (const c of children) await stopChild(c);
    await rm(dir, { recursive: true, force: true });
  });

  it('counts by type equal the downloader frame log; piece bytes decode', async () => {
    const size = 512 * 1024;
    const t = await makeTorrent(join(dir, 'enc'), 'enc.bin', size, 15);
    const seed = await startLtSeed(t.torrent, t.dataDir, { encrypt: true });
    children.push(seed.proc);
    const pcap = join(dir, 'mse.pcap');
    const keylog = join(dir, 'keys.log');
    const cap = await startCapture(pcap, [seed.port]);
    const ours: Record<string, number> = {};
    const onMse = keylogWriter(keylog)!;
    const r = await download({
      torrent: parseTorrent(new Uint8Array(await readFile(t.torrent))),
      outDir: join(dir, 'out'),
      peers: [{ host: '127.0.0.1', port: seed.port }],
      encryption: 'require',
      onMse,
      onFrame: (f: Frame) => {
        if (f.title.startsWith('MSE/PE')) return; // the MSE exchange: not peer wire messages
        const type = f.title === 'handshake' ? 'handshake' : f.title.split(' ')[0]!.replace('extended_handshake', 'extended');
        ours[type] = (ours[type] ?? 0) + 1;
      },
      stallTimeoutMs: 20_000,
    });
    const capture = await cap.stop();
    await stopChild(seed.proc);
    expect(r.bytes).toBe(size);
    expect(capture.droppedByKernel).toBe(0);
    expect((await readFile(keylog, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);

    const blind = await summary(pcap);
    expect(blind.messages['piece'] ?? 0).toBe(0);
    expect(blind.streamList.some((s) => String(s['label']).includes('encrypted'))).toBe(true);

    const seen = await summary(pcap, keylog);
    expect(seen.streamList.some((s) => s['label'] === 'peer wire (MSE/PE RC4, decrypted with the key log)')).toBe(true);
    expect(seen.messages['piece']).toBe(size / 16384);
    expect(seen.messages['handshake']).toBe(2);
    // Every message both ways, as the downloader itself logged them.
    expect(Object.keys(ours).length).toBeGreaterThanOrEqual(5);
    for (const [type, n] of Object.entries(ours)) expect([type, seen.messages[type] ?? 0]).toEqual([type, n]);
  }, 90_000);
});
