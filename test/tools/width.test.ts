import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandList } from '../../tools/commands/index.js';
import { handler as complyTool } from '../../tools/commands/comply.js';
import { handler as demoTool } from '../../tools/commands/demo.js';
import { handler as torrentTool } from '../../tools/commands/torrent.js';
import { encode } from '../../lib/bencode/encode.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { handler as traceTool } from '../../tools/commands/trace.js';
import { handler as trackerTool } from '../../tools/commands/tracker.js';
import { captureIo, fitLine, foldText, visibleWidth } from '../../tools/io.js';
import { breakLongWords, fitWidths } from '../../tools/table.js';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';

/**
 * Issue 14 item 10: on a terminal (a fake TTY io of 80 columns here, or a real pty made by
 * script(1) for help, which yargs prints itself), every line fits 80 columns; piped, lines
 * stay whole. Help runs `node dist/tools/cli.js` (build first: `npx tsc -p .`).
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const CAPTURE = path.join(repoRoot, 'captures/libtorrent-magnet.pcap');
const TTY = 80;

const widest = (text: string): number => Math.max(0, ...text.split('\n').map(visibleWidth));
const tooWide = (text: string): string[] => text.split('\n').filter((l) => visibleWidth(l) > TTY);

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Without $COLUMNS: what the test asserts is the default width, not the caller's.
    const { COLUMNS: _c, ...env } = process.env;
    execFile(cmd, args, { timeout: 20_000, maxBuffer: 1 << 24, env }, (e, stdout) => (e && !stdout ? reject(e) : resolve(stdout.replace(/\r/g, ''))));
  });
}

/** `btscope ARGS --help` on a pty of 80 columns (script(1)), as a user at a terminal sees it. */
const helpOnTty = (tool: string): Promise<string> => run('script', ['-qec', `stty cols ${TTY}; node ${CLI} ${tool} --help`, '/dev/null']);

describe('help fits the terminal', () => {
  it.each(['', ...commandList.map(([name]) => name)])('btscope %s --help: no line over 80 columns on an 80-column TTY', async (tool) => {
    const text = await helpOnTty(tool);
    expect(text).toMatch(/--help/);
    expect(tooWide(text)).toEqual([]);
  });

  it.each(['', ...commandList.map(([name]) => name)])('piped, btscope %s --help is wrapped at 80 columns too (help is prose; $COLUMNS widens it)', async (tool) => {
    const text = await run('node', [CLI, ...(tool ? [tool] : []), '--help']);
    expect(text).toMatch(/--help/);
    expect(tooWide(text)).toEqual([]);
  });
});

describe('tables fit the terminal, folded at word boundaries', () => {
  it('comply --list: within 80 columns on a TTY, unchanged when piped', async () => {
    const tty = captureIo({ columns: TTY });
    await complyTool({ list: true, json: false, io: tty } as never);
    expect(tooWide(tty.text())).toEqual([]);
    const piped = captureIo();
    await complyTool({ list: true, json: false, io: piped } as never);
    expect(widest(piped.text())).toBeGreaterThan(TTY);
    // Folding keeps every word of the rules whole: the words of both are the same.
    const words = (t: string) => t.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ').split(/\s+/).filter(Boolean).sort();
    expect(words(tty.text())).toEqual(words(piped.text()));
  });

  describe('tracker', () => {
    let tracker: RunningTracker;
    beforeAll(async () => {
      tracker = await startTracker({ interval: 300 });
    });
    afterAll(async () => {
      await tracker?.close();
    });
    const probe = async (columns?: number): Promise<string> => {
      const io = captureIo({ columns });
      const base = { scrape: false, port: 6881, timeout: 3, json: false, frames: false, 'show-secrets': false, 'show-peers': 50 };
      await trackerTool({ ...base, target: 'ab'.repeat(20), tracker: [tracker.url, 'udp://127.0.0.1:9/announce'], io } as never);
      return io.text();
    };
    it('the table is within 80 columns on a TTY, and no word is cut', async () => {
      const text = await probe(TTY);
      expect(tooWide(text)).toEqual([]);
      // Nine columns do not fit 80 with whole words: one record a tracker, every word whole.
      expect(text).toMatch(/^status +failed$/m);
      expect(text).toMatch(/^error +refused: connection refused by 127\.0\.0\.1$/m);
    });
    it('piped, the table keeps its full width', async () => {
      expect(widest(await probe())).toBeGreaterThan(TTY);
    });
  });

  it('fitWidths: the widest column gives way first, not below its longest word while others can', () => {
    expect(fitWidths([10, 40, 30], [6, 12, 8], 60)).toEqual([10, 25, 25]);
    expect(fitWidths([10, 40, 30], [6, 30, 8], 50)).toEqual([10, 30, 10]);
    expect(fitWidths([5, 5], [5, 5], 100)).toEqual([5, 5]);
  });

  it('breakLongWords: a path wider than its column breaks after a / (else anywhere), not cut with …', () => {
    expect(breakLongWords('aaaa/bbbb/cc short', 10)).toBe('aaaa/bbbb/\ncc short');
    expect(breakLongWords('abcdefghijkl', 5)).toBe('abcde\nfghij\nkl');
    expect(breakLongWords('fits', 10)).toBe('fits');
  });
});

describe('trace fits the terminal unless --wide', () => {
  const trace = async (args: Record<string, unknown>, columns?: number): Promise<string> => {
    const io = captureIo({ columns });
    await traceTool({ capture: CAPTURE, json: false, frames: false, summary: false, wide: false, io, ...args } as never);
    return io.text();
  };

  it('trace lines: cut to 80 columns with … on a TTY; whole with --wide and when piped', async () => {
    const piped = await trace({});
    expect(widest(piped)).toBeGreaterThan(TTY);
    const tty = await trace({}, TTY);
    expect(tooWide(tty)).toEqual([]);
    const pipedLines = piped.split('\n');
    tty.split('\n').forEach((l, i) => expect(l).toBe(fitLine(pipedLines[i]!, TTY)));
    expect(tty).toMatch(/…$/m);
    expect(await trace({ wide: true }, TTY)).toBe(piped);
  });

  it('trace --summary: the tables are within 80 columns on a TTY, unchanged when piped', async () => {
    const piped = await trace({ summary: true });
    expect(widest(piped)).toBeGreaterThan(TTY);
    const tty = await trace({ summary: true }, TTY);
    expect(tooWide(tty)).toEqual([]);
    // The nine-column streams table cannot fit 80 columns with whole words: one record a stream.
    expect(tty).toMatch(/^endpoints \(initiator → other\) +127\.0\.0\.1:\d+\n +→ 127\.0\.0\.1:\d+$/m);
    expect(tty).toMatch(/^extensions +extended, fast, dht,/m);
    // The two-column one still is a table.
    expect(tty).toMatch(/│ message type │ count │/);
    expect(await trace({ summary: true, wide: true }, TTY)).toBe(piped);
  });

  it('trace --frames: headings and rows within 80 columns on a TTY', async () => {
    const tty = await trace({ frames: true, type: ['handshake', 'extended'] }, TTY);
    expect(tty).toMatch(/── /);
    expect(tooWide(tty)).toEqual([]);
  });
});

describe('the demo fits the terminal', () => {
  const demo = async (columns?: number): Promise<string> => {
    const io = captureIo({ columns });
    expect(await demoTool({ size: 1, 'frames-limit': 9, keep: false, io } as never)).toBe(0);
    return io.text();
  };
  it('frame headings folded and prose folded to 80 columns on a TTY; whole lines when piped', async () => {
    const tty = await demo(TTY);
    expect(tty).toMatch(/^── → to 127\.0\.0\.1:\d+: handshake/m);
    expect(tooWide(tty)).toEqual([]);
    const piped = await demo();
    expect(piped).toMatch(/^── → to 127\.0\.0\.1:\d+: handshake .*\(68 bytes at 0\) ──$/m);
    expect(widest(piped)).toBeGreaterThan(TTY);
  }, 30_000);

  it('foldText: at spaces, keeping the indent; untouched when not a TTY', () => {
    expect(foldText('         info-hash abc (SHA-1 of the raw info dict)', 30)).toBe('         info-hash abc (SHA-1\n         of the raw info dict)');
    expect(foldText('a '.repeat(100), undefined)).toBe('a '.repeat(100));
  });
});

describe('torrent fits the terminal', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'btscope-width-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'long.torrent');
  const long = 'a-rather-long-folder-name-for-a-season-of-something';
  writeFileSync(
    file,
    encode({
      announce: 'http://tracker.example.invalid:6969/announce',
      'announce-list': [['http://tracker.example.invalid:6969/announce', 'udp://another-tracker.example.invalid:1337/announce', 'udp://third.example.invalid:80/announce']],
      comment: 'a comment long enough to need folding on an eighty-column terminal, as some are',
      info: {
        name: long,
        'piece length': 16384,
        pieces: new Uint8Array(40),
        files: [
          { length: 20000, path: [long, 'episode 01 - the one where the file name alone is wider than eighty columns.mkv'] },
          { length: 3, path: ['notes.txt'] },
        ],
      },
    }),
  );
  const show = async (columns?: number): Promise<string> => {
    const io = captureIo({ columns });
    expect(await torrentTool({ file, json: false, frames: false, magnet: false, 'max-files': 100, io } as never)).toBe(0);
    return io.text();
  };
  it('the summary and its file table within 80 columns on a TTY; whole lines when piped', async () => {
    const tty = await show(TTY);
    expect(tooWide(tty)).toEqual([]);
    expect(tty).toContain('notes.txt');
    expect(widest(await show())).toBeGreaterThan(TTY);
  });
});
