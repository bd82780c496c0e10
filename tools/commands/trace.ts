import type { Argv } from 'yargs';
import { open, readFile, stat } from 'node:fs/promises';
import type { renderTable as RenderTable } from '../table.js';
import { readCapture } from '../../lib/capture/format.js';
import { parseKeylog, type MseSecret } from '../../lib/trace/mse-decrypt.js';
import { Tracer } from '../../lib/trace/engine.js';
import type { PieceExtractor } from '../../lib/trace/extract.js';
import type { TraceEvent, TraceSummary } from '../../lib/trace/types.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import type { Storage } from '../../lib/engine/storage.js';
import type { renderHexFrame as RenderHexFrame } from '../../lib/render/hex-frame.js';
import { BtscopeError, UsageError } from '../../lib/core/errors.js';
import { toHex } from '../../lib/core/bytes.js';
import { MESSAGE_SPECS } from '../../lib/wire/message-spec.js';
import { formatBytes } from '../../lib/core/bytes.js';
import { frameJson, stringifyJson, diagnosticJson } from '../../lib/render/json.js';
import { withFrames, withJson } from '../options.js';
import { fitLine, hexOptions, ioOf, processIo, type Io } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { errorJson } from '../errors.js';
import { plural } from '../shared.js';

/** Read size: large enough that a read's fixed cost is nothing, small enough to stay in cache. */
const CHUNK_SIZE = 1 << 20;
/** Buffers in the read ring (reads in flight: one fewer). */
const CHUNK_RING = 4;

export const command = 'trace [capture]';
export const describe = 'Decode a pcap/pcapng capture (or live traffic through a proxy): every peer wire, uTP, tracker, DHT and LSD message';

export function builder(y: Argv) {
  return withFrames(withJson(y))
    .positional('capture', { type: 'string', describe: 'pcap or pcapng file (format found by its magic bytes, not its name); - reads it from stdin as it comes (tcpdump -w - | btscope trace -)' })
    .option('interface', { type: 'string', describe: 'Live capture: run tcpdump -w - on this interface (lo, eth0, any) and trace as packets come; stop with Ctrl-C or --duration' })
    .option('bpf', { type: 'string', describe: 'With --interface: a tcpdump filter, e.g. "port 6881"' })
    .option('keylog', {
      type: 'string',
      describe: 'Decrypt MSE/PE streams with the secrets in this key log (written by download/seed/handshake --keylog; default $BTSCOPE_KEYLOG)',
    })
    .option('summary', { type: 'boolean', default: false, describe: 'Tables: streams (endpoints, peer ids, clients, extensions, bytes, messages), message counts by type, tracker and DHT transactions with round trips' })
    .option('stream', { type: 'number', describe: 'Only this stream (numbers as in the output)' })
    .option('type', { type: 'string', array: true, describe: 'Only these message types (piece, handshake, extended, ut_metadata, ut_pex, dht, get_peers, udp-tracker, http-tracker, lsd, undecoded...); repeatable or comma-separated' })
    .option('peer', { type: 'string', describe: 'Only streams with this endpoint (ip:port, [v6]:port, or an address alone)' })
    .option('extract', { type: 'string', describe: 'Rebuild the pieces carried in the capture into this directory (with --torrent)' })
    .option('torrent', { type: 'string', describe: 'The .torrent whose pieces --extract checks and writes' })
    .option('listen', { type: 'number', describe: 'Live mode: accept clients on this port (127.0.0.1) and forward them to --forward, printing both directions' })
    .option('forward', { type: 'string', describe: 'Live mode: HOST:PORT of the peer to forward to' })
    .option('wide', { type: 'boolean', default: false, describe: 'On a terminal, print each line whole (by default it is cut to the terminal\'s width with …; piped output is always whole)' })
    .option('duration', { type: 'number', describe: 'Live mode and --interface: stop after this many seconds (default: until interrupted)' })
    .check((a) => {
      if (a.listen === undefined && a.interface === undefined && !a.capture) throw new UsageError('give a capture file (- for stdin), --interface IF to capture live with tcpdump, or --listen PORT --forward HOST:PORT for live mode');
      if ([a.capture !== undefined, a.interface !== undefined, a.listen !== undefined].filter(Boolean).length > 1) throw new UsageError('give one of a capture file, --interface IF or --listen PORT');
      if (a.bpf !== undefined && a.interface === undefined) throw new UsageError('--bpf FILTER goes with --interface IF');
      if (a.listen !== undefined && !a.forward) throw new UsageError('--listen needs --forward HOST:PORT');
      if ((a.extract === undefined) !== (a.torrent === undefined)) throw new UsageError('--extract DIR and --torrent FILE go together');
      checkTypes(a.type as string[] | undefined);
      return true;
    })
    .example('$0 trace capture.pcapng', 'one line per message: time, stream, endpoints, message and its key fields')
    .example('$0 trace capture.pcap --summary', 'streams, clients, message counts, tracker/DHT round trips')
    .example('$0 trace capture.pcap --stream 3 --type piece --frames', 'hex-annotated piece messages of stream 3')
    .example('$0 trace capture.pcap --extract out/ --torrent x.torrent', 'rebuild and check the pieces seen')
    .example('$0 trace --interface lo --bpf "port 6881"', 'live: capture with tcpdump and trace as packets come')
    .example('tcpdump -i any -U -w - port 6881 | $0 trace -', 'live: any capture on stdin')
    .example('$0 trace --listen 7000 --forward 127.0.0.1:6881', 'live: point a client at 127.0.0.1:7000')
    .epilogue('--json: one JSON document a line (events, then the summary or the extraction); when the run fails, the last line is {"ok": false, "error": ...}. Exit codes: 0 decoded; 1 --extract found a piece with a wrong hash, or no stream carries the torrent\'s info-hash; 2 usage (a --type or --stream that does not exist); 3 the capture is not pcap/pcapng or is corrupt.');
}

interface Args {
  capture?: string;
  json: boolean;
  frames: boolean;
  summary: boolean;
  stream?: number;
  type?: string[];
  peer?: string;
  extract?: string;
  torrent?: string;
  listen?: number;
  forward?: string;
  duration?: number;
  interface?: string;
  bpf?: string;
  keylog?: string;
  wide?: boolean;
  io?: unknown;
  signal?: AbortSignal;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const out = new LineBuffer(io);
  try {
    return await trace(argv, io, out);
  } catch (e) {
    // --json is a stream of documents, one a line: a failure after some of them is the last line.
    if (argv.json && out.wrote && !out.closed) io.out(JSON.stringify(errorJson(e)));
    throw e;
  }
}

async function trace(argv: Args, io: Io, out: LineBuffer): Promise<number> {
  if (io === processIo) {
    // `btscope trace x.pcap | head`: stop reading when the reader goes away.
    process.stdout.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      out.closed = true;
    });
  }
  const filter = eventFilter(argv);
  let firstTime: number | undefined;
  const wantLines = !argv.summary;
  // What only some modes need is loaded by those modes (start-up is a large part of a short run).
  const hex = wantLines && argv.frames && !argv.json ? (await import('../../lib/render/hex-frame.js')).renderHexFrame : undefined;
  const onEvent = wantLines
    ? (e: TraceEvent): void => {
        firstTime ??= e.time;
        if (!filter(e)) return;
        out.line(formatEvent(e, e.time - firstTime, argv, io, hex));
      }
    : undefined;

  let extractor: PieceExtractor | undefined;
  /** --extract: the info-hashes (hex) a stream of the torrent carries in its handshake. */
  let wantedHashes: string[] = [];
  let writer: PieceWriter | undefined;
  let rangesText: ((xs: number[]) => string) | undefined;
  if (argv.extract !== undefined) {
    const [{ readTorrent }, { readInput }, { safeFilePath }, storage, extract] = await Promise.all([
      import('../shared.js'),
      import('../input.js'),
      import('../../lib/metainfo/safe-path.js'),
      import('../../lib/engine/storage.js'),
      import('../../lib/trace/extract.js'),
    ]);
    rangesText = extract.rangesText;
    const t = readTorrent(await readInput(argv.torrent!), argv.torrent!);
    wantedHashes = [t.infoHash, t.infoHashV2?.subarray(0, 20)].filter((h): h is Uint8Array => h != null).map(toHex);
    // Storage: every path made safe, created below the folder only, never through a symlink on disk.
    writer = new PieceWriter(t, new storage.Storage(storage.torrentStorageFiles(t.files, argv.extract, safeFilePath), { root: argv.extract }));
    extractor = new extract.PieceExtractor(t, (index, data, outcome) => {
      if (outcome === 'ok') writer!.queue(index, data);
    });
  }
  const mseSecrets = await readKeylog(argv.keylog ?? process.env['BTSCOPE_KEYLOG'], io);
  const tracer = new Tracer({
    ...(mseSecrets.length ? { mseSecrets } : {}),
    // Blocks are needed only to show them (--frames) or rebuild pieces (--extract).
    keepPieceBlocks: argv.frames || extractor !== undefined,
    ...(onEvent ? { onEvent } : {}),
    ...(extractor ? { onBlock: (i: number, b: number, block: Uint8Array) => extractor!.block(i, b, block) } : {}),
  });

  if (argv.listen !== undefined) return live(argv, tracer, io, out);

  let source: AsyncIterable<Uint8Array>;
  let path: string;
  let stopCapture = (): void => undefined;
  if (argv.interface !== undefined) {
    const { startTcpdump } = await import('../tcpdump.js');
    const capture = await startTcpdump(argv.interface, argv.bpf, (line) => io.err(line));
    stopCapture = capture.stop;
    source = flushEachChunk(capture.chunks, out);
    path = `interface ${argv.interface}`;
  } else {
    // `-` is stdin (the CLI already turns it into /dev/stdin; a direct call may not).
    path = argv.capture === '-' ? '/dev/stdin' : argv.capture!;
    let regular: boolean;
    try {
      const st = path === '/dev/stdin' ? await fstat0() : await stat(path);
      if (st.isDirectory()) throw new UsageError(`${path}: is a directory`);
      regular = st.isFile();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${path}: no such file`);
      throw e;
    }
    // A pipe (stdin, a fifo) may be a live capture: each line is printed as soon as its chunk is traced.
    // stdin that is a socket (a parent's spawn pipe) cannot be opened by name: it is read as a stream.
    const chunks = regular ? fileChunks(path, () => out.closed) : path === '/dev/stdin' ? streamChunks(process.stdin) : fileChunks(path, () => out.closed);
    source = regular ? chunks : flushEachChunk(chunks, out);
  }
  let reader;
  const until = argv.interface !== undefined ? stopOnDurationOrSignal(argv, stopCapture) : undefined;
  try {
    reader = await readCapture(source, (p) => tracer.packet(p));
  } finally {
    until?.();
    out.flush();
  }
  const summary = tracer.end();
  out.flush();
  for (const d of reader.diagnostics.slice(0, 20)) io.err(`warning: ${d.code} at file offset ${d.span.start}: ${d.message}`);

  if (argv.summary) {
    if (argv.json) io.out(stringifyJson(summaryJson(summary, reader.format)));
    else io.out(summaryTables(await loadTable(), summary, reader.format, io.color, argv.wide ? undefined : io.columns));
  }
  for (const d of summary.diagnostics.slice(0, 20)) if (!argv.json) io.err(`note: ${d.message}`);

  if (argv.stream !== undefined && !summary.streams.some((x) => x.id === argv.stream)) {
    const ids = summary.streams.map((x) => x.id);
    throw new UsageError(`--stream ${argv.stream}: no such stream in ${path} (${ids.length ? `streams ${ids.length > 1 ? `${Math.min(...ids)} to ${Math.max(...ids)}` : ids[0]}` : 'it has no streams'})`);
  }

  if (extractor && writer && rangesText) {
    const refused = await writer.finish();
    const r = extractor.report();
    const carried = summary.streams.filter((x) => x.infoHash !== undefined && wantedHashes.includes(x.infoHash.toLowerCase()));
    if (carried.length === 0 && r.ok.length === 0 && r.bad.length === 0 && r.partial.length === 0) {
      // Nothing of this torrent went by: "0 of N pieces" would read as a failed transfer, not a wrong --torrent.
      const seen = [...new Set(summary.streams.map((x) => x.infoHash).filter((h) => h !== undefined))];
      throw new BtscopeError('info_hash_not_in_capture', `no stream in ${path} carries info-hash ${wantedHashes[0]} of ${argv.torrent}${seen.length ? ` (the capture's streams carry ${seen.slice(0, 3).join(', ')}${seen.length > 3 ? ', …' : ''})` : ''}; nothing extracted`);
    }
    if (argv.json && argv.summary) {
      // already printed the summary; put the extraction on stderr to keep stdout one JSON document
      io.err(stringifyJson({ extract: r }));
    } else if (argv.json) io.out(stringifyJson({ extract: r }));
    else {
      io.out(`extract: ${r.ok.length} of ${r.pieceCount} pieces complete and correct${r.ok.length ? ` (${rangesText(r.ok)})` : ''}; written to ${argv.extract}`);
      if (r.bad.length) io.out(`extract: ${plural(r.bad.length, 'piece')} complete but WRONG hash: ${rangesText(r.bad)}`);
      if (r.partial.length) io.out(`extract: ${plural(r.partial.length, 'piece')} seen in part: ${rangesText(r.partial)}`);
      if (r.strayBlocks) io.out(`extract: ${plural(r.strayBlocks, 'block')} did not fit the torrent (another torrent in the capture?)`);
    }
    // A piece that could not be written (a symlink in the folder, a path outside it): the report stands, the run fails.
    if (refused) throw refused;
    if (r.bad.length) return EXIT.failure;
  }
  return EXIT.ok;
}

async function live(argv: Args, tracer: Tracer, io: Io, out: LineBuffer): Promise<number> {
  const m = /^(.+):(\d+)$/.exec(argv.forward!);
  if (!m) throw new UsageError(`--forward ${argv.forward}: expected HOST:PORT`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const { startTraceProxy } = await import('../../lib/trace/proxy.js');
  const Table = argv.summary && !argv.json ? await loadTable() : undefined;
  // With --torrent, MSE/PE is terminated on both sides (SKEY is its info-hash) and the decrypted stream traced.
  const t = argv.torrent ? (await import('../../lib/metainfo/parse.js')).parseTorrent(new Uint8Array(await readFile(argv.torrent))) : undefined;
  const infoHashes = t ? [t.infoHash, t.infoHashV2?.subarray(0, 20)].filter((h): h is Uint8Array => h != null) : [];
  const proxy = await startTraceProxy(tracer, {
    listenPort: argv.listen!,
    forwardHost: host,
    forwardPort: Number(m[2]),
    ...(infoHashes.length ? { infoHashes } : {}),
    onListening: (port) => io.err(`listening on 127.0.0.1:${port}, forwarding to ${argv.forward}${infoHashes.length ? ' (MSE/PE terminated both ways: decrypted)' : ''}`),
    onClose: (s) => {
      out.flush();
      io.err(`stream ${s.id} closed: ${s.out.bytes} bytes out, ${s.in.bytes} bytes in, ${s.out.messages + s.in.messages} messages`);
    },
    onError: (msg) => io.err(`warning: ${msg}`),
  });
  out.autoFlush = true;
  await new Promise<void>((resolve) => {
    const timer = argv.duration !== undefined ? setTimeout(resolve, argv.duration * 1000) : undefined;
    const stop = (): void => {
      if (timer) clearTimeout(timer);
      resolve();
    };
    argv.signal?.addEventListener('abort', stop, { once: true });
    if (!argv.signal) process.once('SIGINT', stop);
  });
  await proxy.close();
  const summary = tracer.end();
  out.flush();
  if (argv.summary) io.out(Table ? summaryTables(Table, summary, 'live', io.color, argv.wide ? undefined : io.columns) : stringifyJson(summaryJson(summary, 'live')));
  return EXIT.ok;
}

/** stdin's file status (a file, a pipe, a socket, a TTY), without opening it by name. */
async function fstat0(): Promise<import('node:fs').Stats> {
  const { fstat } = await import('node:fs');
  return new Promise((resolve, reject) => fstat(0, (e, st) => (e ? reject(e) : resolve(st))));
}

/** A readable stream's chunks as Uint8Array views (each a fresh buffer, so kept views stay valid). */
async function* streamChunks(stream: NodeJS.ReadableStream): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
}

/** Lines out after each chunk is traced (a live source: lines as they happen, still batched per chunk). */
async function* flushEachChunk(chunks: AsyncIterable<Uint8Array>, out: LineBuffer): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    yield chunk;
    out.flush();
    if (out.closed) return;
  }
}

/** Calls `stop` after --duration, on Ctrl-C, or when argv.signal aborts; the returned function undoes that. */
function stopOnDurationOrSignal(argv: Args, stop: () => void): () => void {
  const timer = argv.duration !== undefined ? setTimeout(stop, argv.duration * 1000) : undefined;
  argv.signal?.addEventListener('abort', stop, { once: true });
  if (!argv.signal) process.once('SIGINT', stop);
  return () => {
    if (timer) clearTimeout(timer);
    argv.signal?.removeEventListener('abort', stop);
    process.removeListener('SIGINT', stop);
  };
}

/**
 * The capture file in chunks read into a ring of buffers: while one chunk is
 * parsed, the reads of the next ones are already under way on libuv's thread
 * pool (several in flight, at explicit positions, for a regular file; one for
 * a pipe), and no memory is allocated per chunk (fresh buffers cost page
 * faults, zeroing and GC: half the read time). A chunk is only valid until
 * the next one is asked for, which is the capture readers' contract: they
 * parse a chunk synchronously and keep no view of it (a record split across
 * chunks is copied; the reassemblers copy what they hold). Chunks are plain
 * Uint8Array views (Buffer's own subarray is several times slower per packet).
 */
export async function* fileChunks(path: string, stop: () => boolean = () => false, size = CHUNK_SIZE, ring = CHUNK_RING): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  // Positions are only meaningful for a regular file; a pipe is read in order, one read at a time.
  const regular = (await fh.stat()).isFile();
  const buffers = Array.from({ length: regular ? Math.max(2, ring) : 2 }, () => new Uint8Array(size));
  let position = 0;
  const read = async (buf: Uint8Array): Promise<Uint8Array> => {
    const at = position;
    position += size;
    // A short read only at the end of the file (or of what a pipe has so far): fill the buffer, since positions are fixed ahead.
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await fh.read(buf, filled, size - filled, regular ? at + filled : null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (!regular) break;
    }
    return buf.subarray(0, filled);
  };
  // Reads in flight, oldest first; the buffer of the chunk being parsed is not among them.
  const pending: Promise<Uint8Array>[] = [];
  for (let i = 0; i < buffers.length - 1; i++) pending.push(read(buffers[i]!));
  let turn = buffers.length - 1;
  try {
    while (!stop()) {
      const chunk = await pending.shift()!;
      if (chunk.length === 0) return;
      // The free buffer: the one the previous chunk was in, parsed by now.
      pending.push(read(buffers[turn]!));
      turn = (turn + 1) % buffers.length;
      yield chunk;
    }
  } finally {
    // Reads still in flight (the consumer stopped early, or the file ended) end before the file is closed.
    await Promise.all(pending.map((p) => p.catch(() => undefined)));
    await fh.close();
  }
}

/** Batches lines so a million messages are not a million writes. */
class LineBuffer {
  private lines: string[] = [];
  autoFlush = false;
  closed = false;
  /** Some line went out. */
  wrote = false;
  constructor(private readonly io: Io) {}
  line(s: string): void {
    this.lines.push(s);
    if (this.autoFlush || this.lines.length >= 512) this.flush();
  }
  flush(): void {
    if (this.lines.length === 0) return;
    if (this.closed) {
      this.lines = [];
      return;
    }
    this.io.out(this.lines.join('\n'));
    this.wrote = true;
    this.lines = [];
  }
}

/** Protocols the tracer labels events with (`--type dht` keeps every DHT message). */
const TRACE_PROTOCOLS = ['peer', 'http-tracker', 'udp-tracker', 'dht', 'lsd', 'http', 'utp', 'unknown'];
/** Names an event's type ends with besides the peer wire's (DHT methods, tracker requests and answers). */
const TRACE_OTHER_TYPES = [
  'handshake', 'keep_alive', 'malformed', 'undecoded',
  'ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put', 'sample_infohashes', 'query', 'response', 'error',
  'announce', 'connect_request', 'connect_response', 'announce_request', 'announce_response', 'scrape_request', 'scrape_response',
  'upload_only', 'share_mode',
];

/**
 * `--type` values checked before the capture is read: a name the tracer never gives an
 * event would silently filter everything out. Extension names (BEP 10 `m` keys) are
 * whatever peers register, so any `ut_*` / `lt_*` name is taken.
 */
function checkTypes(types: readonly string[] | undefined): void {
  const known = new Set([...Object.keys(MESSAGE_SPECS), ...TRACE_OTHER_TYPES, ...TRACE_PROTOCOLS]);
  const valid = (t: string): boolean => {
    if (known.has(t) || /^(ut|lt)_[a-z0-9_]+$/.test(t)) return true;
    const dot = t.indexOf('.');
    return dot > 0 && TRACE_PROTOCOLS.includes(t.slice(0, dot)) && /^[a-z0-9_]+$/.test(t.slice(dot + 1));
  };
  for (const t of (types ?? []).flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean)) {
    if (!valid(t)) throw new UsageError(`--type ${t}: not a message type; valid: ${[...TRACE_PROTOCOLS, ...Object.keys(MESSAGE_SPECS), ...TRACE_OTHER_TYPES].join(', ')}, ut_*/lt_* extension names, or PROTOCOL.NAME (dht.get_peers)`);
  }
}

function eventFilter(argv: Args): (e: TraceEvent) => boolean {
  const types = (argv.type ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const peer = argv.peer;
  return (e) => {
    if (argv.stream !== undefined && e.stream !== argv.stream) return false;
    if (types.length && !types.some((t) => e.type === t || e.type.startsWith(`${t}.`) || e.type.endsWith(`.${t}`) || e.protocol === t || e.fields['name'] === t)) return false;
    if (peer && !matchesPeer(e.src, peer) && !matchesPeer(e.dst, peer)) return false;
    return true;
  };
}

function matchesPeer(endpoint: string, want: string): boolean {
  if (endpoint === want) return true;
  const ip = endpoint.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return ip === want.replace(/^\[(.*)\]$/, '$1');
}

function formatEvent(e: TraceEvent, rel: number, argv: Args, io: Io, hex: typeof RenderHexFrame | undefined): string {
  if (argv.json) {
    return stringifyJson({
      time: e.time,
      rel: Number(rel.toFixed(6)),
      stream: e.stream,
      direction: e.direction,
      src: e.src,
      dst: e.dst,
      transport: e.transport,
      protocol: e.protocol,
      type: e.type,
      text: e.text,
      offset: e.offset,
      end: e.end,
      packets: e.packets,
      fields: e.fields,
      ...(e.diagnostics ? { diagnostics: e.diagnostics.map(diagnosticJson) } : {}),
      ...(argv.frames ? { frame: frameJson(e.frame()) } : {}),
    });
  }
  const line = `${rel.toFixed(6).padStart(11)}  #${e.stream} ${e.transport === 'utp' ? 'uTP ' : ''}${e.src} → ${e.dst}  ${e.text}`;
  const head = argv.wide ? line : fitLine(line, io.columns);
  if (!hex) return head;
  return `${head}\n${hex(e.frame(), argv.wide ? { color: io.color } : hexOptions(io))}\n`;
}

function summaryJson(s: TraceSummary, format: string): Record<string, unknown> {
  return {
    format,
    packets: s.packets,
    duration: s.lastTime - s.firstTime,
    streams: s.streams.length,
    messages: s.messages,
    other: s.other,
    streamList: s.streams,
    transactions: s.transactions,
    skipped: s.skipped,
    diagnostics: s.diagnostics.map(diagnosticJson),
  };
}

async function loadTable(): Promise<typeof RenderTable> {
  return (await import('../table.js')).renderTable;
}

/** `columns`: the TTY's width to fit (undefined when piped, or with --wide). */
function summaryTables(renderTable: typeof RenderTable, s: TraceSummary, format: string, color = false, columns?: number): string {
  const out: string[] = [];
  const style = color ? {} : { style: { head: [] as string[], border: [] as string[] } };
  out.push(`${format} capture: ${s.packets} packets over ${(s.lastTime - s.firstTime).toFixed(3)} s, ${s.streams.length} streams`);
  const streamRows: (string | number)[][] = [];
  for (const x of s.streams.slice(0, 500)) {
    const clients = [x.out.client ?? x.out.extendedClient, x.in.client ?? x.in.extendedClient].map((c) => c ?? '-').join(' / ');
    const ext = [...new Set([...(x.out.reserved ?? []), ...(x.out.extensions ?? []), ...(x.in.reserved ?? []), ...(x.in.extensions ?? [])])].join(', ');
    const undec = x.out.undecodedBytes + x.in.undecodedBytes;
    const what = `${x.label}${x.fromStart ? '' : ' (no SYN captured)'}${undec ? `\n${formatBytes(undec)} undecoded` : ''}${x.out.gaps + x.in.gaps ? `\n${x.out.gaps + x.in.gaps} gaps` : ''}`;
    streamRows.push([x.id, x.transport, what, `${x.a}\n→ ${x.b}`, clients, ext || '-', formatBytes(x.out.bytes), formatBytes(x.in.bytes), x.out.messages + x.in.messages]);
  }
  out.push(renderTable({ head: ['#', 'transport', 'what', 'endpoints (initiator → other)', 'clients (→ / ←)', 'extensions', 'bytes →', 'bytes ←', 'msgs'], wordWrap: true, colWidths: [5, 11, 24, 32, 24, 32, 10, 10, 7], ...style }, streamRows, columns));
  if (s.streams.length > 500) out.push(`… ${s.streams.length - 500} more streams (use --json)`);
  const counts = [...Object.entries(s.messages).sort((a, b) => b[1] - a[1]), ...Object.entries(s.other).sort((a, b) => b[1] - a[1])];
  out.push(renderTable({ head: ['message type', 'count'], ...style }, counts, columns));
  if (s.transactions.length) {
    const rows = s.transactions.slice(0, 200).map((t) => [t.stream, t.protocol, t.kind, `${t.client} → ${t.server}`, t.transactionId, t.rtt !== undefined ? `${(t.rtt * 1000).toFixed(1)} ms` : '-', t.outcome]);
    out.push(renderTable({ head: ['#', 'protocol', 'request', 'client → server', 'tx', 'rtt', 'outcome'], ...style }, rows, columns));
    if (s.transactions.length > 200) out.push(`… ${s.transactions.length - 200} more transactions (use --json)`);
  }
  const skipped = Object.entries(s.skipped);
  if (skipped.length) out.push(`not traced: ${skipped.map(([k, v]) => `${v} × ${k}`).join('; ')}`);
  return out.join('\n');
}

/**
 * Writes verified pieces through Storage (lib/engine/storage.ts). Writes run
 * as pieces complete; the first refusal is kept (and later pieces are not
 * attempted) to be reported once the capture is traced.
 */
class PieceWriter {
  private readonly writes = new Set<Promise<void>>();
  private refused: Error | undefined;
  constructor(
    private readonly torrent: Torrent,
    private readonly storage: Storage,
  ) {}
  queue(index: number, data: Uint8Array): void {
    if (this.refused) return;
    const w = this.storage.write(index * this.torrent.pieceLength, data).catch((e: Error) => {
      this.refused ??= e;
    });
    this.writes.add(w);
    void w.finally(() => this.writes.delete(w));
  }
  /** Every write done and the files closed; the first error, if a write was refused. */
  async finish(): Promise<Error | undefined> {
    await Promise.all(this.writes);
    await this.storage.close();
    return this.refused;
  }
}

/** The key log's secrets (none without one); lines that are not MSE_SECRET lines are named on stderr. */
async function readKeylog(file: string | undefined, io: { err(line: string): void }): Promise<MseSecret[]> {
  if (!file) return [];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--keylog ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const { secrets, badLines } = parseKeylog(text);
  if (badLines.length) io.err(`--keylog ${file}: line${badLines.length > 1 ? 's' : ''} ${badLines.slice(0, 5).join(', ')} not a MSE_SECRET line, skipped`);
  return secrets;
}
