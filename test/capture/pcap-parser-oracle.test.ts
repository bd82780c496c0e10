import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import * as pcapParser from 'pcap-parser';
import type { PcapPacket } from 'pcap-parser';
import { readCaptureBytes, detectCaptureFormat } from '../../lib/capture/format.js';
import type { CapturedPacket } from '../../lib/capture/packet.js';

/**
 * Our classic-pcap reader replaced the pcap-parser package on the hot path (it
 * was most of a real trace's time; see lib/capture/pcap.ts). pcap-parser stays
 * as the oracle: on every classic pcap we have, both must see the same records,
 * byte for byte, with the same timestamps and lengths.
 */
const root = resolve(import.meta.dirname, '..', '..');
const realworld = resolve(root, '..', 'shared', 'captures', 'realworld');
const candidates = [
  ...readdirSync(join(root, 'captures')).map((f) => join(root, 'captures', f)),
  ...(existsSync(realworld) ? readdirSync(realworld).map((f) => join(realworld, f)) : []),
].filter((f) => /\.pcap$/.test(f) && detectCaptureFormat(readFileSync(f).subarray(0, 4)) !== 'pcapng');

if (!existsSync(realworld)) process.stderr.write(`\n*** ${realworld} missing: the oracle runs on captures/ only ***\n`);

function viaPcapParser(file: string): Promise<PcapPacket[]> {
  return new Promise((res, rej) => {
    const out: PcapPacket[] = [];
    const parser = pcapParser.parse(createReadStream(file));
    parser.on('packet', (p: PcapPacket) => out.push({ header: { ...p.header }, data: Buffer.from(p.data) }));
    parser.on('end', () => res(out));
    parser.on('error', rej);
  });
}

describe('classic pcap: our reader agrees with pcap-parser', () => {
  it('has captures to compare', () => {
    expect(candidates.length).toBeGreaterThanOrEqual(2);
  });

  it.each(candidates.map((f) => [f.split('/').slice(-2).join('/'), f]))('%s', async (_name, file) => {
    const expected = await viaPcapParser(file);
    const ours: CapturedPacket[] = [];
    readCaptureBytes(new Uint8Array(readFileSync(file)), (p) => ours.push({ ...p, data: p.data.slice() }));
    expect(ours.length).toBe(expected.length);
    expect(ours.length).toBeGreaterThan(0);
    ours.forEach((p, i) => {
      const e = expected[i]!;
      expect(p.number).toBe(i + 1);
      expect(p.originalLength).toBe(e.header.originalLength);
      expect(p.data.length).toBe(e.header.capturedLength);
      expect(Math.round(p.time * 1e6)).toBe(e.header.timestampSeconds * 1e6 + e.header.timestampMicroseconds);
      expect(Buffer.from(p.data).equals(e.data)).toBe(true);
    });
  });
});
