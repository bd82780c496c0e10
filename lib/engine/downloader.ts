import * as path from 'node:path';
import { access, constants, mkdir, stat } from 'node:fs/promises';
import type { MagnetLink, Torrent } from '../metainfo/types.js';
import { parseMagnet } from '../magnet/parse.js';
import { resolveMagnetKeeping, type MagnetPeer } from './magnet-resolve.js';
import { safeFilePath } from '../metainfo/safe-path.js';
import { BtscopeError, TransportError, UsageError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import { toHex } from '../core/bytes.js';
import type { Direction } from '../core/direction.js';
import { Storage, torrentStorageFiles } from './storage.js';
import { ResumeJournal, resumeFileName } from './resume.js';
import { PieceVerifier, wireInfoHash } from './piece-verifier.js';
import { Swarm } from './swarm.js';
import { SwarmHost, type AnnounceFn } from './swarm-host.js';
import { parseHostPort, type PeerAddress } from '../core/address.js';
import { makePeerId } from '../peer/identity.js';
import type { EncryptionPolicy } from '../mse/constants.js';
import type { MseInfo } from '../transport/mse.js';

export type { AnnounceFn, PeerAddress };

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
  /**
   * Sessions already open to peers of this torrent (a magnet's metadata
   * connection, from resolveMagnetKeeping): they join the swarm instead of
   * being dialled again.
   */
  handover?: readonly MagnetPeer[];
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
  /** MSE/PE policy for every connection (default `prefer`). */
  encryption?: EncryptionPolicy;
  /** Each finished MSE exchange: for a key log. */
  onMse?: (info: MseInfo, peer: string) => void;
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
  const handover: MagnetPeer[] = [...(o.handover ?? [])];
  try {
    return await downloadTorrent(o, o.torrent ?? (await torrentOfMagnet(o, handover)), handover, calledAt);
  } finally {
    // Handed-over sessions the swarm never took (a failure before it started) are closed here; closing twice is harmless.
    for (const h of handover) if (!h.session.closed && !adopted.has(h.session)) h.session.close();
  }
}

/** Sessions a swarm took over (closed by the swarm, not by download()'s cleanup). */
const adopted = new WeakSet<object>();

async function downloadTorrent(o: DownloadOptions, t: Torrent, handover: readonly MagnetPeer[], calledAt: number): Promise<DownloadSummary> {
  // v1: SHA-1 pieces; v2 (BEP 52): piece layers, checked against the pieces roots here, before any download; hybrid: both.
  const infoHash = wireInfoHash(t);
  const started = performance.now();
  const { storage, journal, existing, checkSeconds } = await openOnDisk(o, t, infoHash);

  let finished = false;
  let host: SwarmHost | undefined;
  const swarm = new Swarm({
    torrent: t,
    storage,
    journal,
    have: existing.have,
    ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    onPeers: (ps) => host?.addCandidates(ps.map((p) => ({ host: p.ip, port: p.port }))),
    listenPort: () => host?.port,
    ...(o.pexIntervalMs !== undefined ? { pexIntervalMs: o.pexIntervalMs } : {}),
    ...(o.pexFirstDelayMs !== undefined ? { pexFirstDelayMs: o.pexFirstDelayMs } : {}),
    ...(o.log ? { log: o.log } : {}),
    onHashFailure: (i, peers) => o.log?.(`piece ${i} failed its hash check (from ${peers.join(', ')})`),
  });
  const resumedBytes = swarm.haveBytes;
  // Incoming peers while we download (we are a real peer).
  host = await startHost(o, t, swarm, infoHash, () => !finished && !swarm.complete);
  for (const h of handover) {
    adopted.add(h.session);
    host.adopt(h.session, h.known);
  }
  host.addCandidates([...(o.peers ?? []), ...magnetPeers(o)]);

  const progress = (rate: number): void =>
    o.onProgress?.({ done: swarm.haveBytes, total: t.length, rate, peers: swarm.peers.size, hashFailures: swarm.hashFailures });
  const progressTimer = setInterval(() => progress(swarm.downloaded.rate(Date.now())), 200);
  const limits = downloadLimits(o, swarm, host, calledAt);

  void host.announceAll('started');
  let error: unknown;
  try {
    await Promise.race([swarm.completion, ...limits.reached]);
  } catch (e) {
    error = e;
  } finally {
    finished = true;
    clearInterval(progressTimer);
    limits.clear();
    // The last line shows the average over the run, not the rate of its last 200 ms (0 B/s once done).
    const seconds = (performance.now() - started) / 1000;
    progress(seconds > 0 ? swarm.verifiedBytes / seconds : 0);
    if (!error) {
      await storage.createEmptyFiles();
      swarm.finishedDownloading();
    }
    await host.stop(error ? undefined : 'completed');
    await swarm.stop();
    await storage.drain(); // in the page cache: safe from kill -9; a power cut is caught by the resume check
    await storage.close();
    await journal.close();
  }
  if (error) throw error;
  return {
    ok: true,
    infoHash: toHex(t.infoHash ?? t.infoHashV2!),
    name: t.name,
    length: t.length,
    bytes: swarm.verifiedBytes,
    resumedBytes,
    seconds: (performance.now() - started) / 1000,
    peers: host.peersAdded,
    peersWithData: swarm.peersWithData,
    hashFailures: swarm.hashFailures,
    banned: [...swarm.banned],
    wastedBytes: swarm.wastedBytes,
    uploadedBytes: swarm.uploaded.total,
    checkedPieces: existing.checked,
    checkSeconds,
  };
}

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'the file system does not allow a folder there',
  ENOSPC: 'no space left on the device',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
};

/**
 * The output folder, ready before any other work (and before a magnet's peers are asked):
 * `outDir` itself, or its nearest existing ancestor, must be a folder we may write in; the
 * missing levels are created one at a time. Not `mkdir -p`: Node's recursive mkdir spins
 * forever on a path like /proc/x. Each step is bounded by `timeoutMs`. Returns the absolute path.
 */
export async function prepareOutputFolder(outDir: string, timeoutMs = 60_000): Promise<string> {
  const dir = path.resolve(outDir);
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BtscopeError('timeout', `-o ${outDir}: the folder was not ready within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  });
  const refuse = (e: NodeJS.ErrnoException, what: string): never => {
    const why = ERRNO_TEXT[e.code ?? ''];
    if (!why) throw e;
    throw new UsageError(`-o ${outDir}: ${what} (${why}, ${e.code})`);
  };
  try {
    return await Promise.race([
      bound,
      (async () => {
        const missing: string[] = [];
        let at = dir;
        for (;;) {
          const st = await stat(at).catch((e: NodeJS.ErrnoException) => {
            if (e.code === 'ENOENT') return undefined;
            if (e.code === 'ENOTDIR') throw new UsageError(`-o ${outDir}: a file is in the way (the download goes into a folder, created if missing)`);
            return refuse(e, 'cannot look at the folder');
          });
          if (st) {
            if (!st.isDirectory()) throw new UsageError(`-o ${outDir}: a file is in the way (the download goes into a folder, created if missing)`);
            break;
          }
          missing.unshift(at);
          const up = path.dirname(at);
          if (up === at) break;
          at = up;
        }
        if (missing.length === 0) await access(dir, constants.W_OK).catch((e: NodeJS.ErrnoException) => refuse(e, 'cannot write in the folder'));
        for (const level of missing) {
          await mkdir(level).catch((e: NodeJS.ErrnoException) => {
            if (e.code === 'EEXIST') return;
            return refuse(e, `cannot create ${level === dir ? 'the folder' : level}`);
          });
        }
        return dir;
      })(),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The torrent's files under `outDir` (created if missing), its resume journal, and the pieces already there, checked. */
async function openOnDisk(
  o: DownloadOptions,
  t: Torrent,
  infoHash: Uint8Array,
): Promise<{ storage: Storage; journal: ResumeJournal; existing: { have: number[]; checked: number }; checkSeconds: number }> {
  const outDir = await prepareOutputFolder(o.outDir, o.stallTimeoutMs ?? 60_000);
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
  return { storage, journal, existing, checkSeconds };
}

/** Where the swarm meets the network: listen (if asked), trackers, dialling; `wantPeers` false once done. */
function startHost(o: DownloadOptions, t: Torrent, swarm: Swarm, infoHash: Uint8Array, wantPeers: () => boolean): Promise<SwarmHost> {
  return SwarmHost.start({
    torrent: t,
    swarm,
    infoHash,
    peerId: o.peerId ?? makePeerId(),
    ...(o.listenPort !== undefined ? { listen: { host: o.listenHost ?? '127.0.0.1', port: o.listenPort } } : {}),
    ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
    ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {}),
    wantPeers,
    ...(o.trackers ? { trackers: o.trackers } : {}),
    ...(o.announce ? { announce: o.announce } : {}),
    transferred: () => ({ uploaded: swarm.uploaded.total, downloaded: swarm.downloaded.total, left: t.length - swarm.haveBytes }),
    dialTrackerPeers: true,
    ...(o.onFrame ? { onFrame: o.onFrame } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.encryption ? { encryption: o.encryption } : {}),
    ...(o.onMse ? { onMse: o.onMse } : {}),
  });
}

/**
 * What ends a download short of completion, each a promise that rejects: no
 * verified byte for `stallTimeoutMs` (default 60 s), the overall `timeoutMs`
 * (counted from the call, a magnet's metadata included), the abort `signal`.
 * `clear` stops their timers.
 */
function downloadLimits(o: DownloadOptions, swarm: Swarm, host: SwarmHost, calledAt: number): { reached: Promise<never>[]; clear: () => void } {
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
            ? `no peer connected (${host.knownCount} address${host.knownCount === 1 ? '' : 'es'} known, ${swarm.banned.size} banned)`
            : `${swarm.peers.size} peer(s) connected but none sent a verifiable piece`;
        rej(new TransportError('stalled', `no progress for ${Math.round(stallTimeout / 1000)} s: ${why}`));
      }
    }, 250);
  });
  stalled.catch(() => {});
  const reached: Promise<never>[] = [stalled];
  let overallTimer: NodeJS.Timeout | undefined;
  if (o.timeoutMs !== undefined) {
    reached.push(
      new Promise<never>((_, rej) => {
        const left = Math.max(0, o.timeoutMs! - (Date.now() - calledAt));
        overallTimer = setTimeout(() => rej(new TransportError('timeout', `download not complete after ${o.timeoutMs} ms`)), left);
      }),
    );
  }
  if (o.signal) {
    reached.push(
      new Promise<never>((_, rej) => {
        if (o.signal!.aborted) rej(new BtscopeError('aborted', 'download aborted'));
        o.signal!.addEventListener('abort', () => rej(new BtscopeError('aborted', 'download aborted')), { once: true });
      }),
    );
  }
  return {
    reached,
    clear: () => {
      clearInterval(stallTimer);
      clearTimeout(overallTimer);
    },
  };
}


/** `download({ magnet })`: the torrent from the magnet's x.pe peers and `peers` (metadata, then v2 piece layers). */
function magnetPeers(o: DownloadOptions): PeerAddress[] {
  if (!o.magnet) return [];
  const magnet = typeof o.magnet === 'string' ? parseMagnet(o.magnet) : o.magnet;
  return magnet.peers.map(parseHostPort).filter((p): p is PeerAddress => p !== undefined);
}

async function torrentOfMagnet(o: DownloadOptions, handover: MagnetPeer[]): Promise<Torrent> {
  if (!o.magnet) throw new BtscopeError('no_torrent', 'download needs a torrent or a magnet link');
  const magnet = typeof o.magnet === 'string' ? parseMagnet(o.magnet) : o.magnet;
  const peers = [...magnetPeers(o), ...(o.peers ?? [])];
  const r = await resolveMagnetKeeping({
    magnet,
    peers,
    peerId: o.peerId ?? makePeerId(),
    ...(o.trackers ? { trackers: o.trackers } : {}),
    ...(o.handshakeTimeoutMs !== undefined ? { timeoutMs: Math.max(o.handshakeTimeoutMs, 10_000) } : {}),
    ...(o.timeoutMs !== undefined ? { deadlineMs: o.timeoutMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.onFrame ? { onFrame: o.onFrame } : {}),
    encryption: o.encryption ?? 'prefer',
    ...(o.onMse ? { onMse: o.onMse } : {}),
  });
  if (r.peer) handover.push(r.peer);
  return r.torrent;
}
