import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The README's "Using lib/ from code" section, run as written.
import { decode } from '../../lib/bencode/decode.js';
import { parseTorrent, pieceFileRanges, safeFilePath } from '../../lib/metainfo/index.js';
import { WireFramer, decodeMessage, encodeMessage, encodeHandshake, decodeHandshake } from '../../lib/wire/index.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';

const root = join(import.meta.dirname, '..', '..');

describe('README: using lib/ from code', () => {
  it('bencode and metainfo', () => {
    const bytes = new Uint8Array(readFileSync(join(root, 'samples', 'multi.torrent')));
    const doc = decode(bytes);
    const info = doc.root.get('info')!;
    const t = parseTorrent(bytes);
    expect(t.info).toEqual(info.raw);
    expect(pieceFileRanges(t, 0).length).toBeGreaterThan(0);
    expect(safeFilePath('/downloads', ['..', 'etc', 'passwd']).path.startsWith('/downloads/')).toBe(true);
  });

  it('peer wire: frame a byte stream, decode each message with absolute spans, render it', () => {
    const infoHash = new Uint8Array(20).fill(0xaa);
    const peerId = new TextEncoder().encode('-BS0100-000000000000');
    const stream = Buffer.concat([
      encodeHandshake({ infoHash, peerId }),
      encodeMessage({ type: 'interested' }),
      encodeMessage({ type: 'request', index: 1, begin: 16384, length: 16384 }),
    ]);
    const framer = new WireFramer({ expectHandshake: true });
    const frames = [...stream].flatMap((b) => framer.push(new Uint8Array([b])));
    expect(frames.length).toBe(3);
    const hs = decodeHandshake(frames[0]!.bytes, frames[0]!.offset);
    expect(hs.value.infoHash).toEqual(infoHash);
    const req = decodeMessage(frames[2]!.bytes, frames[2]!.offset);
    expect(req.message).toMatchObject({ type: 'request', index: 1, begin: 16384, length: 16384 });
    const text = renderHexFrame(req.frame);
    expect(text).toMatch(/^0000004e: 00 00 00 01 .*piece index = 1$/m);
  });
});
