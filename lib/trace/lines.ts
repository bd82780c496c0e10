import { toHex, printable } from '../core/bytes.js';
import type { Message } from '../wire/messages.js';
import { messageLine } from '../wire/message-spec.js';
import { decodePeerId } from '../wire/peer-id.js';
import { reservedNames, type Handshake } from '../wire/handshake.js';
import type { ExtendedHandshake } from '../wire/extended.js';
import type { UdpMessage } from '../tracker/udp.js';
import type { AnnounceQuery, HttpAnnounceResponse } from '../tracker/http-announce.js';

/** `-lt0D80-…` as text with its client: `-lt0D80-xxxx (libtorrent 0.13.8)`. */
export function peerIdText(peerId: Uint8Array): string {
  const info = decodePeerId(peerId);
  const text = printable(peerId, 20);
  return info.style === 'unknown' ? text : `${text} (${info.client}${info.version ? ' ' + info.version : ''})`;
}

export function clientOf(peerId: Uint8Array): string {
  const info = decodePeerId(peerId);
  return info.style === 'unknown' ? 'unknown' : `${info.client}${info.version ? ' ' + info.version : ''}`;
}

export function handshakeText(h: Handshake): string {
  const names = reservedNames(h.reserved);
  return `handshake info_hash=${toHex(h.infoHash)} peer_id=${peerIdText(h.peerId)}${names.length ? ` reserved=${names.join(',')}` : ''}`;
}

export function extendedHandshakeText(h: ExtendedHandshake): string {
  const parts = ['extended handshake'];
  if (h.v !== undefined) parts.push(`v=${JSON.stringify(h.v)}`);
  if (h.m.size) parts.push(`m={${[...h.m].map(([k, v]) => `${k}:${v}`).join(',')}}`);
  if (h.metadataSize !== undefined) parts.push(`metadata_size=${h.metadataSize}`);
  if (h.p !== undefined) parts.push(`p=${h.p}`);
  if (h.reqq !== undefined) parts.push(`reqq=${h.reqq}`);
  if (h.uploadOnly) parts.push('upload_only');
  return parts.join(' ');
}

/** The one-line form of a peer wire message: `piece index=12 begin=16384 len=16384` (the message table's `line`). */
export function messageText(m: Message, extName?: string): string {
  return messageLine(m, { extName });
}

const UDP_EVENT_NAMES = ['none', 'completed', 'started', 'stopped'];

export function udpTrackerText(m: UdpMessage): string {
  const tx = `tx=${(('transactionId' in m ? m.transactionId : 0) >>> 0).toString(16).padStart(8, '0')}`;
  switch (m.kind) {
    case 'connect_request':
      return `udp-tracker connect ${tx}`;
    case 'connect_response':
      return `udp-tracker connected ${tx} connection_id=${m.connectionId.toString(16)}`;
    case 'announce_request':
      return `udp-tracker announce ${tx} info_hash=${toHex(m.infoHash)} event=${UDP_EVENT_NAMES[m.event] ?? m.event} port=${m.port} left=${m.left} numwant=${m.numWant}`;
    case 'announce_response':
      return `udp-tracker announce reply ${tx} interval=${m.interval} seeders=${m.seeders} leechers=${m.leechers} peers=${m.peers.length}`;
    case 'scrape_request':
      return `udp-tracker scrape ${tx} hashes=${m.infoHashes.length}`;
    case 'scrape_response':
      return `udp-tracker scrape reply ${tx} ${m.files.map((f) => `${f.seeders}/${f.completed}/${f.leechers}`).join(' ')}`;
    case 'error':
      return `udp-tracker error ${tx} ${JSON.stringify(m.message)}`;
    case 'unknown':
      return `udp-tracker unknown action=${m.action} ${tx}`;
  }
}

export function httpAnnounceText(q: AnnounceQuery | undefined, target: string): string {
  if (!q?.infoHash) return `http-tracker request ${target.slice(0, 80)}`;
  const parts = [`http-tracker announce info_hash=${toHex(q.infoHash)}`];
  if (q.event) parts.push(`event=${q.event}`);
  if (q.port !== undefined) parts.push(`port=${q.port}`);
  if (q.left !== undefined) parts.push(`left=${q.left}`);
  if (q.numwant !== undefined) parts.push(`numwant=${q.numwant}`);
  return parts.join(' ');
}

export function httpAnnounceReplyText(r: HttpAnnounceResponse): string {
  if (r.failureReason) return `http-tracker announce reply failure=${JSON.stringify(r.failureReason)}`;
  const parts = ['http-tracker announce reply'];
  if (r.interval !== undefined) parts.push(`interval=${r.interval}`);
  if (r.complete !== undefined) parts.push(`complete=${r.complete}`);
  if (r.incomplete !== undefined) parts.push(`incomplete=${r.incomplete}`);
  parts.push(`peers=${r.peers.length}`);
  if (r.warning) parts.push(`warning=${JSON.stringify(r.warning)}`);
  return parts.join(' ');
}
