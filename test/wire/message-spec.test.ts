import { describe, expect, it } from 'vitest';
import {
  MESSAGE_BY_ID,
  MESSAGE_IDS,
  MESSAGE_ROWS,
  MESSAGE_SPECS,
  maxPayload,
  messageBrief,
  messageLine,
  messagesOfBep,
  type KnownMessageName,
  type MessageOf,
  type MessageRow,
} from '../../lib/wire/message-spec.js';
import { encodeMessage, messageTitle, parseMessage, type Message } from '../../lib/wire/messages.js';
import { DEFAULT_MAX_FRAME_LENGTH, WireFramer, frameLimits } from '../../lib/wire/framer.js';
import { ExtensionIds } from '../../lib/wire/extended.js';
import { FAST_TYPES } from '../../lib/compliance/view.js';
import { ascii, errorOf, hex } from './vectors.js';

// The table as the BEPs write it: id, defining BEP, payload length (bytes after the id).
// `n` is exactly n bytes, `>= n` at least n (the rest sized by the torrent or a limit).
const SPEC: Array<[KnownMessageName, number, number, string]> = [
  ['choke', 0, 3, '0'],
  ['unchoke', 1, 3, '0'],
  ['interested', 2, 3, '0'],
  ['not_interested', 3, 3, '0'],
  ['have', 4, 3, '4'],
  ['bitfield', 5, 3, '>= 0'],
  ['request', 6, 3, '12'],
  ['piece', 7, 3, '>= 8'],
  ['cancel', 8, 3, '12'],
  ['port', 9, 5, '2'],
  ['suggest_piece', 0x0d, 6, '4'],
  ['have_all', 0x0e, 6, '0'],
  ['have_none', 0x0f, 6, '0'],
  ['reject_request', 0x10, 6, '12'],
  ['allowed_fast', 0x11, 6, '4'],
  ['extended', 20, 10, '>= 1'],
  ['hash_request', 21, 52, '48'],
  ['hashes', 22, 52, '>= 48'],
  ['hash_reject', 23, 52, '48'],
];

const sizeText = (r: MessageRow): string => ('fixed' in r.size ? `${r.size.fixed}` : `>= ${r.size.min}`);

// One message per row, with its one-line texts: the trace line and the short form. The
// type makes a new row without a sample a compile error.
const root = hex('11'.repeat(32));
const SAMPLES: { [N in KnownMessageName]: [MessageOf<N>, string, string] } = {
  choke: [{ type: 'choke' }, 'choke', 'choke'],
  unchoke: [{ type: 'unchoke' }, 'unchoke', 'unchoke'],
  interested: [{ type: 'interested' }, 'interested', 'interested'],
  not_interested: [{ type: 'not_interested' }, 'not_interested', 'not_interested'],
  have: [{ type: 'have', index: 3 }, 'have index=3', 'have 3'],
  bitfield: [{ type: 'bitfield', bitfield: hex('f0 01') }, 'bitfield len=2 pieces_set=5', 'bitfield 5 of 16 bits pieces'],
  request: [{ type: 'request', index: 1, begin: 16384, length: 16384 }, 'request index=1 begin=16384 len=16384', 'request 1/16384/16384'],
  piece: [{ type: 'piece', index: 2, begin: 0, block: ascii('abc') }, 'piece index=2 begin=0 len=3', 'piece 2/0 (3 bytes)'],
  cancel: [{ type: 'cancel', index: 1, begin: 0, length: 16384 }, 'cancel index=1 begin=0 len=16384', 'cancel 1/0/16384'],
  port: [{ type: 'port', port: 6881 }, 'port 6881', 'port 6881'],
  suggest_piece: [{ type: 'suggest_piece', index: 7 }, 'suggest_piece index=7', 'suggest_piece 7'],
  have_all: [{ type: 'have_all' }, 'have_all', 'have_all'],
  have_none: [{ type: 'have_none' }, 'have_none', 'have_none'],
  reject_request: [{ type: 'reject_request', index: 3, begin: 32768, length: 16384 }, 'reject_request index=3 begin=32768 len=16384', 'reject_request 3/32768/16384'],
  allowed_fast: [{ type: 'allowed_fast', index: 1059 }, 'allowed_fast index=1059', 'allowed_fast 1059'],
  extended: [{ type: 'extended', extId: 3, payload: ascii('d1:ai1ee') }, 'extended id=3 (not negotiated) len=8', 'extended #3 (8 bytes)'],
  hash_request: [
    { type: 'hash_request', piecesRoot: root, baseLayer: 0, index: 0, length: 2, proofLayers: 1 },
    'hash_request pieces_root=1111111111111111… base_layer=0 index=0 length=2 proof_layers=1',
    'hash_request',
  ],
  hashes: [
    { type: 'hashes', piecesRoot: root, baseLayer: 0, index: 0, length: 2, proofLayers: 0, hashes: hex('22'.repeat(64)) },
    'hashes pieces_root=1111111111111111… base_layer=0 index=0 length=2 proof_layers=0 hashes=2',
    'hashes',
  ],
  hash_reject: [
    { type: 'hash_reject', piecesRoot: root, baseLayer: 1, index: 512, length: 512, proofLayers: 3 },
    'hash_reject pieces_root=1111111111111111… base_layer=1 index=512 length=512 proof_layers=3',
    'hash_reject',
  ],
};
const sampleOf = (name: KnownMessageName): Message => SAMPLES[name][0];

/** A frame of message `id` whose payload is `plen` bytes (zeros, or `fill`). */
function frameWith(id: number, plen: number, fill = 0): Uint8Array {
  const out = new Uint8Array(5 + plen).fill(fill);
  new DataView(out.buffer).setUint32(0, 1 + plen);
  out[4] = id;
  return out;
}

describe('the message table', () => {
  it('has the ids, BEPs and payload sizes the BEPs give, in id order', () => {
    expect(MESSAGE_ROWS.map((r) => [r.name, r.id, r.bep, sizeText(r)])).toEqual(SPEC);
  });

  it('MESSAGE_IDS, MESSAGE_BY_ID and the rows agree; the other 237 ids are unassigned', () => {
    expect(MESSAGE_BY_ID).toHaveLength(256);
    for (const r of MESSAGE_ROWS) {
      expect(MESSAGE_IDS[r.name]).toBe(r.id);
      expect(MESSAGE_BY_ID[r.id]).toBe(r);
    }
    expect(MESSAGE_BY_ID.filter((r) => r === undefined)).toHaveLength(256 - MESSAGE_ROWS.length);
    expect(Object.keys(MESSAGE_SPECS).sort()).toEqual(MESSAGE_ROWS.map((r) => r.name).sort());
  });

  it('BEP 6 is the fast extension\'s five messages, and compliance judges those', () => {
    expect(messagesOfBep(6)).toEqual(['suggest_piece', 'have_all', 'have_none', 'reject_request', 'allowed_fast']);
    expect([...FAST_TYPES].sort()).toEqual(messagesOfBep(6).sort());
  });
});

describe('every row: encode, parse, one-line texts', () => {
  it.each(MESSAGE_ROWS.map((r) => [r.name, r] as const))('%s round-trips encode -> parse within its size rule', (name, row) => {
    const m = sampleOf(name);
    const bytes = encodeMessage(m);
    expect(bytes[4]).toBe(row.id);
    expect(parseMessage(bytes)).toEqual(m);
    const plen = bytes.length - 5;
    if ('fixed' in row.size) expect(plen).toBe(row.size.fixed);
    else expect(plen).toBeGreaterThanOrEqual(row.size.min);
  });

  it.each(MESSAGE_ROWS.map((r) => [r.name] as const))('%s: its trace line and its short form', (name) => {
    const [m, line, brief] = SAMPLES[name];
    expect(messageLine(m)).toBe(line);
    expect(messageBrief(m)).toBe(brief);
  });

  it('messages outside the table: keep-alive and unknown ids', () => {
    const unknown: Message = { type: 'unknown', id: 0x42, payload: hex('beef') };
    expect(messageLine({ type: 'keep_alive' })).toBe('keep_alive');
    expect(messageBrief({ type: 'keep_alive' })).toBe('keep_alive');
    expect(messageLine(unknown)).toBe('unknown id=66 len=2');
    expect(messageBrief(unknown)).toBe('unknown id 66 (2 bytes)');
    expect(messageTitle(unknown)).toBe('unknown message id 66');
  });

  it('texts that take context: pieces of the torrent, the negotiated extension name', () => {
    expect(messageBrief(sampleOf('bitfield'), { pieceCount: 12 })).toBe('bitfield 4/12 pieces');
    const ext = sampleOf('extended');
    expect(messageBrief(ext, { extName: 'lt_donthave' })).toBe('extended lt_donthave (8 bytes)');
    expect(messageLine(ext, { extName: 'lt_donthave' })).toBe('extended lt_donthave len=8');
    const pex = { type: 'extended', extId: 1, payload: ascii('d5:added6:\x7f\x00\x00\x01\x1a\x01e') } as const;
    expect(messageLine(pex, { extName: 'ut_pex' })).toBe('extended ut_pex added=1 dropped=0');
    // A payload its extension cannot decode falls back to its length.
    expect(messageLine(ext, { extName: 'ut_metadata' })).toBe('extended ut_metadata len=8');
    const ids = new ExtensionIds();
    ids.learn('in', { ut_metadata: 2 });
    expect(messageTitle(ext)).toBe('extended #3');
    expect(messageTitle({ type: 'extended', extId: 2, payload: new Uint8Array() }, { extensions: ids, direction: 'out' })).toBe('extended ut_metadata');
    expect(messageTitle({ type: 'extended', extId: 0, payload: new Uint8Array() })).toBe('extended handshake');
    expect(messageTitle(sampleOf('piece'))).toBe('piece');
  });
});

describe('a payload one byte off its size rule', () => {
  const cases: Array<[string, number, number, string]> = [];
  for (const r of MESSAGE_ROWS) {
    if ('fixed' in r.size) {
      if (r.size.fixed > 0) cases.push([`${r.name}: ${r.size.fixed - 1} bytes (one short)`, r.id, r.size.fixed - 1, `${r.name} payload is ${r.size.fixed - 1} bytes, expected ${r.size.fixed}`]);
      cases.push([`${r.name}: ${r.size.fixed + 1} bytes (one long)`, r.id, r.size.fixed + 1, `${r.name} payload is ${r.size.fixed + 1} bytes, expected ${r.size.fixed}`]);
    } else if (r.size.min > 0) {
      cases.push([`${r.name}: ${r.size.min - 1} bytes (one short of its minimum)`, r.id, r.size.min - 1, `${r.name} payload is ${r.size.min - 1} bytes, expected at least ${r.size.min}`]);
    }
  }

  it('covers every fixed-size row both ways and every row with a minimum', () => {
    expect(cases).toHaveLength(2 * 15 - 6 + 3);
  });

  it.each(cases)('%s is bad_length at the payload (offset 5)', (_n, id, plen, message) => {
    const bytes = frameWith(id, plen);
    expect(errorOf(() => parseMessage(bytes))).toEqual({ code: 'bad_length', offset: 5 });
    expect(errorOf(() => parseMessage(bytes, 1000))).toEqual({ code: 'bad_length', offset: 1005 });
    expect(() => parseMessage(bytes)).toThrow(message);
  });

  it('an empty bitfield decodes (its length is judged against the torrent on the frame)', () => {
    expect(parseMessage(frameWith(MESSAGE_IDS.bitfield, 0))).toEqual({ type: 'bitfield', bitfield: new Uint8Array() });
  });

  it('a variable-size message at its cap passes the framer; one byte over is limit_exceeded at its first byte', () => {
    const opts = { pieceCount: 100, maxBlockLength: 16384, maxHashes: 4 };
    const bounds = { blockLength: 16384, pieceCount: 100, hashes: 4, extendedPayload: 6 + 16384 + 1024 - 5 };
    let checked = 0;
    for (const r of MESSAGE_ROWS) {
      if ('fixed' in r.size) continue;
      const max = maxPayload(r, bounds)!;
      // Only the head is pushed: the cap is checked on the length prefix and id, before the payload arrives.
      const atCap = new WireFramer({ expectHandshake: false, ...frameLimits(opts) });
      expect(atCap.push(frameWith(r.id, max).subarray(0, 5)), r.name).toEqual([]);
      const over = new WireFramer({ expectHandshake: false, ...frameLimits(opts) });
      expect(errorOf(() => over.push(frameWith(r.id, max + 1).subarray(0, 5))), r.name).toEqual({ code: 'limit_exceeded', offset: 0 });
      checked++;
    }
    expect(checked).toBe(4);
  });
});

describe('frameLimits follows the table', () => {
  const variable = MESSAGE_ROWS.filter((r) => !('fixed' in r.size));

  it('per-id caps: piece 13 + block, bitfield 5 + ceil(pieces / 8), extended one metadata piece and its dict, hashes 53 + 32n', () => {
    const l = frameLimits({ pieceCount: 1001, maxBlockLength: 32768, maxHashes: 16 });
    expect(l.maxLengthById).toEqual({
      [MESSAGE_IDS.bitfield]: 5 + 126,
      [MESSAGE_IDS.piece]: 13 + 32768,
      [MESSAGE_IDS.extended]: 6 + 16384 + 1024,
      [MESSAGE_IDS.hashes]: 5 + 48 + 32 * 16,
    });
    expect(l.maxFrameLength).toBe(13 + 32768);
  });

  it('every variable-size row, and only those, has a cap of 5 + its largest payload; the global limit is the largest of all rows', () => {
    for (const pieceCount of [1, 8, 9, 1_000_000]) {
      const l = frameLimits({ pieceCount });
      const bounds = { blockLength: 16384, pieceCount, hashes: 1024, extendedPayload: 6 + 16384 + 1024 - 5 };
      expect(Object.keys(l.maxLengthById!).map(Number).sort((a, b) => a - b)).toEqual(variable.map((r) => r.id));
      for (const r of variable) expect(l.maxLengthById![r.id], r.name).toBe(5 + maxPayload(r, bounds)!);
      expect(l.maxFrameLength).toBe(Math.max(...MESSAGE_ROWS.map((r) => 5 + maxPayload(r, bounds)!)));
    }
  });

  it('before the piece count is known: no bitfield cap, the global 2 MiB limit', () => {
    const l = frameLimits({});
    expect(l.maxLengthById![MESSAGE_IDS.bitfield]).toBeUndefined();
    expect(Object.keys(l.maxLengthById!)).toHaveLength(variable.length - 1);
    expect(l.maxFrameLength).toBe(DEFAULT_MAX_FRAME_LENGTH);
  });

  it('a fixed-size message of the wrong length passes the framer and is the decoder\'s bad_length', () => {
    const framer = new WireFramer({ expectHandshake: false, ...frameLimits({ pieceCount: 10 }) });
    const [f] = framer.push(frameWith(MESSAGE_IDS.have, 40));
    expect(f).toMatchObject({ kind: 'message', id: MESSAGE_IDS.have, offset: 0 });
    expect(errorOf(() => parseMessage(f!.bytes, f!.offset))).toEqual({ code: 'bad_length', offset: 5 });
  });
});
