import { describe, expect, it } from 'vitest';
import { PeerSession, type PeerSessionOptions } from '../../lib/peer/session.js';
import { PeerError } from '../../lib/peer/peer-error.js';
import { makePeerId, PEER_ID_PREFIX } from '../../lib/peer/identity.js';
import { decodePeerId } from '../../lib/wire/peer-id.js';
import { encodeHandshake, makeReserved } from '../../lib/wire/handshake.js';
import { parseMessage, type Message } from '../../lib/wire/messages.js';
import { WireFramer } from '../../lib/wire/framer.js';
import { bytesEqual } from '../../lib/core/bytes.js';
import type { Frame } from '../../lib/core/field.js';
import { memoryPair, type MemoryTransport } from '../helpers/memory-transport.js';

const infoHash = new Uint8Array(20).fill(0xab);
const v2Hash = new Uint8Array(20).fill(0xcd);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Both ends of one session pair, handshaken. */
async function pair(dialler: Partial<PeerSessionOptions> = {}, listener: Partial<PeerSessionOptions> = {}) {
  const [a, b] = memoryPair();
  const [out, inc] = await Promise.all([
    PeerSession.open(a, { infoHash, peerId: makePeerId(), ...dialler }, true),
    PeerSession.open(b, { infoHash, peerId: makePeerId(), ...listener }, false),
  ]);
  return { out, inc, a, b };
}

/** Message types a transport wrote, handshake as 'handshake'. */
function wireTypes(t: MemoryTransport): string[] {
  const framer = new WireFramer({ expectHandshake: true });
  return t.written.flatMap((c) => framer.push(c)).map((f) => (f.kind === 'handshake' ? 'handshake' : parseMessage(f.bytes, f.offset).type));
}

async function failureOf(p: Promise<unknown>): Promise<PeerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PeerError);
    return e as PeerError;
  }
  throw new Error('expected a PeerError');
}

describe('PeerSession over any Transport', () => {
  it('handshakes both ways; our peer id names btscope in our own client table', async () => {
    const { out, inc } = await pair();
    expect(bytesEqual(out.torrentInfoHash, infoHash)).toBe(true);
    expect(bytesEqual(inc.torrentInfoHash, infoHash)).toBe(true);
    expect(new TextDecoder().decode(out.remote.peerId.subarray(0, 8))).toBe(PEER_ID_PREFIX);
    expect(decodePeerId(makePeerId()).client).toBe('btscope');
    expect(out.fast && out.extendedSupported).toBe(true);
    expect(out.peer).toBe('10.0.0.2:51413');
    out.close();
  });

  it('greeting now: the extended handshake right after the handshake, learned by the other side', async () => {
    const { out, inc, a } = await pair();
    inc.attach({ message: () => {}, close: () => {} });
    await turn();
    await turn();
    expect(wireTypes(a)).toEqual(['handshake', 'extended']);
    expect(inc.remoteExtended?.v).toBe('btscope 0.1');
    expect(inc.extensions.idFor('out', 'ut_metadata')).toBeDefined();
    out.close();
  });

  it('greeting later: nothing after the handshake until greet(first); then first, then the extended handshake, once', async () => {
    const { out, a } = await pair({ greeting: 'later' });
    await turn();
    expect(wireTypes(a)).toEqual(['handshake']);
    expect(out.greeted).toBe(false);
    out.greet({ type: 'have_none' });
    out.greet({ type: 'have_all' });
    expect(wireTypes(a)).toEqual(['handshake', 'have_none', 'extended']);
    out.close();
  });

  it('holds messages until attach, in order; detach and attach hand the session to new handlers', async () => {
    const { out, inc } = await pair();
    out.send({ type: 'interested' });
    out.send({ type: 'have', index: 3 });
    await turn();
    await turn();
    const first: Message[] = [];
    inc.attach({ message: (m) => first.push(m), close: () => {} });
    expect(first.map((m) => m.type)).toEqual(['extended', 'interested', 'have']);
    inc.detach();
    out.send({ type: 'have', index: 4 });
    await turn();
    await turn();
    const second: Array<[string, number]> = [];
    inc.attach({ message: (m, offset) => second.push([m.type, offset]), close: () => {} });
    expect(first).toHaveLength(3);
    // The offset is absolute in the incoming stream: after the handshake and three messages.
    const extLen = out.stats.bytesOut - 68 - 5 - 9 - 9;
    expect(second).toEqual([['have', 68 + extLen + 5 + 9]]);
    out.close();
  });

  it('a close that comes before attach is delivered at attach, after the held messages', async () => {
    const { out, inc } = await pair();
    out.send({ type: 'unchoke' });
    await turn();
    out.close();
    await turn();
    await turn();
    const seen: string[] = [];
    inc.attach({ message: (m) => seen.push(m.type), close: (e) => seen.push(`close:${e?.code}`) });
    expect(seen).toEqual(['extended', 'unchoke', 'close:closed']);
  });

  it('the frame tap: every frame both ways, with direction, peer and absolute offsets', async () => {
    const frames: Frame[] = [];
    const { out } = await pair({ onFrame: (f) => frames.push(f) });
    out.send({ type: 'request', index: 1, begin: 16384, length: 16384 });
    const titles = frames.map((f) => `${f.meta?.direction} ${f.title} @${f.base}`);
    expect(titles[0]).toBe('out handshake @0');
    expect(titles).toContain('in handshake @0');
    expect(frames.every((f) => f.meta?.peer === '10.0.0.2:51413')).toBe(true);
    const req = frames.find((f) => f.title.startsWith('request'))!;
    expect(req.base).toBe(out.stats.bytesOut - 17);
    out.close();
  });

  it('wrong info-hash: wrong_info_hash at byte 28 of their handshake, on both roles', async () => {
    const [a, b] = memoryPair();
    const [dialled, accepted] = await Promise.allSettled([
      PeerSession.open(a, { infoHash: new Uint8Array(20), peerId: makePeerId(), handshakeTimeoutMs: 500 }, true),
      PeerSession.open(b, { infoHash: (h) => bytesEqual(h, infoHash), peerId: makePeerId() }, false),
    ]);
    expect(accepted.status).toBe('rejected');
    expect((accepted as PromiseRejectedResult).reason).toMatchObject({ code: 'wrong_info_hash', offset: 28 });
    expect(dialled.status).toBe('rejected');
    expect((dialled as PromiseRejectedResult).reason.code).toMatch(/closed/);
  });

  it('BEP 52 upgrade: a hybrid dialled by its v1 hash, answered with the v2 hash, is for the v2 hash', async () => {
    const [a, b] = memoryPair();
    const [out] = await Promise.all([
      PeerSession.open(a, { infoHash, upgradeInfoHash: v2Hash, reserved: makeReserved({ extended: true, fast: true, v2: true }), peerId: makePeerId() }, true),
      PeerSession.open(b, { infoHash: (h) => bytesEqual(h, infoHash) || bytesEqual(h, v2Hash), peerId: makePeerId() }, false),
    ]).catch(() => [undefined]);
    // The listener answers with the hash it was asked for (v1): no upgrade.
    expect(out?.upgraded).toBe(false);
    out?.close();

    const [c, d] = memoryPair();
    // A v2-aware peer answers the v1 hash with the hybrid's v2 hash (BEP 52).
    d.setHandlers({ data: () => {}, drain: () => {}, close: () => {} });
    d.write(encodeHandshake({ reserved: makeReserved({ extended: true, fast: true, v2: true }), infoHash: v2Hash, peerId: makePeerId() }));
    const up = await PeerSession.open(c, { infoHash, upgradeInfoHash: v2Hash, peerId: makePeerId() }, true);
    expect(up.upgraded).toBe(true);
    expect(bytesEqual(up.torrentInfoHash, v2Hash)).toBe(true);
    up.close();
  });

  it('silence: handshake_timeout; silence after it: idle_timeout; quiet sender: keep-alives', async () => {
    const [a] = memoryPair();
    expect((await failureOf(PeerSession.open(a, { infoHash, peerId: makePeerId(), handshakeTimeoutMs: 100 }, true))).code).toBe('handshake_timeout');

    const { out, inc, b } = await pair({ idleTimeoutMs: 300, keepAliveMs: 0 }, { keepAliveMs: 80 });
    inc.attach({ message: () => {}, close: () => {} });
    const closed = new Promise<PeerError | undefined>((r) => out.attach({ message: () => {}, close: r }));
    await new Promise((r) => setTimeout(r, 200));
    expect(wireTypes(b).filter((t) => t === 'keep_alive').length).toBeGreaterThanOrEqual(1);
    inc.close();
    // out sees the close of the transport, not an idle timeout.
    expect((await closed)?.code).toBe('closed');

    const q = await pair({ idleTimeoutMs: 150, keepAliveMs: 0 }, { keepAliveMs: 0 });
    const idle = new Promise<PeerError | undefined>((r) => q.out.attach({ message: () => {}, close: r }));
    expect((await idle)?.code).toBe('idle_timeout');
  });

  it('a malformed message closes with its decode code and byte offset', async () => {
    const { out, inc, a } = await pair();
    const closed = new Promise<PeerError | undefined>((r) => inc.attach({ message: () => {}, close: r }));
    const at = out.stats.bytesOut;
    // have (id 4) with a 2-byte payload: BEP 3 says 4.
    a.write(Uint8Array.of(0, 0, 0, 3, 4, 0, 1));
    const reason = await closed;
    expect(reason?.code).toBe('bad_length');
    // The payload's first byte, counted from the start of the incoming stream.
    expect(reason?.offset).toBe(at + 5);
  });

  it('close(error) says why we dropped the peer; close() is no error', async () => {
    const { out, inc } = await pair();
    const seen = new Promise<PeerError | undefined>((r) => out.attach({ message: () => {}, close: r }));
    out.close(new Error('banned: sent a corrupt piece'));
    const reason = await seen;
    expect(reason).toBeInstanceOf(PeerError);
    expect(reason?.code).toBe('dropped');
    expect(reason?.message).toBe('10.0.0.2:51413: banned: sent a corrupt piece');
    inc.close();
    expect(await inc.done).toBeUndefined();
  });
});
