import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeKrpc, krpcFrame, krpcSummary, type KrpcQuery, type KrpcResponse } from '../../lib/dht/krpc.js';
import { decodeCompactNodes, decodeCompactPeer } from '../../lib/dht/compact.js';
import { DecodeError } from '../../lib/core/errors.js';
import { walkFields } from '../../lib/core/field.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';

const enc = (s: string) => new TextEncoder().encode(s);
const ID = 'abcdefghij0123456789';
const HASH = 'mnopqrstuvwxyz123456';

function errorOf(input: string): { code: string; offset: number } {
  try {
    decodeKrpc(enc(input), 100);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return { code: (e as DecodeError).code, offset: (e as DecodeError).offset };
  }
  throw new Error('expected a DecodeError');
}

describe('KRPC (BEP 5) messages, from the BEP examples', () => {
  it('ping query', () => {
    const { message } = decodeKrpc(enc(`d1:ad2:id20:${ID}e1:q4:ping1:t2:aa1:y1:qe`));
    expect(message.y).toBe('q');
    const q = message as KrpcQuery;
    expect([q.method, Buffer.from(q.t).toString(), Buffer.from(q.id!).toString()]).toEqual(['ping', 'aa', ID]);
  });

  it('get_peers query and announce_peer with implied_port', () => {
    const gp = decodeKrpc(enc(`d1:ad2:id20:${ID}9:info_hash20:${HASH}e1:q9:get_peers1:t2:aa1:y1:qe`)).message as KrpcQuery;
    expect(Buffer.from(gp.infoHash!).toString()).toBe(HASH);
    const ap = decodeKrpc(
      enc(`d1:ad2:id20:${ID}12:implied_porti1e9:info_hash20:${HASH}4:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe`),
    ).message as KrpcQuery;
    expect([ap.method, ap.port, ap.impliedPort, Buffer.from(ap.token!).toString()]).toEqual(['announce_peer', 6881, true, 'aoeusnth']);
  });

  it('get_peers response with values: compact peers with absolute spans', () => {
    const input = `d1:rd2:id20:${ID}5:token8:aoeusnth6:valuesl6:\x7f\x00\x00\x01\x1a\xe16:\x0a\x00\x00\x02\x1a\xe2ee1:t2:aa1:y1:re`;
    const bytes = Buffer.from(input, 'latin1');
    const { message } = decodeKrpc(bytes, 1000);
    const r = message as KrpcResponse;
    expect(r.values!.map((p) => [p.ip, p.port])).toEqual([
      ['127.0.0.1', 6881],
      ['10.0.0.2', 6882],
    ]);
    const at = bytes.indexOf(Buffer.from([0x7f, 0, 0, 1]));
    expect([r.values![0]!.start, r.values![0]!.end]).toEqual([1000 + at, 1000 + at + 6]);
    expect(krpcSummary(r)).toContain('peers=2 [127.0.0.1:6881 10.0.0.2:6882]');
  });

  it('find_node response with compact nodes; the frame splits them out', () => {
    const node = Buffer.concat([Buffer.from(HASH), Buffer.from([192, 168, 0, 1, 0x1a, 0xe1])]);
    const bytes = Buffer.concat([Buffer.from(`d1:rd2:id20:${ID}5:nodes52:`), node, node, Buffer.from('e1:t2:aa1:y1:re')]);
    const decoded = decodeKrpc(bytes);
    const r = decoded.message as KrpcResponse;
    expect(r.nodes!.map((n) => `${Buffer.from(n.id)}@${n.ip}:${n.port}`)).toEqual([`${HASH}@192.168.0.1:6881`, `${HASH}@192.168.0.1:6881`]);
    const frame = krpcFrame(bytes, 0, decoded);
    const nodeFields = [...walkFields(frame.fields)].filter((x) => x.field.id === 'dht.node');
    expect(nodeFields.map((x) => [x.field.span.start, x.field.span.end])).toEqual([
      [r.nodes![0]!.start, r.nodes![0]!.start + 26],
      [r.nodes![1]!.start, r.nodes![1]!.start + 26],
    ]);
    expect(renderHexFrame(frame, { width: 120 })).toContain('node 0 = 6d6e6f70…@192.168.0.1:6881');
  });

  it('error message', () => {
    const { message } = decodeKrpc(enc('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee'));
    expect(message).toMatchObject({ y: 'e', code: 201, message: 'A Generic Error Ocurred' });
    expect(krpcSummary(message)).toBe('error t=6161 code=201 (Generic Error) "A Generic Error Ocurred"');
  });

  it('an unknown y is shown, not fatal', () => {
    expect(decodeKrpc(enc('d1:t2:aa1:y1:ze')).message).toMatchObject({ y: 'unknown', kind: 'z' });
  });

  it.each([
    ['not a dict', 'l1:ae', 'not_bencode', 100],
    ['no t', 'd1:y1:qe', 'missing_field', 100],
    ['no y', 'd1:t2:aae', 'missing_field', 100],
    ['truncated', 'd1:t2:aa1:y1:', 'unexpected_eof', 111],
  ])('%s: DecodeError %s', (_n, input, code, offset) => {
    expect(errorOf(input)).toEqual({ code, offset });
  });

  it('soft problems are diagnostics: short node id, nodes not a multiple of 26', () => {
    const { diagnostics } = decodeKrpc(enc('d1:rd2:id3:abc5:nodes5:xxxxxe1:t2:aa1:y1:re'));
    expect(diagnostics.map((d) => d.code).sort()).toEqual(['bad_length', 'bad_length']);
  });

  it('compact codecs: 26/38-byte nodes, 6/18-byte peers', () => {
    expect(decodeCompactNodes(new Uint8Array(38), 0, true)[0]!.ip).toBe('::');
    expect(decodeCompactPeer(new Uint8Array([1, 2, 3, 4, 0, 80]), 5)).toEqual({ ip: '1.2.3.4', port: 80, start: 5, end: 11 });
    expect(() => decodeCompactPeer(new Uint8Array(7), 0)).toThrow(DecodeError);
  });

  it('random bytes: only DecodeErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const input = new Uint8Array([0x64, ...b]);
        try {
          decodeKrpc(input);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
