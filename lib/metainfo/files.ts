import { BNode } from '../bencode/node.js';
import { dictFind, K_DICT, K_INT, K_LIST, K_STR, TextRegion, TOKEN_STRIDE as S } from '../bencode/tokens.js';
import { DecodeError } from '../core/errors.js';
import type { Span } from '../core/span.js';
import type { Issues } from './issues.js';
import { isPlainComponent } from './safe-path.js';

/**
 * The file lists of a torrent as written: BEP 3 `length`/`files` (with BEP 47
 * attributes and padding files) and the BEP 52 `file tree`. Hard structural
 * errors throw DecodeError at the offending byte; the rest become diagnostics.
 */

/** A file entry as found in the info dict, before layout. */
export interface RawFile {
  /** Components: the torrent name first for multi-file torrents. */
  path: string[];
  /** v2: token index of each component's key in the file tree, -1 for the torrent name (`nameNode`); v1 files keep `pathList` instead. */
  pathKeys?: number[];
  /** v1: token index of the `path` list; component i > 0 is its item i - 1 (component 0 is the name). */
  pathList?: number;
  nameNode?: BNode;
  length: number;
  attr: string;
  pad: boolean;
  symlinkPath?: string[];
  piecesRoot?: Uint8Array;
  /** The entry's span (the dict in `files`, the leaf dict in `file tree`). */
  span?: Span;
  /** Span of the `pieces root` string (v2). */
  rootSpan?: Span;
}

/**
 * A v1 `files` entry of the common shape, read straight off the token array
 * (plainV1Entry): already the final TorrentFile, its `offset` set at layout,
 * every path component plain (isPlainComponent), so nothing to sanitise or
 * point a diagnostic at. Saves an object per file on 100 000-file torrents.
 */
export interface PlainFile {
  path: string[];
  length: number;
  offset: number;
  pad: boolean;
  attr: string;
  span: Span;
}

/** A file as v1Files lists it. */
export type FileEntry = RawFile | PlainFile;

export function isPlainFile(f: FileEntry): f is PlainFile {
  return 'offset' in f;
}

/** BitComet's legacy padding-file names (before BEP 47's `attr`): libtorrent treats them as pads. */
const LEGACY_PAD_PREFIX = '_____padding_file_';
const LEGACY_PAD = /^_____padding_file_/;

export function requireInt(node: BNode | undefined, path: string, at: BNode): number {
  if (!node) throw new DecodeError('missing_field', at.span.start, `missing ${JSON.stringify(lastKey(path))}`, path);
  if (!node.isInt()) throw new DecodeError('wrong_type', node.span.start, `${path} must be an integer, is a ${node.kind}`, path);
  return node.int(path);
}

export function lastKey(path: string): string {
  const i = path.lastIndexOf('.');
  return i < 0 ? path : path.slice(i + 1);
}

function fileLength(entry: BNode, path: string): number {
  const n = entry.get('length');
  const len = requireInt(n, `${path}.length`, entry);
  if (len < 0) throw new DecodeError('invalid_value', n!.span.start, `file length is negative (${len})`, `${path}.length`);
  return len;
}

/** BEP 47 symlinks hold no data: libtorrent lays them out with length 0 whatever `length` says. */
function symlinkLength(entry: BNode, path: string, attr: string, issues: Issues): number | undefined {
  if (!attr.includes('l')) return undefined;
  const n = entry.get('length');
  if (n?.isInt() && n.intValue() !== 0) issues.note('symlink_length', `${path} is a symlink with length ${n.intValue()}: symlinks hold no data, read as 0`, n.span);
  return 0;
}

function attrOf(entry: BNode, path: string, issues: Issues): string {
  const a = entry.get('attr');
  if (!a) return '';
  if (!a.isStr()) {
    issues.warn('wrong_type', `${path}.attr should be a string of flag letters (BEP 47), is a ${a.kind}: ignored`, a.span);
    return '';
  }
  return a.str();
}

function stringList(node: BNode, path: string, what: string): { values: string[]; nodes: BNode[] } {
  if (!node.isList()) throw new DecodeError('wrong_type', node.span.start, `${path} must be a list of strings, is a ${node.kind}`, path);
  const nodes = node.items();
  for (const [i, c] of nodes.entries()) {
    if (!c.isStr()) throw new DecodeError('wrong_type', c.span.start, `${what} element ${i} must be a string, is a ${c.kind}`, `${path}[${i}]`);
  }
  return { values: nodes.map((c) => c.str()), nodes };
}

/** The node holding path component `i` of a file, for a diagnostic's span. */
export function componentNode(f: RawFile, i: number): BNode | null {
  if (f.pathKeys) {
    const k = f.pathKeys[i];
    if (k === undefined || !f.nameNode) return null;
    return k < 0 ? f.nameNode : new BNode(f.nameNode.doc, k);
  }
  if (i === 0) return f.nameNode ?? null;
  if (f.pathList === undefined || !f.nameNode) return null;
  return new BNode(f.nameNode.doc, f.pathList).items()[i - 1] ?? null;
}

/**
 * BEP 3 single-file (`length`) or multi-file (`files`) list. With `plainEntries`,
 * entries of the common shape come back as PlainFile (hybrids pass false: their
 * files are matched against the v2 tree and given pieces roots).
 */
export function v1Files(info: BNode, nameNode: BNode, name: string, issues: Issues, maxFiles: number, plainEntries = true): FileEntry[] {
  const files = info.get('files');
  if (!files) {
    const lengthNode = info.get('length');
    if (!lengthNode) throw new DecodeError('missing_field', info.span.start, "info has neither 'length' (one file) nor 'files' (several)", 'info');
    const length = fileLength(info, 'info');
    const attr = attrOf(info, 'info', issues);
    return [{ path: [name], nameNode, length, attr, pad: attr.includes('p'), span: lengthNode.span }];
  }
  if (!files.isList()) throw new DecodeError('wrong_type', files.span.start, `info.files must be a list, is a ${files.kind}`, 'info.files');
  if (files.length === 0) throw new DecodeError('no_files', files.span.start, 'info.files is an empty list: the torrent has no files', 'info.files');
  if (files.length > maxFiles) throw new DecodeError('limit_exceeded', files.span.start, `more than ${maxFiles} files`, 'info.files');
  if (info.get('length')) issues.warn('ambiguous_layout', "info has both 'length' and 'files': 'files' is used", info.get('length')!.span);
  const out: FileEntry[] = [];
  const doc = files.doc;
  const ft = files.index * S;
  const text = new TextRegion(doc.buf, doc.tokens[ft + 1]!, doc.tokens[ft + 2]!);
  const fast = plainEntries && isPlainComponent(name);
  let e = files.index + 1;
  for (let i = 0; i < files.length; i++) {
    out.push((fast ? plainV1Entry(doc, text, e, name) : undefined) ?? v1Entry(new BNode(doc, e), i, nameNode, name, issues));
    e = doc.tokens[e * S + 4]!;
  }
  return out;
}

const KEY_LENGTH = new TextEncoder().encode('length');
const KEY_PATH = new TextEncoder().encode('path');
const KEY_ATTR = new TextEncoder().encode('attr');

function keyIs(buf: Uint8Array, at: number, key: Uint8Array): boolean {
  for (let j = 0; j < key.length; j++) if (buf[at + j] !== key[j]) return false;
  return true;
}

/**
 * A `length` read straight off the token array: an int token `i<digits>e`, no sign, at
 * most 15 digits (always a safe integer). -1 for anything else (the slow path decides).
 */
function plainLength(tokens: Int32Array, buf: Uint8Array, t: number): number {
  const lt = t * S;
  if (tokens[lt] !== K_INT) return -1;
  const ls = tokens[lt + 1]! + 1;
  const le = tokens[lt + 2]! - 1;
  if (le - ls > 15 || buf[ls] === 0x2d) return -1;
  let length = 0;
  for (let p = ls; p < le; p++) length = length * 10 + (buf[p]! - 0x30);
  return length;
}

/**
 * The common shape of a `files` entry, read straight off the token array:
 * a dict with a non-negative `length` of at most 15 digits, a non-empty
 * `path` list of plain strings and, if any, a string `attr` without `l`.
 * Anything else (errors, diagnostics, unsafe names, symlinks, pads without a
 * path) returns undefined and goes through v1Entry; for the entries taken
 * here both give the same file.
 */
function plainV1Entry(doc: BNode['doc'], text: TextRegion, e: number, name: string): PlainFile | undefined {
  const tokens = doc.tokens;
  const buf = doc.buf;
  const et = e * S;
  if (tokens[et] !== K_DICT) return undefined;
  // One pass over the keys; the first of each wins, as in BNode.get.
  let lengthT = -1;
  let pathT = -1;
  let attrT = -1;
  const n = tokens[et + 3]!;
  let k = e + 1;
  for (let c = 0; c + 1 < n; c += 2) {
    const kt = k * S;
    const a = tokens[kt + 3]!;
    const len = tokens[kt + 2]! - a;
    const v = tokens[kt + 4]!;
    if (len === 4) {
      if (pathT < 0 && keyIs(buf, a, KEY_PATH)) pathT = v;
      else if (attrT < 0 && keyIs(buf, a, KEY_ATTR)) attrT = v;
    } else if (len === 6 && lengthT < 0 && keyIs(buf, a, KEY_LENGTH)) lengthT = v;
    k = tokens[v * S + 4]!;
  }
  if (lengthT < 0 || pathT < 0) return undefined;
  const length = plainLength(tokens, buf, lengthT);
  if (length < 0) return undefined;
  let attr = '';
  if (attrT >= 0) {
    const at = attrT * S;
    if (tokens[at] !== K_STR) return undefined;
    attr = text.slice(tokens[at + 3]!, tokens[at + 2]!);
    if (attr.includes('l')) return undefined;
  }
  const pt = pathT * S;
  if (tokens[pt] !== K_LIST) return undefined;
  const m = tokens[pt + 3]!;
  if (m === 0) return undefined;
  // Sized up front: a pushed-to array literal would grow a 17-slot backing store per file.
  const components: string[] = new Array<string>(m + 1);
  components[0] = name;
  let c = pathT + 1;
  for (let j = 1; j <= m; j++) {
    const ct = c * S;
    if (tokens[ct] !== K_STR) return undefined;
    const s = text.slice(tokens[ct + 3]!, tokens[ct + 2]!);
    if (!isPlainComponent(s)) return undefined;
    components[j] = s;
    c = tokens[ct + 4]!;
  }
  const pad = attr.includes('p') || components[m]!.startsWith(LEGACY_PAD_PREFIX);
  const span: Span = { start: doc.base + tokens[et + 1]!, end: doc.base + tokens[et + 2]! };
  return { path: components, length, offset: 0, pad, attr, span };
}

/** One `files` entry, read through BNode: every check, error and diagnostic. */
function v1Entry(entry: BNode, i: number, nameNode: BNode, name: string, issues: Issues): RawFile {
  const path = `info.files[${i}]`;
  if (!entry.isDict()) throw new DecodeError('wrong_type', entry.span.start, `${path} must be a dict, is a ${entry.kind}`, path);
  const attr = attrOf(entry, path, issues);
  const length = symlinkLength(entry, path, attr, issues) ?? fileLength(entry, path);
  const p = entry.get('path');
  let components: string[];
  if (!p) {
    // libtorrent accepts a BEP 47 pad file without a path and names it `.pad/N`.
    if (!attr.includes('p')) throw new DecodeError('missing_field', entry.span.start, `${path} has no 'path'`, path);
    components = [name, '.pad', String(length)];
  } else {
    if (!p.isList()) throw new DecodeError('wrong_type', p.span.start, `${path}.path must be a list of strings, is a ${p.kind}`, `${path}.path`);
    const items = p.items();
    // Sized up front (the array is kept in the TorrentFile): pushing would leave spare slots.
    components = new Array<string>(items.length + 1);
    components[0] = name;
    for (let j = 0; j < items.length; j++) {
      const c = items[j]!;
      if (!c.isStr()) throw new DecodeError('wrong_type', c.span.start, `path element ${j} must be a string, is a ${c.kind}`, `${path}.path[${j}]`);
      components[j + 1] = c.str();
    }
    if (components.length === 1) issues.warn('unsafe_path', `${path}.path is an empty list`, p.span);
  }
  const pad = attr.includes('p') || (components.length > 1 && LEGACY_PAD.test(components[components.length - 1]!));
  const f: RawFile = { path: components, nameNode, length, attr, pad, span: entry.span };
  if (p) f.pathList = p.index;
  if (attr.includes('l')) f.symlinkPath = symlinkOf(entry, path, issues);
  return f;
}

function symlinkOf(entry: BNode, path: string, issues: Issues): string[] | undefined {
  const s = entry.get('symlink path');
  if (!s) {
    issues.error('invalid_symlink', `${path} is a symlink (attr 'l') without a 'symlink path' (BEP 47)`, entry.span);
    return undefined;
  }
  return stringList(s, `${path}.symlink path`, 'symlink path').values;
}

/**
 * BEP 52 file tree: nested dicts keyed by path component; a file is a dict
 * whose only key is the empty string, mapping to {length, pieces root, attr}.
 * Order is the tree's (sorted) order, as BEP 52 lays files out. With
 * `plainLeaves`, file entries of the common shape are read off the token
 * array (plainV2Leaf), the rest through BNode (v2Leaf); both give the same file.
 */
export function v2Files(tree: BNode, nameNode: BNode, name: string, issues: Issues, maxFiles: number, plainLeaves = true, v1FilesList = false): RawFile[] {
  if (!tree.isDict()) throw new DecodeError('wrong_type', tree.span.start, `info.file tree must be a dict, is a ${tree.kind}`, 'info.file tree');
  const out: RawFile[] = [];
  const doc = tree.doc;
  const tokens = doc.tokens;
  const tt = tree.index * S;
  const text = new TextRegion(doc.buf, tokens[tt + 1]!, tokens[tt + 2]!);
  // Walked on the token array. Paths are built with the torrent name first (dropped at the end
  // for a single-file tree); `path.slice(1)` is the path inside the tree, as messages show it.
  const walk = (dir: number, comps: string[], keys: number[]): void => {
    const n = tokens[dir * S + 3]!;
    let k = dir + 1;
    for (let c = 0; c + 1 < n; c += 2) {
      const kt = k * S;
      const v = tokens[kt + 4]!;
      const vt = v * S;
      const key = text.slice(tokens[kt + 3]!, tokens[kt + 2]!);
      // concat, not a spread: the spread's append leaves every path array with ~16 spare slots.
      const path = comps.concat(key);
      if (key.length === 0) {
        throw new DecodeError('invalid_value', doc.base + tokens[kt + 1]!, `empty file name in the file tree (BEP 52: a file is a dict holding only the '' key)`, treePath(path));
      }
      if (tokens[vt] !== K_DICT) {
        const node = new BNode(doc, v);
        throw new DecodeError('wrong_type', node.span.start, `file tree entry ${JSON.stringify(key)} must be a dict, is a ${node.kind}`, treePath(path));
      }
      const pathKeys = keys.concat(k);
      const entries = tokens[vt + 3]! >> 1;
      const leaf = dictFind(doc, v, EMPTY_KEY);
      if (leaf >= 0) {
        if (entries > 1) issues.error('invalid_file_tree', `file tree entry ${JSON.stringify(key)} is both a file and a folder`, new BNode(doc, v).span);
        if (tokens[leaf * S] !== K_DICT) {
          const node = new BNode(doc, leaf);
          throw new DecodeError('wrong_type', node.span.start, `file entry for ${JSON.stringify(key)} must be a dict, is a ${node.kind}`, treePath(path));
        }
        if (out.length >= maxFiles) throw new DecodeError('limit_exceeded', doc.base + tokens[leaf * S + 1]!, `more than ${maxFiles} files`, treePath(path));
        out.push((plainLeaves ? plainV2Leaf(doc, leaf, path, pathKeys, nameNode) : undefined) ?? v2Leaf(new BNode(doc, leaf), path, pathKeys, nameNode, treePath(path), issues));
      } else {
        if (entries === 0) issues.warn('empty_folder', `file tree folder ${JSON.stringify(key)} is empty`, new BNode(doc, v).span);
        walk(v, path, pathKeys);
      }
      k = tokens[vt + 4]!;
    }
  };
  walk(tree.index, [name], [-1]);
  if (out.length === 0) throw new DecodeError('no_files', tree.span.start, 'the file tree holds no files', 'info.file tree');
  // A tree of one file at the top level is a single-file torrent: no folder. Not in a hybrid
  // whose v1 part is a 'files' list: there the file is in the torrent's folder, as v1 says
  // (libtorrent makes such torrents from a folder holding one file, and reads them this way).
  const only = out[0]!;
  if (out.length === 1 && only.path.length === 2 && !v1FilesList) {
    only.path.shift();
    only.pathKeys!.shift();
  }
  return out;
}

const EMPTY_KEY = new Uint8Array(0);
const KEY_PIECES_ROOT = new TextEncoder().encode('pieces root');

/** The error path of a file tree entry: `info.file tree.dir.file` (path has the torrent name first). */
function treePath(path: readonly string[]): string {
  let s = 'info.file tree';
  for (let i = 1; i < path.length; i++) s += `.${path[i]}`;
  return s;
}

/**
 * The common shape of a v2 file entry, read off the token array: a
 * non-negative `length` of at most 15 digits, no `attr` or one without `p`
 * and `l`, and a 32-byte `pieces root` (not all zeros when there is data) or,
 * for an empty file, none. Anything else goes through v2Leaf.
 */
function plainV2Leaf(doc: BNode['doc'], leaf: number, path: string[], pathKeys: number[], nameNode: BNode): RawFile | undefined {
  const tokens = doc.tokens;
  const buf = doc.buf;
  let lengthT = -1;
  let rootT = -1;
  let attrT = -1;
  const n = tokens[leaf * S + 3]!;
  let k = leaf + 1;
  for (let c = 0; c + 1 < n; c += 2) {
    const kt = k * S;
    const a = tokens[kt + 3]!;
    const len = tokens[kt + 2]! - a;
    const v = tokens[kt + 4]!;
    if (len === 6) {
      if (lengthT < 0 && keyIs(buf, a, KEY_LENGTH)) lengthT = v;
    } else if (len === 11) {
      if (rootT < 0 && keyIs(buf, a, KEY_PIECES_ROOT)) rootT = v;
    } else if (len === 4 && attrT < 0 && keyIs(buf, a, KEY_ATTR)) attrT = v;
    k = tokens[v * S + 4]!;
  }
  if (lengthT < 0) return undefined;
  const length = plainLength(tokens, buf, lengthT);
  if (length < 0) return undefined;
  let attr = '';
  if (attrT >= 0) {
    const at = attrT * S;
    if (tokens[at] !== K_STR) return undefined;
    attr = new BNode(doc, attrT).str();
    if (attr.includes('p') || attr.includes('l')) return undefined;
  }
  const et = leaf * S;
  const span = { start: doc.base + tokens[et + 1]!, end: doc.base + tokens[et + 2]! };
  if (rootT < 0) return length > 0 ? undefined : { path, pathKeys, nameNode, length, attr, pad: false, span };
  const rt = rootT * S;
  if (tokens[rt] !== K_STR) return undefined;
  const ra = tokens[rt + 3]!;
  const re = tokens[rt + 2]!;
  if (re - ra !== 32) return undefined;
  if (length > 0) {
    let zero = true;
    for (let p = ra; p < re && zero; p++) zero = buf[p] === 0;
    if (zero) return undefined;
  }
  // One literal with every key: keys added later would need a second object per file.
  const rootSpan = { start: doc.base + ra, end: doc.base + re };
  return { path, pathKeys, nameNode, length, attr, pad: false, span, rootSpan, piecesRoot: buf.subarray(ra, re) };
}

function v2Leaf(leaf: BNode, path: string[], pathKeys: number[], nameNode: BNode, at: string, issues: Issues): RawFile {
  const attr = attrOf(leaf, at, issues);
  const length = symlinkLength(leaf, at, attr, issues) ?? fileLength(leaf, at);
  const f: RawFile = { path, pathKeys, nameNode, length, attr, pad: false, span: leaf.span };
  // Messages name the file by its path inside the tree.
  const rel = JSON.stringify(path.slice(1).join('/'));
  if (attr.includes('p')) issues.error('invalid_pad_file', `padding files are not allowed in a v2 file tree (BEP 52): ${rel}`, leaf.span);
  if (attr.includes('l')) {
    f.symlinkPath = symlinkOf(leaf, at, issues);
    return f;
  }
  const root = leaf.get('pieces root');
  if (!root) {
    if (length > 0) issues.error('missing_pieces_root', `file ${rel} has data but no 'pieces root' (BEP 52)`, leaf.span);
    return f;
  }
  if (!root.isStr() || root.bytes().length !== 32) {
    issues.error('invalid_pieces_root', `'pieces root' of ${rel} must be a 32-byte string`, root.span);
    return f;
  }
  const bytes = root.bytes();
  f.rootSpan = root.dataSpan;
  if (length > 0 && bytes.every((b) => b === 0)) {
    issues.error('missing_pieces_root', `'pieces root' of ${rel} is all zeros`, root.span);
    return f;
  }
  f.piecesRoot = bytes;
  return f;
}
