import { describe, expect, it } from 'vitest';
import { encode } from '../../lib/bencode/encode.js';
import { toHex } from '../../lib/core/bytes.js';
import { DecodeError } from '../../lib/core/errors.js';
import { formatMagnet, parseMagnet } from '../../lib/magnet/parse.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';

const V1 = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const V2 = 'd8dd32ac93357c368556af3ac1d95c9d76bd0dff6fa9833ecdac3d53134efabb';

function errorOf(uri: string): { code: string; offset: number } {
  try {
    parseMagnet(uri);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return { code: (e as DecodeError).code, offset: (e as DecodeError).offset };
  }
  throw new Error('expected a DecodeError');
}

describe('parseMagnet (BEP 9, BEP 53)', () => {
  it('v1 hex with name, trackers, web seeds, peers', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${V1.toUpperCase()}&dn=Some+Name%20%C3%A9&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr.1=udp://127.0.0.1:6969&tr=udp://127.0.0.1:6969&ws=http://127.0.0.1/f&x.pe=127.0.0.1:6881&x.pe=[::1]:6881`,
    );
    expect(toHex(m.infoHash!)).toBe(V1);
    expect(m.infoHashV2).toBeNull();
    expect(m.name).toBe('Some Name é');
    expect(m.trackers).toEqual(['http://127.0.0.1:6969/announce', 'udp://127.0.0.1:6969']);
    expect(m.webSeeds).toEqual(['http://127.0.0.1/f']);
    expect(m.peers).toEqual(['127.0.0.1:6881', '[::1]:6881']);
  });

  it('v1 base32 is the same hash', () => {
    // RFC 4648 base32 of the 20 bytes of V1.
    const b32 = 'YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK';
    expect(toHex(parseMagnet(`magnet:?xt=urn:btih:${b32}`).infoHash!)).toBe(V1);
    expect(toHex(parseMagnet(`magnet:?xt=urn:btih:${b32.toLowerCase()}`).infoHash!)).toBe(V1);
  });

  it('v2 btmh and hybrids (both xt), so ranges', () => {
    const m = parseMagnet(`magnet:?xt=urn:btih:${V1}&xt=urn:btmh:1220${V2}&so=0,2,4-6`);
    expect(toHex(m.infoHash!)).toBe(V1);
    expect(toHex(m.infoHashV2!)).toBe(V2);
    expect(m.selectOnly).toEqual([0, 2, 4, 5, 6]);
    const v2only = parseMagnet(`magnet:?xt=urn:btmh:1220${V2}`);
    expect(v2only.infoHash).toBeNull();
  });

  it.each<[string, string, number]>([
    ['http://example/', 'not_a_magnet', 0],
    ['magnet:?dn=x', 'missing_field', 8],
    [`magnet:?xt=urn:btih:${V1.slice(1)}`, 'invalid_value', 20],
    ['magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1', 'invalid_value', 51],
    [`magnet:?xt=urn:btmh:1114${V2}`, 'invalid_value', 20],
    [`magnet:?xt=urn:btmh:1220${V2}00`, 'invalid_value', 24],
    [`magnet:?xt=urn:btih:${V1}&dn=%zz`, 'invalid_value', 64],
    [`magnet:?xt=urn:btih:${V1}&so=1,x`, 'invalid_value', 66],
    [`magnet:?xt=urn:btih:${V1}&so=0-999999999`, 'limit_exceeded', 64],
    [`magnet:?xt=urn:btih:${V1}&xt=urn:btih:${'0'.repeat(40)}`, 'invalid_value', 64],
  ])('%s -> %s at %i', (uri, code, offset) => {
    expect(errorOf(uri)).toEqual({ code, offset });
  });

  it('formatMagnet round-trips a link and writes one from a torrent', () => {
    const src = `magnet:?xt=urn:btih:${V1}&xt=urn:btmh:1220${V2}&dn=a%20b%26c&tr=udp%3A%2F%2F127.0.0.1%3A1&ws=http%3A%2F%2F127.0.0.1%2F&x.pe=127.0.0.1%3A1&so=1-3,7`;
    const m = parseMagnet(src);
    expect(formatMagnet(m)).toBe(src);
    expect(parseMagnet(formatMagnet(m))).toEqual(m);
    const t = parseTorrent(encode({ announce: 'http://127.0.0.1:1/a', info: { name: 'x y', 'piece length': 16384, length: 3, pieces: new Uint8Array(20) } }));
    const link = parseMagnet(formatMagnet(t));
    expect(link.infoHash).toEqual(t.infoHash);
    expect(link.name).toBe('x y');
    expect(link.trackers).toEqual(['http://127.0.0.1:1/a']);
  });
});
