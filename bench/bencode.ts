/**
 * Bencode decoding side by side with the `bencode` npm package, in one run:
 * a 100 000-file torrent and a 100 000-piece torrent, built in memory.
 * Run: npx tsc -p . && node dist/bench/bencode.js [rounds]   (default 21)
 * btscope is timed twice: decode alone (the flat token array, libtorrent's
 * way), and decode + parseTorrent (every file, offset, safe-path and duplicate
 * check; info-hashes are computed when first read), which is more work than the
 * package does.
 */
import bencode from 'bencode';
import { decode } from '../lib/bencode/decode.js';
import { encode } from '../lib/bencode/encode.js';
import { parseTorrent } from '../lib/metainfo/parse.js';

function manyFiles(n: number): Uint8Array {
  const files = [];
  for (let i = 0; i < n; i++) files.push({ length: 1000 + (i % 977), path: [`dir${i % 100}`, `file-${i}.dat`] });
  const total = files.reduce((s, f) => s + f.length, 0);
  const pieceLength = 1 << 20;
  const pieces = new Uint8Array(Math.ceil(total / pieceLength) * 20).fill(7);
  return encode({ announce: 'http://127.0.0.1:6969/announce', info: { name: 'many-files', 'piece length': pieceLength, pieces, files } });
}

function manyPieces(n: number): Uint8Array {
  const pieceLength = 16384;
  const pieces = new Uint8Array(n * 20);
  for (let i = 0; i < pieces.length; i++) pieces[i] = (i * 31) & 0xff;
  return encode({ announce: 'http://127.0.0.1:6969/announce', info: { name: 'many-pieces.bin', 'piece length': pieceLength, length: n * pieceLength, pieces } });
}

/**
 * The machine is shared and noisy, and each decoder's garbage is collected
 * during whichever one runs next: so the three are timed in turns, in
 * BATCHES interleaved batches, and each reports the median of its batch means.
 */
const BATCHES = 7;

function timeInTurns(rounds: number, fns: (() => unknown)[]): number[] {
  for (const fn of fns) for (let i = 0; i < Math.min(3, rounds); i++) fn(); // warm up the JIT
  const perBatch = Math.max(1, Math.round(rounds / BATCHES));
  const samples: number[][] = fns.map(() => []);
  for (let b = 0; b < BATCHES; b++) {
    fns.forEach((fn, k) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perBatch; i++) fn();
      samples[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6 / perBatch);
    });
  }
  return samples.map((v) => v.sort((x, y) => x - y)[v.length >> 1]!);
}

const rounds = Number(process.argv[2] ?? 21);
const inputs: [string, Uint8Array][] = [
  ['100 000 files', manyFiles(100_000)],
  ['100 000 pieces', manyPieces(100_000)],
];

console.log(`bencode decoding, ${rounds} rounds each in ${BATCHES} interleaved batches (median ms per decode, lower is better)`);
console.log('input            size       btscope decode  btscope +parseTorrent  bencode npm  ratio (npm / btscope decode)  ratio (npm / +parse)');
for (const [name, bytes] of inputs) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  // Sub-millisecond inputs get more rounds, so a batch is not one timer tick.
  const n = bytes.length > 3e6 ? rounds : rounds * 50;
  const [ours, oursParse, theirs] = timeInTurns(n, [() => decode(bytes), () => parseTorrent(bytes), () => bencode.decode(buf)]) as [number, number, number];
  console.log(
    `${name.padEnd(16)} ${(bytes.length / 1e6).toFixed(2).padStart(6)} MB  ${ours.toFixed(3).padStart(14)}  ${oursParse.toFixed(3).padStart(21)}  ${theirs.toFixed(3).padStart(11)}  ${(theirs / ours).toFixed(2).padStart(27)}x  ${(theirs / oursParse).toFixed(2).padStart(19)}x`,
  );
}
