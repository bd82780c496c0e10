import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { readCaptureBytes, detectCaptureFormat, createCaptureReader } from '../../lib/capture/format.js';
import type { CapturedPacket } from '../../lib/capture/packet.js';
import { DecodeError } from '../../lib/core/errors.js';
import { pcapFile, pcapngFile, tcpPacket, bytes, concat } from './build.js';

const REALWORLD = new URL('../../../shared/captures/realworld/', import.meta.url).pathname;

function readAll(file: Uint8Array, chunking?: (n: number) => number[]): { packets: CapturedPacket[]; diagnostics: string[] } {
  const packets: CapturedPacket[] = [];
  const reader = createCaptureReader(file, (p) => packets.push({ ...p, data: p.data.slice() }));
  if (!chunking) reader.push(file);
  else {
    let at = 0;
    for (const n of chunking(file.length)) {
      reader.push(file.subarray(at, at + n));
      at += n;
    }
  }
  reader.end();
  return { packets, diagnostics: reader.diagnostics.map((d) => d.code) };
}

function errorOf(f: () => unknown): { code: string; offset: number } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return { code: (e as DecodeError).code, offset: (e as DecodeError).offset };
  }
  throw new Error('expected a DecodeError');
}

const p1 = tcpPacket({ seq: 1, payload: bytes('hello') });
const p2 = tcpPacket({ seq: 6, payload: bytes('world!') });
const records = [
  { time: 1700000000.25, data: p1 },
  { time: 1700000001.5, data: p2 },
];

describe('capture format by magic, not by name', () => {
  it.each([
    ['d4c3b2a1', 'pcap'],
    ['a1b2c3d4', 'pcap'],
    ['4d3cb2a1', 'pcap-ns'],
    ['0a0d0d0a', 'pcapng'],
  ])('%s is %s', (hex, format) => {
    expect(detectCaptureFormat(Buffer.from(hex + '00000000', 'hex'))).toBe(format);
  });
  it('anything else is bad_magic at 0', () => {
    expect(errorOf(() => detectCaptureFormat(bytes('GIF89a')))).toEqual({ code: 'bad_magic', offset: 0 });
  });
});

describe('classic pcap (our streaming reader)', () => {
  it.each([
    ['little-endian', {}],
    ['big-endian', { bigEndian: true }],
    ['nanosecond', { nanos: true }],
  ])('%s: packets, times, offsets', (_n, opts) => {
    const file = pcapFile(1, records, opts);
    const { packets, diagnostics } = readAll(file);
    expect(packets.map((p) => p.number)).toEqual([1, 2]);
    expect(packets[0]!.time).toBeCloseTo(1700000000.25, 5);
    expect(packets[1]!.time).toBeCloseTo(1700000001.5, 5);
    expect(packets[0]!.data).toEqual(p1);
    expect(packets[0]!.fileOffset).toBe(24 + 16);
    expect(packets[1]!.fileOffset).toBe(24 + 16 + p1.length + 16);
    expect(file.subarray(packets[1]!.fileOffset, packets[1]!.fileOffset + p2.length)).toEqual(p2);
    expect(diagnostics).toEqual([]);
  });

  it('any chunking gives the same packets (one byte at a time)', () => {
    const file = pcapFile(1, records);
    const one = readAll(file, (n) => Array(n).fill(1));
    expect(one.packets.map((p) => p.data)).toEqual([p1, p2]);
  });

  it('timestamps going back are a diagnostic, not an error', () => {
    const { packets, diagnostics } = readAll(pcapFile(1, [records[1]!, records[0]!]));
    expect(packets).toHaveLength(2);
    expect(diagnostics).toEqual(['time_backwards']);
  });

  it('a file cut inside a record: the whole records, then truncated_record', () => {
    const file = pcapFile(1, records);
    const { packets, diagnostics } = readAll(file.subarray(0, file.length - 3));
    expect(packets).toHaveLength(1);
    expect(diagnostics).toEqual(['truncated_record']);
  });

  it('a record claiming 4 GiB is limit_exceeded at its length field, at once', () => {
    const file = pcapFile(1, records);
    new DataView(file.buffer).setUint32(24 + 8, 0xfffffff0, true);
    expect(errorOf(() => readCaptureBytes(file, () => {}))).toEqual({ code: 'limit_exceeded', offset: 32 });
  });
});

describe('pcapng (our streaming reader)', () => {
  it.each([
    ['little-endian', false],
    ['big-endian', true],
  ])('%s: enhanced packet blocks', (_n, bigEndian) => {
    const file = pcapngFile([{ linkType: 1 }], records, { bigEndian });
    const { packets } = readAll(file);
    expect(packets.map((p) => p.data)).toEqual([p1, p2]);
    expect(packets[1]!.time).toBeCloseTo(1700000001.5, 5);
    expect(file.subarray(packets[0]!.fileOffset, packets[0]!.fileOffset + p1.length)).toEqual(p1);
  });

  it('several interfaces with their own link types and timestamp resolutions', () => {
    const raw = p1.subarray(14); // the IPv4 packet without Ethernet
    const file = pcapngFile(
      [{ linkType: 1 }, { linkType: 101, tsresol: 9 }],
      [
        { time: 1700000000.25, data: p1, interfaceId: 0 },
        { time: 1700000000.75, data: raw, interfaceId: 1 },
      ],
    );
    const { packets } = readAll(file);
    expect(packets.map((p) => [p.interfaceId, p.linkType])).toEqual([
      [0, 1],
      [1, 101],
    ]);
    expect(packets[1]!.time).toBeCloseTo(1700000000.75, 6);
  });

  it('simple packet blocks', () => {
    const { packets } = readAll(pcapngFile([{ linkType: 1 }], records, { simple: true }));
    expect(packets.map((p) => p.data)).toEqual([p1, p2]);
  });

  it('any chunking gives the same packets', () => {
    const file = pcapngFile([{ linkType: 1 }], records);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 50 }), (sizes) => {
        const got = readAll(file, (n) => {
          const out: number[] = [];
          let left = n;
          for (let i = 0; left > 0; i++) {
            const s = Math.min(left, sizes[i % sizes.length]!);
            out.push(s);
            left -= s;
          }
          return out;
        });
        expect(got.packets.map((p) => p.data)).toEqual([p1, p2]);
      }),
      { numRuns: 100 },
    );
  });

  it('bad byte-order magic, bad block length, cut file', () => {
    const file = pcapngFile([{ linkType: 1 }], records);
    const badMagic = file.slice();
    badMagic[8] = 0;
    expect(errorOf(() => readCaptureBytes(badMagic, () => {}))).toEqual({ code: 'bad_magic', offset: 8 });
    const badLen = file.slice();
    new DataView(badLen.buffer).setUint32(28 + 4, 13, true); // the IDB's length
    expect(errorOf(() => readCaptureBytes(badLen, () => {}))).toEqual({ code: 'bad_length', offset: 32 });
    const { packets, diagnostics } = readAll(file.subarray(0, file.length - 5));
    expect(packets).toHaveLength(1);
    expect(diagnostics).toEqual(['truncated_block']);
  });

  it('random garbage never crashes: a DecodeError or diagnostics', () => {
    const file = pcapngFile([{ linkType: 1 }], records);
    const pcap = pcapFile(1, records);
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), (ng, flips, cut) => {
        const f = (ng ? file : pcap).slice(0, Math.max(4, (ng ? file : pcap).length - (cut % 50)));
        for (const [at, v] of flips) f[at % f.length] = v;
        try {
          readCaptureBytes(concat([f]), () => {}, { maxRecordLength: 1 << 20 });
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe.skipIf(!existsSync(REALWORLD))('real-world captures: packet counts equal tshark', () => {
  if (!existsSync(REALWORLD)) process.stderr.write(`\n*** ${REALWORLD} absent: real-world capture tests SKIPPED ***\n`);
  const files = existsSync(REALWORLD)
    ? ['360bs_a.pcap', 'incc_torrent-dht.pcap', 'ndpi_bittorrent.pcap', 'ndpi_bittorrent_utp.pcap', 'ndpi_bittorrent_tcp_miss.pcapng', 'mippo.pcap']
    : [];
  it.each(files)('%s', (name) => {
    const file = new Uint8Array(readFileSync(REALWORLD + name));
    const { packets } = readAll(file);
    let expected: number;
    try {
      expected = execFileSync('tshark', ['-r', REALWORLD + name, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n').length;
    } catch {
      expected = -1;
    }
    if (expected >= 0) expect(packets.length).toBe(expected);
    else expect(packets.length).toBeGreaterThan(0);
  });
});
