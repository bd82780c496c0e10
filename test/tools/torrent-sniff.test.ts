import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { describeNotBencode, sniff } from '../../lib/core/sniff.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('sniff: what a non-torrent looks like', () => {
  it.each<[string, Uint8Array, string | undefined]>([
    ['empty', new Uint8Array(0), 'empty'],
    ['whitespace', enc(' \n\t'), 'whitespace'],
    ['html doctype', enc('<!DOCTYPE html>\n<html>'), 'html'],
    ['html with BOM and spaces', new Uint8Array([0xef, 0xbb, 0xbf, ...enc('  <html><body>')]), 'html'],
    ['xml', enc('<?xml version="1.0"?><rss>'), 'xml'],
    ['json', enc('{"failure reason": "x"}'), 'json'],
    ['truncated json', enc('{"a": [1, 2'), 'json'],
    ['magnet', enc('magnet:?xt=urn:btih:abc\n'), 'magnet'],
    ['gzip', gzipSync(enc('d4:infode')), 'gzip'],
    ['zip', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0]), 'zip'],
    ['pcap', new Uint8Array([0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), 'pcap'],
    ['text', enc('Not Found'), 'text'],
    ['binary', new Uint8Array([0x80, 0x01, 0x02]), 'binary'],
    ['bencode dict', enc('d4:spami1ee'), undefined],
    ['bencode-looking garbage is left to the decoder', enc('internal error'), undefined],
  ])('%s', (_name, bytes, kind) => {
    expect(sniff(bytes)?.kind).toBe(kind);
  });

  it('describeNotBencode only speaks for errors near the start', () => {
    expect(describeNotBencode(enc('<html>'), 0)).toMatch(/HTML page/);
    expect(describeNotBencode(enc('<html>'), 500)).toBeUndefined();
  });
});
