import type { Torrent } from '../metainfo/types.js';
import type { Storage } from './storage.js';
import type { ResumeJournal } from './resume.js';
import type { PexLimits } from './pex-sender.js';

/** What a Swarm (swarm.ts) is given: the torrent, its storage, limits, the policies' knobs and the callbacks it reports through. */
export interface SwarmOptions {
  torrent: Torrent;
  storage: Storage;
  journal?: ResumeJournal;
  /** Pieces already verified on disk. */
  have?: Iterable<number>;
  /** Peers unchoked at once (default 8). */
  uploadSlots?: number;
  /** A peer with requests outstanding and no block for this long has them cancelled (default 15 s); twice closes it. */
  requestTimeoutMs?: number;
  /** Upper bound of any peer's request pipeline (default 1024). */
  maxQueue?: number;
  /**
   * Received bytes not yet on disk (held for gathered writes or being written)
   * before new requests wait for the disk (default 8 MiB): bounds memory when
   * the disk is slower than the network.
   */
  maxUnwrittenBytes?: number;
  /** Requests queued per peer before more are rejected (default MAX_UPLOAD_QUEUE; advertise it as reqq). */
  maxUploadQueue?: number;
  /** BEP 6 allowed fast pieces offered to each fast peer (default ALLOWED_FAST_COUNT; 0: none). */
  allowedFastCount?: number;
  /** Pipeline when the peer gives no reqq (BEP 10 suggests libtorrent's 250). */
  defaultReqq?: number;
  random?: () => number;
  /** Addresses learned through PEX (BEP 11). */
  onPeers?: (peers: { ip: string; port: number }[]) => void;
  /**
   * The port we accept peers on, once known (it is left out of the ut_pex we
   * send: a peer that is ourselves). Undefined: we do not listen.
   */
  listenPort?: () => number | undefined;
  /** BEP 11: at most one ut_pex message per peer per this many ms (default 60 s). */
  pexIntervalMs?: number;
  /** BEP 11: the first ut_pex message to a peer this long after its extended handshake (default 0: at once). */
  pexFirstDelayMs?: number;
  /** BEP 11: added / dropped contacts per message (default 50 each). */
  pexLimits?: PexLimits;
  onPiece?: (index: number) => void;
  onHashFailure?: (index: number, peers: string[]) => void;
  onBan?: (address: string, reason: string) => void;
  log?: (line: string) => void;
  now?: () => number;
}
