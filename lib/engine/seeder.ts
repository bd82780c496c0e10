import * as net from 'node:net';
import * as path from 'node:path';
import type { Torrent } from '../metainfo/types.js';
import { safeFilePath } from '../metainfo/safe-path.js';
import { BtscopeError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import type { Direction } from '../wire/extended.js';
import { Storage, torrentStorageFiles } from './storage.js';
import { PieceVerifier, wireInfoHash } from './piece-verifier.js';
import { PeerLink } from './peer-link.js';
import { Swarm, MAX_UPLOAD_QUEUE } from './swarm.js';
import { makePeerId, type AnnounceFn } from './downloader.js';

export interface SeedOptions {
  torrent: Torrent;
  /** Folder holding the torrent's files (as a download into it would have written them). */
  dir: string;
  host?: string;
  /** 0 = a random free port. */
  port?: number;
  peerId?: Uint8Array;
  /** Peers unchoked at once (default 16). */
  uploadSlots?: number;
  /** Skip hashing the data first (trust it). Default false: every piece is checked. */
  skipCheck?: boolean;
  trackers?: readonly (readonly string[])[];
  announce?: AnnounceFn;
  onFrame?: (frame: Frame, direction: Direction, peer: string) => void;
  log?: (line: string) => void;
  /** Also dial these peers (e.g. a client that does not dial 127.0.0.1 itself, like transmission). */
  connectTo?: readonly { host: string; port: number }[];
  /** BEP 11: at most one ut_pex message per peer per this many ms (default 60 s). */
  pexIntervalMs?: number;
  /** BEP 11: the first ut_pex message this long after a peer's extended handshake (default 0: at once). */
  pexFirstDelayMs?: number;
}

export interface RunningSeeder {
  readonly host: string;
  readonly port: number;
  readonly swarm: Swarm;
  /** Peers served so far. */
  readonly peersServed: () => number;
  close(): Promise<void>;
}

/**
 * `btscope seed`: check the data, listen, and serve every verified piece to
 * whoever connects (and to trackers' peers, announcing as a seeder).
 */
export async function startSeeder(o: SeedOptions): Promise<RunningSeeder> {
  const t = o.torrent;
  const infoHash = wireInfoHash(t);
  const dir = path.resolve(o.dir);
  const storage = new Storage(torrentStorageFiles(t.files, dir, safeFilePath), { root: dir });
  let have: number[];
  if (o.skipCheck) have = [...Array(t.pieceCount).keys()];
  else {
    const v = PieceVerifier.forTorrent(storage, t);
    have = [];
    const bad: number[] = [];
    for (let i = 0; i < t.pieceCount; i++) ((await v.verify(i)).ok ? have : bad).push(i);
    if (bad.length > 0) o.log?.(`${bad.length} of ${t.pieceCount} pieces missing or wrong in ${dir}: seeding the other ${have.length}`);
  }
  const peerId = o.peerId ?? makePeerId();
  const host = o.host ?? '127.0.0.1';
  let served = 0;
  let port = 0;
  const swarm = new Swarm({
    torrent: t,
    storage,
    have,
    uploadSlots: o.uploadSlots ?? 16,
    listenPort: () => port || undefined,
    ...(o.pexIntervalMs !== undefined ? { pexIntervalMs: o.pexIntervalMs } : {}),
    ...(o.pexFirstDelayMs !== undefined ? { pexFirstDelayMs: o.pexFirstDelayMs } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  const linkOptions = (address: string) => ({
    infoHash: infoHash,
    peerId,
    // BEP 52: a v2-only torrent's connections are v2 (its info-hash is the truncated SHA-256); say so.
    v2: t.infoHash === null && t.infoHashV2 !== null,
    pieceCount: t.pieceCount,
    extended: { reqq: MAX_UPLOAD_QUEUE, p: port, metadataSize: t.info.length },
    ...(o.onFrame ? { onFrame: (f: Frame, d: Direction) => o.onFrame!(f, d, address) } : {}),
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const address = `${socket.remoteAddress}:${socket.remotePort}`;
    PeerLink.accept(socket, linkOptions(address)).then(
      (link) => {
        served++;
        swarm.add(link);
      },
      (e: Error) => o.log?.(`incoming ${address}: ${e.message}`),
    );
  });
  await new Promise<void>((res, rej) => {
    server.once('error', (e) => rej(new BtscopeError('listen', `cannot listen on ${host}:${o.port ?? 0}: ${e.message}`)));
    server.listen(o.port ?? 0, host, () => res());
  });
  port = (server.address() as net.AddressInfo).port;
  o.log?.(`seeding ${t.name} (${have.length}/${t.pieceCount} pieces) on ${host}:${port}`);

  for (const peer of o.connectTo ?? []) {
    PeerLink.connect(peer.host, peer.port, linkOptions(`${peer.host}:${peer.port}`)).then(
      (link) => {
        served++;
        swarm.add(link, undefined, { outgoing: true });
      },
      (e: Error) => o.log?.(`peer ${peer.host}:${peer.port}: ${e.message}`),
    );
  }

  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const announceAll = async (event?: 'started' | 'stopped'): Promise<void> => {
    if (!o.announce) return;
    await Promise.allSettled(
      (o.trackers ?? []).flat().map(async (url) => {
        try {
          const r = await o.announce!(url, { infoHash: infoHash, peerId, port, uploaded: swarm.uploaded.total, downloaded: 0, left: 0, ...(event ? { event } : {}) });
          o.log?.(`tracker ${url}: announced as seeder, ${r.peers.length} peers`);
          if (event !== 'stopped' && !closed) {
            const timer = setTimeout(() => {
              timers.delete(timer);
              void announceAll();
            }, Math.max(5, r.interval) * 1000);
            timer.unref();
            timers.add(timer);
          }
        } catch (e) {
          o.log?.(`tracker ${url}: ${(e as Error).message}`);
        }
      }),
    );
  };
  await announceAll('started');

  return {
    host,
    port,
    swarm,
    peersServed: () => served,
    async close() {
      if (closed) return;
      closed = true;
      for (const tm of timers) clearTimeout(tm);
      await Promise.race([announceAll('stopped'), new Promise((r) => setTimeout(r, 1000).unref())]);
      await swarm.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
      await storage.close();
    },
  };
}
