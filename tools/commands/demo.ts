import type { Argv } from 'yargs';
import { mkdtemp, mkdir, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { formatBytes, toHex } from '../../lib/core/bytes.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { startTracker } from '../../lib/tracker/server/index.js';
import { makeTorrent } from '../../lib/metainfo/make.js';
import { demoContent } from '../demo-data.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { download } from '../../lib/engine/downloader.js';
import { renderProgress } from '../progress.js';
import { foldText, hexOptions, ioOf } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { summaryText, trackerAnnounce } from '../shared.js';

export const command = 'demo';
export const describe = 'The whole toolkit on loopback, no internet: our tracker + our seeder, a download with its frames shown, verified';

export function builder(y: Argv) {
  return y
    .option('size', { type: 'number', default: 16, describe: 'MiB of demo data' })
    .option('frames-limit', { type: 'number', default: 9, describe: 'Frames shown (the first of each message type)' })
    .option('keep', { type: 'boolean', default: false, describe: 'Keep the temporary folder (its path is printed)' });
}

interface Args {
  size: number;
  'frames-limit': number;
  keep: boolean;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  // Prose folded to a terminal's width; frames are fitted by the hex renderer (hexOptions).
  const say = (text: string): void => io.out(foldText(text, io.columns));
  const started = performance.now();
  const root = await mkdtemp(path.join(tmpdir(), 'btscope-demo-'));
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, interval: 60 });
  let seeder: Awaited<ReturnType<typeof startSeeder>> | undefined;
  try {
    // 1. Data and a torrent made by our own encoder, announcing to our own tracker.
    const name = 'btscope-demo';
    const files = demoContent(argv.size);
    const seedDir = path.join(root, 'seed');
    for (const f of files) {
      const p = path.join(seedDir, name, ...f.path);
      await mkdir(path.dirname(p), { recursive: true });
      await writeFile(p, f.data);
    }
    const { bytes } = makeTorrent({ name, pieceLength: 256 * 1024, files, announce: tracker.url, createdBy: 'btscope demo', creationDate: 1700000000 });
    const torrentPath = path.join(root, `${name}.torrent`);
    await writeFile(torrentPath, bytes);
    const torrent = parseTorrent(bytes);
    say(`btscope demo: everything on loopback, nothing leaves this machine\n`);
    say(`torrent  ${name}: ${files.length} files, ${formatBytes(torrent.length)}, ${torrent.pieceCount} pieces of ${formatBytes(torrent.pieceLength)}`);
    say(`         info-hash ${toHex(torrent.infoHash!)} (SHA-1 of the raw info dict)`);
    say(`tracker  ${tracker.url} (btscope's own BEP 3/15 tracker)`);

    // 2. Our seeder checks the data and announces itself to the tracker.
    seeder = await startSeeder({ torrent, dir: seedDir, trackers: torrent.trackers, announce: trackerAnnounce });
    say(`seeder   127.0.0.1:${seeder.port} (btscope seed: ${seeder.swarm.picker.piecesHave}/${torrent.pieceCount} pieces verified)\n`);

    // 3. The download: peers from the tracker; the first frame of each message type shown hex-annotated.
    const seen = new Set<string>();
    let shown = 0;
    const outDir = path.join(root, 'download');
    say(`download → ${outDir}${argv.keep ? '' : ' (a temporary folder, removed at the end; --keep keeps it)'}; the first frame of each kind, as it crossed the wire:\n`);
    const progress = io.errIsTTY;
    const summary = await download({
      torrent,
      outDir,
      trackers: torrent.trackers,
      announce: trackerAnnounce,
      stallTimeoutMs: 20_000,
      onFrame: (f, dir, peer) => {
        const key = `${dir} ${f.title.split(' ')[0]}`;
        if (seen.has(key) || shown >= argv['frames-limit']) return;
        seen.add(key);
        shown++;
        io.out(renderHexFrame({ ...f, title: `${dir === 'out' ? '→ to' : '← from'} ${peer}: ${f.title}` }, hexOptions(io)));
      },
      ...(progress ? { onProgress: (p) => process.stderr.write(`\r${renderProgress(p, process.stderr.columns || 80)}`) } : {}),
    });
    if (progress) process.stderr.write('\n');
    say(summaryText(summary, outDir));

    // 4. Verify independently of the piece hashes: every file byte for byte.
    let same = 0;
    for (const f of files) {
      const got = await readFile(path.join(outDir, name, ...f.path));
      if (Buffer.from(got).equals(Buffer.from(f.data))) same++;
      else say(`  MISMATCH: ${f.path.join('/')}`);
    }
    const swarm = tracker.swarms;
    void swarm;
    say(`verified ${same}/${files.length} files byte for byte against the generated data; every piece passed SHA-1`);
    say(`done in ${((performance.now() - started) / 1000).toFixed(2)} s. Next: btscope torrent ${argv.keep ? torrentPath : 'FILE.torrent'}, btscope download --help`);
    return same === files.length ? EXIT.ok : EXIT.failure;
  } finally {
    await seeder?.close();
    await tracker.close();
    if (argv.keep) io.err(`kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}
