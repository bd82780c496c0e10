import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { DecodeError } from '../../core/errors.js';
import { unmapIpv4, type AddressFamily } from '../compact-peers.js';
import { decodeUdpPacket, encodeUdpMessage, UDP_EVENTS, UDP_MAX_SCRAPE_HASHES, UDP_PROTOCOL_ID, type UdpMessage } from '../udp.js';
import type { SwarmRegistry } from './swarm.js';
import type { TrackerConfig } from './index.js';

/** BEP 15: a connection id is good for two minutes. */
export const CONNECTION_ID_LIFETIME_MS = 2 * 60_000;
const MAX_CONNECTION_IDS = 100_000;

/**
 * The UDP front end (BEP 15): connect hands out a random connection id bound to
 * the sender's address for two minutes; announce and scrape must present it.
 * Peers of the socket's address family are returned (6 or 18 bytes each).
 */
export function createUdpTracker(swarms: SwarmRegistry, config: TrackerConfig, family: AddressFamily): Socket {
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
  const ids = new Map<bigint, { address: string; expires: number }>();

  const send = (msg: UdpMessage, to: RemoteInfo): void => {
    socket.send(encodeUdpMessage(msg, family), to.port, to.address);
  };

  socket.on('message', (buf, rinfo) => {
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    let message: UdpMessage;
    try {
      message = decodeUdpPacket(bytes, 0, 'request').message;
    } catch (e) {
      if (e instanceof DecodeError && bytes.length >= 16) {
        const transactionId = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12);
        send({ kind: 'error', transactionId, message: e.message }, rinfo);
      }
      return;
    }
    const now = Date.now();
    switch (message.kind) {
      case 'connect_request': {
        if (message.protocolId !== UDP_PROTOCOL_ID) {
          send({ kind: 'error', transactionId: message.transactionId, message: 'bad protocol id in connect request' }, rinfo);
          return;
        }
        if (ids.size >= MAX_CONNECTION_IDS) for (const [k, v] of ids) if (v.expires < now) ids.delete(k);
        if (ids.size >= MAX_CONNECTION_IDS) ids.delete(ids.keys().next().value!);
        const connectionId = randomBytes(8).readBigUInt64BE(0);
        ids.set(connectionId, { address: rinfo.address, expires: now + CONNECTION_ID_LIFETIME_MS });
        send({ kind: 'connect_response', transactionId: message.transactionId, connectionId }, rinfo);
        return;
      }
      case 'announce_request':
      case 'scrape_request': {
        const id = ids.get(message.connectionId);
        if (!id || id.expires < now || id.address !== rinfo.address) {
          send({ kind: 'error', transactionId: message.transactionId, message: 'connection id unknown or expired; connect again' }, rinfo);
          return;
        }
        if (message.kind === 'scrape_request') {
          const hashes = message.infoHashes.slice(0, UDP_MAX_SCRAPE_HASHES);
          send(
            {
              kind: 'scrape_response',
              transactionId: message.transactionId,
              files: hashes.map((h) => {
                const s = swarms.scrape(h);
                return { seeders: s.complete, completed: s.downloaded, leechers: s.incomplete };
              }),
            },
            rinfo,
          );
          return;
        }
        const ip = unmapIpv4(rinfo.address);
        const event = message.event === UDP_EVENTS.started ? 'started' : message.event === UDP_EVENTS.completed ? 'completed' : message.event === UDP_EVENTS.stopped ? 'stopped' : undefined;
        const numwant = message.numWant < 0 ? config.defaultNumwant : Math.min(message.numWant, config.maxNumwant);
        const result = swarms.announce({
          infoHash: message.infoHash,
          peerId: message.peerId,
          ip,
          port: message.port,
          uploaded: Number(message.uploaded),
          downloaded: Number(message.downloaded),
          left: Number(message.left),
          ...(event ? { event } : {}),
          numwant,
        });
        if ('error' in result) {
          send({ kind: 'error', transactionId: message.transactionId, message: result.error }, rinfo);
          return;
        }
        config.onAnnounce?.({ protocol: 'udp', infoHash: message.infoHash, peerId: message.peerId, ip, port: message.port, event });
        // Only peers of this socket's family fit its compact format; at most what fits one datagram.
        const peers = result.peers.filter((p) => (family === 6) === p.ip.includes(':')).slice(0, family === 6 ? 80 : 200);
        send(
          {
            kind: 'announce_response',
            transactionId: message.transactionId,
            interval: config.interval,
            leechers: result.incomplete,
            seeders: result.complete,
            peers,
          },
          rinfo,
        );
        return;
      }
      case 'connect_response':
      case 'announce_response':
      case 'scrape_response':
      case 'error':
        return;
      case 'unknown':
        send({ kind: 'error', transactionId: message.transactionId, message: `unknown action ${message.action}` }, rinfo);
        return;
      default: {
        const never: never = message;
        return never;
      }
    }
  });
  return socket;
}
