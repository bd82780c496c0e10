import { describe, expect, it } from 'vitest';
import { decodeLsd, looksLikeLsd } from '../../lib/lsd/lsd.js';
import { DecodeError } from '../../lib/core/errors.js';
import { toHex } from '../../lib/core/bytes.js';

const enc = (s: string) => new TextEncoder().encode(s);
const IH = 'ed4f1085e885f98f9a69b70ee89eb988b8fd9115';

describe('Local Service Discovery (BEP 14)', () => {
  it('the BEP 14 announce: host, port, info-hashes, cookie with spans', () => {
    const text = `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${IH}\r\nInfohash: ${IH.toUpperCase()}\r\ncookie: abc\r\n\r\n\r\n`;
    const a = decodeLsd(enc(text), 42);
    expect(a.host).toBe('239.192.152.143:6771');
    expect(a.port).toBe(6881);
    expect(a.infoHashes.map(toHex)).toEqual([IH, IH]);
    expect(a.cookie).toBe('abc');
    expect(a.diagnostics).toEqual([]);
    const port = a.fields.find((f) => f.id === 'lsd.port')!;
    expect(text.slice(port.span.start - 42, port.span.end - 42)).toBe('Port: 6881\r\n');
  });

  it('bad values and missing fields are diagnostics', () => {
    const a = decodeLsd(enc('BT-SEARCH * HTTP/1.1\r\nPort: 99999\r\nInfohash: xyz\r\n'));
    expect(a.diagnostics.map((d) => d.code)).toEqual(['invalid_value', 'invalid_value', 'unterminated', 'missing_field', 'missing_field']);
  });

  it('anything else is not LSD', () => {
    expect(looksLikeLsd(enc('GET / HTTP/1.1\r\n'))).toBe(false);
    expect(() => decodeLsd(enc('GET /'), 7)).toThrow(DecodeError);
  });
});
