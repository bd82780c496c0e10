import { createHash } from 'node:crypto';
import { bytesEqual, fromHex, toHex, concatBytes } from '../core/bytes.js';
import { decodeUtMetadata, encodeUtMetadata, metadataPieceCount, metadataPieceLength, DEFAULT_MAX_METADATA_SIZE } from '../wire/ut-metadata.js';
import { PeerError, type PeerConnection } from '../peer/peer-connection.js';
import { DecodeError } from '../core/errors.js';

export interface MetadataResult {
  /** The info dict exactly as received (hash these bytes; never re-encode). */
  readonly info: Uint8Array;
  readonly pieces: number;
  readonly peer: string;
}

/**
 * BEP 9 metadata exchange on an established connection: wait for the peer's
 * extended handshake, check it offers ut_metadata with a sane metadata_size,
 * request every 16 KiB piece, check each answer (piece index, total_size equal
 * to metadata_size, piece length), reassemble, and check the SHA-1 (v1) or
 * truncated SHA-256 (v2) against the info-hash. Every failure is a PeerError:
 * `no_extensions`, `no_ut_metadata`, `no_metadata_size`, `metadata_too_large`,
 * `metadata_rejected`, `metadata_size_mismatch`, `bad_metadata_piece`,
 * `metadata_hash_mismatch`, `timeout`.
 */
export async function fetchMetadata(
  conn: PeerConnection,
  infoHash: Uint8Array,
  opts: { timeoutMs?: number; maxMetadataSize?: number; infoHashV2?: Uint8Array } = {},
): Promise<MetadataResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxSize = opts.maxMetadataSize ?? DEFAULT_MAX_METADATA_SIZE;
  const deadline = Date.now() + timeoutMs;
  const peer = conn.peer;
  if (!conn.extendedSupported) throw new PeerError('no_extensions', 'the peer does not support the extension protocol (BEP 10), so no metadata exchange', peer);
  const ext = await conn.waitForExtendedHandshake(Math.max(1, deadline - Date.now()));
  if (!ext) throw new PeerError('timeout', 'no extended handshake from the peer', peer);
  if (!ext.m.get('ut_metadata')) throw new PeerError('no_ut_metadata', `the peer does not offer ut_metadata (m: ${[...ext.m.keys()].join(', ') || 'empty'})`, peer);
  const size = ext.metadataSize;
  if (size === undefined || size <= 0) throw new PeerError('no_metadata_size', 'the peer offers ut_metadata but gives no metadata_size (it may not have the metadata)', peer);
  if (size > maxSize) throw new PeerError('metadata_too_large', `metadata_size ${size} exceeds the ${maxSize}-byte limit`, peer);

  const count = metadataPieceCount(size);
  const out = new Uint8Array(size);
  const got = new Set<number>();
  return new Promise<MetadataResult>((resolve, reject) => {
    const finish = (e?: Error): void => {
      clearTimeout(timer);
      conn.off('extended', onExtended);
      conn.off('close', onClose);
      if (e) return reject(e);
      const sha1 = new Uint8Array(createHash('sha1').update(out).digest());
      const sha256 = new Uint8Array(createHash('sha256').update(out).digest());
      const ok = bytesEqual(sha1, infoHash) || bytesEqual(sha256.subarray(0, infoHash.length), infoHash);
      if (!ok) {
        return reject(new PeerError('metadata_hash_mismatch', `the ${size} metadata bytes hash to ${toHex(sha1)} (SHA-1), not the info-hash ${toHex(infoHash)}`, peer));
      }
      // A link that names the v2 hash (urn:btmh) wants all 32 bytes to match, not the 20 on the wire.
      if (opts.infoHashV2 !== undefined && !bytesEqual(sha256, opts.infoHashV2)) {
        return reject(new PeerError('metadata_hash_mismatch', `the ${size} metadata bytes hash to ${toHex(sha256)} (SHA-256), not the v2 info-hash ${toHex(opts.infoHashV2)}`, peer));
      }
      resolve({ info: out, pieces: count, peer });
    };
    const onExtended = (name: string | undefined, payload: Uint8Array, offset: number): void => {
      if (name !== 'ut_metadata') return;
      let m;
      try {
        m = decodeUtMetadata(payload, offset).value;
      } catch (e) {
        if (e instanceof DecodeError) return finish(PeerError.fromDecode(e, peer, 'ut_metadata message'));
        throw e;
      }
      if (m.msgType === 'reject') return finish(new PeerError('metadata_rejected', `the peer rejected metadata piece ${m.piece}`, peer, offset));
      if (m.msgType !== 'data') return;
      if (m.piece >= count) return finish(new PeerError('bad_metadata_piece', `metadata piece ${m.piece} is out of range (${count} pieces)`, peer, offset));
      if (m.totalSize !== size) {
        return finish(new PeerError('metadata_size_mismatch', `total_size ${m.totalSize} in piece ${m.piece} differs from metadata_size ${size} in the extended handshake`, peer, offset));
      }
      const want = metadataPieceLength(size, m.piece);
      if (m.data.length !== want) {
        return finish(new PeerError('bad_metadata_piece', `metadata piece ${m.piece} is ${m.data.length} bytes, expected ${want}`, peer, offset));
      }
      out.set(m.data, m.piece * 16384);
      got.add(m.piece);
      if (got.size === count) finish();
    };
    const onClose = (e: PeerError | undefined): void => finish(e ?? new PeerError('closed', 'connection closed during the metadata exchange', peer));
    const timer = setTimeout(() => finish(new PeerError('timeout', `${got.size} of ${count} metadata pieces within ${timeoutMs} ms`, peer)), Math.max(1, deadline - Date.now()));
    if (conn.closed) return onClose(conn.closeReason);
    conn.on('extended', onExtended);
    conn.on('close', onClose);
    for (let piece = 0; piece < count; piece++) conn.sendExtended('ut_metadata', encodeUtMetadata({ msgType: 'request', piece }));
  });
}

/**
 * A .torrent around received metadata: `announce`/`announce-list` from the
 * magnet's trackers and the info dict spliced in byte for byte (so the
 * info-hash stays what the swarm uses, whatever the dict's encoding), and for
 * v2 the piece layers (BEP 52) where they were fetched.
 */
export function torrentFromMetadata(info: Uint8Array, trackers: readonly string[] = [], pieceLayers?: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const enc = new TextEncoder();
  const str = (s: string): string => `${enc.encode(s).length}:${s}`;
  let head = 'd';
  if (trackers.length > 0) {
    head += `8:announce${str(trackers[0]!)}`;
    if (trackers.length > 1) head += `13:announce-listl${trackers.map((t) => `l${str(t)}e`).join('')}e`;
  }
  head += '4:info';
  const parts: Uint8Array[] = [enc.encode(head), info];
  // BEP 52 piece layers (keys are the raw 32-byte pieces roots; hex order is their byte order).
  if (pieceLayers && pieceLayers.size > 0) {
    parts.push(enc.encode('12:piece layersd'));
    for (const root of [...pieceLayers.keys()].sort()) {
      const layer = pieceLayers.get(root)!;
      parts.push(enc.encode('32:'), fromHex(root), enc.encode(`${layer.length}:`), layer);
    }
    parts.push(enc.encode('e'));
  }
  parts.push(enc.encode('e'));
  return concatBytes(parts);
}
