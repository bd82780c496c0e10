import { describe, expect, it } from 'vitest';
import { decodeUtpHeader, looksLikeUtp, utpFrame, UtpDirection, UTP_TYPE } from '../../lib/capture/utp.js';
import { DecodeError } from '../../lib/core/errors.js';

function utp(type: number, conn: number, seq: number, ack: number, payload = '', sack?: number[]): Uint8Array {
  const ext = sack ? [0, sack.length, ...sack] : [];
  const b = new Uint8Array(20 + ext.length + payload.length);
  const dv = new DataView(b.buffer);
  b[0] = (type << 4) | 1;
  b[1] = sack ? 1 : 0;
  dv.setUint16(2, conn);
  dv.setUint32(4, 123456);
  dv.setUint32(8, 789);
  dv.setUint32(12, 1048576);
  dv.setUint16(16, seq);
  dv.setUint16(18, ack);
  b.set(ext, 20);
  b.set(Buffer.from(payload), 20 + ext.length);
  return b;
}

describe('uTP header (BEP 29)', () => {
  it('fields and a selective ack', () => {
    const h = decodeUtpHeader(utp(UTP_TYPE.ST_STATE, 21250, 18887, 59381, '', [0b101, 0, 0, 0x80]), 500);
    expect([h.type, h.version, h.connectionId, h.timestamp, h.timestampDifference, h.windowSize, h.seqNr, h.ackNr]).toEqual([2, 1, 21250, 123456, 789, 1048576, 18887, 59381]);
    // Bit 0 is ack_nr + 2 (BEP 29).
    expect(h.selectiveAcks).toEqual([59383, 59385, 59414]);
    expect(h.extensions[0]).toMatchObject({ type: 1, start: 520, end: 526 });
    expect(h.payloadStart).toBe(26);
  });

  it('frame spans', () => {
    const b = utp(UTP_TYPE.ST_DATA, 7, 1, 0, 'hi');
    const f = utpFrame(b, 1000, decodeUtpHeader(b, 1000));
    expect(f.fields.map((x) => [x.id, x.span.start, x.span.end])).toContainEqual(['utp.payload', 1020, 1022]);
  });

  it.each([
    ['short', new Uint8Array(10), 'unexpected_eof', 10],
    ['version 2', Uint8Array.from([0x02, ...new Array(19).fill(0)]), 'invalid_value', 0],
    ['extension past the end', Uint8Array.from([0x21, 1, ...new Array(18).fill(0), 0, 9]), 'unexpected_eof', 21],
  ])('%s: %s', (_n, b, code, offset) => {
    try {
      decodeUtpHeader(b);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect([(e as DecodeError).code, (e as DecodeError).offset]).toEqual([code, offset]);
    }
  });

  it('recognition: uTP yes; DHT, UDP tracker and LSD no', () => {
    expect(looksLikeUtp(utp(UTP_TYPE.ST_SYN, 1, 1, 0))).toBe(true);
    expect(looksLikeUtp(Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'))).toBe(false);
    expect(looksLikeUtp(Buffer.from('00000417271019800000000012345678', 'hex'))).toBe(false);
    expect(looksLikeUtp(Buffer.from('BT-SEARCH * HTTP/1.1\r\nHost: x\r\n'))).toBe(false);
  });
});

describe('uTP reassembly by seq_nr', () => {
  function dir() {
    const out: string[] = [];
    const d = new UtpDirection({ data: (o, b) => out.push(`${o}:${Buffer.from(b)}`), gap: (o, _l, _p, r) => out.push(`gap@${o}:${r}`) });
    const data = (seq: number, text: string) => d.packet(decodeUtpHeader(utp(UTP_TYPE.ST_DATA, 1, seq, 0, text)), Buffer.from(text), 0);
    return { d, out, data };
  }
  it('in order after the SYN, reordered, duplicated, across the 16-bit wrap', () => {
    const t = dir();
    t.d.packet(decodeUtpHeader(utp(UTP_TYPE.ST_SYN, 1, 65534, 0)), new Uint8Array(0), 0);
    t.data(0, 'c');
    t.data(65535, 'ab');
    t.data(65535, 'ab');
    t.data(1, 'de');
    expect(t.out).toEqual(['0:ab', '2:c', '3:de']);
    expect(t.d.stats.duplicates).toBe(1);
  });
  it('a lost packet acknowledged by the other side is a gap; decoding goes on', () => {
    const t = dir();
    t.data(10, 'a');
    t.data(12, 'c');
    t.d.acknowledged(12, 0);
    expect(t.out).toEqual(['0:a', 'gap@1:acked_unseen', '1:c']);
    expect(t.d.stats.missingPackets).toBe(1);
  });
});
