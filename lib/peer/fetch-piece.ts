import type { Message } from '../wire/messages.js';
import { PeerError } from './peer-error.js';
import type { PeerConnection } from './peer-connection.js';

export interface FetchPieceOptions {
  /** Default 16 KiB (BEP 3's customary block). */
  blockLength?: number;
  /** Requests outstanding at once (default 16). */
  pipeline?: number;
  /** The whole piece within this (ms, default 60 s). */
  timeoutMs?: number;
}

/**
 * Fetch one piece in blocks with `pipeline` requests outstanding. Sends
 * interested, waits for unchoke (or uses allowed fast), re-requests blocks
 * after a choke (BEP 3 drops them) or a BEP 6 reject (up to 3 times each).
 * Rejects with `bad_block` for a block of the wrong size, `timeout`, or the
 * close reason. The caller checks the piece hash.
 */
export async function fetchPiece(conn: PeerConnection, index: number, pieceLength: number, opts: FetchPieceOptions = {}): Promise<Uint8Array> {
  const blockLength = opts.blockLength ?? 16384;
  const pipeline = Math.max(1, opts.pipeline ?? 16);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const out = new Uint8Array(pieceLength);
  const todo: number[] = [];
  for (let b = 0; b < pieceLength; b += blockLength) todo.push(b);
  const outstanding = new Set<number>();
  const rejections = new Map<number, number>();
  let received = 0;
  const total = todo.length;
  return new Promise<Uint8Array>((resolve, reject) => {
    const finish = (e?: Error): void => {
      clearTimeout(timer);
      conn.off('message', onMessage);
      conn.off('close', onClose);
      if (e) {
        for (const begin of outstanding) conn.send({ type: 'cancel', index, begin, length: Math.min(blockLength, pieceLength - begin) });
        reject(e);
      } else resolve(out);
    };
    const canRequest = (): boolean => !conn.state.peerChoking || (conn.fast && conn.state.allowedFast.has(index));
    const fill = (): void => {
      while (canRequest() && outstanding.size < pipeline && todo.length > 0) {
        const begin = todo.shift()!;
        outstanding.add(begin);
        conn.send({ type: 'request', index, begin, length: Math.min(blockLength, pieceLength - begin) });
      }
    };
    const onMessage = (m: Message): void => {
      switch (m.type) {
        case 'piece': {
          if (m.index !== index || !outstanding.has(m.begin)) return; // not ours (or a late duplicate)
          const want = Math.min(blockLength, pieceLength - m.begin);
          if (m.block.length !== want) {
            finish(new PeerError('bad_block', `piece ${index} block at ${m.begin} is ${m.block.length} bytes, requested ${want}`, conn.peer));
            return;
          }
          out.set(m.block, m.begin);
          outstanding.delete(m.begin);
          received++;
          if (received === total) return finish();
          fill();
          return;
        }
        case 'reject_request': {
          if (m.index !== index || !outstanding.has(m.begin)) return;
          outstanding.delete(m.begin);
          const n = (rejections.get(m.begin) ?? 0) + 1;
          rejections.set(m.begin, n);
          if (n > 3) {
            finish(new PeerError('rejected', `the peer rejected piece ${index} block at ${m.begin} ${n} times`, conn.peer));
            return;
          }
          todo.push(m.begin);
          fill();
          return;
        }
        case 'choke':
          // BEP 3: a choke drops outstanding requests. With BEP 6 the peer rejects each one instead.
          if (!conn.fast) {
            for (const b of outstanding) todo.push(b);
            outstanding.clear();
          }
          return;
        case 'unchoke':
        case 'allowed_fast':
          fill();
          return;
        default:
          return;
      }
    };
    const onClose = (e: PeerError | undefined): void => finish(e ?? new PeerError('closed', `connection closed while fetching piece ${index}`, conn.peer));
    const timer = setTimeout(
      () => finish(new PeerError('timeout', `piece ${index}: ${received} of ${total} blocks within ${timeoutMs} ms${conn.state.peerChoking ? ' (the peer keeps us choked)' : ''}`, conn.peer)),
      timeoutMs,
    );
    if (conn.closed) return onClose(conn.closeReason);
    conn.on('message', onMessage);
    conn.on('close', onClose);
    if (!conn.state.amInterested) conn.send({ type: 'interested' });
    fill();
  });
}
