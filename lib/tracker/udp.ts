import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { printable, toHex, utf8, encodeUtf8, quotedPrintable } from '../core/bytes.js';
import { decodeCompactPeers, encodeCompactPeers, ipv4Text, type AddressFamily } from './compact-peers.js';
import type { TrackerPeer } from './types.js';

/** BEP 15: the magic constant of a connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;

/** BEP 15 actions. */
export const UDP_ACTIONS = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
const ACTION_NAMES: Record<number, string> = { 0: 'connect', 1: 'announce', 2: 'scrape', 3: 'error' };

/** BEP 15 announce events. */
export const UDP_EVENTS = { none: 0, completed: 1, started: 2, stopped: 3 } as const;
const EVENT_NAMES: Record<number, string> = { 0: 'none', 1: 'completed', 2: 'started', 3: 'stopped' };

/** BEP 41 option types. */
export const UDP_OPTIONS = { end: 0, nop: 1, url_data: 2 } as const;
const OPTION_NAMES: Record<number, string> = { 0: 'EndOfOptions', 1: 'NOP', 2: 'URLData' };

/** BEP 15: at most 74 info-hashes fit one scrape. */
export const UDP_MAX_SCRAPE_HASHES = 74;

export const UDP_FIELDS = {
  protocolId: { id: 'udp_tracker.protocol_id', label: 'protocol id', bep: 15, base: 'hex' },
  connectionId: { id: 'udp_tracker.connection_id', label: 'connection id', bep: 15, base: 'hex' },
  action: { id: 'udp_tracker.action', label: 'action', bep: 15, valueNames: ACTION_NAMES },
  transactionId: { id: 'udp_tracker.transaction_id', label: 'transaction id', bep: 15, base: 'hex' },
  infoHash: { id: 'udp_tracker.info_hash', label: 'info hash', bep: 15 },
  peerId: { id: 'udp_tracker.peer_id', label: 'peer id', bep: 15 },
  downloaded: { id: 'udp_tracker.downloaded', label: 'downloaded', bep: 15 },
  left: { id: 'udp_tracker.left', label: 'left', bep: 15 },
  uploaded: { id: 'udp_tracker.uploaded', label: 'uploaded', bep: 15 },
  event: { id: 'udp_tracker.event', label: 'event', bep: 15, valueNames: EVENT_NAMES },
  ip: { id: 'udp_tracker.ip', label: 'IP address', bep: 15 },
  key: { id: 'udp_tracker.key', label: 'key', bep: 15, base: 'hex' },
  numWant: { id: 'udp_tracker.num_want', label: 'num want', bep: 15 },
  port: { id: 'udp_tracker.port', label: 'port', bep: 15 },
  interval: { id: 'udp_tracker.interval', label: 'interval', bep: 15 },
  leechers: { id: 'udp_tracker.leechers', label: 'leechers', bep: 15 },
  seeders: { id: 'udp_tracker.seeders', label: 'seeders', bep: 15 },
  completed: { id: 'udp_tracker.completed', label: 'completed', bep: 15 },
  peers: { id: 'udp_tracker.peers', label: 'peers', bep: 15 },
  scrapeEntry: { id: 'udp_tracker.scrape', label: 'torrent', bep: 15 },
  message: { id: 'udp_tracker.message', label: 'message', bep: 15 },
  options: { id: 'udp_tracker.options', label: 'options', bep: 41 },
  option: { id: 'udp_tracker.option', label: 'option', bep: 41, valueNames: OPTION_NAMES },
  optionLength: { id: 'udp_tracker.option.length', label: 'length', bep: 41 },
  urlData: { id: 'udp_tracker.option.url_data', label: 'URL data', bep: 41 },
  payload: { id: 'udp_tracker.payload', label: 'payload', bep: 15 },
} as const satisfies Record<string, FieldDef>;

export interface UdpOption {
  readonly type: number;
  readonly data: Uint8Array;
}

export type UdpDirection = 'request' | 'response';

/** Every BEP 15 packet, as a discriminated union on `kind`. */
export type UdpMessage =
  | { readonly kind: 'connect_request'; readonly protocolId: bigint; readonly transactionId: number }
  | { readonly kind: 'connect_response'; readonly transactionId: number; readonly connectionId: bigint }
  | {
      readonly kind: 'announce_request';
      readonly connectionId: bigint;
      readonly transactionId: number;
      readonly infoHash: Uint8Array;
      readonly peerId: Uint8Array;
      readonly downloaded: bigint;
      readonly left: bigint;
      readonly uploaded: bigint;
      /** UDP_EVENTS value. */
      readonly event: number;
      /** 0 = the sender's address; else an IPv4 address as a u32. */
      readonly ip: number;
      readonly key: number;
      /** -1 = the tracker's default. */
      readonly numWant: number;
      readonly port: number;
      readonly options: readonly UdpOption[];
    }
  | {
      readonly kind: 'announce_response';
      readonly transactionId: number;
      readonly interval: number;
      readonly leechers: number;
      readonly seeders: number;
      readonly peers: readonly TrackerPeer[];
    }
  | { readonly kind: 'scrape_request'; readonly connectionId: bigint; readonly transactionId: number; readonly infoHashes: readonly Uint8Array[] }
  | {
      readonly kind: 'scrape_response';
      readonly transactionId: number;
      readonly files: ReadonlyArray<{ readonly seeders: number; readonly completed: number; readonly leechers: number }>;
    }
  | { readonly kind: 'error'; readonly transactionId: number; readonly message: string }
  | { readonly kind: 'unknown'; readonly direction: UdpDirection; readonly action: number; readonly transactionId: number; readonly payload: Uint8Array };

export interface UdpDecodeOptions {
  /**
   * Address family of the tracker the packet came from: BEP 15 announce answers
   * carry 6-byte peers over IPv4 and 18-byte peers over IPv6, and every multiple
   * of 18 is a multiple of 6, so the packet alone cannot tell: default 4.
   */
  family?: AddressFamily;
  maxPeers?: number;
}

/** UDP_PROTOCOL_ID as it is on the wire (big endian), for comparing bytes without a BigInt. */
const PROTOCOL_ID_BYTES = [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80];

/** Big-endian uint32 at `at` (the caller checked the length): no DataView per datagram. */
function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** The packet starts with the connect request's magic protocol id (BEP 15), whatever follows. */
export function hasUdpTrackerMagic(b: Uint8Array): boolean {
  if (b.length < 16) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== PROTOCOL_ID_BYTES[i]) return false;
  return true;
}

/**
 * What a datagram's bytes alone say it is as a BEP 15 request: `connect` (the
 * magic protocol id, action 0), `announce` (action 1, at least 98 bytes, a
 * known event), `scrape` (action 2, whole 20-byte info-hashes after the
 * 16-byte head), or undefined. A recogniser for captures, which carry no port
 * convention: a scrape's shape is weak evidence, so the tracer also wants the
 * address to be a tracker's it already saw.
 */
export function looksLikeUdpTrackerRequest(b: Uint8Array): 'connect' | 'announce' | 'scrape' | undefined {
  if (b.length < 16) return undefined;
  const action = u32(b, 8);
  if (action === UDP_ACTIONS.connect) return hasUdpTrackerMagic(b) ? 'connect' : undefined;
  if (action === UDP_ACTIONS.announce) return b.length >= FIXED.announce_request && u32(b, 80) <= UDP_EVENTS.stopped ? 'announce' : undefined;
  if (action === UDP_ACTIONS.scrape) return b.length > 16 && (b.length - 16) % 20 === 0 ? 'scrape' : undefined;
  return undefined;
}

/** The action a request carries (bytes 8-11, after the connection id); -1 when shorter than a request's 16 bytes. */
export function udpTrackerRequestAction(b: Uint8Array): number {
  return b.length < 16 ? -1 : u32(b, 8);
}

/** A response starts with a known action (0-3) and is at least 8 bytes (action, transaction id). */
export function looksLikeUdpTrackerResponse(b: Uint8Array): boolean {
  return b.length >= 8 && u32(b, 0) <= UDP_ACTIONS.error;
}

/**
 * The transaction id the packet carries if it is a response (bytes 4-7); -1
 * when shorter than 8 bytes. A response is only recognised by answering a
 * request seen before, which this id finds.
 */
export function udpTrackerResponseTransaction(b: Uint8Array): number {
  return b.length < 8 ? -1 : u32(b, 4);
}

const FIXED = { connect_request: 16, connect_response: 16, announce_request: 98, announce_response: 20, scrape_request: 16, scrape_response: 8, error: 8 };

/**
 * Decode one UDP tracker packet with no session state (the tracer calls this on
 * captured datagrams). `direction` says which side sent it: requests start with
 * the connection id, responses with the action. Truncated packets throw
 * DecodeError with the offset where bytes ran out; sloppy ones get diagnostics.
 */
export function decodeUdpPacket(bytes: Uint8Array, base: number, direction: UdpDirection, opts: UdpDecodeOptions = {}): { message: UdpMessage; frame: Frame } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const diagnostics: Diagnostic[] = [];
  const fields: Field[] = [];
  const f = (def: FieldDef, at: number, len: number, value: unknown, more: Parameters<typeof field>[3] = {}): Field => {
    const x = field(def, { start: base + at, end: base + at + len }, value, more);
    fields.push(x);
    return x;
  };
  const need = (n: number, what: string): void => {
    if (bytes.length < n) {
      throw new DecodeError('unexpected_eof', base + bytes.length, `${what} is ${bytes.length} bytes, BEP 15 needs at least ${n}`, what);
    }
  };
  const trailing = (end: number, what: string): void => {
    if (bytes.length > end) {
      diagnostics.push(diagnostic('trailing_bytes', 'warning', `${bytes.length - end} bytes after the ${what}`, { start: base + end, end: base + bytes.length }));
      f(UDP_FIELDS.payload, end, bytes.length - end, bytes.subarray(end), { label: 'trailing bytes' });
    }
  };
  let message: UdpMessage;

  if (direction === 'request') {
    need(16, 'UDP tracker request');
    const first = dv.getBigUint64(0);
    const action = dv.getUint32(8);
    const transactionId = dv.getUint32(12);
    if (action === UDP_ACTIONS.connect) {
      const magic = first === UDP_PROTOCOL_ID;
      f(UDP_FIELDS.protocolId, 0, 8, first, {
        display: `0x${first.toString(16)}${magic ? ' (BEP 15 magic)' : ''}`,
        diagnostics: magic ? [] : [diagnostic('bad_magic', 'error', `connect request protocol id is 0x${first.toString(16)}, BEP 15 says 0x41727101980`, { start: base, end: base + 8 })],
      });
      f(UDP_FIELDS.action, 8, 4, action);
      f(UDP_FIELDS.transactionId, 12, 4, transactionId);
      trailing(16, 'connect request');
      message = { kind: 'connect_request', protocolId: first, transactionId };
    } else if (action === UDP_ACTIONS.announce) {
      need(FIXED.announce_request, 'UDP announce request');
      f(UDP_FIELDS.connectionId, 0, 8, first);
      f(UDP_FIELDS.action, 8, 4, action);
      f(UDP_FIELDS.transactionId, 12, 4, transactionId);
      const infoHash = bytes.slice(16, 36);
      const peerId = bytes.slice(36, 56);
      f(UDP_FIELDS.infoHash, 16, 20, infoHash);
      f(UDP_FIELDS.peerId, 36, 20, peerId, { display: `${toHex(peerId)} ${quotedPrintable(peerId)}` });
      const downloaded = dv.getBigUint64(56);
      const left = dv.getBigUint64(64);
      const uploaded = dv.getBigUint64(72);
      f(UDP_FIELDS.downloaded, 56, 8, downloaded);
      f(UDP_FIELDS.left, 64, 8, left);
      f(UDP_FIELDS.uploaded, 72, 8, uploaded);
      const event = dv.getUint32(80);
      f(UDP_FIELDS.event, 80, 4, event, {
        diagnostics: event > 3 ? [diagnostic('unknown_event', 'warning', `event ${event} is not one of 0-3`, { start: base + 80, end: base + 84 })] : [],
      });
      const ip = dv.getUint32(84);
      f(UDP_FIELDS.ip, 84, 4, ip, { display: ip === 0 ? '0 (the sender address)' : ipv4Text(bytes, 84) });
      const key = dv.getUint32(88);
      f(UDP_FIELDS.key, 88, 4, key);
      const numWant = dv.getInt32(92);
      f(UDP_FIELDS.numWant, 92, 4, numWant, { display: numWant === -1 ? '-1 (default)' : String(numWant) });
      const port = dv.getUint16(96);
      f(UDP_FIELDS.port, 96, 2, port);
      const options = decodeOptions(bytes, 98, base, fields, diagnostics);
      message = {
        kind: 'announce_request',
        connectionId: first,
        transactionId,
        infoHash,
        peerId,
        downloaded,
        left,
        uploaded,
        event,
        ip,
        key,
        numWant,
        port,
        options,
      };
    } else if (action === UDP_ACTIONS.scrape) {
      f(UDP_FIELDS.connectionId, 0, 8, first);
      f(UDP_FIELDS.action, 8, 4, action);
      f(UDP_FIELDS.transactionId, 12, 4, transactionId);
      const n = Math.floor((bytes.length - 16) / 20);
      const infoHashes: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const h = bytes.slice(16 + i * 20, 36 + i * 20);
        infoHashes.push(h);
        f(UDP_FIELDS.infoHash, 16 + i * 20, 20, h, { label: `info hash ${i}` });
      }
      if (n === 0) diagnostics.push(diagnostic('empty_scrape', 'warning', 'scrape request with no info-hashes', { start: base, end: base + bytes.length }));
      if (n > UDP_MAX_SCRAPE_HASHES) {
        diagnostics.push(diagnostic('too_many_hashes', 'warning', `${n} info-hashes; BEP 15 allows 74 per scrape`, { start: base + 16, end: base + 16 + n * 20 }));
      }
      trailing(16 + n * 20, 'info-hashes (not a multiple of 20)');
      message = { kind: 'scrape_request', connectionId: first, transactionId, infoHashes };
    } else {
      f(UDP_FIELDS.connectionId, 0, 8, first);
      f(UDP_FIELDS.action, 8, 4, action, {
        diagnostics: [diagnostic('unknown_action', 'warning', `action ${action} is not one BEP 15 defines`, { start: base + 8, end: base + 12 })],
      });
      f(UDP_FIELDS.transactionId, 12, 4, transactionId);
      if (bytes.length > 16) f(UDP_FIELDS.payload, 16, bytes.length - 16, bytes.subarray(16));
      message = { kind: 'unknown', direction, action, transactionId, payload: bytes.slice(16) };
    }
  } else {
    need(8, 'UDP tracker response');
    const action = dv.getUint32(0);
    const transactionId = dv.getUint32(4);
    f(UDP_FIELDS.action, 0, 4, action);
    f(UDP_FIELDS.transactionId, 4, 4, transactionId);
    if (action === UDP_ACTIONS.connect) {
      need(FIXED.connect_response, 'UDP connect response');
      const connectionId = dv.getBigUint64(8);
      f(UDP_FIELDS.connectionId, 8, 8, connectionId);
      trailing(16, 'connect response');
      message = { kind: 'connect_response', transactionId, connectionId };
    } else if (action === UDP_ACTIONS.announce) {
      need(FIXED.announce_response, 'UDP announce response');
      const interval = dv.getUint32(8);
      const leechers = dv.getUint32(12);
      const seeders = dv.getUint32(16);
      f(UDP_FIELDS.interval, 8, 4, interval);
      f(UDP_FIELDS.leechers, 12, 4, leechers);
      f(UDP_FIELDS.seeders, 16, 4, seeders);
      const rest = bytes.length - 20;
      const family: AddressFamily = opts.family ?? 4;
      const d = decodeCompactPeers(bytes.subarray(20), base + 20, family, opts.maxPeers ?? 10_000);
      diagnostics.push(...d.diagnostics);
      if (rest > 0) {
        f(UDP_FIELDS.peers, 20, rest, undefined, { display: `${d.peers.length} peer${d.peers.length === 1 ? '' : 's'} (IPv${family})`, children: d.fields });
      }
      message = { kind: 'announce_response', transactionId, interval, leechers, seeders, peers: d.peers };
    } else if (action === UDP_ACTIONS.scrape) {
      const n = Math.floor((bytes.length - 8) / 12);
      const files: Array<{ seeders: number; completed: number; leechers: number }> = [];
      for (let i = 0; i < n; i++) {
        const at = 8 + i * 12;
        const e = { seeders: dv.getUint32(at), completed: dv.getUint32(at + 4), leechers: dv.getUint32(at + 8) };
        files.push(e);
        fields.push(
          field(UDP_FIELDS.scrapeEntry, { start: base + at, end: base + at + 12 }, undefined, {
            label: `torrent ${i}`,
            display: `${e.seeders} seeders, ${e.completed} completed, ${e.leechers} leechers`,
            children: [
              field(UDP_FIELDS.seeders, { start: base + at, end: base + at + 4 }, e.seeders),
              field(UDP_FIELDS.completed, { start: base + at + 4, end: base + at + 8 }, e.completed),
              field(UDP_FIELDS.leechers, { start: base + at + 8, end: base + at + 12 }, e.leechers),
            ],
          }),
        );
      }
      trailing(8 + n * 12, 'scrape entries (not a multiple of 12)');
      message = { kind: 'scrape_response', transactionId, files };
    } else if (action === UDP_ACTIONS.error) {
      const text = utf8(bytes.subarray(8));
      if (bytes.length > 8) f(UDP_FIELDS.message, 8, bytes.length - 8, text);
      message = { kind: 'error', transactionId, message: text };
    } else {
      fields[0] = field(UDP_FIELDS.action, { start: base, end: base + 4 }, action, {
        diagnostics: [diagnostic('unknown_action', 'warning', `action ${action} is not one BEP 15 defines`, { start: base, end: base + 4 })],
      });
      if (bytes.length > 8) f(UDP_FIELDS.payload, 8, bytes.length - 8, bytes.subarray(8));
      message = { kind: 'unknown', direction, action, transactionId, payload: bytes.slice(8) };
    }
  }
  return { message, frame: { title: `UDP ${TITLES[message.kind]}`, bytes, base, fields, diagnostics } };
}

const TITLES: Record<UdpMessage['kind'], string> = {
  connect_request: 'connect request',
  connect_response: 'connect response',
  announce_request: 'announce request',
  announce_response: 'announce response',
  scrape_request: 'scrape request',
  scrape_response: 'scrape response',
  error: 'error',
  unknown: 'unknown action',
};

/** BEP 41 options after the fixed announce request; lenient, since most trackers ignore them. */
function decodeOptions(bytes: Uint8Array, start: number, base: number, fields: Field[], diagnostics: Diagnostic[]): UdpOption[] {
  const options: UdpOption[] = [];
  const children: Field[] = [];
  let pos = start;
  while (pos < bytes.length) {
    const type = bytes[pos]!;
    if (type === UDP_OPTIONS.end) {
      children.push(field(UDP_FIELDS.option, { start: base + pos, end: base + pos + 1 }, type));
      pos++;
      break;
    }
    if (type === UDP_OPTIONS.nop) {
      children.push(field(UDP_FIELDS.option, { start: base + pos, end: base + pos + 1 }, type));
      options.push({ type, data: new Uint8Array(0) });
      pos++;
      continue;
    }
    if (pos + 1 >= bytes.length) {
      diagnostics.push(diagnostic('truncated_option', 'warning', `option ${type} has no length byte`, { start: base + pos, end: base + bytes.length }));
      pos = bytes.length;
      break;
    }
    const len = bytes[pos + 1]!;
    const end = Math.min(bytes.length, pos + 2 + len);
    const data = bytes.slice(pos + 2, end);
    const diags = end < pos + 2 + len ? [diagnostic('truncated_option', 'warning', `option ${type} says ${len} bytes, ${end - pos - 2} remain`, { start: base + pos, end: base + end })] : [];
    children.push(
      field(UDP_FIELDS.option, { start: base + pos, end: base + end }, type, {
        display: type === UDP_OPTIONS.url_data ? `URLData ${quotedPrintable(data)}` : undefined,
        diagnostics: diags,
        children: [
          field(UDP_FIELDS.option, { start: base + pos, end: base + pos + 1 }, type, { label: 'type' }),
          field(UDP_FIELDS.optionLength, { start: base + pos + 1, end: base + pos + 2 }, len),
          field(type === UDP_OPTIONS.url_data ? UDP_FIELDS.urlData : UDP_FIELDS.payload, { start: base + pos + 2, end: base + end }, type === UDP_OPTIONS.url_data ? utf8(data) : data),
        ],
      }),
    );
    options.push({ type, data });
    pos = end;
  }
  if (children.length) {
    fields.push(field(UDP_FIELDS.options, { start: base + start, end: base + pos }, undefined, { display: `${children.length}`, children }));
  }
  if (pos < bytes.length) {
    diagnostics.push(diagnostic('trailing_bytes', 'warning', `${bytes.length - pos} bytes after EndOfOptions`, { start: base + pos, end: base + bytes.length }));
  }
  return options;
}

/** BEP 41 URLData options carrying the path and query of a `udp://` URL, 255 bytes at a time. */
export function urlDataOptions(pathAndQuery: string): UdpOption[] {
  const data = encodeUtf8(pathAndQuery);
  if (data.length === 0) return [];
  const out: UdpOption[] = [];
  for (let i = 0; i < data.length; i += 255) out.push({ type: UDP_OPTIONS.url_data, data: data.slice(i, i + 255) });
  return out;
}

/** Encode any UDP tracker packet (the inverse of decodeUdpPacket). */
export function encodeUdpMessage(msg: UdpMessage, family: AddressFamily = 4): Uint8Array {
  switch (msg.kind) {
    case 'connect_request': {
      const out = new Uint8Array(16);
      const dv = new DataView(out.buffer);
      dv.setBigUint64(0, msg.protocolId);
      dv.setUint32(8, UDP_ACTIONS.connect);
      dv.setUint32(12, msg.transactionId >>> 0);
      return out;
    }
    case 'connect_response': {
      const out = new Uint8Array(16);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, UDP_ACTIONS.connect);
      dv.setUint32(4, msg.transactionId >>> 0);
      dv.setBigUint64(8, msg.connectionId);
      return out;
    }
    case 'announce_request': {
      let optLen = 0;
      for (const o of msg.options) optLen += o.type === UDP_OPTIONS.nop ? 1 : 2 + o.data.length;
      if (msg.options.length) optLen++;
      const out = new Uint8Array(98 + optLen);
      const dv = new DataView(out.buffer);
      dv.setBigUint64(0, msg.connectionId);
      dv.setUint32(8, UDP_ACTIONS.announce);
      dv.setUint32(12, msg.transactionId >>> 0);
      out.set(msg.infoHash.subarray(0, 20), 16);
      out.set(msg.peerId.subarray(0, 20), 36);
      dv.setBigUint64(56, msg.downloaded);
      dv.setBigUint64(64, msg.left);
      dv.setBigUint64(72, msg.uploaded);
      dv.setUint32(80, msg.event);
      dv.setUint32(84, msg.ip >>> 0);
      dv.setUint32(88, msg.key >>> 0);
      dv.setInt32(92, msg.numWant);
      dv.setUint16(96, msg.port);
      let pos = 98;
      for (const o of msg.options) {
        out[pos++] = o.type;
        if (o.type === UDP_OPTIONS.nop) continue;
        if (o.data.length > 255) throw new RangeError('a BEP 41 option holds at most 255 bytes');
        out[pos++] = o.data.length;
        out.set(o.data, pos);
        pos += o.data.length;
      }
      if (msg.options.length) out[pos++] = UDP_OPTIONS.end;
      return out;
    }
    case 'announce_response': {
      const peers = encodeCompactPeers(msg.peers, family);
      const out = new Uint8Array(20 + peers.length);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, UDP_ACTIONS.announce);
      dv.setUint32(4, msg.transactionId >>> 0);
      dv.setUint32(8, msg.interval);
      dv.setUint32(12, msg.leechers);
      dv.setUint32(16, msg.seeders);
      out.set(peers, 20);
      return out;
    }
    case 'scrape_request': {
      const out = new Uint8Array(16 + 20 * msg.infoHashes.length);
      const dv = new DataView(out.buffer);
      dv.setBigUint64(0, msg.connectionId);
      dv.setUint32(8, UDP_ACTIONS.scrape);
      dv.setUint32(12, msg.transactionId >>> 0);
      msg.infoHashes.forEach((h, i) => out.set(h.subarray(0, 20), 16 + i * 20));
      return out;
    }
    case 'scrape_response': {
      const out = new Uint8Array(8 + 12 * msg.files.length);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, UDP_ACTIONS.scrape);
      dv.setUint32(4, msg.transactionId >>> 0);
      msg.files.forEach((e, i) => {
        dv.setUint32(8 + i * 12, e.seeders);
        dv.setUint32(12 + i * 12, e.completed);
        dv.setUint32(16 + i * 12, e.leechers);
      });
      return out;
    }
    case 'error': {
      const text = encodeUtf8(msg.message);
      const out = new Uint8Array(8 + text.length);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, UDP_ACTIONS.error);
      dv.setUint32(4, msg.transactionId >>> 0);
      out.set(text, 8);
      return out;
    }
    case 'unknown': {
      const head = msg.direction === 'request' ? 16 : 8;
      const out = new Uint8Array(head + msg.payload.length);
      const dv = new DataView(out.buffer);
      if (msg.direction === 'request') {
        dv.setUint32(8, msg.action);
        dv.setUint32(12, msg.transactionId >>> 0);
      } else {
        dv.setUint32(0, msg.action);
        dv.setUint32(4, msg.transactionId >>> 0);
      }
      out.set(msg.payload, head);
      return out;
    }
    default: {
      const never: never = msg;
      throw new TypeError(`unknown UDP tracker message ${(never as { kind: string }).kind}`);
    }
  }
}

/** The 16-byte head of a BEP 15 request as a tracker reads it on its hot path: no Frame, no BigInt. */
export interface UdpRequestHead {
  /** The connection id's (or the connect magic's) high and low 32 bits. */
  readonly connectionIdHi: number;
  readonly connectionIdLo: number;
  readonly action: number;
  readonly transactionId: number;
}

/** The request head, or undefined when the datagram is shorter than 16 bytes. */
export function readUdpRequestHead(b: Uint8Array): UdpRequestHead | undefined {
  if (b.length < 16) return undefined;
  return { connectionIdHi: u32(b, 0), connectionIdLo: u32(b, 4), action: u32(b, 8), transactionId: u32(b, 12) };
}

/** The connect request's magic (BEP 15), split as `readUdpRequestHead` returns it. */
export const UDP_PROTOCOL_ID_HI = Number(UDP_PROTOCOL_ID >> 32n);
export const UDP_PROTOCOL_ID_LO = Number(UDP_PROTOCOL_ID & 0xffffffffn);

/** An announce request's fields as a tracker needs them; `infoHash` and `peerId` are views into the datagram. */
export interface UdpAnnounceView {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  /** u64 counters as numbers (exact up to 2^53 bytes). */
  readonly downloaded: number;
  readonly left: number;
  readonly uploaded: number;
  readonly event: number;
  readonly ip: number;
  readonly key: number;
  readonly numWant: number;
  readonly port: number;
}

/** Read an announce request's fixed part (BEP 15); undefined when shorter than its 98 bytes. Options are not read. */
export function readUdpAnnounce(b: Uint8Array): UdpAnnounceView | undefined {
  if (b.length < FIXED.announce_request) return undefined;
  const u64 = (at: number): number => u32(b, at) * 0x1_0000_0000 + u32(b, at + 4);
  return {
    infoHash: b.subarray(16, 36),
    peerId: b.subarray(36, 56),
    downloaded: u64(56),
    left: u64(64),
    uploaded: u64(72),
    event: u32(b, 80),
    ip: u32(b, 84),
    key: u32(b, 88),
    numWant: u32(b, 92) | 0,
    port: (b[96]! << 8) | b[97]!,
  };
}

/** An announce response (BEP 15) around peers already in compact form (6 or 18 bytes each). */
export function encodeUdpAnnounceResponse(transactionId: number, interval: number, leechers: number, seeders: number, compactPeers: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + compactPeers.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, UDP_ACTIONS.announce);
  dv.setUint32(4, transactionId >>> 0);
  dv.setUint32(8, interval >>> 0);
  dv.setUint32(12, leechers >>> 0);
  dv.setUint32(16, seeders >>> 0);
  out.set(compactPeers, 20);
  return out;
}
