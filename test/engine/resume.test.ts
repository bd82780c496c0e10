import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ResumeJournal, RESUME_HEADER_LENGTH, resumeFileName } from '../../lib/engine/resume.js';
import { PieceVerifier, blockDigests } from '../../lib/engine/piece-verifier.js';
import { Storage } from '../../lib/engine/storage.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-resume-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const id = { infoHash: new Uint8Array(20).fill(0xab), pieceCount: 21, pieceLength: 32768 };

describe('ResumeJournal', () => {
  it('starts empty, records written and verified pieces, and reads them back after reopening', async () => {
    const file = path.join(dir, resumeFileName('ab'.repeat(20)));
    const a = await ResumeJournal.open(file, id);
    expect(a.state).toEqual({ verified: [], written: [] });
    a.journal.markWritten(3);
    a.journal.markWritten(20);
    await a.journal.markVerified(20);
    await a.journal.markVerified(0);
    // no close(): the bytes must already be in the file (what kill -9 leaves behind)
    const raw = await readFile(file);
    expect(raw.length).toBe(RESUME_HEADER_LENGTH + 2 * 3);
    expect([...raw.subarray(RESUME_HEADER_LENGTH)]).toEqual([0x80, 0, 0x08, 0x10, 0, 0x08]);
    const b = await ResumeJournal.open(file, id);
    expect(b.state).toEqual({ verified: [0, 20], written: [3] });
    await a.journal.close();
    await b.journal.close();
  });

  it('clears a piece that failed its re-check', async () => {
    const file = path.join(dir, 'j');
    const a = await ResumeJournal.open(file, id);
    await a.journal.markVerified(5);
    a.journal.markWritten(5);
    await a.journal.clear(5);
    await a.journal.close();
    expect((await ResumeJournal.open(file, id)).state).toEqual({ verified: [], written: [] });
  });

  it.each([
    ['another torrent', { ...id, infoHash: new Uint8Array(20).fill(1) }, /another torrent/],
    ['another piece count (same bitfield size)', { ...id, pieceCount: 22 }, /another torrent/],
    ['another piece count', { ...id, pieceCount: 30 }, /bytes, expected/],
  ])('discards a journal for %s', async (_name, other, why) => {
    const file = path.join(dir, 'j');
    const a = await ResumeJournal.open(file, id);
    await a.journal.markVerified(1);
    await a.journal.close();
    const b = await ResumeJournal.open(file, other);
    expect(b.state.verified).toEqual([]);
    expect(b.state.discarded).toMatch(why);
    await b.journal.close();
  });

  it('discards garbage instead of trusting it', async () => {
    const file = path.join(dir, 'j');
    await writeFile(file, Buffer.alloc(RESUME_HEADER_LENGTH + 6, 0xff));
    const b = await ResumeJournal.open(file, id);
    expect(b.state.verified).toEqual([]);
    expect(b.state.discarded).toBeDefined();
    await b.journal.close();
    expect((await stat(file)).size).toBe(RESUME_HEADER_LENGTH + 6);
  });
});

describe('PieceVerifier', () => {
  it('checks SHA-1 of pieces spanning files, pad bytes as zeros, and reports missing bytes', async () => {
    const pieceLength = 1000;
    const files = [
      { path: path.join(dir, 'a'), offset: 0, length: 1500, pad: false },
      { path: '', offset: 1500, length: 500, pad: true },
      { path: path.join(dir, 'b'), offset: 2000, length: 700, pad: false },
    ];
    const stream = new Uint8Array(2700);
    for (let i = 0; i < 2700; i++) stream[i] = i >= 1500 && i < 2000 ? 0 : (i * 7) & 0xff;
    const hashes = new Uint8Array(60);
    for (let p = 0; p < 3; p++) hashes.set(createHash('sha1').update(stream.subarray(p * 1000, p * 1000 + 1000)).digest(), p * 20);
    const s = new Storage(files, { root: dir });
    const v = new PieceVerifier(s, hashes, pieceLength);
    expect(await v.verify(0)).toEqual({ ok: false, missing: 1000 });
    await s.write(0, stream.subarray(0, 2000));
    expect(await v.verify(0)).toEqual({ ok: true, missing: 0 });
    expect(await v.verify(1)).toEqual({ ok: true, missing: 0 });
    expect(await v.verify(2)).toEqual({ ok: false, missing: 700 });
    const bad = stream.slice(2000);
    bad[5]! ^= 1;
    await s.write(2000, bad);
    expect(await v.verify(2)).toEqual({ ok: false, missing: 0 });
    await s.write(2005, stream.subarray(2005, 2006));
    expect(await Promise.all([v.verify(0), v.verify(1), v.verify(2)])).toEqual([
      { ok: true, missing: 0 },
      { ok: true, missing: 0 },
      { ok: true, missing: 0 },
    ]);
    await s.close();
  });

  it('hashes each block for smart ban', () => {
    const d = blockDigests(new Uint8Array(40000), 16384);
    expect(d).toHaveLength(3);
    expect(d[0]!.equals(d[1]!)).toBe(true);
    expect(d[2]!.equals(d[1]!)).toBe(false);
  });
});
