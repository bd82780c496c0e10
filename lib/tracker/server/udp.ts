import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { parseIpv6, type AddressFamily } from '../../core/address.js';
import {
  encodeUdpAnnounceResponse,
  encodeUdpMessage,
  readUdpAnnounce,
  readUdpRequestHead,
  UDP_ACTIONS,
  UDP_MAX_SCRAPE_HASHES,
  UDP_PROTOCOL_ID_HI,
  UDP_PROTOCOL_ID_LO,
} from '../udp.js';
import { ConnectionIds, ConnectRateLimit } from './connection-ids.js';
import type { SwarmRegistry } from './swarm.js';
import { newTrackerStats, type TrackerConfig } from './config.js';

export { CONNECTION_ID_LIFETIME_MS } from './connection-ids.js';

/** Compact peers that fit one datagram under a 1500-byte MTU: 200 x 6 or 80 x 18 bytes. */
const MAX_UDP_PEERS: Readonly<Record<AddressFamily, number>> = { 4: 200, 6: 80 };
const EVENTS = [undefined, 'completed', 'started', 'stopped'] as const;

/**
 * The UDP front end (BEP 15). A connect hands out a connection id bound to the
 * sender's address for two minutes (`ConnectionIds`, no table); announce and
 * scrape must present it. Until a source has shown a good id it is unverified
 * (its address may be forged): it gets nothing larger than what it sent, and
 * its connects and errors are rate limited per address, so the tracker cannot
 * be used to amplify or reflect a flood. Each answer carries peers of the
 * requester's own address family (6 or 18 bytes each).
 */
export function createUdpTracker(swarms: SwarmRegistry, config: TrackerConfig, family: AddressFamily, dualStack = false): Socket {
  // Dual stack (bound to `::`): IPv4 clients arrive as ::ffff:a.b.c.d and are answered with IPv4 peers.
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 && !dualStack });
  const clock = config.now ?? Date.now;
  const stats = config.stats ?? newTrackerStats();
  const ids = new ConnectionIds();
  const limit = new ConnectRateLimit(config.connectRate ?? 50, config.connectBurst ?? 200);
  const sweep = setInterval(() => limit.sweep(clock()), 60_000);
  sweep.unref();
  socket.once('close', () => clearInterval(sweep));

  const send = (bytes: Uint8Array, to: RemoteInfo): void => {
    socket.send(bytes, to.port, to.address);
  };
  /** An error to a source that has not shown a connection id: no larger than its request, and rate limited. */
  const unverifiedError = (transactionId: number, message: string, requestLength: number, to: RemoteInfo, now: number): void => {
    if (!limit.take(to.address, now)) {
      stats.rateLimited++;
      return;
    }
    const bytes = encodeUdpMessage({ kind: 'error', transactionId, message });
    send(bytes.subarray(0, Math.min(bytes.length, requestLength)), to);
  };
  const error = (transactionId: number, message: string, to: RemoteInfo): void => {
    stats.errors++;
    send(encodeUdpMessage({ kind: 'error', transactionId, message }), to);
  };

  socket.on('message', (buf, rinfo) => {
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    const head = readUdpRequestHead(bytes);
    // Shorter than any request: there is not even a transaction id to answer.
    if (!head) {
      stats.malformed++;
      return;
    }
    const now = clock();
    if (head.action === UDP_ACTIONS.connect) {
      if (head.connectionIdHi !== UDP_PROTOCOL_ID_HI || head.connectionIdLo !== UDP_PROTOCOL_ID_LO) {
        stats.malformed++;
        unverifiedError(head.transactionId, 'bad magic (BEP 15 protocol id)', bytes.length, rinfo, now);
        return;
      }
      if (!limit.take(rinfo.address, now)) {
        stats.rateLimited++;
        return;
      }
      stats.connects++;
      const id = ids.issue(rinfo.address, now);
      const out = new Uint8Array(16);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, UDP_ACTIONS.connect);
      dv.setUint32(4, head.transactionId);
      dv.setUint32(8, id.hi);
      dv.setUint32(12, id.lo);
      send(out, rinfo);
      return;
    }
    if (!ids.check(rinfo.address, head.connectionIdHi, head.connectionIdLo, now)) {
      stats.badConnectionIds++;
      unverifiedError(head.transactionId, 'bad connection id, connect again', bytes.length, rinfo, now);
      return;
    }
    // The source got our connect answer: it is who it says it is.
    if (head.action === UDP_ACTIONS.announce) {
      const a = readUdpAnnounce(bytes);
      if (!a) {
        stats.malformed++;
        return error(head.transactionId, `UDP announce request is ${bytes.length} bytes, BEP 15 needs at least 98`, rinfo);
      }
      const v4 = sourceIpv4(rinfo);
      const ip = v4 ? v4.text : rinfo.address;
      const address = v4 ? v4.bytes : parseIpv6(ip);
      if (!address) return error(head.transactionId, 'unreadable source address', rinfo);
      const event = a.event < EVENTS.length ? EVENTS[a.event] : undefined;
      const numwant = a.numWant < 0 ? config.defaultNumwant : Math.min(a.numWant, config.maxNumwant);
      const result = swarms.announce({ infoHash: a.infoHash, peerId: a.peerId, ip, address, port: a.port, uploaded: a.uploaded, downloaded: a.downloaded, left: a.left, ...(event ? { event } : {}), numwant }, now);
      if ('error' in result) {
        stats.refused++;
        return error(head.transactionId, result.error, rinfo);
      }
      stats.udpAnnounces++;
      if (config.onAnnounce) {
        config.onAnnounce({ protocol: 'udp', infoHash: a.infoHash.slice(), peerId: a.peerId.slice(), ip, port: a.port, event });
      }
      const peers = result.skip < 0 ? new Uint8Array(0) : result.swarm.table(result.family).sample(Math.min(numwant, MAX_UDP_PEERS[result.family]), result.skip);
      send(encodeUdpAnnounceResponse(head.transactionId, config.interval, result.incomplete, result.complete, peers), rinfo);
      return;
    }
    if (head.action === UDP_ACTIONS.scrape) {
      const n = Math.min(Math.floor((bytes.length - 16) / 20), UDP_MAX_SCRAPE_HASHES);
      stats.scrapes++;
      const out = new Uint8Array(8 + 12 * n);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, UDP_ACTIONS.scrape);
      dv.setUint32(4, head.transactionId);
      for (let i = 0; i < n; i++) {
        const s = swarms.scrape(bytes.subarray(16 + i * 20, 36 + i * 20));
        dv.setUint32(8 + i * 12, s.complete);
        dv.setUint32(12 + i * 12, s.downloaded);
        dv.setUint32(16 + i * 12, s.incomplete);
      }
      send(out, rinfo);
      return;
    }
    stats.malformed++;
    error(head.transactionId, `unknown action ${head.action}`, rinfo);
  });
  return socket;
}

/** The source as IPv4 (text and 4 bytes) when it is one, IPv4-mapped included; undefined for IPv6. */
function sourceIpv4(rinfo: RemoteInfo): { text: string; bytes: Uint8Array } | undefined {
  let text = rinfo.address;
  if (rinfo.family !== 'IPv4') {
    if (!text.startsWith('::ffff:') || !text.includes('.')) return undefined;
    text = text.slice(7);
  }
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (part > 3 || value > 255) return undefined;
      bytes[part++] = value;
      value = 0;
    } else value = value * 10 + (c - 48);
  }
  return part === 4 ? { text, bytes } : undefined;
}
