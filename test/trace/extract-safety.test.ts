import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { describeError } from '../../tools/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { encode } from '../../lib/bencode/encode.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { encodeMessage } from '../../lib/wire/messages.js';
import { pcapFile } from '../capture/build.js';
import { Conversation, concatBytes } from './conv.js';

// trace --extract writes a capture's pieces into the files a torrent names:
// both the torrent and the folder are untrusted. Writes go through Storage
// (safe paths, O_NOFOLLOW, the folder resolved below the root), so a hostile
// name or a symlink planted in the folder writes nothing outside it.

const PIECE = 32768;
const data = new Uint8Array(PIECE).fill(7);
const HASH = new Uint8Array(20).fill(0xaa);
const pieces = createHash('sha1').update(data).digest();
const BEFORE = 'not to be overwritten';

let dir: string;
let pcap: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btscope-extract-safety-'));
  const conv = new Conversation().handshake();
  conv.send('a', encodeHandshake({ infoHash: HASH, peerId: new TextEncoder().encode('-qB4520-xxxxxxxxxxxx') }));
  conv.send('b', concatBytes(encodeHandshake({ infoHash: HASH, peerId: new TextEncoder().encode('-lt0D80-xxxxxxxxxxxx') }), encodeMessage({ type: 'piece', index: 0, begin: 0, block: data.subarray(0, 16384) }), encodeMessage({ type: 'piece', index: 0, begin: 16384, block: data.subarray(16384) })), [9000]);
  pcap = join(dir, 'one-piece.pcap');
  await writeFile(pcap, pcapFile(1, conv.records));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A case folder: the --extract folder `out` and, beside it, `outside` holding a file the extract must not touch. */
async function caseDir(name: string, info: Record<string, unknown>): Promise<{ out: string; outside: string; torrent: string }> {
  const base = join(dir, name);
  const out = join(base, 'out');
  const outside = join(base, 'outside');
  await mkdir(out, { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'target.bin'), BEFORE);
  const torrent = join(base, 'x.torrent');
  await writeFile(torrent, encode({ info: { 'piece length': PIECE, pieces, ...info } } as never));
  return { out, outside, torrent };
}

async function extract(out: string, torrent: string): Promise<{ code: number; out: string; err: string; error?: unknown }> {
  const io = captureIo();
  try {
    const code = await handler({ capture: pcap, json: false, frames: false, summary: false, io, extract: out, torrent } as never);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  } catch (error) {
    return { code: describeError(error).exitCode, out: io.stdout.join('\n'), err: describeError(error).message, error };
  }
}

describe('trace --extract writes nothing outside its folder', () => {
  it('a symlink planted where a file goes: refused (O_NOFOLLOW), its target untouched, exit 1', async () => {
    const c = await caseDir('file-link', { name: 'x.bin', length: PIECE });
    await symlink(join(c.outside, 'target.bin'), join(c.out, 'x.bin'));
    const r = await extract(c.out, c.torrent);
    expect(await readFile(join(c.outside, 'target.bin'), 'utf8')).toBe(BEFORE);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toMatch(/symlink/);
    expect(r.out).toContain('extract: 1 of 1 pieces complete and correct (0)');
  });

  it('a symlinked folder on the way: refused (the folder resolves outside the root), nothing written through it', async () => {
    const c = await caseDir('dir-link', { name: 'd', files: [{ length: PIECE, path: ['target.bin'] }] });
    await symlink(c.outside, join(c.out, 'd'));
    const r = await extract(c.out, c.torrent);
    expect(await readdir(c.outside)).toEqual(['target.bin']);
    expect(await readFile(join(c.outside, 'target.bin'), 'utf8')).toBe(BEFORE);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toMatch(/outside_root/);
  });

  it.each([
    ['a name of ..', { name: '..', files: [{ length: PIECE, path: ['outside', 'target.bin'] }] }],
    ['.. components in a path', { name: 'd', files: [{ length: PIECE, path: ['..', '..', 'outside', 'target.bin'] }] }],
    ['an absolute path', { name: 'd', files: [{ length: PIECE, path: ['/tmp', 'escape.bin'] }] }],
  ])('%s: written below the folder, the file outside untouched', async (_name, info) => {
    const c = await caseDir(`hostile-${_name.replace(/\W+/g, '-')}`, info);
    const r = await extract(c.out, c.torrent);
    expect(r.code).toBe(EXIT.ok);
    expect(await readFile(join(c.outside, 'target.bin'), 'utf8')).toBe(BEFORE);
    expect(await readdir(join(c.out, '..'))).toEqual(['out', 'outside', 'x.torrent']);
    const written = await readdir(c.out, { recursive: true, withFileTypes: true });
    const files = written.filter((e) => e.isFile());
    expect(files).toHaveLength(1);
    expect(await readFile(join(files[0]!.parentPath ?? (files[0] as unknown as { path: string }).path, files[0]!.name))).toEqual(Buffer.from(data));
  });
});
