import type { Diagnostic } from '../core/diagnostic.js';
import type { Span } from '../core/span.js';
import type { BencodeDocument } from '../bencode/decode.js';

/**
 * The contract every tool and engine uses for a parsed torrent (v1 BEP 3,
 * v2 BEP 52, or hybrid). Produced by parseTorrent() in lib/metainfo.
 */
export interface TorrentFile {
  /** Path components as written in the torrent (not yet made safe), name first for multi-file. */
  readonly path: readonly string[];
  readonly length: number;
  /** Offset of the file's first byte in the torrent's byte stream (v1 layout, pads included). */
  readonly offset: number;
  /** BEP 47 padding file: never written to disk. */
  readonly pad: boolean;
  /** BEP 47 attribute letters: `p` pad, `x` executable, `h` hidden, `l` symlink. */
  readonly attr: string;
  /** BEP 47 symlink target components. */
  readonly symlinkPath?: readonly string[];
  /** BEP 52: the file's merkle root (32 bytes), v2 and hybrid only. */
  readonly piecesRoot?: Uint8Array;
  /** Span of this file's entry in the input. */
  readonly span?: Span;
  /**
   * v2-only torrents: a padding file that is not in the torrent, inserted (as
   * libtorrent does) so each file starts on a piece boundary (BEP 52).
   */
  readonly implicit?: boolean;
}

export interface Torrent {
  /** The whole input and its bencode document (spans are offsets into `raw`). */
  readonly raw: Uint8Array;
  readonly doc: BencodeDocument;
  /** Span of the info dict inside `raw`; `info` is exactly those bytes (hash these). */
  readonly infoSpan: Span;
  readonly info: Uint8Array;
  /** SHA-1 of the raw info dict; null for a v2-only torrent. */
  readonly infoHash: Uint8Array | null;
  /** SHA-256 of the raw info dict; null for a v1-only torrent. */
  readonly infoHashV2: Uint8Array | null;
  /** 1 or 2 (`meta version`, BEP 52); a hybrid has version 2 and `hybrid` true. */
  readonly metaVersion: 1 | 2;
  readonly hybrid: boolean;
  readonly name: string;
  readonly pieceLength: number;
  readonly pieceCount: number;
  /** Total length of the byte stream the pieces cover (including v1 padding files). */
  readonly length: number;
  readonly lastPieceLength: number;
  readonly files: readonly TorrentFile[];
  /** Concatenated SHA-1 piece hashes (v1 and hybrid); null for v2-only. */
  readonly pieces: Uint8Array | null;
  /** BEP 52 piece layers: hex of the pieces root -> concatenated SHA-256 hashes. */
  readonly pieceLayers: ReadonlyMap<string, Uint8Array>;
  /** Announce tiers (BEP 12); a lone `announce` is one tier of one. */
  readonly trackers: readonly (readonly string[])[];
  /** BEP 19 url-list. */
  readonly webSeeds: readonly string[];
  /** BEP 27. */
  readonly private: boolean;
  readonly creationDate?: number;
  readonly comment?: string;
  readonly createdBy?: string;
  /** Soft findings: unsafe paths, unknown keys, non-canonical bencode, ... */
  readonly diagnostics: readonly Diagnostic[];
}

/** A parsed magnet link (BEP 9, BEP 53). */
export interface MagnetLink {
  readonly infoHash: Uint8Array | null;
  readonly infoHashV2: Uint8Array | null;
  readonly name?: string;
  readonly trackers: readonly string[];
  readonly webSeeds: readonly string[];
  /** `x.pe` peer addresses as written (host:port). */
  readonly peers: readonly string[];
  /** BEP 53 `so` file indices. */
  readonly selectOnly?: readonly number[];
}
