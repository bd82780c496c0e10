import { decode, type BencodeDocument } from '../bencode/decode.js';
import { bencodeFields, type BencodeFieldHooks } from '../bencode/fields.js';
import type { BNode } from '../bencode/node.js';
import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { printable, toHex, utf8, utf8OrUndefined, quotedPrintable } from '../core/bytes.js';
import { formatIp } from '../core/address.js';
import { decodeCompactPeers, familyOf, formatPeer } from './compact-peers.js';
import { decodeHttpRequestHead, HTTP_FIELDS, type HttpRequestHead } from './http-message.js';
import { parseQuery, percentEncodeBytes, type QueryParam } from './url.js';
import type { AnnounceEvent, AnnounceRequest, TrackerPeer } from './types.js';

/** Announce request parameters (BEP 3, BEP 7, BEP 23, and what clients commonly send). */
export const ANNOUNCE_PARAMS = {
  info_hash: { id: 'tracker.announce.info_hash', label: 'info_hash', bep: 3 },
  peer_id: { id: 'tracker.announce.peer_id', label: 'peer_id', bep: 3 },
  port: { id: 'tracker.announce.port', label: 'port', bep: 3 },
  uploaded: { id: 'tracker.announce.uploaded', label: 'uploaded', bep: 3 },
  downloaded: { id: 'tracker.announce.downloaded', label: 'downloaded', bep: 3 },
  left: { id: 'tracker.announce.left', label: 'left', bep: 3 },
  event: { id: 'tracker.announce.event', label: 'event', bep: 3 },
  compact: { id: 'tracker.announce.compact', label: 'compact', bep: 23 },
  no_peer_id: { id: 'tracker.announce.no_peer_id', label: 'no_peer_id' },
  numwant: { id: 'tracker.announce.numwant', label: 'numwant' },
  key: { id: 'tracker.announce.key', label: 'key' },
  trackerid: { id: 'tracker.announce.trackerid', label: 'trackerid', bep: 3 },
  ip: { id: 'tracker.announce.ip', label: 'ip', bep: 3 },
  ipv4: { id: 'tracker.announce.ipv4', label: 'ipv4', bep: 7 },
  ipv6: { id: 'tracker.announce.ipv6', label: 'ipv6', bep: 7 },
  supportcrypto: { id: 'tracker.announce.supportcrypto', label: 'supportcrypto' },
  requirecrypto: { id: 'tracker.announce.requirecrypto', label: 'requirecrypto' },
  corrupt: { id: 'tracker.announce.corrupt', label: 'corrupt' },
} as const satisfies Record<string, FieldDef>;

/** Announce response keys (BEP 3, BEP 7, BEP 23, BEP 24, BEP 31). */
export const ANNOUNCE_RESPONSE_FIELDS = {
  'failure reason': { id: 'tracker.failure_reason', label: 'failure reason', bep: 3 },
  'warning message': { id: 'tracker.warning_message', label: 'warning message', bep: 3 },
  interval: { id: 'tracker.interval', label: 'interval', bep: 3 },
  'min interval': { id: 'tracker.min_interval', label: 'min interval', bep: 3 },
  'tracker id': { id: 'tracker.tracker_id', label: 'tracker id', bep: 3 },
  complete: { id: 'tracker.complete', label: 'complete (seeders)', bep: 3 },
  incomplete: { id: 'tracker.incomplete', label: 'incomplete (leechers)', bep: 3 },
  downloaded: { id: 'tracker.downloaded', label: 'downloaded', bep: 48 },
  peers: { id: 'tracker.peers', label: 'peers', bep: 23 },
  peers6: { id: 'tracker.peers6', label: 'peers6', bep: 7 },
  'external ip': { id: 'tracker.external_ip', label: 'external ip', bep: 24 },
  'retry in': { id: 'tracker.retry_in', label: 'retry in', bep: 31 },
} as const satisfies Record<string, FieldDef>;

const DICT_PEER_FIELDS = {
  peer: { id: 'tracker.peer', label: 'peer', bep: 3 },
  ip: { id: 'tracker.peer.ip', label: 'ip', bep: 3 },
  port: { id: 'tracker.peer.port', label: 'port', bep: 3 },
  'peer id': { id: 'tracker.peer.peer_id', label: 'peer id', bep: 3 },
} as const satisfies Record<string, FieldDef>;

export const TRACKER_BENCODE_LIMITS = { maxDepth: 16, maxTokens: 1_000_000 } as const;

const EVENTS: readonly AnnounceEvent[] = ['started', 'completed', 'stopped'];

/**
 * The announce URL for a request (BEP 3): the tracker's URL (its own query, such
 * as a passkey, kept) plus our parameters; info_hash and peer_id are the raw
 * 20 bytes percent-encoded byte by byte.
 */
export function buildAnnounceUrl(announceUrl: string, req: AnnounceRequest): string {
  if (req.infoHash.length !== 20) throw new TypeError(`info_hash must be 20 bytes, is ${req.infoHash.length}`);
  if (req.peerId.length !== 20) throw new TypeError(`peer_id must be 20 bytes, is ${req.peerId.length}`);
  const params: string[] = [
    `info_hash=${percentEncodeBytes(req.infoHash)}`,
    `peer_id=${percentEncodeBytes(req.peerId)}`,
    `port=${req.port}`,
    `uploaded=${req.uploaded}`,
    `downloaded=${req.downloaded}`,
    `left=${req.left}`,
    `compact=${req.compact === false ? 0 : 1}`,
  ];
  if (req.compact === false) params.push('no_peer_id=0');
  if (req.event) params.push(`event=${req.event}`);
  if (req.numwant !== undefined) params.push(`numwant=${req.numwant}`);
  if (req.key !== undefined) params.push(`key=${(req.key >>> 0).toString(16).padStart(8, '0')}`);
  if (req.crypto === 'support') params.push('supportcrypto=1');
  if (req.crypto === 'require') params.push('supportcrypto=1', 'requirecrypto=1');
  if (req.trackerId !== undefined) params.push(`trackerid=${percentEncodeBytes(new TextEncoder().encode(req.trackerId))}`);
  const hash = announceUrl.indexOf('#');
  const url = hash >= 0 ? announceUrl.slice(0, hash) : announceUrl;
  const sep = url.includes('?') ? (url.endsWith('?') || url.endsWith('&') ? '' : '&') : '?';
  return `${url}${sep}${params.join('&')}`;
}

/** A decoded announce query: what a tracker reads out of the request target. */
export interface AnnounceQuery {
  infoHash?: Uint8Array;
  peerId?: Uint8Array;
  port?: number;
  uploaded?: number;
  downloaded?: number;
  left?: number;
  event?: AnnounceEvent | 'empty' | 'paused';
  compact?: boolean;
  noPeerId?: boolean;
  numwant?: number;
  key?: string;
  trackerId?: string;
  ip?: string;
  params: QueryParam[];
}

const INT_PARAMS = new Set(['port', 'uploaded', 'downloaded', 'left', 'compact', 'no_peer_id', 'numwant', 'supportcrypto', 'requirecrypto', 'corrupt']);

/**
 * Decode the parameters of an announce request target (`/announce?...`).
 * `base` is the absolute offset of the target's first character. Problems are
 * diagnostics on the parameter's span; the tracker decides what is fatal.
 */
export function decodeAnnounceQuery(target: string, base = 0): { value: AnnounceQuery; fields: Field[]; diagnostics: Diagnostic[] } {
  const q = target.indexOf('?');
  const queryStart = q >= 0 ? q + 1 : target.length;
  const params = parseQuery(target.slice(queryStart), base + queryStart);
  const value: AnnounceQuery = { params };
  const diagnostics: Diagnostic[] = [];
  const fields: Field[] = [];
  const seen = new Set<string>();
  for (const p of params) {
    const s = { start: base + queryStart + p.start, end: base + queryStart + p.end };
    const diags = [...p.diagnostics];
    const def = (ANNOUNCE_PARAMS as Record<string, FieldDef>)[p.key];
    if (seen.has(p.key) && p.key !== 'info_hash') diags.push(diagnostic('duplicate_param', 'warning', `parameter ${p.key} given twice; the first counts`, s));
    const first = !seen.has(p.key);
    seen.add(p.key);
    let shown: unknown = utf8OrUndefined(p.value) ?? p.value;
    let display: string | undefined;
    if (p.key === 'info_hash' || p.key === 'peer_id') {
      shown = p.value;
      display = p.key === 'peer_id' ? `${toHex(p.value)} ${quotedPrintable(p.value)}` : toHex(p.value);
      if (p.value.length !== 20) diags.push(diagnostic('bad_length', 'error', `${p.key} is ${p.value.length} bytes, must be 20`, s));
      if (first) value[p.key === 'info_hash' ? 'infoHash' : 'peerId'] = p.value;
    } else if (INT_PARAMS.has(p.key)) {
      const text = utf8(p.value);
      if (!/^-?\d+$/.test(text)) {
        diags.push(diagnostic('not_integer', 'error', `${p.key}=${JSON.stringify(text.slice(0, 40))} is not an integer`, s));
      } else if (first) {
        const n = Number(text);
        shown = n;
        if (p.key === 'port') value.port = n;
        else if (p.key === 'uploaded' || p.key === 'downloaded' || p.key === 'left' || p.key === 'numwant') value[p.key] = n;
        else if (p.key === 'compact') value.compact = n !== 0;
        else if (p.key === 'no_peer_id') value.noPeerId = n !== 0;
        if (p.key === 'port' && (n < 0 || n > 65535)) diags.push(diagnostic('bad_port', 'error', `port ${n} is out of range`, s));
      }
    } else if (p.key === 'event' && first) {
      const e = utf8(p.value);
      if ((EVENTS as readonly string[]).includes(e) || e === 'empty' || e === 'paused' || e === '') {
        if (e && e !== 'empty') value.event = e as AnnounceEvent | 'paused';
      } else diags.push(diagnostic('unknown_event', 'warning', `unknown event ${JSON.stringify(e.slice(0, 40))}`, s));
    } else if (first && (p.key === 'key' || p.key === 'trackerid' || p.key === 'ip')) {
      const text = utf8(p.value);
      if (p.key === 'key') value.key = text;
      else if (p.key === 'trackerid') value.trackerId = text;
      else value.ip = text;
    }
    diagnostics.push(...diags);
    fields.push(
      field(def ?? { id: `tracker.announce.param`, label: p.key }, s, shown, {
        label: p.key,
        ...(display ? { display } : {}),
        diagnostics: diags,
      }),
    );
  }
  return { value, fields, diagnostics };
}

/**
 * An announce (or scrape) request head, with the query decoded parameter by
 * parameter under the target. For the tracer (captured HTTP) and our own frames.
 */
export function decodeHttpAnnounceRequest(bytes: Uint8Array, base = 0): { value: { head: HttpRequestHead; query: AnnounceQuery }; frame: Frame } {
  const head = decodeHttpRequestHead(bytes, base);
  const { value, fields: paramFields } = decodeAnnounceQuery(head.target, head.targetStart);
  const q = head.target.indexOf('?');
  const pathEnd = q >= 0 ? q : head.target.length;
  const targetChildren: Field[] = [
    field(HTTP_FIELDS.path, { start: head.targetStart, end: head.targetStart + pathEnd }, head.target.slice(0, pathEnd)),
    ...paramFields,
  ];
  const fields = head.fields.map((f) =>
    f.id === HTTP_FIELDS.requestLine.id
      ? {
          ...f,
          children: f.children!.map((c) => (c.id === HTTP_FIELDS.target.id ? { ...c, children: targetChildren } : c)),
        }
      : f,
  );
  const title = /\/scrape[^/?]*(\?|$)/.test(head.target.slice(0, pathEnd + 1)) ? 'HTTP scrape request' : 'HTTP announce request';
  return {
    value: { head, query: value },
    frame: { title, bytes: bytes.subarray(0, head.end), base, fields, diagnostics: head.diagnostics },
  };
}

/** A decoded announce response body (BEP 3 with BEP 7/23/24/31 additions). */
export interface HttpAnnounceResponse {
  failureReason?: string;
  warning?: string;
  interval?: number;
  minInterval?: number;
  trackerId?: string;
  complete?: number;
  incomplete?: number;
  downloaded?: number;
  externalIp?: string;
  retryIn?: number | 'never';
  peers: TrackerPeer[];
  /** How `peers` came: compact string (BEP 23), list of dicts (BEP 3), or absent. */
  peersModel: 'compact' | 'dict' | 'none';
}

export interface HttpAnnounceDecodeOptions {
  /** The request asked for compact peers: a dict list is then worth a note. */
  compactRequested?: boolean;
  /** Peers decoded at most (a hostile tracker can send millions). */
  maxPeers?: number;
}

/**
 * Decode an HTTP announce response body. Throws DecodeError (`not_bencode`, or
 * the bencode error with its offset) when it cannot be read at all; everything
 * sloppy but readable is a diagnostic on the frame.
 */
export function decodeHttpAnnounceResponse(
  bytes: Uint8Array,
  base = 0,
  opts: HttpAnnounceDecodeOptions = {},
): { value: HttpAnnounceResponse; frame: Frame } {
  const doc = decodeTrackerBody(bytes, base, 'announce');
  const root = doc.root;
  const diagnostics: Diagnostic[] = [];
  const value: HttpAnnounceResponse = { peers: [], peersModel: 'none' };
  const maxPeers = opts.maxPeers ?? 10_000;
  const replaced = new Map<string, Field>();

  const failure = root.get('failure reason');
  if (failure) value.failureReason = textOf(failure, 'failure reason', diagnostics);
  const warning = root.get('warning message');
  if (warning) value.warning = textOf(warning, 'warning message', diagnostics);
  value.interval = intOf(root, 'interval', diagnostics);
  value.minInterval = intOf(root, 'min interval', diagnostics);
  value.complete = intOf(root, 'complete', diagnostics);
  value.incomplete = intOf(root, 'incomplete', diagnostics);
  value.downloaded = intOf(root, 'downloaded', diagnostics);
  const tid = root.get('tracker id');
  if (tid) value.trackerId = textOf(tid, 'tracker id', diagnostics);
  const retry = root.get('retry in');
  if (retry) value.retryIn = retry.isInt() ? Number(retry.intValue()) : 'never';
  const ext = root.get('external ip');
  if (ext?.isStr()) {
    const b = ext.bytes();
    if (b.length === 4 || b.length === 16) {
      value.externalIp = formatIp(b);
    }
  }

  if (value.failureReason === undefined) {
    if (value.interval === undefined) diagnostics.push(diagnostic('missing_interval', 'warning', 'no interval in the answer (BEP 3 requires it)', root.span));
    const peers = root.get('peers');
    if (peers === undefined) {
      diagnostics.push(diagnostic('missing_peers', 'warning', 'no peers key in the answer', root.span));
    } else if (peers.isStr()) {
      value.peersModel = 'compact';
      const d = decodeCompactPeers(peers.bytes(), peers.dataSpan.start, 4, maxPeers);
      value.peers.push(...d.peers);
      diagnostics.push(...d.diagnostics);
      replaced.set('peers', peersField('peers', peers, d.fields, d.peers.length));
    } else if (peers.isList()) {
      value.peersModel = 'dict';
      if (opts.compactRequested) {
        diagnostics.push(diagnostic('dict_peers_when_compact', 'note', 'compact=1 was asked for but the tracker sent a list of peer dicts (allowed by BEP 23)', peers.span));
      }
      const { fields, list } = dictPeers(peers, maxPeers, diagnostics);
      value.peers.push(...list);
      replaced.set('peers', peersField('peers', peers, fields, list.length));
    } else {
      diagnostics.push(diagnostic('wrong_type', 'error', `peers is ${peers.kind}, must be a string or a list`, peers.span));
    }
    const peers6 = root.get('peers6');
    if (peers6?.isStr()) {
      const d = decodeCompactPeers(peers6.bytes(), peers6.dataSpan.start, 6, Math.max(0, maxPeers - value.peers.length));
      value.peers.push(...d.peers);
      diagnostics.push(...d.diagnostics);
      replaced.set('peers6', peersField('peers6', peers6, d.fields, d.peers.length));
    } else if (peers6) {
      diagnostics.push(diagnostic('wrong_type', 'error', `peers6 is ${peers6.kind}, must be a string (BEP 7)`, peers6.span));
    }
  }

  const tree = bencodeFields(doc, 'announce response', responseHooks(ANNOUNCE_RESPONSE_FIELDS));
  const fields = [replaceEntries(tree, replaced)];
  return {
    value,
    frame: { title: value.failureReason !== undefined ? 'HTTP announce failure' : 'HTTP announce response', bytes, base, fields, diagnostics },
  };
}

/** Decode a tracker's bencoded body, or say why it is not one. */
export function decodeTrackerBody(bytes: Uint8Array, base: number, what: string): BencodeDocument {
  if (bytes.length === 0) throw new DecodeError('not_bencode', base, `empty ${what} answer: expected a bencoded dict`);
  if (bytes[0] !== 0x64) {
    const head = printable(bytes.subarray(0, 48), 48);
    throw new DecodeError('not_bencode', base, `${what} answer is not bencode: starts with "${head}"${bytes.length > 48 ? '…' : ''}`);
  }
  const doc = decode(bytes, { base, ...TRACKER_BENCODE_LIMITS });
  return doc;
}

export function responseHooks(table: Record<string, FieldDef>): BencodeFieldHooks {
  return {
    describe(path: string) {
      const def = table[path];
      return def ? { id: def.id, label: def.label, ...(def.bep ? { bep: def.bep } : {}) } : undefined;
    },
  };
}

/** Swap the value field of top-level entries (peers lists get per-peer children). */
export function replaceEntries(root: Field, replaced: ReadonlyMap<string, Field>): Field {
  if (replaced.size === 0 || !root.children) return root;
  return {
    ...root,
    children: root.children.map((entry) => {
      const key = entry.children?.[0];
      const v = key && typeof key.value === 'string' ? replaced.get(key.value) : undefined;
      if (!v || !key || !entry.children) return entry;
      return { ...entry, display: v.display, children: [key, { ...v, diagnostics: [...(entry.children[1]!.diagnostics ?? []), ...(v.diagnostics ?? [])] }] };
    }),
  };
}

function peersField(key: 'peers' | 'peers6', node: BNode, children: Field[], count: number): Field {
  const def = ANNOUNCE_RESPONSE_FIELDS[key];
  return field(def, node.span, undefined, { display: `${count} peer${count === 1 ? '' : 's'}`, children });
}

function dictPeers(list: BNode, maxPeers: number, diagnostics: Diagnostic[]): { fields: Field[]; list: TrackerPeer[] } {
  const fields: Field[] = [];
  const out: TrackerPeer[] = [];
  const items = list.items();
  for (const [i, item] of items.entries()) {
    if (out.length >= maxPeers) {
      diagnostics.push(diagnostic('peer_list_truncated', 'note', `${items.length - i} more peers not decoded (limit ${maxPeers})`, { start: item.span.start, end: list.span.end }));
      break;
    }
    const ipNode = item.get('ip');
    const portNode = item.get('port');
    const idNode = item.get('peer id');
    if (!item.isDict() || !ipNode?.isStr() || !portNode?.isInt()) {
      diagnostics.push(diagnostic('bad_peer', 'warning', `peer ${i} is not a dict with an ip string and a port integer`, item.span));
      continue;
    }
    let ip = utf8(ipNode.bytes());
    const raw = ipNode.bytes();
    // Some trackers put the 4 or 16 raw address bytes in `ip`.
    if ((raw.length === 4 || raw.length === 16) && familyOf(ip) === undefined) {
      ip = formatIp(raw);
      diagnostics.push(diagnostic('binary_peer_ip', 'warning', `peer ${i} ip is ${raw.length} raw bytes, not text (BEP 3 wants a string)`, ipNode.span));
    }
    const port = Number(portNode.intValue());
    if (port < 0 || port > 65535) {
      diagnostics.push(diagnostic('bad_port', 'warning', `peer ${i} port ${port} is out of range`, portNode.span));
      continue;
    }
    const peer: TrackerPeer = idNode?.isStr() ? { ip, port, peerId: idNode.bytes() } : { ip, port };
    out.push(peer);
    const children = [field(DICT_PEER_FIELDS.ip, ipNode.span, ip), field(DICT_PEER_FIELDS.port, portNode.span, port)];
    if (idNode?.isStr()) children.push(field(DICT_PEER_FIELDS['peer id'], idNode.span, idNode.bytes(), { display: `${toHex(idNode.bytes())} ${quotedPrintable(idNode.bytes())}` }));
    fields.push(field(DICT_PEER_FIELDS.peer, item.span, formatPeer(peer), { label: `peer ${i}`, display: formatPeer(peer), children }));
  }
  return { fields, list: out };
}

function textOf(node: BNode, key: string, diagnostics: Diagnostic[]): string {
  if (!node.isStr()) {
    diagnostics.push(diagnostic('wrong_type', 'warning', `${key} is ${node.kind}, should be a string`, node.span));
    return node.isInt() ? String(node.intValue()) : `(${node.kind})`;
  }
  return utf8(node.bytes());
}

export function intOf(dict: BNode, key: string, diagnostics: Diagnostic[]): number | undefined {
  const node = dict.get(key);
  if (!node) return undefined;
  if (node.isInt()) {
    const v = node.intValue();
    const n = Number(v);
    if (n < 0) diagnostics.push(diagnostic('negative', 'warning', `${key} is negative (${n})`, node.span));
    return n;
  }
  // Sloppy trackers send numbers as strings.
  if (node.isStr() && /^\d+$/.test(utf8(node.bytes()))) {
    diagnostics.push(diagnostic('wrong_type', 'warning', `${key} is the string "${utf8(node.bytes())}", should be an integer`, node.span));
    return Number(utf8(node.bytes()));
  }
  diagnostics.push(diagnostic('wrong_type', 'warning', `${key} is ${node.kind}, should be an integer`, node.span));
  return undefined;
}

/** What a tracker reads from an announce or scrape target, without fields or diagnostics. */
export type AnnounceParams = Omit<AnnounceQuery, 'params'> & {
  /** Every `info_hash`, in order (a BEP 48 scrape names several). */
  readonly infoHashes: Uint8Array[];
};

const HEX_VALUE = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/** `%XX` to the byte, `+` to a space, anything else as its char code (as parseQuery; a bad escape stays literal). */
function unescapeBytes(text: string, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from);
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 && i + 2 < to) {
      const hi = HEX_VALUE(text.charCodeAt(i + 1));
      const lo = HEX_VALUE(text.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = c === 43 ? 32 : c & 0xff;
  }
  return out.subarray(0, n);
}

/** A whole number in `text[from, to)`, or undefined (as decodeAnnounceQuery: `-?\d+`). */
function wholeNumber(text: string, from: number, to: number): number | undefined {
  let i = from;
  const negative = text.charCodeAt(i) === 45;
  if (negative) i++;
  if (i >= to) return undefined;
  let n = 0;
  for (; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return negative ? -n : n;
}

/**
 * The announce parameters a tracker acts on, read straight off the request
 * target: the server's hot path. The same values as `decodeAnnounceQuery` (the
 * first of a repeated parameter counts; numbers that are not `-?\d+` are left
 * out), with no spans, fields or diagnostics; keys are matched as sent.
 */
export function readAnnounceParams(target: string): AnnounceParams {
  const value: { -readonly [K in keyof AnnounceParams]: AnnounceParams[K] } = { infoHashes: [] };
  const seen = new Set<string>();
  const q = target.indexOf('?');
  let pos = q < 0 ? target.length : q + 1;
  while (pos < target.length) {
    let amp = target.indexOf('&', pos);
    if (amp < 0) amp = target.length;
    let eq = target.indexOf('=', pos);
    if (eq < 0 || eq > amp) eq = amp;
    const key = target.slice(pos, eq);
    const from = Math.min(eq + 1, amp);
    const first = !seen.has(key);
    seen.add(key);
    if (key === 'info_hash') value.infoHashes.push(unescapeBytes(target, from, amp));
    if (first) {
      switch (key) {
        case 'info_hash':
          value.infoHash = value.infoHashes[value.infoHashes.length - 1]!;
          break;
        case 'peer_id':
          value.peerId = unescapeBytes(target, from, amp);
          break;
        case 'port':
        case 'uploaded':
        case 'downloaded':
        case 'left':
        case 'numwant': {
          const n = wholeNumber(target, from, amp);
          if (n !== undefined) value[key] = n;
          break;
        }
        case 'compact':
        case 'no_peer_id': {
          const n = wholeNumber(target, from, amp);
          if (n !== undefined) value[key === 'compact' ? 'compact' : 'noPeerId'] = n !== 0;
          break;
        }
        case 'event': {
          const e = target.slice(from, amp);
          if (e === 'started' || e === 'completed' || e === 'stopped' || e === 'paused') value.event = e;
          break;
        }
      }
    }
    pos = amp + 1;
  }
  return value;
}
