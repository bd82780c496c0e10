import { toHex, concatBytes } from '../core/bytes.js';
import { encode, type Encodable } from '../bencode/encode.js';
import { layoutContent, planHashJobs, type TorrentKind } from './create.js';
import { HASH_SIZE } from './merkle.js';
import { hashJobBytes, v2FileHashes } from './piece-hash.js';

/**
 * Encoding a .torrent (BEP 3 v1, BEP 52 v2 and hybrid, BEP 47 pad files and
 * attributes) with our canonical bencode encoder: keys sorted, so the same
 * input gives the same bytes and the same info-hash. `buildMetainfo` takes
 * hashes already computed (btscope create hashes files in worker threads);
 * `makeTorrent` hashes bytes in memory, for the demo and for tests that need a
 * torrent whose every byte they control (including hostile paths).
 */

/** A file of the torrent's stream as buildMetainfo writes it. */
export interface MetainfoFile {
  /** Components below the name (multi-file), or [name] for a single file. */
  readonly path: readonly string[];
  readonly length: number;
  readonly pad: boolean;
  /** v2-only alignment padding: implied by BEP 52, not written. */
  readonly implicit?: boolean;
  /** BEP 47 attributes (`p` for pads, `x`, `h`). */
  readonly attr: string;
}

export interface MetainfoInput {
  readonly name: string;
  readonly pieceLength: number;
  readonly kind: TorrentKind;
  /** One file, written with `length` (and a one-entry file tree for v2). */
  readonly single: boolean;
  /** The stream, in order, pads included. */
  readonly files: readonly MetainfoFile[];
  /** v1 and hybrid: the concatenated SHA-1 of every piece. */
  readonly pieces?: Uint8Array;
  /** v2 and hybrid: each non-empty file's pieces root and, when larger than a piece, its piece layer (by index in `files`). */
  readonly v2Files?: ReadonlyMap<number, { readonly piecesRoot: Uint8Array; readonly layer?: Uint8Array }>;
  readonly announce?: string;
  /** BEP 12 tiers. */
  readonly announceList?: readonly (readonly string[])[];
  /** BEP 19 web seeds (`url-list`). */
  readonly webSeeds?: readonly string[];
  /** BEP 27. */
  readonly private?: boolean;
  /** `source` in the info dict: a tag that changes the info-hash, for cross-seeding between trackers. */
  readonly source?: string;
  readonly comment?: string;
  readonly createdBy?: string;
  readonly creationDate?: number;
}

/** The .torrent bytes. Keys are sorted by the encoder; undefined keys are left out. */
export function buildMetainfo(o: MetainfoInput): Uint8Array {
  const v1 = o.kind !== 'v2';
  const v2 = o.kind !== 'v1';
  const info: Record<string, Encodable | undefined> = { name: o.name, 'piece length': o.pieceLength };
  if (o.private) info['private'] = 1;
  if (o.source !== undefined) info['source'] = o.source;
  if (v1) {
    if (!o.pieces) throw new Error('internal: a v1 or hybrid torrent needs its piece hashes');
    info['pieces'] = o.pieces;
    const real = o.files.filter((f) => !f.pad);
    if (o.single) info['length'] = real[0]!.length;
    else
      info['files'] = o.files.map((f) => ({ ...(f.attr ? { attr: f.attr } : {}), length: f.length, path: f.pad ? ['.pad', String(f.length)] : [...f.path] }));
  }
  let layers: Map<Uint8Array, Encodable> | undefined;
  // Files with the same bytes share a pieces root: their layer is written once.
  const layerKeys = new Set<string>();
  if (v2) {
    info['meta version'] = 2;
    const tree = new Map<string, Encodable>();
    layers = new Map();
    o.files.forEach((f, i) => {
      if (f.pad) return;
      const h = o.v2Files?.get(i);
      if (f.length > 0 && !h) throw new Error(`internal: no v2 hashes for ${f.path.join('/')}`);
      const leaf: Record<string, Encodable> = { length: f.length };
      if (f.attr) leaf['attr'] = f.attr;
      if (h && f.length > 0) leaf['pieces root'] = h.piecesRoot;
      if (h?.layer && !layerKeys.has(toHex(h.piecesRoot))) {
        layerKeys.add(toHex(h.piecesRoot));
        layers!.set(h.piecesRoot, h.layer);
      }
      let dir = tree;
      for (const c of f.path.slice(0, -1)) {
        let sub = dir.get(c);
        if (!(sub instanceof Map)) dir.set(c, (sub = new Map<string, Encodable>()));
        dir = sub as Map<string, Encodable>;
      }
      dir.set(f.path[f.path.length - 1]!, new Map([['', leaf]]));
    });
    info['file tree'] = tree;
  }
  const top: Record<string, Encodable | undefined> = {
    announce: o.announce,
    'announce-list': o.announceList?.map((t) => [...t]),
    comment: o.comment,
    'created by': o.createdBy,
    'creation date': o.creationDate,
    info: info as Record<string, Encodable>,
    'piece layers': layers,
    'url-list': o.webSeeds && o.webSeeds.length > 0 ? [...o.webSeeds] : undefined,
  };
  return encode(top as Record<string, Encodable>);
}

export interface MakeTorrentFile {
  /** Path components below the torrent's name (multi-file), or [name] for a single file. */
  path: readonly string[];
  data: Uint8Array;
}

export interface MakeTorrentOptions {
  name: string;
  pieceLength: number;
  /** One entry with path [name] and `single: true` gives a single-file torrent. */
  files: readonly MakeTorrentFile[];
  single?: boolean;
  /**
   * v1 (default): the files in the order given, padded only with `pad`.
   * v2 and hybrid: sorted by path and aligned as `btscope create` lays them out (create.ts layoutContent).
   */
  kind?: TorrentKind;
  /** v1: insert BEP 47 pad files so every file starts on a piece boundary. */
  pad?: boolean;
  announce?: string;
  announceList?: readonly (readonly string[])[];
  createdBy?: string;
  creationDate?: number;
}

/** A torrent of bytes in memory, and its piece stream (pads as zeros). */
export function makeTorrent(o: MakeTorrentOptions): { bytes: Uint8Array; stream: Uint8Array } {
  const kind = o.kind ?? 'v1';
  const entries: { path: readonly string[]; length: number; offset: number; pad: boolean; implicit?: boolean; attr: string; data?: Uint8Array }[] = [];
  if (kind === 'v1') {
    let offset = 0;
    o.files.forEach((f, i) => {
      entries.push({ path: f.path, length: f.data.length, offset, pad: false, attr: '', data: f.data });
      offset += f.data.length;
      const rem = offset % o.pieceLength;
      if (o.pad && i < o.files.length - 1 && rem !== 0) {
        entries.push({ path: ['.pad', String(o.pieceLength - rem)], length: o.pieceLength - rem, offset, pad: true, attr: 'p' });
        offset += o.pieceLength - rem;
      }
    });
  } else {
    const layout = layoutContent(o.files.map((f) => ({ path: f.path, length: f.data.length })), kind, o.pieceLength, o.single ?? false);
    for (const f of layout.files) entries.push({ ...f, ...(f.pad ? {} : { data: o.files[f.source]!.data }) });
  }
  const length = entries.reduce((n, e) => n + e.length, 0);
  const stream = new Uint8Array(length);
  for (const e of entries) if (e.data) stream.set(e.data, e.offset);
  const jobs = planHashJobs(entries, { pieceLength: o.pieceLength, length, v1: kind !== 'v2', v2: kind !== 'v1', jobBytes: length });
  const hashes = jobs.map((j) => hashJobBytes(stream.subarray(j.start, j.start + j.byteLength), j, o.pieceLength));
  const pieces = kind !== 'v2' ? concatBytes(hashes.map((h) => h.sha1!)) : undefined;
  let v2Files: Map<number, { piecesRoot: Uint8Array; layer?: Uint8Array }> | undefined;
  if (kind !== 'v1') {
    const all = concatBytes(hashes.map((h) => h.v2!));
    v2Files = new Map();
    entries.forEach((e, i) => {
      if (e.pad || e.length === 0) return;
      const first = e.offset / o.pieceLength;
      v2Files!.set(i, v2FileHashes(all.subarray(first * HASH_SIZE), o.pieceLength, e.length));
    });
  }
  const bytes = buildMetainfo({
    name: o.name,
    pieceLength: o.pieceLength,
    kind,
    single: o.single ?? false,
    files: entries,
    ...(pieces ? { pieces } : {}),
    ...(v2Files ? { v2Files } : {}),
    ...(o.announce !== undefined ? { announce: o.announce } : {}),
    ...(o.announceList ? { announceList: o.announceList } : {}),
    ...(o.createdBy !== undefined ? { createdBy: o.createdBy } : {}),
    ...(o.creationDate !== undefined ? { creationDate: o.creationDate } : {}),
  });
  return { bytes, stream };
}

