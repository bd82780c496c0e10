import { decode, type BencodeDocument } from '../bencode/decode.js';
import { bencodeFields, type BencodeFieldHooks } from '../bencode/fields.js';
import type { BNode } from '../bencode/node.js';
import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { printable, toHex } from '../core/bytes.js';
import { endpointText } from '../capture/ip.js';
import { decodeCompactNodes, decodeCompactPeer, nodeText, type CompactNode, type CompactPeer } from './compact.js';

/** KRPC message kinds (BEP 5): `y` is q, r or e. */
export const KRPC_KINDS = { q: 'query', r: 'response', e: 'error' } as const;

/** Error codes (BEP 5). */
export const KRPC_ERROR_NAMES: Readonly<Record<number, string>> = {
  201: 'Generic Error',
  202: 'Server Error',
  203: 'Protocol Error',
  204: 'Method Unknown',
};

/** Field table for KRPC dict keys (BEP 5, 32, 33, 42, 44, 51). */
export const KRPC_FIELDS = {
  t: { id: 'dht.t', label: 'transaction id', bep: 5 },
  y: { id: 'dht.y', label: 'message type', bep: 5, valueNames: KRPC_KINDS },
  q: { id: 'dht.q', label: 'query method', bep: 5 },
  v: { id: 'dht.v', label: 'client version', bep: 5 },
  ip: { id: 'dht.ip', label: 'your external address', bep: 42 },
  ro: { id: 'dht.ro', label: 'read-only node', bep: 43 },
  a: { id: 'dht.a', label: 'arguments', bep: 5 },
  r: { id: 'dht.r', label: 'return values', bep: 5 },
  e: { id: 'dht.e', label: 'error', bep: 5 },
  id: { id: 'dht.id', label: 'node id', bep: 5 },
  target: { id: 'dht.target', label: 'target', bep: 5 },
  info_hash: { id: 'dht.info_hash', label: 'info hash', bep: 5 },
  port: { id: 'dht.port', label: 'port', bep: 5 },
  implied_port: { id: 'dht.implied_port', label: 'implied port', bep: 5 },
  token: { id: 'dht.token', label: 'token', bep: 5 },
  nodes: { id: 'dht.nodes', label: 'nodes', bep: 5 },
  nodes6: { id: 'dht.nodes6', label: 'nodes6', bep: 32 },
  values: { id: 'dht.values', label: 'peers', bep: 5 },
  node: { id: 'dht.node', label: 'node', bep: 5 },
  peer: { id: 'dht.peer', label: 'peer', bep: 5 },
  want: { id: 'dht.want', label: 'want', bep: 32 },
  samples: { id: 'dht.samples', label: 'samples', bep: 51 },
  interval: { id: 'dht.interval', label: 'interval', bep: 51 },
  num: { id: 'dht.num', label: 'number of info-hashes', bep: 51 },
} as const satisfies Record<string, FieldDef>;

interface Common {
  /** Transaction id (opaque bytes). */
  readonly t: Uint8Array;
  readonly v?: Uint8Array;
  readonly ip?: CompactPeer;
}

export interface KrpcQuery extends Common {
  readonly y: 'q';
  readonly method: string;
  readonly id?: Uint8Array;
  readonly target?: Uint8Array;
  readonly infoHash?: Uint8Array;
  readonly port?: number;
  readonly impliedPort?: boolean;
  readonly token?: Uint8Array;
}

export interface KrpcResponse extends Common {
  readonly y: 'r';
  readonly id?: Uint8Array;
  readonly nodes?: CompactNode[];
  readonly nodes6?: CompactNode[];
  readonly values?: CompactPeer[];
  readonly token?: Uint8Array;
  readonly samples?: number;
}

export interface KrpcErrorMessage extends Common {
  readonly y: 'e';
  readonly code: number;
  readonly message: string;
}

export interface KrpcUnknown extends Common {
  readonly y: 'unknown';
  readonly kind: string;
}

export type KrpcMessage = KrpcQuery | KrpcResponse | KrpcErrorMessage | KrpcUnknown;

export interface KrpcDecoded {
  readonly message: KrpcMessage;
  readonly doc: BencodeDocument;
  readonly diagnostics: Diagnostic[];
}

/**
 * A datagram that may be KRPC (BEP 5): a bencoded dict, `d` first and `e`
 * last. Cheap enough for every datagram; decodeKrpc decides.
 */
export function looksLikeKrpc(b: Uint8Array): boolean {
  return b.length > 1 && b[0] === 0x64 && b[b.length - 1] === 0x65;
}

/**
 * A KRPC message (BEP 5) from one UDP payload. Hard errors (not bencode, not a
 * dict, no `t`/`y`) throw DecodeError; missing or malformed arguments are
 * diagnostics, so a sloppy node is still shown.
 */
export function decodeKrpc(bytes: Uint8Array, base = 0): KrpcDecoded {
  if (bytes.length === 0 || bytes[0] !== 0x64) throw new DecodeError('not_bencode', base, 'KRPC message must be a bencoded dict');
  const doc = decode(bytes, { base, maxDepth: 16, maxTokens: 100_000 });
  const root = doc.root;
  const diagnostics: Diagnostic[] = [...doc.diagnostics];
  const t = root.get('t');
  const y = root.get('y');
  if (!t || !t.isStr()) throw new DecodeError('missing_field', base, 'KRPC message has no transaction id `t`', 't');
  if (!y || !y.isStr()) throw new DecodeError('missing_field', base, 'KRPC message has no type `y`', 'y');
  const common: { t: Uint8Array; v?: Uint8Array; ip?: CompactPeer } = { t: t.bytes() };
  const v = root.get('v');
  if (v?.isStr()) common.v = v.bytes();
  const ip = root.get('ip');
  if (ip?.isStr()) {
    try {
      common.ip = decodeCompactPeer(ip.bytes(), ip.dataSpan.start);
    } catch (e) {
      diagnostics.push(softError(e, ip));
    }
  }
  const kind = y.str();
  const bytesOf = (dict: BNode | undefined, key: string): Uint8Array | undefined => {
    const n = dict?.get(key);
    if (!n) return undefined;
    if (!n.isStr()) {
      diagnostics.push(diagnostic('wrong_type', 'warning', `${key} should be a byte string`, n.span));
      return undefined;
    }
    return n.bytes();
  };
  const intOf = (dict: BNode | undefined, key: string): number | undefined => {
    const n = dict?.get(key);
    if (!n) return undefined;
    if (!n.isInt()) {
      diagnostics.push(diagnostic('wrong_type', 'warning', `${key} should be an integer`, n.span));
      return undefined;
    }
    return Number(n.intValue());
  };
  if (kind === 'q') {
    const q = root.get('q');
    const a = root.get('a');
    if (!q?.isStr()) diagnostics.push(diagnostic('missing_field', 'warning', 'query has no method `q`', root.span));
    if (!a?.isDict()) diagnostics.push(diagnostic('missing_field', 'warning', 'query has no arguments dict `a`', root.span));
    const args = a?.isDict() ? a : undefined;
    const m: { -readonly [K in keyof KrpcQuery]: KrpcQuery[K] } = { ...common, y: 'q', method: q?.isStr() ? q.str() : '' };
    const id = bytesOf(args, 'id');
    if (id) m.id = id;
    const target = bytesOf(args, 'target');
    if (target) m.target = target;
    const infoHash = bytesOf(args, 'info_hash');
    if (infoHash) m.infoHash = infoHash;
    const port = intOf(args, 'port');
    if (port !== undefined) m.port = port;
    const implied = intOf(args, 'implied_port');
    if (implied !== undefined) m.impliedPort = implied !== 0;
    const token = bytesOf(args, 'token');
    if (token) m.token = token;
    checkId(id, args, diagnostics);
    return { message: m, doc, diagnostics };
  }
  if (kind === 'r') {
    const r = root.get('r');
    if (!r?.isDict()) diagnostics.push(diagnostic('missing_field', 'warning', 'response has no return values dict `r`', root.span));
    const rv = r?.isDict() ? r : undefined;
    const m: { -readonly [K in keyof KrpcResponse]: KrpcResponse[K] } = { ...common, y: 'r' };
    const id = bytesOf(rv, 'id');
    if (id) m.id = id;
    checkId(id, rv, diagnostics);
    for (const key of ['nodes', 'nodes6'] as const) {
      const n = rv?.get(key);
      if (n?.isStr()) {
        try {
          m[key] = decodeCompactNodes(n.bytes(), n.dataSpan.start, key === 'nodes6');
        } catch (e) {
          diagnostics.push(softError(e, n));
        }
      }
    }
    const values = rv?.get('values');
    if (values?.isList()) {
      m.values = [];
      for (const item of values.items()) {
        if (!item.isStr()) continue;
        try {
          m.values.push(decodeCompactPeer(item.bytes(), item.dataSpan.start));
        } catch (e) {
          diagnostics.push(softError(e, item));
        }
      }
    }
    const token = bytesOf(rv, 'token');
    if (token) m.token = token;
    const samples = rv?.get('samples');
    if (samples?.isStr()) m.samples = Math.floor(samples.bytes().length / 20);
    return { message: m, doc, diagnostics };
  }
  if (kind === 'e') {
    const e = root.get('e');
    let code = 0;
    let message = '';
    if (e?.isList()) {
      const [c, s] = e.items();
      if (c?.isInt()) code = Number(c.intValue());
      if (s?.isStr()) message = s.text() ?? printable(s.bytes());
    } else diagnostics.push(diagnostic('missing_field', 'warning', 'error has no list `e` [code, message]', root.span));
    return { message: { ...common, y: 'e', code, message }, doc, diagnostics };
  }
  return { message: { ...common, y: 'unknown', kind: printable(y.bytes()) }, doc, diagnostics };
}

function checkId(id: Uint8Array | undefined, dict: BNode | undefined, out: Diagnostic[]): void {
  if (!dict) return;
  if (!id) out.push(diagnostic('missing_field', 'warning', 'no node `id`', dict.span));
  else if (id.length !== 20) out.push(diagnostic('bad_length', 'warning', `node id of ${id.length} bytes, expected 20`, dict.get('id')!.span));
}

function softError(e: unknown, node: BNode): Diagnostic {
  if (e instanceof DecodeError) return diagnostic(e.code, 'warning', e.message, node.span);
  throw e;
}

/** One line for a KRPC message: `get_peers q t=aa12 id=… info_hash=…`. */
export function krpcSummary(m: KrpcMessage): string {
  const t = `t=${toHex(m.t)}`;
  const short = (b?: Uint8Array) => (b ? toHex(b).slice(0, 16) + (b.length > 8 ? '…' : '') : '');
  switch (m.y) {
    case 'q': {
      const parts = [`${m.method || '?'} query`, t];
      if (m.id) parts.push(`id=${short(m.id)}`);
      if (m.target) parts.push(`target=${short(m.target)}`);
      if (m.infoHash) parts.push(`info_hash=${toHex(m.infoHash)}`);
      if (m.port !== undefined) parts.push(`port=${m.port}`);
      if (m.impliedPort) parts.push('implied_port=1');
      if (m.token) parts.push(`token=${short(m.token)}`);
      return parts.join(' ');
    }
    case 'r': {
      const parts = ['response', t];
      if (m.id) parts.push(`id=${short(m.id)}`);
      if (m.nodes) parts.push(`nodes=${m.nodes.length}`);
      if (m.nodes6) parts.push(`nodes6=${m.nodes6.length}`);
      if (m.values) parts.push(`peers=${m.values.length}${m.values.length ? ` [${m.values.slice(0, 3).map((p) => endpointText(p.ip, p.port)).join(' ')}${m.values.length > 3 ? ' …' : ''}]` : ''}`);
      if (m.token) parts.push(`token=${short(m.token)}`);
      if (m.samples !== undefined) parts.push(`samples=${m.samples}`);
      return parts.join(' ');
    }
    case 'e':
      return `error ${t} code=${m.code}${KRPC_ERROR_NAMES[m.code] ? ` (${KRPC_ERROR_NAMES[m.code]})` : ''} ${JSON.stringify(m.message)}`;
    case 'unknown':
      return `unknown KRPC y=${JSON.stringify(m.kind)} ${t}`;
  }
}

const KEY_FIELDS: Record<string, FieldDef> = {
  t: KRPC_FIELDS.t,
  y: KRPC_FIELDS.y,
  q: KRPC_FIELDS.q,
  v: KRPC_FIELDS.v,
  ip: KRPC_FIELDS.ip,
  ro: KRPC_FIELDS.ro,
  a: KRPC_FIELDS.a,
  r: KRPC_FIELDS.r,
  e: KRPC_FIELDS.e,
};
const ARG_FIELDS: Record<string, FieldDef> = {
  id: KRPC_FIELDS.id,
  target: KRPC_FIELDS.target,
  info_hash: KRPC_FIELDS.info_hash,
  port: KRPC_FIELDS.port,
  implied_port: KRPC_FIELDS.implied_port,
  token: KRPC_FIELDS.token,
  nodes: KRPC_FIELDS.nodes,
  nodes6: KRPC_FIELDS.nodes6,
  values: KRPC_FIELDS.values,
  want: KRPC_FIELDS.want,
  samples: KRPC_FIELDS.samples,
  interval: KRPC_FIELDS.interval,
  num: KRPC_FIELDS.num,
};

/** The KRPC message as an annotated frame: the bencode tree, KRPC names, compact nodes and peers split out. */
export function krpcFrame(bytes: Uint8Array, base: number, decoded: KrpcDecoded, meta?: Record<string, string | number>): Frame {
  const m = decoded.message;
  const hooks: BencodeFieldHooks = {
    describe(path: string) {
      const def = KEY_FIELDS[path] ?? ARG_FIELDS[path.replace(/^[ar]\./, '')];
      if (!def) return undefined;
      const out: { id: string; label: string; bep?: number; display?: string } = { id: def.id, label: def.label };
      if (def.bep !== undefined) out.bep = def.bep;
      if (path === 'y') out.display = `${JSON.stringify(m.y === 'unknown' ? m.kind : m.y)} (${m.y === 'unknown' ? 'unknown' : KRPC_KINDS[m.y]})`;
      if (path === 't') out.display = toHex(m.t);
      if (path.endsWith('.id') || path.endsWith('.target') || path.endsWith('.info_hash')) {
        const b = path.endsWith('id') ? (m as KrpcQuery).id : path.endsWith('target') ? (m as KrpcQuery).target : (m as KrpcQuery).infoHash;
        if (b) out.display = toHex(b);
      }
      return out;
    },
  };
  let root = bencodeFields(decoded.doc, `KRPC ${m.y === 'q' ? m.method + ' query' : m.y === 'r' ? 'response' : m.y === 'e' ? 'error' : 'message'}`, hooks);
  root = splitCompact(root, m);
  return { title: `DHT ${krpcSummary(m).split(' ').slice(0, 2).join(' ')}`, bytes, base, fields: [root], diagnostics: decoded.diagnostics.filter((d) => !decoded.doc.diagnostics.includes(d)), ...(meta ? { meta } : {}) };
}

function splitCompact(f: Field, m: KrpcMessage): Field {
  if (m.y !== 'r') return f;
  const nodesById: Record<string, CompactNode[] | undefined> = { 'dht.nodes': m.nodes, 'dht.nodes6': m.nodes6 };
  const visit = (x: Field): Field => {
    const nodes = nodesById[x.id];
    if (nodes && !x.children?.some((c) => c.id === KRPC_FIELDS.node.id) && x.value !== undefined) {
      const children = nodes.map((n, i) => field(KRPC_FIELDS.node, { start: n.start, end: n.end }, undefined, { label: `node ${i}`, display: nodeText(n) }));
      return { ...x, display: `${nodes.length} nodes`, ...(children.length ? { children } : {}) };
    }
    if (x.id === KRPC_FIELDS.values.id && !x.flat && x.children && m.values) {
      const children = x.children.map((c, i) => {
        const p = m.values![i];
        return p ? { ...c, id: KRPC_FIELDS.peer.id, label: `peer ${i}`, display: endpointText(p.ip, p.port) } : c;
      });
      return { ...x, display: `${m.values.length} peers`, children };
    }
    return x.children ? { ...x, children: x.children.map(visit) } : x;
  };
  return visit(f);
}
