import * as net from 'node:net';
import * as path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { MagnetLink, Torrent } from '../metainfo/types.js';
import { parseMagnet } from '../magnet/parse.js';
import { resolveMagnet } from './magnet-resolve.js';
import { safeFilePath } from '../metainfo/safe-path.js';
import { BtscopeError, TransportError, UsageError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import { toHex } from '../core/bytes.js';
import type { Direction } from '../wire/extended.js';
import { Storage, torrentStorageFiles } from './storage.js';
import { ResumeJournal, resumeFileName } from './resume.js';
import { PieceVerifier, wireInfoHash } from './piece-verifier.js';
import { PeerLink } from './peer-link.js';
import { Swarm, MAX_UPLOAD_QUEUE } from './swarm.js';

/** A peer address from --peer, a tracker or PEX. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Announce to one tracker URL; returns peers (injected so the engine does not depend on a tracker client). */
export type AnnounceFn = (
  url: string,
  req: { infoHash: Uint8Array; peerId: Uint8Array; port: number; uploaded: number; downloaded: number; left: number; event?: 'started' | 'completed' | 'stopped'; numwant?: number },
) => Promise<{ interval: number; peers: { ip: string; port: number }[] }>;

export interface DownloadOptions {
  /** The torrent; or give `magnet` and it is resolved from the peers first (BEP 9, and BEP 52 piece layers for v2). */
  torrent?: Torrent;
  magnet?: MagnetLink | string;
  outDir: string;
  peers?: readonly PeerAddress[];
  /** Tracker tiers to announce to (BEP 12): every URL of every tier is asked at once. */
  trackers?: readonly (readonly string[])[];
  announce?: AnnounceFn;
  maxPeers?: number;
  /** Listen for incoming peers on this port (0 = random, undefined = do not listen). */
  listenPort?: number;
  listenHost?: string;
  peerId?: Uint8Array;
  /** Give up when no verified byte arrives for this long (default 60 s). */
  stallTimeoutMs?: number;
  /** Whole download limit, a magnet's metadata included (default none). */
  timeoutMs?: number;
  requestTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  onFrame?: (frame: Frame, direction: Direction, peer: string) => void;
  onProgress?: (p: DownloadProgress) => void;
  log?: (line: string) => void;
  /** Re-hash every piece on disk at start instead of trusting the resume journal's list (default false). */
  fullCheck?: boolean;
  signal?: AbortSignal;
  /** BEP 11: at most one ut_pex message per peer per this many ms (default 60 s). */
  pexIntervalMs?: number;
  /** BEP 11: the first ut_pex message this long after a peer's extended handshake (default 0: at once). */
  pexFirstDelayMs?: number;
}

export interface DownloadProgress {
  done: number;
  total: number;
  rate: number;
  peers: number;
  hashFailures: number;
}

export interface DownloadSummary {
  ok: boolean;
  infoHash: string;
  name: string;
  /** Bytes of the torrent (pads included). */
  length: number;
  /** Bytes verified in this session (not resumed). */
  bytes: number;
  /** Bytes found verified on disk at start. */
  resumedBytes: number;
  seconds: number;
  /** Distinct peers connected. */
  peers: number;
  /** Peers that sent at least one accepted block. */
  peersWithData: number;
  hashFailures: number;
  banned: string[];
  wastedBytes: number;
  uploadedBytes: number;
  /** Pieces re-checked at start and how long it took. */
  checkedPieces: number;
  checkSeconds: number;
}

export const DEFAULT_PEER_ID_PREFIX = '-BS0100-';

export function makePeerId(): Uint8Array {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode(DEFAULT_PEER_ID_PREFIX), 0);
  id.set(randomBytes(12), 8);
  return id;
}

/**
 * What is already on disk: the pieces the resume journal names (verified or
 * written) are hashed again; without a journal, pieces whose bytes all exist in
 * files of full size are hashed (data from another client). Nothing else is read.
 */
export async function checkExisting(
  torrent: Torrent,
  storage: Storage,
  journal: ResumeJournal,
  state: { verified: number[]; written: number[] },
  fullCheck: boolean,
): Promise<{ have: number[]; checked: number }> {
  const verifier = PieceVerifier.forTorrent(storage, torrent);
  let candidates: number[];
  if (fullCheck) candidates = [...Array(torrent.pieceCount).keys()];
  else if (state.verified.length + state.written.length > 0) candidates = [...state.verified, ...state.written].sort((a, b) => a - b);
  else {
    const sizes = await storage.sizes();
    const complete = storage.files.map((f, i) => f.pad || sizes[i]! >= f.length);
    candidates = [];
    for (let p = 0; p < torrent.pieceCount; p++) {
      const size = Math.min(torrent.pieceLength, torrent.length - p * torrent.pieceLength);
      const slices = storage.slices(p * torrent.pieceLength, size);
      if (slices.length > 0 && slices.every((s) => complete[s.fileIndex])) candidates.push(p);
    }
  }
  const have: number[] = [];
  for (const p of candidates) {
    const r = await verifier.verify(p);
    if (r.ok) {
      have.push(p);
      if (!journal.isVerified(p)) await journal.markVerified(p);
    } else if (journal.isVerified(p) || state.written.includes(p)) await journal.clear(p);
  }
  return { have, checked: candidates.length };
}

/**
 * Download a torrent into `outDir`: resume from disk, connect to peers from
 * --peer, trackers and PEX (up to maxPeers at once, replacing those that fail,
 * never dialling a banned address again), until every piece is verified.
 */
export async function download(o: DownloadOptions): Promise<DownloadSummary> {
  const calledAt = Date.now();
  const t = o.torrent ?? (await torrentOfMagnet(o));
  // v1: SHA-1 pieces; v2 (BEP 52): piece layers, checked against the pieces roots here, before any download; hybrid: both.
  const infoHash = wireInfoHash(t);
  const started = performance.now();
  const outDir = path.resolve(o.outDir);
  const peerId = o.peerId ?? makePeerId();
  await mkdir(outDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST' || e.code === 'ENOTDIR') throw new UsageError(`-o ${o.outDir}: a file is in the way (the download goes into a folder, created if missing)`);
    throw e;
  });
  const storage = new Storage(torrentStorageFiles(t.files, outDir, safeFilePath), { root: outDir });
  const { journal, state } = await ResumeJournal.open(path.join(outDir, resumeFileName(toHex(infoHash))), {
    infoHash: t.infoHash ?? t.infoHashV2!,
    pieceCount: t.pieceCount,
    pieceLength: t.pieceLength,
  });
  if (state.discarded) o.log?.(`resume journal discarded: ${state.discarded}`);
  const checkStart = performance.now();
  const existing = await checkExisting(t, storage, journal, state, o.fullCheck ?? false);
  const checkSeconds = (performance.now() - checkStart) / 1000;
  if (existing.checked > 0) o.log?.(`checked ${existing.checked} pieces on disk in ${checkSeconds.toFixed(2)} s: ${existing.have.length} verified`);

  const candidates: PeerAddress[] = [];
  const known = new Set<string>();
  const addCandidate = (a: PeerAddress): void => {
    const key = `${a.host}:${a.port}`;
    if (known.has(key) || a.port <= 0 || a.port > 65535) return;
    known.add(key);
    candidates.push(a);
  };
  const connected = new Set<string>();
  let connecting = 0;
  const attempts = new Map<string, number>();
  let distinctPeers = 0;

  const swarm = new Swarm({
    torrent: t,
    storage,
    journal,
    have: existing.have,
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    onPeers: (ps) => {
      for (const p of ps) addCandidate({ host: p.ip, port: p.port });
      dial();
    },
    listenPort: () => (server ? (server.address() as net.AddressInfo | null)?.port : undefined),
    ...(o.pexIntervalMs !== undefined ? { pexIntervalMs: o.pexIntervalMs } : {}),
    ...(o.pexFirstDelayMs !== undefined ? { pexFirstDelayMs: o.pexFirstDelayMs } : {}),
    ...(o.log ? { log: o.log } : {}),
    onHashFailure: (i, peers) => o.log?.(`piece ${i} failed its hash check (from ${peers.join(', ')})`),
  });
  const resumedBytes = swarm.haveBytes;
  const linkOptions = (address: string) => ({
    infoHash: infoHash,
    peerId,
    pieceCount: t.pieceCount,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
    extended: { reqq: MAX_UPLOAD_QUEUE, ...(server ? { p: (server.address() as net.AddressInfo).port } : {}), metadataSize: t.info.length },
    ...(o.onFrame ? { onFrame: (f: Frame, d: Direction) => o.onFrame!(f, d, address) } : {}),
  });

  const maxPeers = o.maxPeers ?? 30;
  let finished = false;
  const dial = (): void => {
    while (!finished && !swarm.complete && connected.size + connecting < maxPeers && candidates.length > 0) {
      const a = candidates.shift()!;
      const key = `${a.host}:${a.port}`;
      if (swarm.banned.has(key) || connected.has(key)) continue;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      connecting++;
      PeerLink.connect(a.host, a.port, linkOptions(key)).then(
        (link) => {
          connecting--;
          if (finished) return link.close();
          connected.add(key);
          distinctPeers++;
          swarm.add(
            link,
            (e) => {
              connected.delete(key);
              if (e) o.log?.(peerLine(key, e));
              retry(a, n);
              dial();
            },
            { outgoing: true },
          );
        },
        (e: Error) => {
          connecting--;
          o.log?.(peerLine(key, e));
          retry(a, n);
          dial();
        },
      );
    }
  };
  const retryTimers = new Set<NodeJS.Timeout>();
  const retry = (a: PeerAddress, n: number): void => {
    const key = `${a.host}:${a.port}`;
    if (finished || swarm.banned.has(key) || n >= 3) return;
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      candidates.push(a);
      dial();
    }, 500 * 2 ** n);
    retryTimers.add(timer);
  };

  // Incoming peers while we download (we are a real peer).
  let server: net.Server | undefined;
  if (o.listenPort !== undefined) {
    server = net.createServer((socket) => {
      if (finished || connected.size >= maxPeers * 2) return socket.destroy();
      const address = `${socket.remoteAddress}:${socket.remotePort}`;
      PeerLink.accept(socket, linkOptions(address)).then(
        (link) => {
          distinctPeers++;
          swarm.add(link);
        },
        (e: Error) => o.log?.(`incoming ${address}: ${e.message}`),
      );
    });
    await new Promise<void>((res, rej) => {
      server!.once('error', rej);
      server!.listen(o.listenPort, o.listenHost ?? '127.0.0.1', () => res());
    });
  }

  for (const p of o.peers ?? []) addCandidate(p);
  for (const p of magnetPeers(o)) addCandidate(p);

  // Trackers: every URL of every tier (loopback tests have one), re-announced at their interval.
  const announceTimers = new Set<NodeJS.Timeout>();
  const left = (): number => t.length - swarm.haveBytes;
  const announceAll = (event?: 'started' | 'completed' | 'stopped'): Promise<unknown> => {
    if (!o.announce) return Promise.resolve();
    const urls = (o.trackers ?? []).flat();
    return Promise.allSettled(
      urls.map(async (url) => {
        try {
          const r = await o.announce!(url, {
            infoHash: infoHash,
            peerId,
            port: server ? (server.address() as net.AddressInfo).port : 6881,
            uploaded: swarm.uploaded.total,
            downloaded: swarm.downloaded.total,
            left: left(),
            ...(event ? { event } : {}),
            numwant: 50,
          });
          o.log?.(`tracker ${url}: ${r.peers.length} peers, interval ${r.interval} s`);
          for (const p of r.peers) addCandidate({ host: p.ip, port: p.port });
          dial();
          if (!event || event === 'started') {
            const timer = setTimeout(() => {
              announceTimers.delete(timer);
              if (!finished) void announceAll();
            }, Math.max(5, r.interval) * 1000);
            timer.unref();
            announceTimers.add(timer);
          }
        } catch (e) {
          o.log?.(`tracker ${url}: ${(e as Error).message}`);
        }
      }),
    );
  };

  const progressTimer = setInterval(() => {
    const now = Date.now();
    o.onProgress?.({ done: swarm.haveBytes, total: t.length, rate: swarm.downloaded.rate(now), peers: swarm.peers.size, hashFailures: swarm.hashFailures });
  }, 200);

  let lastProgressBytes = swarm.verifiedBytes;
  let lastProgressAt = Date.now();
  const stallTimeout = o.stallTimeoutMs ?? 60_000;
  let stallTimer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, rej) => {
    stallTimer = setInterval(() => {
      if (swarm.verifiedBytes !== lastProgressBytes) {
        lastProgressBytes = swarm.verifiedBytes;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > stallTimeout) {
        const why =
          swarm.peers.size === 0
            ? `no peer connected (${known.size} address${known.size === 1 ? '' : 'es'} known, ${swarm.banned.size} banned)`
            : `${swarm.peers.size} peer(s) connected but none sent a verifiable piece`;
        rej(new TransportError('stalled', `no progress for ${Math.round(stallTimeout / 1000)} s: ${why}`));
      }
    }, 250);
  });
  stalled.catch(() => {});
  const limits: Promise<never>[] = [stalled];
  let overallTimer: NodeJS.Timeout | undefined;
  if (o.timeoutMs !== undefined) {
    limits.push(
      new Promise<never>((_, rej) => {
        const left = Math.max(0, o.timeoutMs! - (Date.now() - calledAt));
        overallTimer = setTimeout(() => rej(new TransportError('timeout', `download not complete after ${o.timeoutMs} ms`)), left);
      }),
    );
  }
  if (o.signal) {
    limits.push(
      new Promise<never>((_, rej) => {
        if (o.signal!.aborted) rej(new BtscopeError('aborted', 'download aborted'));
        o.signal!.addEventListener('abort', () => rej(new BtscopeError('aborted', 'download aborted')), { once: true });
      }),
    );
  }

  void announceAll('started');
  dial();
  let error: unknown;
  try {
    await Promise.race([swarm.completion, ...limits]);
  } catch (e) {
    error = e;
  } finally {
    finished = true;
    clearInterval(progressTimer);
    clearInterval(stallTimer);
    clearTimeout(overallTimer);
    for (const tm of [...retryTimers, ...announceTimers]) clearTimeout(tm);
    o.onProgress?.({ done: swarm.haveBytes, total: t.length, rate: 0, peers: swarm.peers.size, hashFailures: swarm.hashFailures });
    if (!error) {
      await storage.createEmptyFiles();
      swarm.finishedDownloading();
    }
    const completedEvent = !error && o.announce ? announceAll('completed') : Promise.resolve();
    await Promise.race([completedEvent, new Promise((r) => setTimeout(r, 2000).unref())]);
    await swarm.stop();
    server?.close();
    await storage.drain(); // in the page cache: safe from kill -9; a power cut is caught by the resume check
    await storage.close();
    await journal.close();
  }
  if (error) throw error;
  const peersWithData = swarm.peersWithData;
  return {
    ok: true,
    infoHash: toHex(t.infoHash ?? t.infoHashV2!),
    name: t.name,
    length: t.length,
    bytes: swarm.verifiedBytes,
    resumedBytes,
    seconds: (performance.now() - started) / 1000,
    peers: distinctPeers,
    peersWithData,
    hashFailures: swarm.hashFailures,
    banned: [...swarm.banned],
    wastedBytes: swarm.wastedBytes,
    uploadedBytes: swarm.uploaded.total,
    checkedPieces: existing.checked,
    checkSeconds,
  };
}

/** `x.pe` host:port (IPv6 in brackets). */
function parseXpe(s: string): PeerAddress | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/** `download({ magnet })`: the torrent from the magnet's x.pe peers and `peers` (metadata, then v2 piece layers). */
function magnetPeers(o: DownloadOptions): PeerAddress[] {
  if (!o.magnet) return [];
  const magnet = typeof o.magnet === 'string' ? parseMagnet(o.magnet) : o.magnet;
  return magnet.peers.map(parseXpe).filter((p): p is PeerAddress => p !== undefined);
}

async function torrentOfMagnet(o: DownloadOptions): Promise<Torrent> {
  if (!o.magnet) throw new BtscopeError('no_torrent', 'download needs a torrent or a magnet link');
  const magnet = typeof o.magnet === 'string' ? parseMagnet(o.magnet) : o.magnet;
  const peers = [...magnetPeers(o), ...(o.peers ?? [])];
  return resolveMagnet({
    magnet,
    peers,
    peerId: o.peerId ?? makePeerId(),
    ...(o.trackers ? { trackers: o.trackers } : {}),
    ...(o.handshakeTimeoutMs !== undefined ? { timeoutMs: Math.max(o.handshakeTimeoutMs, 10_000) } : {}),
    ...(o.timeoutMs !== undefined ? { deadlineMs: o.timeoutMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

/** `peer HOST:PORT: what went wrong`, once: a PeerError's message already starts with the address. */
function peerLine(key: string, e: Error): string {
  const said = e.message.startsWith(`${key}: `) ? e.message.slice(key.length + 2) : e.message;
  return `peer ${key}: ${said}`;
}
