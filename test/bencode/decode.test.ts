import { describe, expect, it } from 'vitest';
import { decode } from '../../lib/bencode/decode.js';
import { encode } from '../../lib/bencode/encode.js';
import { toValue } from '../../lib/bencode/node.js';
import { DecodeError } from '../../lib/core/errors.js';

const enc = (s: string) => new TextEncoder().encode(s);

function errorOf(input: string | Uint8Array, opts = {}): { code: string; offset: number; path: string } {
  try {
    decode(typeof input === 'string' ? enc(input) : input, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    const d = e as DecodeError;
    return { code: d.code, offset: d.offset, path: d.path };
  }
  throw new Error('expected a DecodeError');
}

describe('bencode decode: values (BEP 3)', () => {
  it.each([
    ['i42e', 42],
    ['i-7e', -7],
    ['i0e', 0],
    ['i9223372036854775807e', 9223372036854775807n],
    ['i-9223372036854775808e', -9223372036854775808n],
  ])('integer %s', (input, value) => {
    expect(toValue(decode(enc(input)).root)).toBe(value);
  });

  it('strings are raw bytes with spans of header and data', () => {
    const doc = decode(enc('4:spam'));
    expect(doc.root.kind).toBe('str');
    expect(doc.root.str()).toBe('spam');
    expect(doc.root.span).toEqual({ start: 0, end: 6 });
    expect(doc.root.dataSpan).toEqual({ start: 2, end: 6 });
  });

  it('lists and dicts, with absolute spans under a base offset', () => {
    const doc = decode(enc('d3:cow3:moo4:spaml1:a1:bee'), { base: 1000 });
    const spam = doc.root.get('spam')!;
    expect(spam.items().map((n) => n.str())).toEqual(['a', 'b']);
    expect(spam.span).toEqual({ start: 1000 + 17, end: 1000 + 25 });
    expect(doc.root.get('cow')!.str()).toBe('moo');
    expect(doc.root.get('missing')).toBeUndefined();
    expect(doc.diagnostics).toEqual([]);
  });

  it('raw bytes of a nested dict are the exact input bytes (hash these)', () => {
    const input = 'd4:infod4:name1:xe5:otheri1ee';
    const doc = decode(enc(input));
    expect(new TextDecoder().decode(doc.root.get('info')!.raw)).toBe('d4:name1:xe');
  });

  it('__proto__ keys are plain data', () => {
    const v = toValue(decode(enc('d9:__proto__d1:xi1eee')).root) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBeNull();
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });
});

describe('bencode decode: errors carry a code and the byte offset', () => {
  it.each([
    ['', 'unexpected_eof', 0],
    ['i12', 'unexpected_eof', 3],
    ['ie', 'expected_digit', 1],
    ['i1x2e', 'expected_digit', 2],
    ['i-e', 'expected_digit', 2],
    ['5:abc', 'unexpected_eof', 0],
    ['3abc', 'expected_colon', 1],
    ['l', 'unexpected_eof', 1],
    ['li1e', 'unexpected_eof', 4],
    ['e', 'unexpected_end', 0],
    ['x', 'expected_value', 0],
    ['di1ei2ee', 'expected_string', 1],
    ['d1:ae', 'expected_value', 4],
    ['i99999999999999999999e', 'overflow', 0],
    ['i9223372036854775808e', 'overflow', 0],
  ])('%j -> %s at %i', (input, code, offset) => {
    expect(errorOf(input)).toMatchObject({ code, offset });
  });

  it('depth limit: 200 000 levels fail fast at the limit, no stack overflow', () => {
    const e = errorOf('l'.repeat(200_000));
    expect(e).toMatchObject({ code: 'depth_exceeded', offset: 100 });
    expect(errorOf('lllle', { maxDepth: 3 })).toMatchObject({ code: 'depth_exceeded', offset: 3 });
  });

  it('token and string limits are parameters', () => {
    expect(errorOf('li1ei2ei3ee', { maxTokens: 3 })).toMatchObject({ code: 'limit_exceeded', offset: 7 });
    expect(errorOf('11:hello world', { maxStringLength: 10 })).toMatchObject({ code: 'limit_exceeded', offset: 0 });
  });

  it('a lying 4 GiB length prefix is an error, not an allocation', () => {
    expect(errorOf('4294967296:abc')).toMatchObject({ code: 'limit_exceeded', offset: 0 });
    expect(errorOf('200:abc')).toMatchObject({ code: 'unexpected_eof', offset: 0 });
  });

  it('errors name the path to the bad value', () => {
    expect(errorOf('d4:infod5:filesld6:lengthi1x')).toMatchObject({ code: 'expected_digit', path: 'info.files[0].length' });
  });
});

describe('bencode decode: soft diagnostics for non-canonical input', () => {
  it.each([
    ['i03e', 'non_canonical_integer', 0, 4],
    ['i-0e', 'negative_zero', 0, 4],
    ['03:abc', 'non_canonical_length', 0, 2],
    ['d1:bi1e1:ai2ee', 'unsorted_keys', 7, 10],
    ['d1:ai1e1:ai2ee', 'duplicate_key', 7, 10],
    ['i1eXYZ', 'trailing_bytes', 3, 6],
  ])('%j -> %s at [%i, %i)', (input, code, start, end) => {
    const doc = decode(enc(input));
    expect(doc.diagnostics.map((d) => [d.code, d.span.start, d.span.end])).toEqual([[code, start, end]]);
  });

  it('allowTrailing stops after the first value (ut_metadata data)', () => {
    const doc = decode(enc('d1:ai1eeRAWPIECE'), { allowTrailing: true });
    expect(doc.end).toBe(8);
    expect(doc.diagnostics).toEqual([]);
  });
});

describe('bencode encode: canonical', () => {
  it('sorts keys as raw bytes and round-trips', () => {
    const out = encode({ b: 1, a: [enc('x'), 'y'], 'a\u00ff': -3 });
    expect(new TextDecoder('latin1').decode(out)).toBe('d1:al1:x1:ye3:a\u00c3\u00bfi-3e1:bi1ee');
    const again = encode(toValue(decode(out).root) as never);
    expect(again).toEqual(out);
  });

  it('random splits: decoding the same bytes at any base gives shifted spans', () => {
    const input = enc('d1:ali1ei2ee1:bd1:c3:xyzee');
    const a = decode(input);
    const b = decode(input, { base: 77 });
    expect(b.root.get('b')!.span.start - a.root.get('b')!.span.start).toBe(77);
  });
});
