import type { BlockRequest } from './piece-picker.js';

/**
 * What a seeder does with each request it receives: the BEP 3 and BEP 6
 * rules in one pure function, so the swarm's upload side and its tests read
 * the same table.
 *
 * - BEP 3 "request": blocks are 2^14 bytes; "all current implementations ...
 *   close connections which request an amount greater than that". A request
 *   for a piece that does not exist or that runs past its piece's end is the
 *   same kind of fault.
 * - BEP 6 "reject request": with the fast extension on, every request gets
 *   EXACTLY ONE answer, a piece or a reject, so a request we will not serve
 *   (choked and not allowed fast, a piece we lack, a full queue, a malformed
 *   one) is rejected, never dropped in silence.
 * - Without the fast extension there is no reject: a request while choked or
 *   for a piece we lack is ignored (BEP 3: choke discards requests); a
 *   malformed one closes the connection.
 */

/** BEP 3: the block size every implementation uses, and the largest request served. */
export const MAX_REQUEST_LENGTH = 16 * 1024;

/** BEP 6 allowed fast set size we offer (libtorrent's default is 5, the BEP's example 10). */
export const ALLOWED_FAST_COUNT = 10;

export type RequestVerdict = 'serve' | 'reject' | 'ignore' | 'close';

export interface RequestRuleContext {
  pieceCount: number;
  pieceSize: (index: number) => number;
  hasPiece: (index: number) => boolean;
  /** We are choking this peer. */
  choking: boolean;
  /** Pieces in the allowed fast set we sent this peer (served while choked). */
  allowedFast: ReadonlySet<number>;
  /** Both sides set the BEP 6 bit. */
  fast: boolean;
  /** Requests of this peer already queued. */
  queued: number;
  /** The most we queue (the reqq we advertise, BEP 10). */
  maxQueued: number;
}

export interface RequestJudgement {
  verdict: RequestVerdict;
  /** Why it is not served (for logs and the close error). */
  reason?: string;
}

export function judgeRequest(r: BlockRequest, c: RequestRuleContext): RequestJudgement {
  const refuse = (malformed: boolean, reason: string): RequestJudgement => ({ verdict: c.fast ? 'reject' : malformed ? 'close' : 'ignore', reason });
  if (r.index >= c.pieceCount) return refuse(true, `request for piece ${r.index} of ${c.pieceCount}`);
  if (r.length === 0 || r.length > MAX_REQUEST_LENGTH) return refuse(true, `request of ${r.length} bytes (BEP 3 blocks are at most ${MAX_REQUEST_LENGTH})`);
  const size = c.pieceSize(r.index);
  if (r.begin + r.length > size) return refuse(true, `request for ${r.begin}+${r.length} past the end of piece ${r.index} (${size} bytes)`);
  if (!c.hasPiece(r.index)) return refuse(false, `request for piece ${r.index}, which we do not have`);
  if (c.choking && !(c.fast && c.allowedFast.has(r.index))) return refuse(false, 'request while choked');
  if (c.queued >= c.maxQueued) return refuse(false, `more than ${c.maxQueued} requests queued`);
  return { verdict: 'serve' };
}

/** Whether a request already queued is still to be served after we choke the peer (BEP 6: allowed fast ones are). */
export function servedWhileChoked(r: BlockRequest, fast: boolean, allowedFast: ReadonlySet<number>): boolean {
  return fast && allowedFast.has(r.index);
}

/** The IPv4 address the BEP 6 allowed fast set is computed from ("::ffff:a.b.c.d" included); undefined for IPv6. */
export function allowedFastIpv4(address: string): string | undefined {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(v4) ? v4 : undefined;
}
