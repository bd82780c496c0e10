import { describe, expect, it } from 'vitest';
import { encode } from '../../lib/bencode/encode.js';
import { encodeUtf8 } from '../../lib/core/bytes.js';
import { ALL_CHECKS } from '../../lib/compliance/checks/index.js';
import { evaluateChecks } from '../../lib/compliance/runner.js';
import type { CheckResultKind, SessionRecord } from '../../lib/compliance/types.js';
import { LOCAL_EXTENSION_IDS, encodeExtendedHandshake, encodeUtMetadata, encodeUtPex, type PexPeer } from '../../lib/wire/extended.js';
import type { Message } from '../../lib/wire/messages.js';
import { makeTestTorrent } from '../helpers/broken-peer.js';
import { Transcript } from './transcript.js';

/**
 * Each check on hand-written transcripts, independent of any peer: for every
 * check a transcript it must pass and one it must fail (warn where the rule
 * can only warn), so a check's verdict is tested on exactly the bytes it
 * rests on. 3 pieces: 32 KiB, 32 KiB, 5000 bytes (5 spare bitfield bits).
 */
const torrent = makeTestTorrent(2 * 32 * 1024 + 5000, 32 * 1024);
const T = torrent.target;
const K16 = 16 * 1024;

const req = (index: number, begin: number, length: number): Message => ({ type: 'request', index, begin, length });
const cancel = (index: number, begin: number, length: number): Message => ({ type: 'cancel', index, begin, length });
const reject = (index: number, begin: number, length: number): Message => ({ type: 'reject_request', index, begin, length });
function piece(index: number, begin: number, length: number, corrupt = false): Message {
  const start = index * T.pieceLength + begin;
  const block = torrent.data.slice(start, start + length);
  if (corrupt) block[0]! ^= 0xff;
  return { type: 'piece', index, begin, block };
}
const extHs = (o: { m?: Record<string, number>; metadataSize?: number; reqq?: number } = {}): Message => ({
  type: 'extended',
  extId: 0,
  payload: encodeExtendedHandshake({ m: o.m ?? { ut_metadata: 3, ut_pex: 4 }, v: 'transcript 1.0', reqq: o.reqq ?? 250, metadataSize: o.metadataSize ?? T.info.length }),
});
const metadata = (payload: Uint8Array): Message => ({ type: 'extended', extId: LOCAL_EXTENSION_IDS.ut_metadata, payload });
const pex = (payload: Uint8Array): Message => ({ type: 'extended', extId: LOCAL_EXTENSION_IDS.ut_pex, payload });
const peers = (n: number, net: number): PexPeer[] => Array.from({ length: n }, (_, i) => ({ ip: `10.0.${net}.${i + 1}`, port: 6881 }));
const fullBitfield = Uint8Array.of(0b1110_0000);

const main = (o: Partial<ConstructorParameters<typeof Transcript>[1]> = {}) => new Transcript('main', { infoHash: T.infoHash, ...o });
const plain = (o: Partial<ConstructorParameters<typeof Transcript>[1]> = {}) => new Transcript('plain', { infoHash: T.infoHash, ours: {}, ...o });
const quietPlain = () => plain().in({ type: 'bitfield', bitfield: fullBitfield }).end();
/** A main connection where the peer did everything right: have all, extended handshake, served a block. */
const goodMain = () =>
  main()
    .in({ type: 'have_all' }, extHs())
    .out('interested', { type: 'interested' })
    .in({ type: 'unchoke' })
    .out('valid_request', req(0, 0, K16))
    .in(piece(0, 0, K16))
    .end();
const unchoked = (t: Transcript) => t.in({ type: 'have_all' }, extHs()).out('interested', { type: 'interested' }).in({ type: 'unchoke' });

type Case = readonly [id: string, what: string, sessions: () => SessionRecord<Message>[], expected: CheckResultKind];

const CASES: readonly Case[] = [
  ['handshake.protocol', 'a handshake', () => [goodMain()], 'pass'],
  ['handshake.protocol', '"BitTorrent protocoL"', () => [main({ badHandshake: encodeUtf8('\x13BitTorrent protocoL') }).record], 'fail'],
  ['handshake.info_hash', 'our info-hash echoed', () => [goodMain()], 'pass'],
  ['handshake.info_hash', 'another info-hash', () => [main({ peerInfoHash: new Uint8Array(20).fill(0xee) }).end()], 'fail'],
  ['handshake.peer_id', '20 bytes', () => [goodMain()], 'pass'],
  ['handshake.peer_id', 'closed after 10 bytes of peer id', () => [main({ peerIdLength: 10 }).end('peer_closed')], 'fail'],
  ['handshake.extended_bit', 'bit set, extended handshake', () => [goodMain(), quietPlain()], 'pass'],
  ['handshake.extended_bit', 'bit clear, extended message', () => [main({ peer: { fast: true } }).in({ type: 'have_all' }, extHs()).end(), quietPlain()], 'fail'],
  ['handshake.fast_bit', 'bit set, have all', () => [goodMain(), quietPlain()], 'pass'],
  ['handshake.fast_bit', 'bit clear, have all', () => [main({ peer: { extended: true } }).in({ type: 'have_all' }).end(), quietPlain()], 'fail'],

  ['ordering.nothing_before_handshake', 'handshake at 0', () => [goodMain(), quietPlain()], 'pass'],
  ['ordering.nothing_before_handshake', 'an unchoke before it', () => [main({ preHandshake: Uint8Array.of(0, 0, 0, 1, 1) }).end(), quietPlain()], 'fail'],
  ['ordering.bitfield_first', 'bitfield first', () => [main().in({ type: 'bitfield', bitfield: fullBitfield }, extHs()).end(), quietPlain()], 'pass'],
  ['ordering.bitfield_first', 'a have before the bitfield', () => [main().in({ type: 'have', index: 0 }, { type: 'bitfield', bitfield: fullBitfield }).end(), quietPlain()], 'fail'],
  ['ordering.bitfield_first', 'the extended handshake before it', () => [main().in(extHs(), { type: 'have_all' }).end(), quietPlain()], 'warn'],
  ['ordering.bitfield_once', 'one', () => [goodMain(), quietPlain()], 'pass'],
  ['ordering.bitfield_once', 'bitfield then have all', () => [main().in({ type: 'bitfield', bitfield: fullBitfield }).wait(500).in({ type: 'have_all' }).end(), quietPlain()], 'fail'],
  ['ordering.piece_requested', 'piece after its request', () => [goodMain(), quietPlain()], 'pass'],
  ['ordering.piece_requested', 'piece with no request', () => [main().in({ type: 'have_all' }, { type: 'unchoke' }, piece(0, 0, K16)).end(), quietPlain()], 'fail'],
  ['ordering.piece_requested', 'a second piece for one request', () => [main().out('valid_request', req(0, 0, K16)).in(piece(0, 0, K16), piece(0, 0, K16)).end(), quietPlain()], 'fail'],

  ['bitfield.length', '1 byte for 3 pieces', () => [main().in({ type: 'bitfield', bitfield: fullBitfield }).end(), quietPlain()], 'pass'],
  ['bitfield.length', '2 bytes for 3 pieces', () => [main().in({ type: 'bitfield', bitfield: Uint8Array.of(0xe0, 0) }).end(), quietPlain()], 'fail'],
  ['bitfield.spare_bits', 'spare bits clear', () => [main().in({ type: 'bitfield', bitfield: fullBitfield }).end(), quietPlain()], 'pass'],
  ['bitfield.spare_bits', 'bit 3 set', () => [main().in({ type: 'bitfield', bitfield: Uint8Array.of(0b1111_0000) }).end(), quietPlain()], 'fail'],
  ['bitfield.have_range', 'have 2', () => [main().in({ type: 'have_none' }, { type: 'have', index: 2 }).end(), quietPlain()], 'pass'],
  ['bitfield.have_range', 'allowed fast 3 of 3 pieces', () => [main().in({ type: 'have_all' }, { type: 'allowed_fast', index: 3 }).end(), quietPlain()], 'fail'],

  ['requests.valid', 'piece 0 whole, hash-checks', () => [unchoked(main()).out('valid_request', req(0, 0, K16), req(0, K16, K16)).in(piece(0, 0, K16), piece(0, K16, K16)).end()], 'pass'],
  ['requests.valid', 'piece 0 with a flipped byte', () => [unchoked(main()).out('valid_request', req(0, 0, K16), req(0, K16, K16)).in(piece(0, 0, K16), piece(0, K16, K16, true)).end()], 'fail'],
  ['requests.valid', '16 bytes too many', () => [unchoked(main()).out('valid_request', req(2, 0, 4000)).in(piece(2, 0, 4016)).end()], 'fail'],
  ['requests.valid', 'never answered', () => [unchoked(main()).out('valid_request', req(2, 0, 5000)).wait(5000).end()], 'fail'],
  ['requests.choked', 'rejected with fast', () => [main().in({ type: 'have_all' }).out('choked_request', req(1, 0, K16)).in(reject(1, 0, K16)).end(), plain().out('choked_request', req(0, 0, K16)).end()], 'pass'],
  ['requests.choked', 'served while choked', () => [main().in({ type: 'have_all' }).out('choked_request', req(1, 0, K16)).in(piece(1, 0, K16)).end(), quietPlain()], 'fail'],
  ['requests.choked', 'fast on, no reject', () => [main().in({ type: 'have_all' }).out('choked_request', req(1, 0, K16)).wait(2000).end(), quietPlain()], 'fail'],
  ['requests.choked', 'kept and served after a later unchoke', () => [main().in({ type: 'have_all' }).out('choked_request', req(1, 0, K16)).in({ type: 'unchoke' }, piece(1, 0, K16)).end(), quietPlain()], 'warn'],
  ...(
    [
      ['requests.oversize', 'oversize_request', req(0, 0, 2 * K16)],
      ['requests.beyond_piece', 'beyond_piece_request', req(0, 32 * 1024 - 8, K16)],
      ['requests.bad_index', 'bad_index_request', req(3, 0, K16)],
    ] as const
  ).flatMap(([id, scenario, bad]): Case[] => {
    const b = bad as Extract<Message, { type: 'request' }>;
    const s = () => unchoked(new Transcript(scenario, { infoHash: T.infoHash })).out('bad_request', bad);
    return [
      [id, 'rejected', () => [s().in(reject(b.index, b.begin, b.length)).end()], 'pass'],
      [id, 'connection closed', () => [s().end('peer_closed')], 'pass'],
      [id, 'ignored with fast on', () => [s().wait(3000).end()], 'warn'],
      [id, 'answered with data', () => [s().in({ type: 'piece', index: b.index, begin: b.begin, block: new Uint8Array(b.length) }).end()], 'fail'],
    ];
  }),
  ...cancelCases(),

  ['liveness.wellformed', 'every frame decodes', () => [goodMain(), quietPlain()], 'pass'],
  ['liveness.wellformed', 'a 5-byte have', () => [main().in({ type: 'have_all' }).malformed(Uint8Array.of(0, 0, 0, 6, 4, 0, 0, 0, 0, 0)).end(), quietPlain()], 'fail'],
  ['liveness.keepalive', 'served after it', () => [unchoked(new Transcript('keepalive', { infoHash: T.infoHash })).out('keepalive', { type: 'keep_alive' }).out('probe_request', req(0, 0, K16)).in(piece(0, 0, K16)).end(), goodMain()], 'pass'],
  ['liveness.keepalive', 'closed on it', () => [new Transcript('keepalive', { infoHash: T.infoHash }).in({ type: 'have_all' }).out('keepalive', { type: 'keep_alive' }).end('peer_closed'), goodMain()], 'fail'],
  ['liveness.unknown_id', 'cleanly closed', () => [new Transcript('unknown_id', { infoHash: T.infoHash }).in({ type: 'have_all' }).out('unknown_id', { type: 'unknown', id: 99, payload: Uint8Array.of(1, 2, 3) }).end('peer_closed'), goodMain()], 'pass'],
  [
    'liveness.unknown_id',
    'open but silent (main was served)',
    () => [new Transcript('unknown_id', { infoHash: T.infoHash }).in({ type: 'have_all' }).out('unknown_id', { type: 'unknown', id: 99, payload: Uint8Array.of(1) }).out('interested', { type: 'interested' }).wait(5000).end(), goodMain()],
    'fail',
  ],

  ['extended.handshake', 'a dict with m', () => [goodMain()], 'pass'],
  ['extended.handshake', 'a list', () => [main().in({ type: 'have_all' }, { type: 'extended', extId: 0, payload: encode([encodeUtf8('m')]) }).end()], 'fail'],
  ['extended.handshake', 'bit set, none sent', () => [main().in({ type: 'have_all' }).end()], 'fail'],
  ['extended.m_ids', 'ids in range', () => [goodMain()], 'pass'],
  ['extended.m_ids', 'ut_pex = 300', () => [main().in(extHs({ m: { ut_metadata: 3, ut_pex: 300 } })).end()], 'fail'],
  ['extended.m_ids', 'two names on one id', () => [main().in(extHs({ m: { ut_metadata: 3, ut_pex: 3 } })).end()], 'fail'],
  ['extended.metadata_size', 'the info dict size', () => [goodMain()], 'pass'],
  ['extended.metadata_size', '100 bytes too many', () => [main().in(extHs({ metadataSize: T.info.length + 100 })).end()], 'fail'],
  ['extended.info', 'v and reqq', () => [goodMain()], 'pass'],
  ['extended.info', 'reqq 0', () => [main().in(extHs({ reqq: 0 })).end()], 'warn'],
  ['extended.bit_off', 'nothing extended on plain', () => [quietPlain()], 'pass'],
  ['extended.bit_off', 'an extended handshake on plain', () => [plain().in({ type: 'bitfield', bitfield: fullBitfield }, extHs()).end()], 'fail'],

  ...metadataCases(),
  ...pexCases(),

  ['fast.bit_off', 'nothing fast on plain', () => [quietPlain()], 'pass'],
  ['fast.bit_off', 'have all on plain', () => [plain().in({ type: 'have_all' }).end()], 'fail'],
  ['fast.first_message', 'have all first', () => [goodMain()], 'pass'],
  ['fast.first_message', 'none of them', () => [main().in({ type: 'unchoke' }).end()], 'fail'],
  ['fast.first_message', 'have none and have all', () => [main().in({ type: 'have_none' }, { type: 'have_all' }).end()], 'fail'],
  ['fast.allowed_fast', 'served while choked', () => [main().in({ type: 'have_all' }, { type: 'allowed_fast', index: 2 }).out('allowed_fast_request', req(2, 0, 5000)).in(piece(2, 0, 5000)).end()], 'pass'],
  ['fast.allowed_fast', 'rejected while choked', () => [main().in({ type: 'have_all' }, { type: 'allowed_fast', index: 2 }).out('allowed_fast_request', req(2, 0, 5000)).in(reject(2, 0, 5000)).end()], 'fail'],
  ['fast.one_answer', 'one piece per request', () => [goodMain()], 'pass'],
  ['fast.one_answer', 'piece and reject for one request', () => [unchoked(main()).out('valid_request', req(0, 0, K16)).in(piece(0, 0, K16), reject(0, 0, K16)).end()], 'fail'],
  ['fast.one_answer', 'neither by the end', () => [unchoked(main()).out('valid_request', req(0, 0, K16)).wait(5000).end()], 'fail'],
  [
    'fast.reject_on_choke',
    'each dropped request rejected',
    () => [unchoked(main()).out('choke_probe', req(2, 0, 5000)).out('not_interested', { type: 'not_interested' }).in({ type: 'choke' }, reject(2, 0, 5000)).end()],
    'pass',
  ],
  ['fast.reject_on_choke', 'choked, no reject', () => [unchoked(main()).out('choke_probe', req(2, 0, 5000)).out('not_interested', { type: 'not_interested' }).in({ type: 'choke' }).wait(4000).end()], 'fail'],
];

function cancelCases(): Case[] {
  // Four blocks queued, the last cancelled; cancelQueueBytes is what the probe needed queued ahead to be conclusive.
  const blocks = [req(0, 0, K16), req(0, K16, K16), req(1, 0, K16), req(1, K16, K16)] as Array<Extract<Message, { type: 'request' }>>;
  const s = (need: number) => unchoked(new Transcript('cancel', { infoHash: T.infoHash })).fact('cancelQueueBytes', need).out('cancel_request', ...blocks).wait(1000).out('cancel', cancel(1, K16, K16));
  const first3 = blocks.slice(0, 3).map((b) => piece(b.index, b.begin, b.length));
  return [
    ['requests.cancel', 'the cancelled block rejected (fast)', () => [s(3 * K16).in(...first3, reject(1, K16, K16)).end()], 'pass'],
    ['requests.cancel', 'the cancelled block dropped', () => [s(3 * K16).in(...first3).wait(500).end()], 'pass'],
    ['requests.cancel', 'sent anyway behind 48 KiB, 48 KiB needed', () => [s(3 * K16).in(...first3, piece(1, K16, K16)).end()], 'fail'],
    ['requests.cancel', 'sent anyway, but 12 MiB needed to tell', () => [s(12 * 1024 * 1024).in(...first3, piece(1, K16, K16)).end()], 'warn'],
    ['requests.cancel', 'a kept request dropped too', () => [s(3 * K16).in(...first3.slice(0, 2)).wait(500).end()], 'warn'],
  ];
}

function metadataCases(): Case[] {
  const info = T.info;
  const asked = () =>
    main()
      .in({ type: 'have_all' }, extHs())
      .fact('metadataSize', info.length)
      .fact('metadataBeyondPiece', 1)
      .out('metadata_request', { type: 'extended', extId: 3, payload: encodeUtMetadata({ msgType: 'request', piece: 0 }) });
  const data = (bytes: Uint8Array, piece = 0) => metadata(encodeUtMetadata({ msgType: 'data', piece, totalSize: info.length, data: bytes }));
  const beyond = () => asked().in(data(info)).out('metadata_beyond', { type: 'extended', extId: 3, payload: encodeUtMetadata({ msgType: 'request', piece: 1 }) });
  const flipped = info.slice();
  flipped[flipped.length - 2]! ^= 1;
  return [
    ['ut_metadata.pieces', 'the info dict', () => [asked().in(data(info)).end()], 'pass'],
    ['ut_metadata.pieces', 'one byte short', () => [asked().in(data(info.subarray(0, info.length - 1))).end()], 'fail'],
    ['ut_metadata.pieces', 'a flipped bit', () => [asked().in(data(flipped)).end()], 'fail'],
    ['ut_metadata.pieces', 'rejected', () => [asked().in(metadata(encodeUtMetadata({ msgType: 'reject', piece: 0 }))).end()], 'fail'],
    ['ut_metadata.beyond', 'rejected', () => [beyond().in(metadata(encodeUtMetadata({ msgType: 'reject', piece: 1 }))).end()], 'pass'],
    ['ut_metadata.beyond', 'ignored', () => [beyond().wait(2000).end()], 'warn'],
    ['ut_metadata.beyond', 'served 10 bytes', () => [beyond().in(data(new Uint8Array(10), 1)).end()], 'fail'],
  ];
}

function pexCases(): Case[] {
  const ok = () => pex(encodeUtPex({ added: peers(2, 1), dropped: peers(1, 2) }));
  const s = () => main().in({ type: 'have_all' }, extHs());
  return [
    ['ut_pex.wellformed', 'compact addresses', () => [s().in(ok()).end()], 'pass'],
    ['ut_pex.wellformed', 'added is 7 bytes', () => [s().in(pex(encode({ added: Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1, 9) }))).end()], 'fail'],
    ['ut_pex.wellformed', 'added.f too short', () => [s().in(pex(encode({ added: new Uint8Array(12), 'added.f': Uint8Array.of(0) }))).end()], 'fail'],
    ['ut_pex.rate', 'two, 61 s apart', () => [s().in(ok()).wait(61_000).in(ok()).end()], 'pass'],
    ['ut_pex.rate', 'two, 50 ms apart', () => [s().in(ok()).wait(50).in(ok()).end()], 'fail'],
    ['ut_pex.limits', '50 added', () => [s().in(pex(encodeUtPex({ added: peers(50, 1) }))).end()], 'pass'],
    ['ut_pex.limits', '51 added', () => [s().in(pex(encodeUtPex({ added: peers(51, 1) }))).end()], 'fail'],
    ['ut_pex.no_overlap', 'disjoint', () => [s().in(ok()).end()], 'pass'],
    ['ut_pex.no_overlap', 'one peer in both', () => [s().in(pex(encodeUtPex({ added: peers(2, 1), dropped: peers(1, 1) }))).end()], 'fail'],
  ];
}

function verdict(id: string, sessions: SessionRecord<Message>[]) {
  const check = ALL_CHECKS.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id}`);
  const report = evaluateChecks('transcript', T, [check], new Map(sessions.map((s) => [s.scenario, s])));
  return report.checks[0]!;
}

describe('checks on hand-written transcripts', () => {
  it('every check has a passing and a failing (or warning) transcript', () => {
    // The BEP 52 checks have their own transcripts: test/compliance/v2.test.ts.
    for (const c of ALL_CHECKS.filter((x) => !x.id.startsWith('v2.'))) {
      const mine = CASES.filter(([id]) => id === c.id).map(([, , , r]) => r);
      expect(mine, c.id).toContain('pass');
      expect(mine.some((r) => r === 'fail' || r === 'warn'), c.id).toBe(true);
    }
  });

  it.each(CASES.map(([id, what, sessions, expected]) => ({ id, what, sessions, expected })))('$id: $what -> $expected', ({ id, sessions, expected }) => {
    const r = verdict(id, sessions());
    expect(r.result, `${id}: ${r.detail}`).toBe(expected);
    // A fail names its evidence (unless there are no frames to point at).
    if (r.result === 'fail' && r.evidence) for (const e of r.evidence) expect(e.scenario).toBeTypeOf('string');
  });

  it('a scenario that did not run is a skip, not a verdict', () => {
    const r = verdict('requests.choked', [goodMain()]);
    expect(r.result).toBe('skip');
    expect(r.detail).toMatch(/plain/);
  });
});

describe('requests.valid on a v2-only torrent: pieces checked against their BEP 52 merkle hash', () => {
  const v2 = makeTestTorrent(2 * 32 * 1024 + 5000, 32 * 1024, 'v2.bin', { v2: true });
  // The hybrid's v2 half alone: no SHA-1 pieces to fall back on.
  const target = { ...v2.target, infoHash: null, pieces: null };
  const v2piece = (index: number, begin: number, length: number, corrupt = false): Message => {
    const start = index * target.pieceLength + begin;
    const block = v2.data.slice(start, start + length);
    if (corrupt) block[0]! ^= 0xff;
    return { type: 'piece', index, begin, block };
  };
  const run = (corrupt: boolean) => {
    const check = ALL_CHECKS.find((c) => c.id === 'requests.valid')!;
    const s = unchoked(new Transcript('main', { infoHash: target.infoHashV2!.subarray(0, 20) }))
      .out('valid_request', req(0, 0, K16), req(0, K16, K16), req(2, 0, 5000))
      .in(v2piece(0, 0, K16), v2piece(0, K16, K16, corrupt), v2piece(2, 0, 5000))
      .end();
    return evaluateChecks('transcript', target, [check], new Map([[s.scenario, s]])).checks[0]!;
  };

  it('the right bytes: pass, both whole pieces hash-checked', () => {
    const r = run(false);
    expect(r.result, r.detail).toBe('pass');
    expect(r.detail).toMatch(/2 pieces hash-checked/);
  });

  it('a flipped byte: fail, naming the merkle hash', () => {
    const r = run(true);
    expect(r.result).toBe('fail');
    expect(r.detail).toMatch(/piece 0: .* do not hash to the torrent's BEP 52 merkle hash/);
  });
});
