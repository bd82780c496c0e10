import type { Torrent } from '../metainfo/types.js';
import type { PeerSession } from '../peer/session.js';
import type { Message } from '../wire/messages.js';
import { decodeUtMetadata, encodeUtMetadata, UT_METADATA_PIECE_LENGTH } from '../wire/ut-metadata.js';
import { answerHashRequest, type PieceTree } from './hash-answer.js';

/**
 * A hashes answer that would leave more than this queued for a peer gets a
 * hash reject instead: a peer that asks and does not read cannot grow our
 * memory (each request of 53 bytes may ask for 8192 hashes, 256 KiB).
 */
const HASH_ANSWER_BUFFER = 4 * 1024 * 1024;

/**
 * BEP 9: answer a ut_metadata request with the piece of the info dict it
 * names (a reject past its end), under the peer's id for ut_metadata. Data and
 * reject messages from the peer, and broken requests, are ignored: a swarm
 * serves metadata, magnet-resolve.ts fetches it.
 */
export function answerMetadataRequest(session: PeerSession, payload: Uint8Array, info: Uint8Array): void {
  const theirId = session.extensions.idFor('out', 'ut_metadata');
  if (theirId === undefined) return;
  try {
    const msg = decodeUtMetadata(payload).value;
    if (msg.msgType !== 'request') return;
    const start = msg.piece * UT_METADATA_PIECE_LENGTH;
    const reply =
      start < info.length
        ? encodeUtMetadata({ msgType: 'data', piece: msg.piece, totalSize: info.length, data: info.subarray(start, start + UT_METADATA_PIECE_LENGTH) })
        : encodeUtMetadata({ msgType: 'reject', piece: msg.piece });
    session.send({ type: 'extended', extId: theirId, payload: reply });
  } catch {
    // ignore a broken request
  }
}

/**
 * BEP 52: a hash request "MUST be answered with either a 'hashes' or 'hash
 * reject' message": exactly one answer, from the piece layers in memory
 * (hash-answer.ts). A v1 torrent, a layer we do not have (a magnet before it
 * was fetched), the block layer, a bad range, or a peer not reading its
 * answers: hash reject, echoing the request.
 */
export class HashRequestAnswers {
  /** BEP 52 trees above each file's piece layer, built on the first request that needs an uncle hash. */
  private readonly trees = new Map<string, PieceTree>();

  constructor(
    private readonly torrent: Torrent,
    private readonly log?: (line: string) => void,
  ) {}

  answer(session: PeerSession, m: Extract<Message, { type: 'hash_request' }>): void {
    const t = this.torrent;
    const req = { piecesRoot: m.piecesRoot, baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers };
    const a = t.infoHashV2 ? answerHashRequest(t, req, { trees: this.trees }) : ({ ok: false, reason: 'v1', message: 'a v1 torrent has no merkle trees' } as const);
    const queued = session.transport.writableLength;
    if (a.ok && queued + a.hashes.length <= HASH_ANSWER_BUFFER) {
      session.send({ type: 'hashes', ...req, hashes: a.hashes });
      return;
    }
    const why = a.ok ? `${queued} bytes already queued for it` : `${a.reason}: ${a.message}`;
    this.log?.(`peer ${session.peer}: hash reject (index ${m.index}, length ${m.length}, base layer ${m.baseLayer}, proof layers ${m.proofLayers}): ${why}`);
    session.send({ type: 'hash_reject', ...req });
  }
}
