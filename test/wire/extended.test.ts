import { describe, expect, it } from 'vitest';
import {
  decodeExtendedHandshake,
  encodeExtendedHandshake,
  ExtensionIds,
  LOCAL_EXTENSION_IDS,
} from '../../lib/wire/extended.js';
import { decodeUtMetadata, encodeUtMetadata, metadataPieceCount, metadataPieceLength } from '../../lib/wire/ut-metadata.js';
import { decodeUtPex, encodeUtPex, pexFlagNames, PEX_FLAGS } from '../../lib/wire/ut-pex.js';
import { decodeMessage } from '../../lib/wire/messages.js';
import { walkFields } from '../../lib/core/field.js';
import { toHex } from '../../lib/core/bytes.js';
import { ascii, concat, errorOf, hex } from './vectors.js';

describe('extended handshake (BEP 10)', () => {
  // BEP 10's example: {m: {LT_metadata: 1, ut_pex: 2}, p: 6881, v: "µTorrent 1.2"}, plus BEP 9 metadata_size.
  const bep10 = concat(ascii('d1:md11:LT_metadatai1e6:ut_pexi2ee1:pi6881e1:v13:'), hex('c2b5'), ascii('Torrent 1.2e'));

  it('decodes the BEP 10 example', () => {
    const { value, diagnostics } = decodeExtendedHandshake(bep10, 6);
    expect([...value.m]).toEqual([['LT_metadata', 1], ['ut_pex', 2]]);
    expect(value.p).toBe(6881);
    expect(value.v).toBe('µTorrent 1.2');
    expect(diagnostics).toEqual([]);
  });

  it('decodes yourip, reqq, metadata_size, upload_only with labels and spans', () => {
    const payload = ascii('d1:md11:ut_metadatai3ee13:metadata_sizei31235e4:reqqi250e11:upload_onlyi1e6:yourip4:') ;
    const bytes = concat(payload, hex('7f000001'), ascii('e'));
    const { value, field } = decodeExtendedHandshake(bytes, 1000);
    expect(value.metadataSize).toBe(31235);
    expect(value.reqq).toBe(250);
    expect(value.uploadOnly).toBe(true);
    expect(toHex(value.yourip!)).toBe('7f000001');
    expect(field.span).toEqual({ start: 1000, end: 1000 + bytes.length });
    const yourip = field.children!.find((c) => c.label.startsWith('yourip'))!;
    expect(yourip.display).toBe('127.0.0.1');
    expect(yourip.span.end).toBe(1000 + bytes.length - 1);
  });

  it('wrong types of known keys are diagnostics, not failures', () => {
    const { value, diagnostics } = decodeExtendedHandshake(ascii('d1:md2:xx3:abce1:p3:abc6:yourip3:abce'));
    expect(value.m.size).toBe(0);
    expect(value.p).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual(['wrong_type', 'wrong_type', 'bad_length']);
  });

  it.each([
    ['not bencode', 'x', 'expected_value', 10],
    ['a list, not a dict', 'le', 'wrong_type', 10],
    ['truncated', 'd1:md', 'unexpected_eof', 15],
  ])('%s -> (code, offset)', (_n, text, code, offset) => {
    expect(errorOf(() => decodeExtendedHandshake(ascii(text), 10))).toMatchObject({ code, offset });
  });

  it('round trips our own handshake', () => {
    const bytes = encodeExtendedHandshake({ v: 'btscope 0.1', reqq: 500, metadataSize: 40000, p: 6881 });
    const { value } = decodeExtendedHandshake(bytes);
    expect(Object.fromEntries(value.m)).toEqual(LOCAL_EXTENSION_IDS);
    expect(value).toMatchObject({ v: 'btscope 0.1', reqq: 500, metadataSize: 40000, p: 6881 });
  });
});

describe('ExtensionIds: learned per direction', () => {
  it('a message uses the ids its receiver announced; 0 disables', () => {
    const ids = new ExtensionIds();
    ids.learn('in', decodeExtendedHandshake(ascii('d1:md11:ut_metadatai3e6:ut_pexi1eee')).value);
    ids.learn('out', { ut_metadata: 2 });
    expect(ids.idFor('out', 'ut_metadata')).toBe(3);
    expect(ids.nameFor('out', 3)).toBe('ut_metadata');
    expect(ids.nameFor('in', 2)).toBe('ut_metadata');
    expect(ids.nameFor('in', 3)).toBeUndefined();
    expect(ids.nameFor('in', 0)).toBe('handshake');
    ids.learn('in', { ut_pex: 0 });
    expect(ids.idFor('out', 'ut_pex')).toBeUndefined();
    expect(ids.offered('out')).toEqual(['ut_metadata']);
  });
});

describe('ut_metadata (BEP 9)', () => {
  it.each([
    ['request', 'd8:msg_typei0e5:piecei0ee', { msgType: 'request', piece: 0 }],
    ['reject', 'd8:msg_typei2e5:piecei0ee', { msgType: 'reject', piece: 0 }],
    ['unknown msg_type', 'd8:msg_typei7e5:piecei1ee', { msgType: 'unknown', code: 7, piece: 1 }],
  ])('BEP 9 %s', (_n, text, value) => {
    expect(decodeUtMetadata(ascii(text)).value).toEqual(value);
    if (value.msgType !== 'unknown') expect(new TextDecoder().decode(encodeUtMetadata(value as never))).toBe(text);
  });

  it('data: the piece bytes follow the dict, with their own span', () => {
    const dict = 'd8:msg_typei1e5:piecei0e10:total_sizei34256ee';
    const data = new Uint8Array(16384).fill(0x61);
    const payload = concat(ascii(dict), data);
    const { value, fields } = decodeUtMetadata(payload, 200);
    expect(value).toMatchObject({ msgType: 'data', piece: 0, totalSize: 34256 });
    if (value.msgType !== 'data') throw new Error();
    expect(value.data.length).toBe(16384);
    expect(fields[1]!.span).toEqual({ start: 200 + dict.length, end: 200 + payload.length });
    expect(encodeUtMetadata(value)).toEqual(payload);
  });

  it.each([
    ['no msg_type', 'd5:piecei0ee', 'missing_field', 0],
    ['data without total_size', 'd8:msg_typei1e5:piecei0ee', 'missing_field', 0],
    ['negative piece', 'd8:msg_typei0e5:piecei-1ee', 'invalid_value', 21],
    ['not a dict', 'i1e', 'wrong_type', 0],
    ['piece is a string', 'd8:msg_typei0e5:piece1:xe', 'wrong_type', 21],
  ])('%s -> (code, offset)', (_n, text, code, offset) => {
    expect(errorOf(() => decodeUtMetadata(ascii(text)))).toEqual({ code, offset });
  });

  it('piece arithmetic: 16 KiB pieces, the last one shorter', () => {
    expect(metadataPieceCount(34256)).toBe(3);
    expect(metadataPieceLength(34256, 2)).toBe(34256 - 32768);
    expect(metadataPieceCount(16384)).toBe(1);
  });
});

describe('ut_pex (BEP 11)', () => {
  it('decodes added with flags, dropped, added6', () => {
    const payload = concat(
      ascii('d5:added12:'), hex('7f000001 1ae1 0a000002 1ae2'),
      ascii('7:added.f2:'), hex('12 00'),
      ascii('6:added618:'), hex('00000000000000000000000000000001 1ae3'),
      ascii('7:dropped6:'), hex('c0a80101 0050'),
      ascii('e'),
    );
    const { value, diagnostics } = decodeUtPex(payload);
    expect(value.added).toEqual([{ ip: '127.0.0.1', port: 6881, flags: 0x12 }, { ip: '10.0.0.2', port: 6882, flags: 0 }]);
    expect(value.added6).toEqual([{ ip: '::1', port: 6883 }]);
    expect(value.dropped).toEqual([{ ip: '192.168.1.1', port: 80 }]);
    expect(diagnostics).toEqual([]);
  });

  it('reports a compact string of the wrong size and a flags count mismatch', () => {
    const payload = concat(ascii('d5:added7:'), hex('7f000001 1ae1 ff'), ascii('7:added.f2:'), hex('0000'), ascii('e'));
    const { value, diagnostics } = decodeUtPex(payload);
    expect(value.added.length).toBe(1);
    expect(diagnostics.map((d) => [d.code, d.span.start])).toEqual([['bad_length', 10], ['bad_length', 28]]);
  });

  it('round trips', () => {
    const pex = { added: [{ ip: '127.0.0.1', port: 6881, flags: 2 }], dropped: [{ ip: '10.1.2.3', port: 1 }], added6: [{ ip: '::1', port: 5, flags: 0 }], dropped6: [] };
    expect(decodeUtPex(encodeUtPex(pex)).value).toEqual({ ...pex, added6: [{ ip: '::1', port: 5, flags: 0 }] });
  });

  it('added.f / added6.f: one flag byte per peer, named by BEP 11 (0x01 encryption, 0x02 seed, 0x04 uTP, 0x08 holepunch, 0x10 reachable)', () => {
    expect(PEX_FLAGS).toEqual({ encryption: 0x01, seed: 0x02, utp: 0x04, holepunch: 0x08, reachable: 0x10 });
    expect(pexFlagNames(0x1f)).toEqual(['encryption', 'seed', 'utp', 'holepunch', 'reachable']);
    expect(pexFlagNames(0x12)).toEqual(['seed', 'reachable']);
    expect(pexFlagNames(0)).toEqual([]);
    const payload = concat(
      ascii('d6:added618:'), hex('20010db8000000000000000000000001 1ae1'),
      ascii('8:added6.f1:'), hex('06'),
      ascii('e'),
    );
    const { value, diagnostics } = decodeUtPex(payload);
    expect(diagnostics).toEqual([]);
    expect(value.added6).toEqual([{ ip: '2001:db8::1', port: 6881, flags: 0x06 }]);
  });

  it('in a frame, ut_pex peers are shown with their flags at absolute spans', () => {
    const ids = new ExtensionIds();
    ids.learn('out', { ut_pex: 1 }); // our m: peers send ut_pex to us under id 1
    const pex = encodeUtPex({ added: [{ ip: '127.0.0.1', port: 6881, flags: 0x12 }] });
    const frameBytes = concat(hex(((pex.length + 2) >>> 0).toString(16).padStart(8, '0')), hex('14 01'), pex);
    const { frame } = decodeMessage(frameBytes, 500, { extensions: ids, direction: 'in' });
    expect(frame.title).toBe('extended ut_pex');
    const added = [...walkFields(frame.fields)].map((w) => w.field).find((f) => f.id === 'bt.ut_pex.added')!;
    expect(added.display).toBe('127.0.0.1:6881(seed+reachable)');
    const at = 500 + 6 + new TextEncoder().encode('d5:added6:').length;
    expect([added.span.start <= at, added.span.end]).toEqual([true, at + 6]);
  });
});
