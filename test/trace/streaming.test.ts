import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { encodeMessage } from '../../lib/wire/messages.js';
import { ethernet, ipv4, tcp } from '../capture/build.js';

// A capture far larger than every buffer of the reader (1 MiB chunks), the
// framer and the reassembler: 300 MB of MTU-sized packets carrying one peer
// wire stream of piece messages, written to a temp file in pieces (never held
// whole) and decoded by the tool as a user would run it. Peak RSS must stay
// far below the file's size.

const MB = 1_000_000;
const FILE_BYTES = 300 * MB;
const MSS = 1448;
const BLOCK = 16384;
let dir: string;
let file: string;
let pieces = 0;

/** Write the capture: pcap header, then records of one TCP direction, the stream being a handshake and `piece` messages. */
async function writeCapture(path: string): Promise<void> {
  const fh = await open(path, 'w');
  const buf = new Uint8Array(4 << 20);
  let used = 0;
  const flush = async (): Promise<void> => {
    await fh.write(buf, 0, used);
    used = 0;
  };
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, 0xa1b2c3d4, true);
  header.setUint16(4, 2, true);
  header.setUint16(6, 4, true);
  header.setUint32(16, 65535, true);
  header.setUint32(20, 1, true);
  buf.set(new Uint8Array(header.buffer));
  used = 24;
  // The stream, produced as it is needed: a handshake, then pieces of one block each.
  const hs = encodeHandshake({ infoHash: new Uint8Array(20).fill(0x5a), peerId: new TextEncoder().encode('-LT2080-streamingtst') });
  const block = new Uint8Array(BLOCK).map((_, i) => i & 0xff);
  let current = hs;
  let at = 0;
  let seq = 1000;
  let written = 24;
  let time = 1700000000;
  const segment = new Uint8Array(MSS);
  while (written < FILE_BYTES) {
    let n = 0;
    while (n < MSS) {
      if (at === current.length) {
        current = encodeMessage({ type: 'piece', index: pieces >> 4, begin: (pieces & 15) * BLOCK, block });
        pieces++;
        at = 0;
      }
      const k = Math.min(MSS - n, current.length - at);
      segment.set(current.subarray(at, at + k), n);
      n += k;
      at += k;
    }
    const frame = ethernet(ipv4('10.9.0.1', '10.9.0.2', 6, tcp({ srcPort: 51413, dstPort: 6881, seq, flags: 0x18, payload: segment })));
    seq = (seq + MSS) >>> 0;
    time += 0.00001;
    if (used + 16 + frame.length > buf.length) await flush();
    const rh = new DataView(buf.buffer, used, 16);
    rh.setUint32(0, Math.floor(time), true);
    rh.setUint32(4, Math.round((time % 1) * 1e6), true);
    rh.setUint32(8, frame.length, true);
    rh.setUint32(12, frame.length, true);
    buf.set(frame, used + 16);
    used += 16 + frame.length;
    written += 16 + frame.length;
  }
  await flush();
  await fh.close();
  // The last piece message is cut by the end of the capture: it is not counted.
  if (at < current.length) pieces--;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btscope-trace-stream-'));
  file = join(dir, 'big.pcap');
  await writeCapture(file);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a capture larger than the reader buffers, decoded as a stream', () => {
  it('300 MB: every piece counted, peak RSS bounded well below the file size', async () => {
    expect((await stat(file)).size).toBeGreaterThanOrEqual(FILE_BYTES);
    const before = process.memoryUsage().rss;
    const io = captureIo();
    const code = await handler({ capture: file, json: true, frames: false, summary: true, io } as never);
    expect(code).toBe(0);
    const j = JSON.parse(io.stdout.join('\n')) as { streams: number; packets: number; messages: Record<string, number> };
    expect(j.streams).toBe(1);
    expect(j.messages).toEqual({ handshake: 1, piece: pieces });
    expect(pieces).toBeGreaterThan(17_000);
    // maxRSS is the peak of this whole process (KiB): the decode may add at most 100 MB over what was in use before.
    const peak = process.resourceUsage().maxRSS * 1024;
    expect(peak - before).toBeLessThan(100 * MB);
  }, 60_000);
});
