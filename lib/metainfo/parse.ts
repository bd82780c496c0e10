import { createHash } from 'node:crypto';
import { decode, type BencodeDocument } from '../bencode/decode.js';
import type { BNode } from '../bencode/node.js';
import { asBuffer, toHex, utf8OrUndefined } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';
import type { BencodeLimits } from '../core/limits.js';
import type { Span } from '../core/span.js';
import { Issues } from './issues.js';
import { componentNode, isPlainFile, requireInt, v1Files, v2Files, type FileEntry, type RawFile } from './files.js';
import { BLOCK_SIZE, HASH_SIZE, rootFromPieceLayer } from './merkle.js';
import { PathSet } from './path-set.js';
import { isPlainComponent, sanitizePath } from './safe-path.js';
import type { Torrent, TorrentFile } from './types.js';

/**
 * Metainfo (.torrent) parsing: BEP 3 (v1), BEP 52 (v2 and hybrid), with BEP 12
 * tiers, BEP 19 web seeds, BEP 27 private, BEP 47 pad files and attributes.
 * Info-hashes are taken over the raw info span, never a re-encoding.
 *
 * What makes a torrent unreadable (no info dict, no name, no piece length,
 * wrong types, negative lengths) throws DecodeError at the offending byte.
 * What a reader should know but can read past (bad piece layers, hash counts
 * that do not match, unsafe paths, files that disagree between v1 and v2)
 * is a diagnostic; severity `error` means a client must not download it.
 */

export interface ParseTorrentOptions {
  /** Bencode limits (depth, tokens, string length). */
  limits?: Partial<BencodeLimits>;
  /** Absolute offset of the input's first byte (nested payloads). */
  base?: number;
  /** Most pieces accepted; libtorrent's load_torrent_limits default is 0x200000. */
  maxPieces?: number;
  /** Most files accepted. */
  maxFiles?: number;
}

export const DEFAULT_MAX_PIECES = 0x200000;
export const DEFAULT_MAX_FILES = 1_000_000;

/** Extra facts for an info dict fetched over BEP 9, which carries no trackers. */
export interface InfoDictExtra {
  trackers?: readonly (readonly string[])[];
  webSeeds?: readonly string[];
  /** BEP 52 piece layers received separately (root hex -> hashes). */
  pieceLayers?: ReadonlyMap<string, Uint8Array>;
}

/** Parse a whole .torrent file. */
export function parseTorrent(bytes: Uint8Array, opts: ParseTorrentOptions = {}): Torrent {
  const doc = decode(bytes, { ...opts.limits, base: opts.base ?? 0 });
  const root = doc.root;
  if (!root.isDict()) {
    throw new DecodeError('not_a_torrent', root.span.start, `a torrent is a bencoded dict; this is ${article(root.kind)}`);
  }
  const info = root.get('info');
  if (!info) throw new DecodeError('missing_field', root.span.start, "no 'info' dict: not a torrent", 'info');
  if (!info.isDict()) throw new DecodeError('wrong_type', info.span.start, `'info' must be a dict, is ${article(info.kind)}`, 'info');
  return buildTorrent(doc, root, info, {}, opts);
}

/** Parse a bare info dict (BEP 9 metadata): the same Torrent shape, no trackers unless given. */
export function parseInfoDict(infoBytes: Uint8Array, extra: InfoDictExtra = {}, opts: ParseTorrentOptions = {}): Torrent {
  const doc = decode(infoBytes, { ...opts.limits, base: opts.base ?? 0 });
  if (!doc.root.isDict()) {
    throw new DecodeError('not_a_torrent', doc.root.span.start, `an info dict is a bencoded dict; this is ${article(doc.root.kind)}`);
  }
  return buildTorrent(doc, null, doc.root, extra, opts);
}

function article(kind: string): string {
  return { int: 'an integer', str: 'a byte string', list: 'a list', dict: 'a dict' }[kind] ?? kind;
}

function sha(alg: 'sha1' | 'sha256', data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(alg).update(data).digest());
}

const NON_CANONICAL = new Set(['unsorted_keys', 'duplicate_key', 'non_canonical_integer', 'negative_zero', 'non_canonical_length']);

function buildTorrent(doc: BencodeDocument, root: BNode | null, info: BNode, extra: InfoDictExtra, opts: ParseTorrentOptions): Torrent {
  const issues = new Issues();
  const maxPieces = opts.maxPieces ?? DEFAULT_MAX_PIECES;
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;

  // BEP 52: `meta version` 2 means a file tree; `pieces` beside it makes a hybrid.
  let metaVersion: 1 | 2 = 1;
  const mv = info.get('meta version');
  if (mv) {
    const v = mv.isInt() ? mv.intValue() : undefined;
    if (v === 2) metaVersion = 2;
    else if (v !== 1) issues.warn('unknown_meta_version', `unknown meta version ${mv.isInt() ? String(v) : mv.kind}: read as v1`, mv.span);
  }
  const piecesNode = info.get('pieces');
  const hasV1 = metaVersion === 1 || piecesNode !== undefined;
  const hasV2 = metaVersion === 2;
  const hybrid = hasV1 && hasV2;

  const nameNode = info.get('name');
  if (!nameNode) throw new DecodeError('missing_field', info.span.start, "info has no 'name'", 'info.name');
  if (!nameNode.isStr()) throw new DecodeError('wrong_type', nameNode.span.start, `info.name must be a string, is ${article(nameNode.kind)}`, 'info.name');
  const name = nameNode.str();
  if (utf8OrUndefined(nameNode.bytes()) === undefined) issues.warn('invalid_utf8', 'info.name is not valid UTF-8', nameNode.span);
  // C clients stop at the first NUL: to libtorrent such a name is missing.
  if (nameNode.bytes().includes(0)) issues.error('invalid_name', 'info.name contains NUL bytes: other clients read it as cut short or missing', nameNode.span);

  const plNode = info.get('piece length');
  const pieceLength = requireInt(plNode, 'info.piece length', info);
  if (pieceLength <= 0) throw new DecodeError('invalid_value', plNode!.span.start, `piece length must be positive, is ${pieceLength}`, 'info.piece length');
  if (hasV2 && (pieceLength < BLOCK_SIZE || (pieceLength & (pieceLength - 1)) !== 0 || pieceLength > 2 ** 30)) {
    throw new DecodeError('invalid_value', plNode!.span.start, `v2 piece length must be a power of two of at least 16 KiB (BEP 52), is ${pieceLength}`, 'info.piece length');
  }

  // Files: the v1 list (with its pad files) is the byte layout of v1 and hybrid torrents.
  let v2: RawFile[] | undefined;
  if (hasV2) {
    const tree = info.get('file tree');
    if (!tree) throw new DecodeError('missing_field', info.span.start, "meta version 2 but no 'file tree' (BEP 52)", 'info.file tree');
    v2 = v2Files(tree, nameNode, name, issues, maxFiles, true, hasV1 && info.get('files') !== undefined);
  }
  let raw: FileEntry[];
  let implicitPads = false;
  if (hasV1) {
    if (v2) {
      // Hybrid: every v1 entry as a RawFile, to take its v2 file's pieces root.
      const v1 = v1Files(info, nameNode, name, issues, maxFiles, false) as RawFile[];
      matchHybrid(v1, v2, pieceLength, info.get('file tree')!, issues);
      raw = emptyFilesAfterPads(v1);
    } else {
      raw = v1Files(info, nameNode, name, issues, maxFiles);
    }
  } else {
    raw = withImplicitPads(v2!, pieceLength, name);
    implicitPads = true;
  }

  // Layout: offsets in the piece stream.
  const files: TorrentFile[] = [];
  let offset = 0;
  for (const f of raw) {
    if (isPlainFile(f)) {
      f.offset = offset;
      files.push(f);
      offset += f.length;
      if (!Number.isSafeInteger(offset)) throw new DecodeError('overflow', f.span.start, 'total length is too large', 'info');
      continue;
    }
    files.push(torrentFile(f, offset, implicitPads && !f.span));
    offset += f.length;
    if (!Number.isSafeInteger(offset)) throw new DecodeError('overflow', f.span?.start ?? info.span.start, 'total length is too large', 'info');
  }
  const length = offset;
  if (length === 0) throw new DecodeError('invalid_value', (info.get('files') ?? info.get('length') ?? info.get('file tree') ?? info).span.start, 'the torrent holds no data: total length is 0', 'info');
  const pieceCount = Math.ceil(length / pieceLength);
  if (pieceCount > maxPieces) {
    throw new DecodeError('limit_exceeded', plNode!.span.start, `${pieceCount} pieces, more than the limit of ${maxPieces}`, 'info.piece length');
  }
  const lastPieceLength = length - (pieceCount - 1) * pieceLength;

  // v1 piece hashes: one SHA-1 per piece.
  let pieces: Uint8Array | null = null;
  if (hasV1) {
    if (!piecesNode) throw new DecodeError('missing_field', info.span.start, "info has no 'pieces'", 'info.pieces');
    if (!piecesNode.isStr()) throw new DecodeError('wrong_type', piecesNode.span.start, `info.pieces must be a string, is ${article(piecesNode.kind)}`, 'info.pieces');
    pieces = piecesNode.bytes();
    if (pieces.length % 20 !== 0) {
      issues.error('invalid_hashes', `info.pieces is ${pieces.length} bytes, not a multiple of 20 (SHA-1 hashes)`, piecesNode.span);
    } else if (pieces.length / 20 !== pieceCount) {
      issues.error('invalid_hashes', `info.pieces holds ${pieces.length / 20} hashes but the files make ${pieceCount} pieces`, piecesNode.span);
    }
  }

  if (hasV2) {
    // libtorrent rejects v2 info dicts that are not canonical bencode: two encoders must agree on the hash.
    for (const d of doc.diagnostics) {
      if (NON_CANONICAL.has(d.code) && d.span.start >= info.span.start && d.span.end <= info.span.end) {
        issues.error('non_canonical_info', `v2 info dict is not canonical bencode (${d.code}): ${d.message}`, d.span);
      }
    }
  }

  const pieceLayers = new Map<string, Uint8Array>();
  if (hasV2) {
    if (root) readPieceLayers(root.get('piece layers'), files, pieceLength, pieceLayers, issues, doc.buf);
    else if (extra.pieceLayers) for (const [k, v] of extra.pieceLayers) pieceLayers.set(k, v);
  }

  reportPaths(raw, nameNode, issues);

  const trackers = root ? readTrackers(root, issues) : (extra.trackers ?? []).map((t) => [...t]);
  const webSeeds = root ? readWebSeeds(root, issues) : [...(extra.webSeeds ?? [])];

  let isPrivate = false;
  const priv = info.get('private');
  if (priv) {
    if (priv.isInt()) isPrivate = priv.intValue() === 1;
    else issues.warn('wrong_type', `info.private should be the integer 1 (BEP 27), is ${article(priv.kind)}`, priv.span);
  }

  const t: { -readonly [K in keyof Torrent]: Torrent[K] } = {
    raw: doc.buf,
    doc,
    infoSpan: info.span,
    info: info.raw,
    infoHash: null,
    infoHashV2: null,
    metaVersion,
    hybrid,
    name,
    pieceLength,
    pieceCount,
    length,
    lastPieceLength,
    files,
    pieces,
    pieceLayers,
    trackers,
    webSeeds,
    private: isPrivate,
    diagnostics: [...doc.diagnostics, ...issues.list].sort((a, b) => a.span.start - b.span.start),
  };
  // Hashed when first read (then kept): a dump of a 2 MB info dict should not pay for hashes it never shows.
  const infoRaw = info.raw;
  lazy(t, 'infoHash', () => (hasV1 ? sha('sha1', infoRaw) : null));
  lazy(t, 'infoHashV2', () => (hasV2 ? sha('sha256', infoRaw) : null));
  if (root) {
    const cd = root.get('creation date');
    if (cd?.isInt()) {
      const v = cd.intValue();
      if (typeof v === 'number') t.creationDate = v;
    }
    const comment = root.get('comment.utf-8') ?? root.get('comment');
    if (comment?.isStr()) t.comment = comment.str();
    const by = root.get('created by');
    if (by?.isStr()) t.createdBy = by.str();
  }
  return t;
}

/**
 * The TorrentFile of a RawFile at `offset`. The usual shapes are written as
 * one literal each (same keys, same order as adding them one by one): adding
 * keys to a smaller literal gives every one of 100 000 files a second object
 * for the properties that did not fit.
 */
function torrentFile(f: RawFile, offset: number, implicit: boolean): TorrentFile {
  const { path, length, pad, attr, piecesRoot, span } = f;
  if (!f.symlinkPath && !implicit && span) {
    return piecesRoot ? { path, length, offset, pad, attr, piecesRoot, span } : { path, length, offset, pad, attr, span };
  }
  if (!f.symlinkPath && !piecesRoot && !span && implicit) return { path, length, offset, pad, attr, implicit: true };
  const tf: { -readonly [K in keyof TorrentFile]: TorrentFile[K] } = { path, length, offset, pad, attr };
  if (f.symlinkPath) tf.symlinkPath = f.symlinkPath;
  if (piecesRoot) tf.piecesRoot = piecesRoot;
  if (span) tf.span = span;
  if (implicit) tf.implicit = true;
  return tf;
}

function lazy<K extends 'infoHash' | 'infoHashV2'>(t: Torrent, key: K, compute: () => Torrent[K]): void {
  let value: Torrent[K] | undefined;
  Object.defineProperty(t, key, {
    enumerable: true,
    get: () => (value === undefined ? (value = compute()) : value),
  });
}

/** BEP 52 hybrids: the v1 files (pads aside) must be the v2 files, in order, each starting on a piece boundary. */
function matchHybrid(v1: RawFile[], v2: RawFile[], pieceLength: number, tree: BNode, issues: Issues): void {
  const real = v1.filter((f) => !f.pad);
  const n = Math.min(real.length, v2.length);
  let ok = real.length === v2.length;
  for (let i = 0; i < n; i++) {
    const a = real[i]!;
    const b = v2[i]!;
    if (a.length !== b.length || a.path.join('/') !== b.path.join('/')) {
      issues.error('inconsistent_files', `hybrid torrent: v1 file ${JSON.stringify(a.path.join('/'))} (${a.length} B) is not v2 file ${JSON.stringify(b.path.join('/'))} (${b.length} B)`, a.span ?? tree.span);
      ok = false;
      break;
    }
    a.piecesRoot = b.piecesRoot;
    if (b.rootSpan) a.rootSpan = b.rootSpan;
  }
  if (ok) {
    let offset = 0;
    for (const f of v1) {
      if (!f.pad && f.length > 0 && offset % pieceLength !== 0) {
        issues.error('inconsistent_files', `hybrid torrent: file ${JSON.stringify(f.path.join('/'))} starts at ${offset}, not on a piece boundary (BEP 52 needs pad files)`, f.span ?? tree.span);
        break;
      }
      offset += f.length;
    }
  } else if (real.length !== v2.length) {
    issues.error('inconsistent_files', `hybrid torrent: ${real.length} v1 files but ${v2.length} v2 files`, tree.span);
  }
}

/**
 * In a hybrid every v2 file starts on a piece boundary, so an empty file
 * written before a pad file really sits after it. libtorrent lists it there
 * (its file indices come from the v2 tree); so do we, so indices agree.
 */
function emptyFilesAfterPads(files: RawFile[]): RawFile[] {
  // One pass (no splicing: a crafted list of empty files and pads must not take quadratic time).
  const out: RawFile[] = [];
  let i = 0;
  while (i < files.length) {
    let j = i;
    while (j < files.length && files[j]!.length === 0 && !files[j]!.pad) j++;
    if (j > i && j < files.length && files[j]!.pad) {
      out.push(files[j]!);
      for (let k = i; k < j; k++) out.push(files[k]!);
      i = j + 1;
    } else if (j > i) {
      for (let k = i; k < j; k++) out.push(files[k]!);
      i = j;
    } else {
      out.push(files[i]!);
      i++;
    }
  }
  return out;
}

/** v2-only: every file starts on a piece boundary; libtorrent shows the gaps as `.pad/N` files. */
function withImplicitPads(files: RawFile[], pieceLength: number, name: string): RawFile[] {
  // Under the torrent's folder; a single file's are under its own name (its tree key), as libtorrent names them.
  const root = files.length === 1 && files[0]!.path.length === 1 ? files[0]!.path[0]! : name;
  const out: RawFile[] = [];
  for (const f of files) {
    out.push(f);
    const rest = f.length % pieceLength;
    if (rest !== 0) {
      const n = pieceLength - rest;
      const path = [root, '.pad', String(n)];
      out.push({ path, length: n, attr: 'p', pad: true });
    }
  }
  return out;
}

/** Unsafe names become `unsafe_path` diagnostics on the bytes of the component. */
function reportPaths(files: FileEntry[], nameNode: BNode, issues: Issues): void {
  // Keys are the paths as written to disk: plain paths as they are, the rest sanitised.
  const seen = new PathSet();
  const reported = new Set<number>();
  const plainName = isPlainComponent(nameNode.str());
  const plain = (path: readonly string[]): boolean => {
    // Multi-file paths start with the name: checked once above.
    for (let i = path.length > 1 && plainName ? 1 : 0; i < path.length; i++) if (!isPlainComponent(path[i]!)) return false;
    return true;
  };
  for (const f of files) {
    if (f.pad) continue;
    // Nothing to sanitise (the common case, often known from the file list already): no allocations.
    if (isPlainFile(f) || plain(f.path)) {
      if (!seen.add(f.path)) issues.warn('duplicate_path', `two files are written to ${JSON.stringify(f.path.join('/'))}`, f.span ?? nameNode.span);
      continue;
    }
    const { components, findings } = sanitizePath(f.path);
    for (const finding of findings) {
      const node = finding.component >= 0 ? componentNode(f, finding.component) : null;
      const span: Span = node?.span ?? f.span ?? nameNode.span;
      // The name is shared by every file of a multi-file torrent: report it once.
      if (reported.has(span.start)) continue;
      reported.add(span.start);
      issues.warn('unsafe_path', `${finding.message} (${finding.reason})`, span);
    }
    if (!seen.add(components)) issues.warn('duplicate_path', `two files are written to ${JSON.stringify(components.join('/'))}`, f.span ?? nameNode.span);
  }
}

/** BEP 52 piece layers: each entry must belong to a file, be the right size and hash up to its pieces root. */
function readPieceLayers(node: BNode | undefined, files: TorrentFile[], pieceLength: number, out: Map<string, Uint8Array>, issues: Issues, input: Uint8Array): void {
  // Keyed by the root's bytes as a latin1 string: hex for each of 100 000 files costs more than the rest.
  const binaryKey = binaryKeys(input);
  const byRoot = new Map<string, TorrentFile>();
  for (const f of files) if (f.piecesRoot) byRoot.set(binaryKey(f.piecesRoot), f);
  // Keys of the piece layers dict, valid or not (a lookup per file would be quadratic).
  const present = new Set<string>();
  if (node) {
    if (!node.isDict()) {
      issues.error('invalid_piece_layer', `'piece layers' must be a dict, is ${article(node.kind)}`, node.span);
      return;
    }
    for (const [k, v] of node.entries()) {
      const key = toHex(k.bytes());
      const bkey = binaryKey(k.bytes());
      present.add(bkey);
      const file = byRoot.get(bkey);
      if (k.bytes().length !== HASH_SIZE || !file) {
        issues.error('invalid_piece_layer', `piece layer ${key.slice(0, 16)}… belongs to no file of the torrent`, k.span);
        continue;
      }
      if (!v.isStr()) {
        issues.error('invalid_piece_layer', `piece layer of ${JSON.stringify(file.path.join('/'))} must be a string, is ${article(v.kind)}`, v.span);
        continue;
      }
      const layer = v.bytes();
      const want = Math.ceil(file.length / pieceLength) * HASH_SIZE;
      if (file.length <= pieceLength) {
        issues.warn('invalid_piece_layer', `file ${JSON.stringify(file.path.join('/'))} fits in one piece and needs no piece layer (BEP 52)`, k.span);
        continue;
      }
      if (layer.length !== want) {
        issues.error('invalid_piece_layer', `piece layer of ${JSON.stringify(file.path.join('/'))} is ${layer.length} bytes, expected ${want} (${want / HASH_SIZE} pieces)`, v.span);
        continue;
      }
      if (toHex(rootFromPieceLayer(layer, pieceLength)) !== key) {
        issues.error('invalid_piece_layer', `piece layer of ${JSON.stringify(file.path.join('/'))} does not hash up to its pieces root`, v.span);
        continue;
      }
      out.set(key, layer);
    }
  }
  for (const [bkey, f] of byRoot) {
    // Every key of `out` is in `present`.
    if (f.length > pieceLength && !present.has(bkey)) {
      issues.note('missing_piece_layer', `no piece layer for ${JSON.stringify(f.path.join('/'))}: its piece hashes must be fetched from peers (BEP 52)`, f.span ?? { start: 0, end: 0 });
    }
  }
}

/**
 * Bytes as a latin1 string, one character per byte: a Map key. Views into
 * `input` (pieces roots are) are read through one Buffer over it, not a new
 * Buffer each.
 */
function binaryKeys(input: Uint8Array): (bytes: Uint8Array) => string {
  const view = asBuffer(input);
  return (bytes) => {
    const at = bytes.byteOffset - input.byteOffset;
    if (bytes.buffer === input.buffer && at >= 0 && at + bytes.length <= view.length) return view.toString('latin1', at, at + bytes.length);
    return asBuffer(bytes).toString('latin1');
  };
}

/** BEP 12 announce-list tiers, else the lone BEP 3 announce. URLs trimmed, duplicates dropped. */
function readTrackers(root: BNode, issues: Issues): string[][] {
  const seen = new Set<string>();
  const url = (n: BNode): string | undefined => {
    if (!n.isStr()) {
      issues.warn('wrong_type', `tracker URL must be a string, is ${article(n.kind)}`, n.span);
      return undefined;
    }
    const u = n.str().trim();
    if (u.length === 0 || seen.has(u)) return undefined;
    seen.add(u);
    return u;
  };
  const list = root.get('announce-list');
  const tiers: string[][] = [];
  if (list) {
    if (!list.isList()) issues.warn('wrong_type', `announce-list must be a list of tiers (BEP 12), is ${article(list.kind)}`, list.span);
    else
      for (const tier of list.items()) {
        const items = tier.isList() ? tier.items() : [tier];
        const urls = items.map(url).filter((u): u is string => u !== undefined);
        if (urls.length > 0) tiers.push(urls);
      }
  }
  if (tiers.length > 0) return tiers;
  const announce = root.get('announce');
  if (announce) {
    const u = url(announce);
    if (u) return [[u]];
  }
  return [];
}

/** BEP 19 url-list: one string or a list of them. */
function readWebSeeds(root: BNode, issues: Issues): string[] {
  const node = root.get('url-list');
  if (!node) return [];
  const items = node.isList() ? node.items() : [node];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const n of items) {
    if (!n.isStr()) {
      issues.warn('wrong_type', `url-list entries must be strings (BEP 19), found ${article(n.kind)}`, n.span);
      continue;
    }
    const u = n.str().trim();
    if (u.length > 0 && !seen.has(u)) {
      seen.add(u);
      out.push(u);
    }
  }
  return out;
}

