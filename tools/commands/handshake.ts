import type { Argv } from 'yargs';
import { toHex, printable } from '../../lib/core/bytes.js';
import type { Frame } from '../../lib/core/field.js';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { parsePeerAddress, resolveTarget } from '../peer-source.js';
import { reservedBitsSet } from '../../lib/wire/handshake.js';
import { formatIp } from '../../lib/wire/address.js';
import type { Message } from '../../lib/wire/messages.js';
import { messageBrief } from '../../lib/wire/message-spec.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { jsonOf } from '../shared.js';
import { withEncryption, withFrames, withJson, withTimeout } from '../options.js';
import { encryptionDial, encryptionText } from '../encryption.js';
import type { EncryptionPolicy } from '../../lib/mse/constants.js';
import { hexOptions, ioOf } from '../io.js';
import { EXIT } from '../exit-codes.js';

export const command = 'handshake <target> <peer>';
export const describe = 'Handshake with a peer: reserved bits by name, peer id and client, the extended handshake (BEP 10), and what the peer sends first';

export function builder(y: Argv) {
  return withEncryption(withTimeout(withFrames(withJson(y)), 10), 'plaintext')
    .positional('target', { type: 'string', demandOption: true, describe: '.torrent file, magnet link, or 40-hex info-hash' })
    .positional('peer', { type: 'string', demandOption: true, describe: 'HOST:PORT (or [IPv6]:PORT)' })
    .option('wait', { type: 'number', default: 1.5, describe: 'Seconds to collect what the peer sends after the handshakes (bitfield, have all/none, haves...)' })
    .example('$0 handshake x.torrent 127.0.0.1:6881', 'reserved bits, client, extended handshake, first messages')
    .example('$0 handshake --json <hash> 127.0.0.1:6881 | jq .client', 'peerId (hex), client, reserved (hex), extensions, extended (or null)')
    .example('$0 handshake --frames x.torrent 127.0.0.1:6881', 'every frame both ways as annotated hex')
    .epilogue('Exit codes: 0 handshake done; 1 the peer broke the protocol in what it sent within --wait (the violation is named; --json lists it under violations); 2 usage (bad HOST:PORT); 3 TARGET undecodable (not a torrent, magnet or info-hash); 4 refused, timed out, wrong info-hash or a broken handshake (the message says which byte; a peer that closes at once most likely does not serve the info-hash).');
}

interface Args {
  target: string;
  peer: string;
  json: boolean;
  encryption?: EncryptionPolicy;
  keylog?: string;
  frames: boolean;
  timeout: number;
  wait: number;
  io?: unknown;
}

/** A message as a short line: `bitfield 12/12 pieces`, `have 3`... (the message table's `brief`). */
export function describeMessage(m: Message, pieceCount?: number, extName?: string): string {
  return messageBrief(m, { pieceCount, extName });
}

export function messageJson(m: Message, extName?: string): Record<string, unknown> {
  switch (m.type) {
    case 'bitfield':
      return { type: m.type, bitfield: toHex(m.bitfield) };
    case 'piece':
      return { type: m.type, index: m.index, begin: m.begin, length: m.block.length };
    case 'extended':
      return { type: m.type, extId: m.extId, name: extName ?? null, length: m.payload.length };
    case 'unknown':
      return { type: m.type, id: m.id, payload: toHex(m.payload) };
    case 'hash_request':
    case 'hash_reject':
    case 'hashes':
      return { type: m.type, piecesRoot: toHex(m.piecesRoot), baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers };
    default:
      return { ...m };
  }
}

/** Prints frames as they go by (for --frames). */
export function frameSink(argv: { frames: boolean; io?: unknown }): ((f: Frame) => void) | undefined {
  if (!argv.frames) return undefined;
  const io = ioOf(argv);
  return (f) => io.out(renderHexFrame(f, hexOptions(io)) + '\n');
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const target = await resolveTarget(argv.target);
  const addr = parsePeerAddress(argv.peer);
  const sink = frameSink(argv);
  const timeoutMs = Math.max(1, argv.timeout * 1000);
  const pieceCount = target.torrent?.pieceCount;
  const conn = await PeerConnection.connect(addr.host, addr.port, {
    infoHash: target.infoHash,
    peerId: makePeerId(),
    connectTimeoutMs: timeoutMs,
    handshakeTimeoutMs: timeoutMs,
    ...(pieceCount !== undefined ? { pieceCount } : {}),
    ...(sink ? { onFrame: sink } : {}),
    ...encryptionDial(argv, target.infoHash),
  });
  const first: Message[] = [];
  conn.on('message', (m) => {
    if (first.length < 64) first.push(m);
  });
  try {
    // Collect for --wait seconds (the extended handshake and first state messages come in that time).
    await Promise.race([new Promise((r) => setTimeout(r, Math.max(0, argv.wait) * 1000)), conn.done]);
  } finally {
    conn.close();
  }
  const hs = conn.remote;
  const ext = conn.remoteExtended;
  // What the peer sent inside the window that broke the protocol (a decode error at a byte offset): a "no".
  const reason = conn.closeReason;
  const violations = reason && reason.offset !== undefined && reason.code !== 'closed' ? [{ code: reason.code, offset: reason.offset, message: reason.message }] : [];
  const violationLine = violations.length ? `protocol violation by ${conn.peer} after the handshake: ${violations[0]!.message} (${violations[0]!.code})` : undefined;
  if (violationLine) io.err(`btscope: ${violationLine}`);
  const bits = reservedBitsSet(hs.reserved);
  const firstShown = first.filter((m) => !(m.type === 'extended' && m.extId === 0));
  // Incoming extended ids are the ones WE announced in our m dict (BEP 10).
  const extName = (m: Message): string | undefined => (m.type === 'extended' ? conn.extensions.nameFor('in', m.extId) : undefined);
  if (argv.json) {
    io.out(
      JSON.stringify(
        {
          ok: violations.length === 0,
          ...(violationLine ? { error: violationLine } : {}),
          peer: conn.peer,
          infoHash: toHex(hs.infoHash),
          peerId: toHex(hs.peerId),
          peerIdText: printable(hs.peerId),
          client: conn.remoteClient.client,
          clientVersion: conn.remoteClient.version ?? null,
          reserved: toHex(hs.reserved),
          extensions: bits.map((b) => b.name),
          // Addresses as text: jsonOf would show 4 raw bytes as a (misleading) string.
          extended: ext ? { ...(jsonOf(ext.doc.root) as object), ...(ext.yourip ? { yourip: formatIp(ext.yourip) } : {}), ...(ext.ipv4 ? { ipv4: formatIp(ext.ipv4) } : {}), ...(ext.ipv6 ? { ipv6: formatIp(ext.ipv6) } : {}) } : null,
          firstMessages: firstShown.map((m) => messageJson(m, extName(m))),
          closedByPeer: conn.closeReason ? conn.closeReason.message : null,
          violations,
          encryption: encryptionText(conn.session.transport),
        },
        null,
        2,
      ),
    );
    return violations.length ? EXIT.failure : EXIT.ok;
  }
  const rows: Array<[string, string]> = [
    ['peer', conn.peer],
    ['encryption', encryptionText(conn.session.transport)],
    ['info hash', toHex(hs.infoHash)],
    ['peer id', `"${printable(hs.peerId)}"  ${conn.remoteClient.client}${conn.remoteClient.version ? ` ${conn.remoteClient.version}` : ''}`],
    ['reserved', `${toHex(hs.reserved)}  ${bits.length ? bits.map((b) => `${b.name}${b.bep ? ` (BEP ${b.bep})` : ''}`).join(', ') : 'no bits set'}`],
  ];
  if (ext) {
    rows.push(['extended', ext.v ? `client ${JSON.stringify(ext.v)}` : '(no v)']);
    rows.push(['  m', [...ext.m].map(([k, v]) => `${k}=${v}`).join(', ') || '(empty)']);
    if (ext.metadataSize !== undefined) rows.push(['  metadata_size', String(ext.metadataSize)]);
    if (ext.reqq !== undefined) rows.push(['  reqq', String(ext.reqq)]);
    if (ext.p !== undefined) rows.push(['  p', String(ext.p)]);
    if (ext.yourip) rows.push(['  yourip', formatIp(ext.yourip)]);
    if (ext.uploadOnly !== undefined) rows.push(['  upload_only', String(ext.uploadOnly)]);
    const known = new Set(['m', 'v', 'metadata_size', 'reqq', 'p', 'yourip', 'upload_only']);
    for (const [k, v] of ext.doc.root.entries()) if (!known.has(k.str())) rows.push([`  ${k.str()}`, JSON.stringify(jsonOf(v))]);
  } else rows.push(['extended', conn.extendedSupported ? `none within ${argv.wait} s` : 'not supported (BEP 10 bit clear)']);
  rows.push(['first messages', firstShown.length ? firstShown.slice(0, 12).map((m) => describeMessage(m, pieceCount, extName(m))).join(', ') + (firstShown.length > 12 ? ` … ${firstShown.length} in all` : '') : `none within ${argv.wait} s`]);
  if (conn.closeReason) rows.push(['closed', conn.closeReason.message]);
  const w = Math.max(...rows.map(([k]) => k.length));
  io.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
  return violations.length ? EXIT.failure : EXIT.ok;
}
