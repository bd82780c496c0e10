import { describe, expect, it } from 'vitest';
import { decode } from '../../lib/bencode/decode.js';
import { bencodeFields } from '../../lib/bencode/fields.js';
import { field, type Frame } from '../../lib/core/field.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { renderTree } from '../../lib/render/tree.js';
import { frameJson } from '../../lib/render/json.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('hex-annotated frame', () => {
  const bytes = enc('d3:cow3:moo4:spaml1:a1:bee');
  const frame: Frame = { title: 'sample', bytes, base: 0, fields: [bencodeFields(decode(bytes), 'root')] };

  it('every byte of the input appears exactly once, at its absolute offset', () => {
    const text = renderHexFrame(frame);
    const rows = text.split('\n').filter((l) => /^[0-9a-f]{8}:/.test(l));
    let expected = 0;
    const seen: number[] = [];
    for (const row of rows) {
      const offset = parseInt(row.slice(0, 8), 16);
      expect(offset).toBe(expected);
      const hex = row.slice(10, 34).trim().split(/\s+/).filter(Boolean);
      for (const h of hex) seen.push(parseInt(h, 16));
      expected += hex.length;
    }
    expect(seen).toEqual([...bytes]);
  });

  it('fits in 80 columns and marks fields beside their bytes', () => {
    const text = renderHexFrame(frame);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(text).toMatch(/^00000006: .*cow = "moo"$/m);
    expect(text).toMatch(/spam \(key\)/);
  });

  it('keeps absolute offsets for nested payloads (base != 0)', () => {
    const inner = enc('d1:ai1ee');
    const f: Frame = { title: 'nested', bytes: inner, base: 5000, fields: [bencodeFields(decode(inner, { base: 5000 }), 'payload')] };
    const text = renderHexFrame(f);
    expect(text).toMatch(/^00001388: 64/m);
    expect(text).toMatch(/^0000138c: 69 31 65 .*a = 1$/m);
  });

  it('elides long fields', () => {
    const big = new Uint8Array(1000);
    const f: Frame = { title: 'big', bytes: big, base: 0, fields: [field({ id: 'x.blob', label: 'blob' }, { start: 0, end: 1000 }, big)] };
    const text = renderHexFrame(f, { maxRowsPerField: 4 });
    expect(text).toContain('… 121 more rows (1000 bytes in all)');
    expect(text.split('\n').length).toBeLessThan(10);
  });

  it('shows bytes >= 0x80 as themselves (plain Uint8Array input)', () => {
    const raw = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0x80]);
    const f: Frame = { title: 'high', bytes: raw, base: 0, fields: [field({ id: 'x.raw', label: 'raw' }, { start: 0, end: 6 }, raw)] };
    expect(renderHexFrame(f)).toMatch(/^00000000: de ad be ef 00 80 /m);
  });

  it('colours only when asked', () => {
    expect(renderHexFrame(frame)).not.toContain('\x1b[');
    expect(renderHexFrame(frame, { color: true })).toContain('\x1b[');
  });

  it('shows diagnostics on their spans', () => {
    const b = enc('d1:bi1e1:ai2ee');
    const f: Frame = { title: 'unsorted', bytes: b, base: 0, fields: [bencodeFields(decode(b), 'root')] };
    expect(renderHexFrame(f)).toMatch(/unsorted_keys: .* \[7, 10\)/);
    expect(renderTree(f)).toMatch(/⚠ unsorted_keys/);
  });

  it('bencode strings: UTF-8 shown as text, other bytes as hex and said so', () => {
    const fixed = new Uint8Array([...enc('d4:name6:h'), 0xc3, 0xa9, ...enc('llo5:other3:'), 0x00, 0xff, 0x10, ...enc('e')]);
    const f: Frame = { title: 'strings', bytes: fixed, base: 0, fields: [bencodeFields(decode(fixed), 'root')] };
    const tree = renderTree(f);
    expect(tree).toMatch(/name = "héllo"/);
    expect(tree).toMatch(/other = 00ff10 \(hex: not UTF-8\)/);
  });

  it('JSON carries spans, values and children', () => {
    const json = frameJson(frame) as { fields: Array<{ span: number[]; children: Array<{ label: string; span: number[] }> }> };
    expect(json.fields[0]!.span).toEqual([0, bytes.length]);
    expect(json.fields[0]!.children.map((c) => c.label)).toEqual(['cow', 'spam']);
    expect(json.fields[0]!.children[1]!.span).toEqual([11, 25]);
  });
});

describe('the heading on a terminal (issue 14 item 10)', () => {
  const bytes = enc('d1:ai1ee');
  const frame: Frame = {
    title: '→ to 127.0.0.1:42433: handshake',
    bytes,
    base: 0,
    fields: [bencodeFields(decode(bytes), 'root')],
    meta: { direction: 'out', peer: '127.0.0.1:42433', decrypted: 'RC4' },
  };

  it('fit: folded at spaces to the width, every word kept', () => {
    const text = renderHexFrame(frame, { width: 80, fit: true });
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const heading = text.split('\n').filter((l) => !/^[0-9a-f]{8}:|^\s/.test(l) || /^ {3}\S/.test(l)).slice(0, 2).join(' ');
    expect(heading.replace(/\s+/g, ' ')).toBe('── → to 127.0.0.1:42433: handshake direction=out peer=127.0.0.1:42433 decrypted=RC4 (8 bytes at 0) ──');
  });

  it('without fit (piped): one line, whatever its length', () => {
    const first = renderHexFrame(frame, { width: 80 }).split('\n')[0]!;
    expect(first).toBe('── → to 127.0.0.1:42433: handshake  direction=out peer=127.0.0.1:42433 decrypted=RC4  (8 bytes at 0) ──');
  });
});
