import * as path from 'node:path';
import type { Torrent } from '../metainfo/types.js';
import { safeFilePath } from '../metainfo/safe-path.js';
import type { Frame } from '../core/field.js';
import type { Direction } from '../core/direction.js';
import { Storage, torrentStorageFiles } from './storage.js';
import { PieceVerifier, wireInfoHash } from './piece-verifier.js';
import { Swarm } from './swarm.js';
import { SwarmHost, type AnnounceFn } from './swarm-host.js';
import { makePeerId } from '../peer/identity.js';
import type { EncryptionPolicy } from '../mse/constants.js';
import type { MseInfo } from '../transport/mse.js';

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
  /** MSE/PE policy for every connection (default `prefer`). */
  encryption?: EncryptionPolicy;
  /** Each finished MSE exchange: for a key log. */
  onMse?: (info: MseInfo, peer: string) => void;
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
  let host: SwarmHost | undefined;
  const swarm = new Swarm({
    torrent: t,
    storage,
    have,
    uploadSlots: o.uploadSlots ?? 16,
    listenPort: () => host?.port,
    ...(o.pexIntervalMs !== undefined ? { pexIntervalMs: o.pexIntervalMs } : {}),
    ...(o.pexFirstDelayMs !== undefined ? { pexFirstDelayMs: o.pexFirstDelayMs } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  const listenHost = o.host ?? '127.0.0.1';
  host = await SwarmHost.start({
    torrent: t,
    swarm,
    infoHash,
    peerId,
    listen: { host: listenHost, port: o.port ?? 0 },
    // Only --connect peers are dialled; everyone else dials us.
    wantPeers: () => false,
    ...(o.trackers ? { trackers: o.trackers } : {}),
    ...(o.announce ? { announce: o.announce } : {}),
    transferred: () => ({ uploaded: swarm.uploaded.total, downloaded: 0, left: 0 }),
    dialTrackerPeers: false,
    ...(o.onFrame ? { onFrame: o.onFrame } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.encryption ? { encryption: o.encryption } : {}),
    ...(o.onMse ? { onMse: o.onMse } : {}),
  }).catch(async (e: unknown) => {
    await storage.close();
    throw e;
  });
  const port = host.port!;
  o.log?.(`seeding ${t.name} (${have.length}/${t.pieceCount} pieces) on ${listenHost}:${port}`);
  host.addCandidates(o.connectTo ?? [], { force: true });
  await host.announceAll('started');
  const running = host;
  let closed = false;

  return {
    host: listenHost,
    port,
    swarm,
    peersServed: () => running.peersAdded,
    async close() {
      if (closed) return;
      closed = true;
      await running.stop('stopped', 1000);
      await swarm.stop();
      await storage.close();
    },
  };
}
