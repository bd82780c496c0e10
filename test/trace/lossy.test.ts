import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { havePeers } from '../helpers/peers.js';
import { tsharkCounts } from '../interop/trace-util.js';
import { dropSegments } from './lossy.js';

const CAPTURES = new URL('../../captures/', import.meta.url).pathname;
const REALWORLD = new URL('../../../shared/captures/realworld/', import.meta.url).pathname;
/** A bigger lab capture (e.g. bench/trace.ts's), when one is at hand: BTSCOPE_LAB_CAPTURE=file.pcap. */
const LAB = process.env['BTSCOPE_LAB_CAPTURE'];

const sources = [join(CAPTURES, 'libtorrent-magnet.pcap'), join(REALWORLD, 'mippo.pcap'), join(REALWORLD, '360bs_a.pcap'), ...(LAB ? [LAB] : [])].filter((f) => existsSync(f));
if (sources.length < 3) process.stderr.write(`\n*** lossy captures: only ${sources.length} source captures found ***\n`);

interface PeerEvent {
  stream: number;
  direction: string;
  type: string;
  offset: number;
  end: number;
  fields: unknown;
  src: string;
  dst: string;
}

/** Peer wire messages btscope finds in a capture, as keys that name each one exactly. */
async function peerMessages(file: string): Promise<PeerEvent[]> {
  const io = captureIo();
  const code = await handler({ capture: file, json: true, frames: false, summary: false, io });
  if (code !== 0) throw new Error(`trace ${file}: exit ${code}: ${io.stderr.join('\n')}`);
  return io.stdout
    .join('\n')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PeerEvent & { protocol: string })
    .filter((e) => e.protocol === 'peer' && e.type !== 'undecoded' && e.type !== 'malformed');
}

/**
 * A message named by where it is and what it says. An extended message's `name` comes from the
 * extended handshake, which a loss may take: the same message then has no name.
 */
const key = (e: PeerEvent): string => {
  const { name: _n, ...fields } = e.fields as Record<string, unknown>;
  return `${e.src}>${e.dst} ${e.offset}-${e.end} ${e.type} ${JSON.stringify(fields)}`;
};

function countTypes(events: PeerEvent[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const e of events) c[e.type] = (c[e.type] ?? 0) + 1;
  return c;
}

const losses: Array<[string, { rate: number; burst?: number }]> = [
  ['1 %', { rate: 0.01 }],
  ['5 %', { rate: 0.05 }],
  ['20 %', { rate: 0.2 }],
  ['5 % in bursts of 4', { rate: 0.05, burst: 4 }],
  ['20 % in bursts of 3', { rate: 0.2, burst: 3 }],
];
const SEEDS = [1, 2, 3];

describe.skipIf(sources.length === 0)('lossy captures made from lossless ones: recovered messages are a subset of the truth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btscope-lossy-'));
  const tshark = havePeers('tshark');
  for (const src of sources) {
    const name = src.split('/').pop()!;
    describe(name, () => {
      let truth: Set<string>;
      let truthCounts: Record<string, number>;
      let ports: number[];
      it.each(losses.flatMap(([label, l]) => SEEDS.map((seed) => [label, seed, l] as const)))('%s, seed %i', async (label, seed, loss) => {
        if (!truth) {
          const t = await peerMessages(src);
          truth = new Set(t.map(key));
          truthCounts = countTypes(t);
          ports = [...new Set(t.map((e) => Number(e.dst.split(':').pop())).concat(t.map((e) => Number(e.src.split(':').pop()))))];
        }
        const lossy = dropSegments(new Uint8Array(readFileSync(src)), { ...loss, seed });
        const file = join(dir, `${name}-${label.replace(/\W+/g, '_')}-${seed}.pcap`);
        writeFileSync(file, lossy.file);
        const got = await peerMessages(file);
        const invented = got.filter((e) => !truth.has(key(e))).map(key);
        expect(invented, `messages not in the lossless original (${lossy.dropped}/${lossy.segments} segments dropped)`).toEqual([]);
        if (tshark) {
          // tshark can frame bytes of a block as messages after a gap (runs of zeros as keep-alives):
          // what it finds beyond the truth is not a bar to reach.
          const theirs = await tsharkCounts(file, ports.map((p) => `tcp.port==${p},bittorrent`));
          const ours = countTypes(got);
          for (const [type, n] of Object.entries(theirs)) {
            expect(ours[type] ?? 0, `${type}: tshark ${n}, truth ${truthCounts[type] ?? 0}`).toBeGreaterThanOrEqual(Math.min(n, truthCounts[type] ?? 0));
          }
        }
        rmSync(file);
      });
    });
  }
});
