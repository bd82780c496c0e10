import { describe, expect, it } from 'vitest';
import { decodeHandshake, encodeHandshake } from '../../lib/wire/handshake.js';
import { quotedPrintable } from '../../lib/core/bytes.js';

describe('peer ids in displays: escaped once (issue 14 item 13)', () => {
  it('a non-printable byte shows as \\x8a, not \\\\x8a; a quote as \\x22', () => {
    expect(quotedPrintable(Uint8Array.of(0x2d, 0x8a, 0x22, 0x5c))).toBe('"-\\x8a\\x22\\x5c"');
    const peerId = new Uint8Array(20).fill(0x41);
    peerId[19] = 0x8a;
    const { frame } = decodeHandshake(encodeHandshake({ infoHash: new Uint8Array(20), peerId }));
    const all = (fs: typeof frame.fields): string[] => fs.flatMap((f) => [f.display ?? '', ...all(f.children ?? [])]);
    const display = all(frame.fields).find((d) => d.includes('AAAA'))!;
    expect(display).toContain('"AAAAAAAAAAAAAAAAAAA\\x8a"');
    expect(display).not.toContain('\\\\x8a');
  });
});
