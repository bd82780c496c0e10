import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCompliance } from '../../lib/compliance/runner.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { listenTcp } from '../../lib/transport/tcp.js';
import type { TransportListener } from '../../lib/transport/transport.js';
import { MseResponder } from '../../lib/mse/handshake.js';
import { req23Hash } from '../../lib/mse/rc4.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4 } from '../../lib/mse/constants.js';
import { bytesEqual } from '../../lib/core/bytes.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { makeTestTorrent } from '../helpers/broken-peer.js';

const T = makeTestTorrent(300_000, 65536, 'mse-checks.bin');
const MSE_IDS = ['mse.handshake', 'mse.select', 'mse.wrong_skey', 'mse.rc4_stream'];
const verdicts = (r: Awaited<ReturnType<typeof runCompliance>>): Record<string, string> => Object.fromEntries(r.checks.map((c) => [c.id, c.result]));

type Fault = 'none' | 'zero_yb' | 'long_padb' | 'select_plaintext' | 'plaintext_after_rc4';

/** An MSE peer for one torrent, with at most one fault (built on btscope's own responder). */
async function msePeer(fault: Fault): Promise<TransportListener> {
  return listenTcp({}, (t) => {
    if (fault === 'zero_yb') {
      t.setHandlers({ data: () => void t.write(new Uint8Array(96 + 10)), drain: () => {}, close: () => {} });
      return;
    }
    const r = new MseResponder({
      findInfoHash: (h, s) => (bytesEqual(h, req23Hash(T.target.infoHash, s)) ? T.target.infoHash : undefined),
      select: (p) => (fault === 'select_plaintext' ? CRYPTO_PLAINTEXT : p & CRYPTO_RC4 ? CRYPTO_RC4 : 0),
      ...(fault === 'long_padb' ? { padLength: 600 } : {}),
    });
    let done = false;
    t.setHandlers({
      data: (chunk) => {
        if (done) return;
        try {
          const s = r.push(chunk);
          if (s.send) t.write(s.send);
          if (s.done) {
            done = true;
            const hs = encodeHandshake({ infoHash: T.target.infoHash, peerId: makePeerId() });
            t.write(fault === 'plaintext_after_rc4' || !s.done.encrypt ? hs : s.done.encrypt.update(hs));
          }
        } catch {
          t.close();
        }
      },
      drain: () => {},
      close: () => {},
    });
  });
}

const listeners: TransportListener[] = [];
const seeders: RunningSeeder[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()));
  await Promise.all(seeders.splice(0).map((s) => s.close()));
});

const run = (port: number, opts: { encryption?: 'plaintext' | 'require' } = { encryption: 'require' }) =>
  runCompliance(T.target, { host: '127.0.0.1', port, timeoutMs: 15_000, answerMs: 1500, settleMs: 100, only: ['mse'], ...opts });

describe('comply: the MSE/PE checks', () => {
  it('btscope seed passes all four; they are listed only with --encryption or by id', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'btscope-mse-checks-'));
    try {
      await writeFile(path.join(dir, 'mse-checks.bin'), T.data);
      const s = await startSeeder({ torrent: parseTorrent(T.torrentFile), dir });
      seeders.push(s);
      const r = await run(s.port);
      expect(verdicts(r)).toEqual(Object.fromEntries(MSE_IDS.map((id) => [id, 'pass'])));
      const plainRun = await runCompliance(T.target, { host: '127.0.0.1', port: s.port, timeoutMs: 15_000, answerMs: 1500, settleMs: 100, only: ['handshake.protocol'] });
      expect(plainRun.checks.map((c) => c.id)).toEqual(['handshake.protocol']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['none', { 'mse.handshake': 'pass', 'mse.select': 'pass', 'mse.wrong_skey': 'pass', 'mse.rc4_stream': 'pass' }],
    ['zero_yb', { 'mse.handshake': 'fail' }],
    ['long_padb', { 'mse.handshake': 'fail' }],
    ['select_plaintext', { 'mse.handshake': 'fail', 'mse.select': 'fail' }],
    ['plaintext_after_rc4', { 'mse.handshake': 'pass', 'mse.select': 'pass', 'mse.rc4_stream': 'fail' }],
  ] as const)('a peer with fault %s', async (fault, expected) => {
    const l = await msePeer(fault);
    listeners.push(l);
    expect(verdicts(await run(l.port))).toMatchObject(expected);
  });

  it('a peer that does not speak MSE: the checks skip, they do not fail', async () => {
    const l = await listenTcp({}, (t) => t.setHandlers({ data: () => t.close(), drain: () => {}, close: () => {} }));
    listeners.push(l);
    const v = verdicts(await run(l.port));
    for (const id of MSE_IDS) expect(v[id]).toBe('skip');
  });
});
