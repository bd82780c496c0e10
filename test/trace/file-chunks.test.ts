import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileChunks } from '../../tools/commands/trace.js';
import { readCapture, readCaptureBytes } from '../../lib/capture/format.js';
import { Tracer } from '../../lib/trace/engine.js';
import { frameJson, stringifyJson } from '../../lib/render/json.js';
import type { TraceEvent } from '../../lib/trace/types.js';

// The tool reads a capture into a small ring of buffers that are overwritten
// as it goes. Every layer below (capture readers, IP fragments, TCP and uTP
// reassembly, the wire search buffer and framer, the HTTP tracker stream)
// must copy what it keeps past the chunk it came in: a kept view would show
// up here as events or frames that differ from a decode of the whole file in
// one buffer. Frames are rendered inside onEvent, as the tool does.

const REPO_CAPTURES = new URL('../../captures/', import.meta.url).pathname;
const REALWORLD = new URL('../../../shared/captures/realworld/', import.meta.url).pathname;
const captures = [
  join(REPO_CAPTURES, 'libtorrent-utp.pcap'),
  join(REPO_CAPTURES, 'libtorrent-magnet.pcap'),
  ...['ndpi_bittorrent_tcp_miss.pcapng', 'ndpi_bittorrent.pcap', 'ndpi_bt-http.pcapng', 'incc_torrent-dht.pcap', 'zeek_tracker.pcap'].map((n) => join(REALWORLD, n)),
].filter((p) => {
  if (existsSync(p)) return true;
  process.stderr.write(`\n*** ${p} absent: not part of the chunk-reuse test ***\n`);
  return false;
});

function tracer(lines: string[]): Tracer {
  return new Tracer({
    keepPieceBlocks: true,
    onEvent: (e: TraceEvent) => lines.push(stringifyJson({ ...e, frame: frameJson(e.frame()) })),
  });
}

/** Every event (with its rendered frame) and the summary, decoding the file held whole in one fresh buffer. */
function reference(bytes: Uint8Array): { lines: string[]; summary: string } {
  const lines: string[] = [];
  const t = tracer(lines);
  readCaptureBytes(new Uint8Array(bytes), (p) => t.packet(p));
  return { lines, summary: stringifyJson(t.end()) };
}

async function viaChunks(source: AsyncIterable<Uint8Array>): Promise<{ lines: string[]; summary: string }> {
  const lines: string[] = [];
  const t = tracer(lines);
  await readCapture(source, (p) => t.packet(p));
  return { lines, summary: stringifyJson(t.end()) };
}

describe('fileChunks: the tool reads into reused buffers, and nothing keeps a view of them', () => {
  it.each(captures.flatMap((c) => [[basename(c), 61, 2, c], [basename(c), 1500, 4, c], [basename(c), 4096, 3, c], [basename(c), 65536, 4, c]] as const))('%s in %i-byte chunks, ring of %i', async (_name, size, ring, path) => {
    const want = reference(new Uint8Array(await readFile(path)));
    expect(want.lines.length).toBeGreaterThan(0);
    const got = await viaChunks(fileChunks(path, () => false, size, ring));
    expect(got.lines).toEqual(want.lines);
    expect(got.summary).toBe(want.summary);
  });

  it('yields the file exactly, chunk by chunk, each chunk in the buffer the read after next refills', async () => {
    const path = captures[0]!;
    const bytes = new Uint8Array(await readFile(path));
    const seen: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    for await (const c of fileChunks(path, () => false, 1000, 3)) {
      seen.push(c);
      copies.push(c.slice());
    }
    expect(Buffer.concat(copies).equals(Buffer.from(bytes))).toBe(true);
    // Three buffers, no allocation per chunk.
    expect(new Set(seen.map((c) => c.buffer)).size).toBe(3);
  });

  it('stops reading when told (a closed stdout), closing the file with reads in flight', async () => {
    let n = 0;
    for await (const c of fileChunks(captures[0]!, () => n >= 2, 1000, 4)) {
      expect(c.length).toBe(1000);
      n++;
    }
    expect(n).toBe(2);
  });

  describe('a pipe (no positions: one read at a time, in order)', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'btscope-file-chunks-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    it('a FIFO fed by cat decodes as the file does', async () => {
      const path = captures[0]!;
      const fifo = join(dir, 'capture.fifo');
      execFileSync('mkfifo', [fifo]);
      const cat = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', path, fifo], { stdio: 'ignore' });
      try {
        const got = await viaChunks(fileChunks(fifo, () => false, 4096, 4));
        expect(got).toEqual(reference(new Uint8Array(await readFile(path))));
      } finally {
        if (cat.exitCode === null) cat.kill();
      }
    });
  });
});
