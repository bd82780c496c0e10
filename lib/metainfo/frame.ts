import { bencodeFields, type BencodeFieldHooks } from '../bencode/fields.js';
import type { BNode } from '../bencode/node.js';
import type { BencodeDocument } from '../bencode/decode.js';
import { formatBytes, toHex } from '../core/bytes.js';
import type { FieldDef, Frame } from '../core/field.js';
import type { Torrent } from './types.js';

/**
 * The metainfo keys a reader meets, each with its BEP (Wireshark-style
 * registration table). Paths are bencode field paths: keys joined with `.`,
 * list items as `[]`, v2 file-tree names as `*`.
 */
export const METAINFO_FIELDS: Readonly<Record<string, FieldDef>> = {
  announce: { id: 'torrent.announce', label: 'announce (tracker URL)', bep: 3 },
  'announce-list': { id: 'torrent.announce_list', label: 'announce-list (tracker tiers)', bep: 12 },
  'announce-list[]': { id: 'torrent.announce_list.tier', label: 'tier', bep: 12 },
  'announce-list[][]': { id: 'torrent.announce_list.url', label: 'tracker URL', bep: 12 },
  'url-list': { id: 'torrent.url_list', label: 'url-list (web seeds)', bep: 19 },
  'url-list[]': { id: 'torrent.url_list.url', label: 'web seed URL', bep: 19 },
  httpseeds: { id: 'torrent.httpseeds', label: 'httpseeds (Hoffman-style web seeds)', bep: 17 },
  nodes: { id: 'torrent.nodes', label: 'nodes (DHT bootstrap)', bep: 5 },
  comment: { id: 'torrent.comment', label: 'comment', bep: 3 },
  'created by': { id: 'torrent.created_by', label: 'created by', bep: 3 },
  'creation date': { id: 'torrent.creation_date', label: 'creation date', bep: 3 },
  encoding: { id: 'torrent.encoding', label: 'encoding', bep: 3 },
  'piece layers': { id: 'torrent.piece_layers', label: 'piece layers', bep: 52 },
  'piece layers.*': { id: 'torrent.piece_layers.layer', label: 'piece layer', bep: 52 },
  info: { id: 'torrent.info', label: 'info (hashed: the info-hash is over these bytes)', bep: 3 },
  'info.name': { id: 'torrent.info.name', label: 'name', bep: 3 },
  'info.piece length': { id: 'torrent.info.piece_length', label: 'piece length', bep: 3 },
  'info.pieces': { id: 'torrent.info.pieces', label: 'pieces (SHA-1 per piece)', bep: 3 },
  'info.length': { id: 'torrent.info.length', label: 'length', bep: 3 },
  'info.private': { id: 'torrent.info.private', label: 'private', bep: 27 },
  'info.source': { id: 'torrent.info.source', label: 'source', bep: 27 },
  'info.meta version': { id: 'torrent.info.meta_version', label: 'meta version', bep: 52 },
  'info.file tree': { id: 'torrent.info.file_tree', label: 'file tree', bep: 52 },
  'info.files': { id: 'torrent.info.files', label: 'files', bep: 3 },
  'info.files[]': { id: 'torrent.info.files.file', label: 'file', bep: 3 },
  'info.files[].length': { id: 'torrent.info.files.length', label: 'length', bep: 3 },
  'info.files[].path': { id: 'torrent.info.files.path', label: 'path', bep: 3 },
  'info.files[].path[]': { id: 'torrent.info.files.path.component', label: 'path component', bep: 3 },
  'info.files[].attr': { id: 'torrent.info.files.attr', label: 'attr', bep: 47 },
  'info.files[].symlink path': { id: 'torrent.info.files.symlink_path', label: 'symlink path', bep: 47 },
  'info.files[].sha1': { id: 'torrent.info.files.sha1', label: 'sha1 (file hash)', bep: 47 },
  'info.attr': { id: 'torrent.info.attr', label: 'attr', bep: 47 },
  'file.length': { id: 'torrent.info.file_tree.length', label: 'length', bep: 52 },
  'file.pieces root': { id: 'torrent.info.file_tree.pieces_root', label: 'pieces root', bep: 52 },
  'file.attr': { id: 'torrent.info.file_tree.attr', label: 'attr', bep: 47 },
  'file.symlink path': { id: 'torrent.info.file_tree.symlink_path', label: 'symlink path', bep: 47 },
};

const ATTR_NAMES: Record<string, string> = { p: 'padding', x: 'executable', h: 'hidden', l: 'symlink' };

function attrDisplay(node: BNode): string | undefined {
  const s = node.text();
  if (s === undefined) return undefined;
  const names = [...s].map((c) => ATTR_NAMES[c] ?? `unknown '${c}'`);
  return `${JSON.stringify(s)} (${names.join(', ') || 'none'})`;
}

function countDisplay(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Hooks that name the keys above and explain their values. */
export function metainfoHooks(t?: Torrent): BencodeFieldHooks {
  return {
    describe(path, node) {
      let key = path;
      if (path.startsWith('info.file tree.')) {
        // Inside the tree: directories and files are names; a file's leaf keys are known.
        const last = path.slice(path.lastIndexOf('.') + 1);
        const isLeafKey = path.endsWith(`..${last}`) && ['length', 'pieces root', 'attr', 'symlink path'].includes(last);
        if (isLeafKey) key = `file.${last}`;
        else if (node.isDict() && node.get('')) return { id: 'torrent.info.file_tree.file', bep: 52, display: 'file' };
        else if (path.endsWith('.')) return { id: 'torrent.info.file_tree.entry', label: 'file entry', bep: 52 };
        else return node.isDict() ? { id: 'torrent.info.file_tree.dir', bep: 52, display: `folder of ${countDisplay(node.length, 'entry', 'entries')}` } : undefined;
      } else if (path.startsWith('piece layers.')) key = 'piece layers.*';
      const def = METAINFO_FIELDS[key];
      if (!def) return undefined;
      const out: { id?: string; label?: string; display?: string; bep?: number } = { id: def.id, bep: def.bep };
      if (key === 'info.pieces' && node.isStr()) {
        const n = node.bytes().length;
        out.display = n % 20 === 0 ? countDisplay(n / 20, 'SHA-1 hash', 'SHA-1 hashes') : `${n} bytes: not whole SHA-1 hashes`;
      } else if (key === 'piece layers.*' && node.isStr()) {
        out.display = countDisplay(node.bytes().length / 32, 'SHA-256 hash', 'SHA-256 hashes');
      } else if (key === 'piece layers' && node.isDict()) {
        out.display = countDisplay(node.length, 'layer');
      } else if (key === 'info' && t) {
        const hashes = [t.infoHash && `v1 ${toHex(t.infoHash)}`, t.infoHashV2 && `v2 ${toHex(t.infoHashV2)}`].filter(Boolean).join(', ');
        out.display = `info-hash ${hashes}`;
      } else if (key === 'creation date' && node.isInt()) {
        const v = node.intValue();
        const d = typeof v === 'number' && Math.abs(v) < 8.64e12 ? new Date(v * 1000) : undefined;
        out.display = d && !Number.isNaN(d.getTime()) ? `${v} (${d.toISOString().replace('.000Z', 'Z')})` : String(v);
      } else if ((key === 'info.piece length' || key.endsWith('length')) && node.isInt()) {
        const v = node.intValue();
        out.display = typeof v === 'number' && v >= 1024 ? `${v} (${formatBytes(v)})` : String(v);
      } else if (key.endsWith('attr') && node.isStr()) {
        out.display = attrDisplay(node);
      } else if (key === 'info.private' && node.isInt()) {
        out.display = node.intValue() === 1 ? '1 (private: no DHT, PEX or LSD)' : String(node.intValue());
      } else if (key === 'info.meta version' && node.isInt()) {
        out.display = node.intValue() === 2 ? '2 (BitTorrent v2)' : String(node.intValue());
      } else if (key === 'info.file tree' && t) {
        out.display = countDisplay(t.files.filter((f) => !f.pad).length, 'file');
      } else if (key === 'info.files' && node.isList()) {
        out.display = countDisplay(node.length, 'file');
      }
      return out;
    },
  };
}

/** The whole .torrent as one annotated frame: every key named with its BEP, diagnostics on their bytes. */
export function torrentFrame(t: Torrent, title = 'torrent'): Frame {
  const doc: BencodeDocument = { ...t.doc, diagnostics: [...t.diagnostics] };
  return { title, bytes: t.raw, base: t.doc.base, fields: [bencodeFields(doc, 'torrent', metainfoHooks(t))] };
}
