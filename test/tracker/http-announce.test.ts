import { describe, expect, it } from 'vitest';
import { buildAnnounceUrl, decodeAnnounceQuery, decodeHttpAnnounceRequest, decodeHttpAnnounceResponse } from '../../lib/tracker/http-announce.js';
import { buildScrapeUrl, decodeHttpScrapeResponse } from '../../lib/tracker/http-scrape.js';
import { encode } from '../../lib/bencode/encode.js';
import { DecodeError } from '../../lib/core/errors.js';
import { fromHex } from '../../lib/core/bytes.js';
import { walkFields } from '../../lib/core/field.js';

const enc = (s: string) => new TextEncoder().encode(s);
const hash = fromHex('123456789abcdef123456789abcdef123456789a');
const peerId = enc('-BS0001-000000000001');
const req = { infoHash: hash, peerId, port: 6881, uploaded: 1, downloaded: 2, left: 3 };

function decodeError(f: () => unknown): [string, number] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return [(e as DecodeError).code, (e as DecodeError).offset];
  }
  throw new Error('expected a DecodeError');
}

describe('HTTP announce request (BEP 3, BEP 23)', () => {
  it('builds the query with the raw hash percent-encoded and keeps the tracker query (passkey)', () => {
    const url = buildAnnounceUrl('http://t.example/announce?pk=abc', { ...req, event: 'started', numwant: 30, key: 0xbeef });
    expect(url).toBe(
      'http://t.example/announce?pk=abc&info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A&peer_id=-BS0001-000000000001' +
        '&port=6881&uploaded=1&downloaded=2&left=3&compact=1&event=started&numwant=30&key=0000beef',
    );
  });

  it('decodeAnnounceQuery reads back what buildAnnounceUrl wrote', () => {
    const url = buildAnnounceUrl('http://t.example/announce', { ...req, event: 'completed', compact: false, trackerId: 'tid 1' });
    const target = url.slice('http://t.example'.length);
    const { value, diagnostics } = decodeAnnounceQuery(target);
    expect(value).toMatchObject({ infoHash: hash, peerId, port: 6881, uploaded: 1, downloaded: 2, left: 3, event: 'completed', compact: false, noPeerId: false, trackerId: 'tid 1' });
    expect(diagnostics).toEqual([]);
  });

  it('a request head decodes with each parameter spanning its own bytes', () => {
    const target = buildAnnounceUrl('http://t/announce', req).slice('http://t'.length);
    const head = enc(`GET ${target} HTTP/1.1\r\nHost: t\r\n\r\n`);
    const { value, frame } = decodeHttpAnnounceRequest(head, 1000);
    expect(value.query.infoHash).toEqual(hash);
    const ih = [...walkFields(frame.fields)].find((x) => x.field.id === 'tracker.announce.info_hash')!.field;
    const text = new TextDecoder().decode(head.subarray(ih.span.start - 1000, ih.span.end - 1000));
    expect(text).toBe('info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A');
    expect(frame.title).toBe('HTTP announce request');
  });

  it.each([
    ['info_hash=%12%34', 'bad_length'],
    ['port=abc', 'not_integer'],
    ['port=70000', 'bad_port'],
    ['event=begun', 'unknown_event'],
    ['port=1&port=2', 'duplicate_param'],
  ])('bad parameter %s -> %s', (q, code) => {
    expect(decodeAnnounceQuery(`/announce?${q}`).diagnostics.map((d) => d.code)).toContain(code);
  });
});

describe('HTTP announce response', () => {
  it('compact peers (BEP 23) with every BEP 3 key, spans absolute', () => {
    const body = encode({ interval: 1800, 'min interval': 60, complete: 2, incomplete: 1, 'tracker id': 'xyz', peers: fromHex('7f0000011ae1c0a800010050') });
    const { value, frame } = decodeHttpAnnounceResponse(body, 500, { compactRequested: true });
    expect(value).toEqual({
      interval: 1800,
      minInterval: 60,
      complete: 2,
      incomplete: 1,
      trackerId: 'xyz',
      peersModel: 'compact',
      peers: [
        { ip: '127.0.0.1', port: 6881 },
        { ip: '192.168.0.1', port: 80 },
      ],
    });
    expect(frame.diagnostics).toEqual([]);
    const peer1 = [...walkFields(frame.fields)].find((x) => x.field.label === 'peer 1')!.field;
    const at = Buffer.from(body).indexOf(Buffer.from('c0a800010050', 'hex'));
    expect(at).toBeGreaterThan(0);
    expect(peer1.span).toEqual({ start: 500 + at, end: 500 + at + 6 });
  });

  it('dict peers (BEP 3) when compact was asked: decoded, with a note', () => {
    const body = encode({ interval: 900, peers: [{ ip: '10.0.0.1', port: 1, 'peer id': peerId }, { ip: '::1', port: 2 }] });
    const { value, frame } = decodeHttpAnnounceResponse(body, 0, { compactRequested: true });
    expect(value.peersModel).toBe('dict');
    expect(value.peers).toEqual([
      { ip: '10.0.0.1', port: 1, peerId },
      { ip: '::1', port: 2 },
    ]);
    expect(frame.diagnostics!.map((d) => d.code)).toEqual(['dict_peers_when_compact']);
  });

  it('peers6 (BEP 7) adds IPv6 peers', () => {
    const body = encode({ interval: 900, peers: new Uint8Array(0), peers6: fromHex('00000000000000000000000000000001' + '1ae1') });
    expect(decodeHttpAnnounceResponse(body).value.peers).toEqual([{ ip: '::1', port: 6881 }]);
  });

  it('a peers string of the wrong length: whole peers kept, the rest reported', () => {
    const body = encode({ interval: 900, peers: fromHex('7f0000011ae1ffff') });
    const { value, frame } = decodeHttpAnnounceResponse(body);
    expect(value.peers).toEqual([{ ip: '127.0.0.1', port: 6881 }]);
    expect(frame.diagnostics!.map((d) => [d.code, d.span.end - d.span.start])).toEqual([['compact_peers_length', 2]]);
  });

  it('failure reason (BEP 3) and warning message', () => {
    const { value, frame } = decodeHttpAnnounceResponse(encode({ 'failure reason': 'unregistered torrent' }));
    expect(value.failureReason).toBe('unregistered torrent');
    expect(frame.title).toBe('HTTP announce failure');
    expect(decodeHttpAnnounceResponse(encode({ interval: 1, peers: '', 'warning message': 'slow down' })).value.warning).toBe('slow down');
  });

  it('numbers sent as strings and a missing interval are diagnostics, not failures', () => {
    const { value, frame } = decodeHttpAnnounceResponse(encode({ complete: '5', peers: '' }));
    expect(value.complete).toBe(5);
    expect(frame.diagnostics!.map((d) => d.code).sort()).toEqual(['missing_interval', 'wrong_type']);
  });

  it.each([
    ['<html>502 Bad Gateway</html>', 'not_bencode', 0],
    ['', 'not_bencode', 0],
    ['d8:intervali1800e5:peers', 'unexpected_eof', 24],
    ['d8:intervali18x0ee', 'expected_digit', 14],
  ])('%j -> %s at %i (absolute)', (text, code, offset) => {
    expect(decodeError(() => decodeHttpAnnounceResponse(enc(text), 100))).toEqual([code, 100 + offset]);
  });

  it('a huge peer list is bounded by maxPeers', () => {
    const body = encode({ interval: 1, peers: new Uint8Array(6 * 50_000) });
    const { value, frame } = decodeHttpAnnounceResponse(body, 0, { maxPeers: 100 });
    expect(value.peers).toHaveLength(100);
    expect(frame.diagnostics!.map((d) => d.code)).toEqual(['peer_list_truncated']);
  });
});

describe('HTTP scrape (BEP 48)', () => {
  it('builds one info_hash parameter per hash on the scrape URL', () => {
    expect(buildScrapeUrl('http://t/announce.php?pk=1', [hash, hash])).toBe(
      'http://t/scrape.php?pk=1&info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A&info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A',
    );
  });

  it('decodes files keyed by raw hashes, and flags', () => {
    const files = new Map([[hash, { complete: 5, downloaded: 50, incomplete: 10, name: 'x' }]]);
    const { value, frame } = decodeHttpScrapeResponse(encode({ files, flags: { min_request_interval: 900 } }));
    expect(value).toEqual({ files: [{ infoHash: hash, complete: 5, downloaded: 50, incomplete: 10, name: 'x' }], minRequestInterval: 900 });
    expect(frame.diagnostics).toEqual([]);
  });

  it('scrape keys that are not 20 bytes: hex keys decoded with a warning, others skipped with one', () => {
    const files = new Map<string | Uint8Array, { complete: number; downloaded: number; incomplete: number }>([
      ['123456789abcdef123456789abcdef123456789a', { complete: 1, downloaded: 2, incomplete: 3 }],
      ['short', { complete: 1, downloaded: 2, incomplete: 3 }],
    ]);
    const { value, frame } = decodeHttpScrapeResponse(encode({ files }));
    expect(value.files.map((f) => f.infoHash)).toEqual([hash]);
    expect(frame.diagnostics!.map((d) => d.code)).toEqual(['hex_scrape_key', 'bad_scrape_key']);
  });
});
