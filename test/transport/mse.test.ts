import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { acceptEncryption, encryptedDialer, mseInitiate, WrappedTransport } from '../../lib/transport/mse.js';
import { listenTcp } from '../../lib/transport/tcp.js';
import { mseKeyPair, mseSharedSecret } from '../../lib/mse/dh.js';
import { req1Hash } from '../../lib/mse/rc4.js';
import { PeerSession } from '../../lib/peer/session.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4 } from '../../lib/mse/constants.js';
import { MseInitiator, MseResponder } from '../../lib/mse/handshake.js';
import { DecodeError } from '../../lib/core/errors.js';
import { bytesEqual } from '../../lib/core/bytes.js';
import type { Frame } from '../../lib/core/field.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { memoryPair } from '../helpers/memory-transport.js';

const infoHash = new Uint8Array(20).fill(0x5a);
const other = new Uint8Array(20).fill(0x77);

describe('MSE as a wrapper transport (over an in-memory pair)', () => {
  it('RC4 both ways under a PeerSession; --frames shows the exchange by name, then frames marked decrypted', async () => {
    const [a, b] = memoryPair();
    const frames: Frame[] = [];
    const [ta, tb] = await Promise.all([
      mseInitiate(a, { infoHash, provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT }),
      acceptEncryption(b, { policy: 'prefer', infoHashes: () => [other, infoHash] }),
    ]);
    expect(ta.kind).toBe('mse/memory');
    expect(tb.kind).toBe('mse/memory');
    expect((tb as WrappedTransport).mse?.cryptoSelect).toBe(CRYPTO_RC4);
    expect(bytesEqual((tb as WrappedTransport).mse!.infoHash, infoHash)).toBe(true);
    const [sa, sb] = await Promise.all([
      PeerSession.open(ta, { infoHash, peerId: makePeerId(), onFrame: (f) => frames.push(f) }, true),
      PeerSession.open(tb, { infoHash, peerId: makePeerId() }, false),
    ]);
    const got: string[] = [];
    sb.attach({ message: (m) => got.push(m.type), close: () => {} });
    sa.send({ type: 'interested' });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toContain('interested');
    // Nothing in clear on the wire after the exchange: the BitTorrent protocol string never appears.
    const wire = Buffer.concat(a.written);
    expect(wire.includes(Buffer.from('BitTorrent protocol'))).toBe(false);
    expect(frames[0]!.title).toBe('MSE/PE handshake (ours)');
    expect(frames[0]!.fields.map((f) => f.label)).toEqual(expect.arrayContaining(['Ya (our public key)', "HASH('req1', S)", 'ENCRYPT(crypto_provide)']));
    expect(frames[0]!.fields.find((f) => f.label === 'ENCRYPT(crypto_provide)')?.display).toBe('plaintext | RC4');
    const theirs = frames.find((f) => f.title === 'MSE/PE handshake (theirs)')!;
    expect(theirs.fields.find((f) => f.label === 'ENCRYPT(crypto_select)')?.display).toBe('RC4');
    const hs = frames.find((f) => f.title === 'handshake')!;
    expect(hs.meta?.['decrypted']).toBe('RC4');
    expect(frames[0]!.meta?.['decrypted']).toBeUndefined();
    sa.close();
    sb.close();
  });

  it('the listener tells a plaintext handshake from MSE: served under prefer, refused under require', async () => {
    const [a, b] = memoryPair();
    a.setHandlers({ data: () => {}, drain: () => {}, close: () => {} });
    a.write(encodeHandshake({ infoHash, peerId: makePeerId() }));
    const t = await acceptEncryption(b, { policy: 'prefer', infoHashes: () => [infoHash] });
    expect(t.kind).toBe('memory');
    const s = await PeerSession.open(t, { infoHash, peerId: makePeerId() }, false);
    expect(bytesEqual(s.torrentInfoHash, infoHash)).toBe(true);
    s.close();

    const [c, d] = memoryPair();
    c.setHandlers({ data: () => {}, drain: () => {}, close: () => {} });
    c.write(encodeHandshake({ infoHash, peerId: makePeerId() }));
    await expect(acceptEncryption(d, { policy: 'require', infoHashes: () => [infoHash] })).rejects.toMatchObject({ code: 'plaintext_refused', offset: 0 });
  });

  it('a torrent the listener does not serve: mse_unknown_skey; a silent peer: mse_timeout', async () => {
    const [a, b] = memoryPair();
    const dial = mseInitiate(a, { infoHash, provide: CRYPTO_RC4, timeoutMs: 2000 });
    await expect(acceptEncryption(b, { policy: 'require', infoHashes: () => [other] })).rejects.toMatchObject({ code: 'mse_unknown_skey' });
    await expect(dial).rejects.toBeDefined();

    const [c] = memoryPair();
    await expect(mseInitiate(c, { infoHash, provide: CRYPTO_RC4, timeoutMs: 100 })).rejects.toMatchObject({ code: 'mse_timeout' });
  });
});

describe('the MSE dialler', () => {
  it('a peer that answers Ya and hangs up on step 3 (libtorrent, when S starts with a zero byte) is tried once more with fresh keys', async () => {
    let connections = 0;
    const l = await listenTcp({}, (t) => {
      connections++;
      if (connections === 1) {
        // Yb (no PadB) once Ya is in; hung up on as soon as step 3 (its HASH('req1', S)) shows.
        const ours = mseKeyPair();
        let buf = Buffer.alloc(0);
        let req1: Buffer | undefined;
        t.setHandlers({
          data: (c) => {
            buf = Buffer.concat([buf, c]);
            if (!req1 && buf.length >= 96) {
              req1 = Buffer.from(req1Hash(mseSharedSecret(ours, buf.subarray(0, 96))));
              t.write(ours.publicKey);
            }
            if (req1 && buf.includes(req1)) t.close();
          },
          drain: () => {},
          close: () => {},
        });
        return;
      }
      void acceptEncryption(t, { policy: 'require', infoHashes: () => [infoHash] }).then((w) => w.setHandlers({ data: () => {}, drain: () => {}, close: () => {} }));
    });
    try {
      const t = await encryptedDialer('require', infoHash)('127.0.0.1', l.port, { timeoutMs: 3000 });
      expect(t.kind).toBe('mse/tcp');
      expect(connections).toBe(2);
      t.close();
    } finally {
      await l.close();
    }
  });
});

describe('MSE receiving state machines under arbitrary input', () => {
  it('only typed DecodeErrors escape, in any chunking (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), fc.integer({ min: 1, max: 300 }), (bytes, split) => {
        for (const m of [
          new MseResponder({ findInfoHash: () => infoHash, select: () => CRYPTO_RC4 }),
          (() => {
            const i = new MseInitiator({ infoHash, provide: CRYPTO_RC4 });
            i.start();
            return i;
          })(),
        ]) {
          try {
            for (let at = 0; at < bytes.length; at += split) m.push(bytes.subarray(at, at + split));
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
