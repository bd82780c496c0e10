/**
 * Bencode decoding side by side with the `bencode` npm package, in one run:
 * a 100 000-file torrent and a 100 000-piece torrent, built in memory.
 * Run: npx tsc -p . && node dist/bench/bencode.js [rounds]
 * btscope is timed twice: decode alone (the flat token array, libtorrent's
 * way), and decode + parseTorrent (every file, offset, safe-path check and both
 * info-hashes), which is more work than the package does.
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

function time(rounds: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(3, rounds); i++) fn(); // warm up the JIT
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / rounds;
}

const rounds = Number(process.argv[2] ?? 20);
const inputs: [string, Uint8Array][] = [
  ['100 000 files', manyFiles(100_000)],
  ['100 000 pieces', manyPieces(100_000)],
];

console.log(`bencode decoding, ${rounds} rounds each (ms per decode, lower is better)`);
console.log('input            size       btscope decode  btscope +parseTorrent  bencode npm  ratio (npm / btscope decode)  ratio (npm / +parse)');
for (const [name, bytes] of inputs) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const ours = time(rounds, () => decode(bytes));
  const oursParse = time(rounds, () => parseTorrent(bytes));
  const theirs = time(rounds, () => bencode.decode(buf));
  console.log(
    `${name.padEnd(16)} ${(bytes.length / 1e6).toFixed(2).padStart(6)} MB  ${ours.toFixed(2).padStart(14)}  ${oursParse.toFixed(2).padStart(21)}  ${theirs.toFixed(2).padStart(11)}  ${(theirs / ours).toFixed(2).padStart(27)}x  ${(theirs / oursParse).toFixed(2).padStart(19)}x`,
  );
}
