import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { allowedFastSet } from '../../lib/wire/allowed-fast.js';
import type { Message } from '../../lib/wire/messages.js';
import { fixture } from './helpers.js';
import { WireClient } from './wire-client.js';

/**
 * btscope seed on the wire, as a scripted downloader sees it: BEP 3 order
 * (bitfield first), BEP 6 (exactly one piece or reject per request: while
 * choked, on choke, on cancel, for bad requests; allowed fast pieces served
 * while choked) and the BEP 3 close for a bad request without fast.
 */
const PIECE = 32 * 1024;
const PIECES = 24;
const LENGTH = (PIECES - 1) * PIECE + 1000;
let dir: string;
let seeder: RunningSeeder;
let data: Uint8Array;
let infoHash: Uint8Array;
const clients: WireClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-seed-proto-'));
  const fx = await fixture(dir, { name: 's.bin', pieceLength: PIECE, files: [{ path: ['s.bin'], length: LENGTH }], single: true });
  data = fx.files[0]!.data;
  infoHash = fx.torrent.infoHash!;
  seeder = await startSeeder({ torrent: fx.torrent, dir });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await seeder.close();
  await rm(dir, { recursive: true, force: true });
});

async function connect(bits: { fast?: boolean; extended?: boolean }): Promise<WireClient> {
  const c = await WireClient.open(seeder.port, infoHash, bits);
  clients.push(c);
  return c;
}

const req = (index: number, begin: number, length = 16384) => ({ type: 'request' as const, index, begin, length });
const bytesOf = (index: number, begin: number, length: number) => data.subarray(index * PIECE + begin, index * PIECE + begin + length);
const ALLOWED = () => new Set(allowedFastSet(10, PIECES, infoHash, '127.0.0.1'));

async function unchoked(c: WireClient): Promise<void> {
  c.send({ type: 'interested' });
  expect(await c.until(() => c.of('unchoke').length > 0, 5000)).toBe(true);
}

/** Every request got exactly one answer, and every piece carried the right bytes. */
function oneAnswerEach(c: WireClient, reqs: { index: number; begin: number; length: number }[]): { pieces: number; rejects: number } {
  let pieces = 0;
  let rejects = 0;
  for (const r of reqs) {
    const a = c.answers(r);
    expect(a.length, `request ${r.index}/${r.begin}`).toBe(1);
    const m = a[0] as Message;
    if (m.type === 'piece') {
      pieces++;
      expect(Buffer.from(m.block).equals(Buffer.from(bytesOf(r.index, r.begin, r.length)))).toBe(true);
    } else rejects++;
  }
  return { pieces, rejects };
}

describe('btscope seed, fast extension on', () => {
  it('have all first, then the extended handshake, then the BEP 6 allowed fast set', async () => {
    const c = await connect({ fast: true, extended: true });
    expect(await c.until(() => c.of('allowed_fast').length >= 10, 3000)).toBe(true);
    expect(c.received[0]!.type).toBe('have_all');
    expect(c.received[1]).toMatchObject({ type: 'extended', extId: 0 });
    expect(new Set(c.of('allowed_fast').map((m) => m.index))).toEqual(ALLOWED());
  });

  it('while choked: a request is rejected, an allowed fast piece is served', async () => {
    const c = await connect({ fast: true });
    await c.until(() => c.of('allowed_fast').length >= 10, 3000);
    const allowed = ALLOWED();
    const notAllowed = [...Array(PIECES).keys()].find((i) => !allowed.has(i))!;
    const fastOne = [...allowed][0]!;
    const reqs = [req(notAllowed, 0), req(fastOne, 0), req(fastOne, 16384)];
    c.send(...reqs);
    expect(await c.until(() => reqs.every((r) => c.answers(r).length > 0), 5000)).toBe(true);
    expect(c.answers(reqs[0]!)[0]!.type).toBe('reject_request');
    expect(oneAnswerEach(c, reqs)).toEqual({ pieces: 2, rejects: 1 });
    expect(c.of('unchoke')).toEqual([]);
  });

  it.each([
    ['over 16 KiB', req(0, 0, 32768)],
    ['past the end of the piece', req(0, PIECE - 8, 16384)],
    ['past the end of the short last piece', req(PIECES - 1, 0, 16384)],
    ['a piece that does not exist', req(PIECES, 0)],
    ['zero bytes', req(0, 0, 0)],
  ])('unchoked: %s is rejected, the connection goes on', async (_name, bad) => {
    const c = await connect({ fast: true });
    await unchoked(c);
    const good = req(1, 16384);
    c.send(bad, good);
    expect(await c.until(() => c.answers(good).length > 0 && c.answers(bad).length > 0, 5000)).toBe(true);
    expect(c.answers(bad).map((m) => m.type)).toEqual(['reject_request']);
    expect(oneAnswerEach(c, [good]).pieces).toBe(1);
    expect(c.closed).toBe(false);
  });

  it('whole pieces, half blocks and blocks across block boundaries: exactly the bytes asked for', async () => {
    const c = await connect({ fast: true });
    await unchoked(c);
    const reqs = [
      ...[0, 16384].map((b) => req(3, b)), // a whole piece: one run
      req(4, 0, 8192),
      req(4, 8192, 16384), // straddles two blocks
      req(5, 1, 16383),
      req(PIECES - 1, 0, 1000), // the whole short last piece
      req(PIECES - 1, 999, 1),
    ];
    c.send(...reqs);
    expect(await c.until(() => reqs.every((r) => c.answers(r).length > 0), 5000)).toBe(true);
    expect(oneAnswerEach(c, reqs)).toEqual({ pieces: reqs.length, rejects: 0 });
  });

  it('choke (after not interested): every request still queued, or being read, gets exactly one answer', async () => {
    const c = await connect({ fast: true });
    await unchoked(c);
    const allowed = ALLOWED();
    const reqs: ReturnType<typeof req>[] = [];
    for (let i = 0; i < PIECES - 1 && reqs.length < 40; i++) if (!allowed.has(i)) reqs.push(req(i, 0), req(i, 16384));
    c.send(...reqs, { type: 'not_interested' });
    expect(await c.until(() => reqs.every((r) => c.answers(r).length > 0), 5000)).toBe(true);
    await c.until(() => false, 200); // nothing more comes
    const n = oneAnswerEach(c, reqs);
    expect(c.of('choke').length).toBe(1);
    expect(n.rejects).toBeGreaterThan(0);
    // Nothing is served after the choke.
    const chokeAt = c.received.findIndex((m) => m.type === 'choke');
    expect(c.received.slice(chokeAt).filter((m) => m.type === 'piece')).toEqual([]);
  });

  it('cancel: a cancelled request is answered by a reject (or its piece), never both, never neither', async () => {
    const c = await connect({ fast: true });
    await unchoked(c);
    const reqs: ReturnType<typeof req>[] = [];
    for (let i = 0; i < PIECES - 1; i++) reqs.push(req(i, 0), req(i, 16384));
    const cancelled = reqs.slice(-10);
    c.send(...reqs, ...cancelled.map((r) => ({ ...r, type: 'cancel' as const })));
    expect(await c.until(() => reqs.every((r) => c.answers(r).length > 0), 5000)).toBe(true);
    await c.until(() => false, 200);
    oneAnswerEach(c, reqs);
    expect(cancelled.filter((r) => c.answers(r)[0]!.type === 'reject_request').length).toBeGreaterThan(0);
  });
});

describe('btscope seed, fast extension off', () => {
  it('a bitfield first, no fast messages; a request while choked is ignored', async () => {
    const c = await connect({});
    c.send(req(0, 0));
    await c.until(() => false, 400);
    expect(c.received.map((m) => m.type)).toEqual(['bitfield']);
    expect(c.closed).toBe(false);
  });

  it.each([
    ['over 16 KiB', req(0, 0, 32768)],
    ['a piece that does not exist', req(PIECES + 3, 0)],
    ['past the end of the piece', req(2, PIECE - 1, 2)],
  ])('%s: the connection is closed (BEP 3), no data', async (_name, bad) => {
    const c = await connect({});
    await unchoked(c);
    c.send(bad);
    expect(await c.until(() => c.closed, 5000)).toBe(true);
    expect(c.of('piece')).toEqual([]);
    expect(c.of('reject_request')).toEqual([]);
  });
});
