import { describe, expect, it } from 'vitest';
import { createServer, connect, type Socket } from 'node:net';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { encodeMessage } from '../../lib/wire/messages.js';

const HASH = new Uint8Array(20).fill(0xbb);
const hs = (id: string) => encodeHandshake({ infoHash: HASH, peerId: new TextEncoder().encode(id) });

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('btscope trace --listen PORT --forward HOST:PORT (live proxy)', () => {
  it('prints both directions as they pass, and the bytes arrive unchanged', async () => {
    const peerGot: Buffer[] = [];
    const peer = createServer((s: Socket) => {
      s.on('data', (d) => {
        peerGot.push(d);
        if (Buffer.concat(peerGot).length >= 68) s.write(Buffer.concat([hs('-lt0D80-yyyyyyyyyyyy'), encodeMessage({ type: 'unchoke' })]));
      });
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
    const peerPort = (peer.address() as { port: number }).port;
    const io = captureIo();
    const ac = new AbortController();
    const done = handler({ listen: 0, forward: `127.0.0.1:${peerPort}`, json: false, frames: false, summary: false, io, signal: ac.signal });
    try {
      await until(() => io.stderr.some((l) => /listening on 127\.0\.0\.1:\d+/.test(l)), 5000);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(io.stderr.find((l) => l.startsWith('listening'))!)![1]);
      const client = connect(port, '127.0.0.1');
      const clientGot: Buffer[] = [];
      client.on('data', (d) => clientGot.push(d));
      const sent = Buffer.concat([hs('-qB4520-xxxxxxxxxxxx'), encodeMessage({ type: 'interested' })]);
      client.write(sent);
      await until(() => Buffer.concat(clientGot).length >= 73 && io.stdout.join('\n').includes('unchoke'), 5000);
      expect(Buffer.concat(peerGot)).toEqual(sent);
      client.destroy();
      const text = io.stdout.join('\n');
      expect(text).toMatch(/#1 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+  handshake .*qBittorrent/);
      expect(text).toMatch(/interested/);
      expect(text).toMatch(/127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+  handshake .*peer_id=-lt0D80-y+/);
      expect(text).toMatch(/unchoke/);
    } finally {
      ac.abort();
      expect(await done).toBe(0);
      await new Promise<void>((r) => peer.close(() => r()));
    }
  });
});
