import { createHash } from 'node:crypto';
import { bytesEqual } from '../../core/bytes.js';
import { checkPieceV2 } from '../../metainfo/piece-check.js';
import type { Message } from '../../wire/messages.js';
import { answersTo, requestBefore, blockOf, fastOn, incoming, outgoing, peerClosed, plural, ref, type Event, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, EvalContext, ScenarioName } from '../types.js';

type Ctx = EvalContext<Message>;

/** Why a scenario could not probe, from its notes (a skip reason must say why). */
const why = (s: Session, fallback: string): string => (s.notes.length > 0 ? s.notes.join('; ') : fallback);

/**
 * A whole piece's blocks against the torrent: its SHA-1 (v1, hybrid), or for a
 * v2-only torrent its BEP 52 merkle hash (piece layer, or the pieces root of a
 * one-piece file). undefined when there is nothing to check it against.
 */
function pieceVerdict(ctx: Ctx, index: number, blocks: Uint8Array[]): { ok: boolean; kind: string } | undefined {
  const t = ctx.target;
  if (t.pieces) {
    const h = createHash('sha1');
    for (const b of blocks) h.update(b);
    return { ok: bytesEqual(new Uint8Array(h.digest()), t.pieces.subarray(index * 20, index * 20 + 20)), kind: 'SHA-1' };
  }
  if (!t.infoHashV2 || !t.files) return undefined;
  const layout = { infoHashV2: t.infoHashV2, pieceCount: t.pieceCount, pieceLength: t.pieceLength, files: t.files, pieceLayers: t.pieceLayers ?? new Map<string, Uint8Array>() };
  const v2 = checkPieceV2(layout, index, Buffer.concat(blocks));
  return v2 && { ok: v2.ok, kind: 'BEP 52 merkle hash' };
}

function validRequests(ctx: Ctx): CheckOutcome {
  const s = ctx.session('main');
  if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the main connection' };
  const reqs = outgoing(s, 'valid_request');
  if (reqs.length === 0) return { result: 'skip', detail: why(s, 'no request was sent (never unchoked)') };
  const byPiece = new Map<number, Array<{ req: Event; block?: Uint8Array }>>();
  let rejected = 0;
  for (const req of reqs) {
    const b = blockOf(req.message)!;
    const { pieces, rejects } = answersTo(s, req);
    if (pieces.length > 1) return { result: 'fail', detail: `piece ${b.index} begin ${b.begin} answered ${pieces.length} times`, evidence: pieces.slice(0, 3).map((e) => ref(s, e)) };
    if (pieces.length === 1) {
      const got = (pieces[0]!.message as Extract<Message, { type: 'piece' }>).block;
      if (got.length !== b.length) {
        return { result: 'fail', detail: `asked for ${b.length} bytes of piece ${b.index} at ${b.begin}, got ${got.length}`, evidence: [ref(s, req), ref(s, pieces[0]!)] };
      }
      const list = byPiece.get(b.index) ?? [];
      list.push({ req, block: got });
      byPiece.set(b.index, list);
    } else if (rejects.length > 0) {
      rejected++;
    } else {
      return {
        result: 'fail',
        detail: `request for piece ${b.index} begin ${b.begin} length ${b.length} not answered (${peerClosed(s) ? 'peer closed the connection' : `within ${s.end ? s.end.at - req.at : '?'} ms`})`,
        evidence: [ref(s, req)],
      };
    }
  }
  if (rejected === reqs.length) return { result: 'warn', detail: `all ${plural(reqs.length, 'request')} sent while unchoked were rejected` };
  // Hash each complete piece; blocks must tile the piece exactly.
  let hashed = 0;
  let bytes = 0;
  for (const [index, list] of byPiece) {
    const size = index === ctx.target.pieceCount - 1 ? ctx.target.lastPieceLength : ctx.target.pieceLength;
    const covered = list.reduce((n, x) => n + x.block!.length, 0);
    bytes += covered;
    if (covered !== size) continue;
    const sorted = [...list].sort((a, b) => (blockOf(a.req.message)!.begin - blockOf(b.req.message)!.begin));
    const verdict = pieceVerdict(ctx, index, sorted.map((x) => x.block!));
    if (verdict === undefined) continue;
    if (!verdict.ok) {
      return { result: 'fail', detail: `piece ${index}: the ${size} bytes served do not hash to the torrent's ${verdict.kind} (wrong data)`, evidence: sorted.slice(0, 2).map((x) => ref(s, x.req)) };
    }
    hashed++;
  }
  if (hashed === 0) return { result: 'warn', detail: `${bytes} bytes answered with the right lengths, but no whole piece to hash-check` };
  return { result: 'pass', detail: `${plural(reqs.length - rejected, 'block')} (${bytes} bytes) exact, ${plural(hashed, 'piece')} hash-checked${rejected ? `, ${rejected} rejected` : ''}` };
}

function chokedRequests(ctx: Ctx): CheckOutcome {
  const results: string[] = [];
  let warn: string | undefined;
  let probed = 0;
  for (const name of ['main', 'plain'] as const) {
    const s = ctx.session(name);
    if (!s?.handshake) continue;
    const reqs = outgoing(s, 'choked_request');
    for (const req of reqs) {
      probed++;
      const b = blockOf(req.message)!;
      const { pieces, rejects } = answersTo(s, req);
      if (pieces.length > 0) {
        const unchoke = incoming(s).find((e) => e.message.type === 'unchoke' && e.seq > req.seq && e.seq < pieces[0]!.seq);
        if (unchoke) {
          warn = `${name}: a request sent while choked was served after the peer unchoked us (it kept the request instead of dropping it)`;
          continue;
        }
        return { result: 'fail', detail: `${name}: a request sent while choked was answered with data`, evidence: [ref(s, req), ref(s, pieces[0]!)] };
      }
      if (fastOn(s)) {
        if (rejects.length === 0) {
          return { result: 'fail', detail: `${name}: fast extension on, a request while choked got no reject_request (BEP 6)`, evidence: [ref(s, req)] };
        }
        results.push(`${name}: rejected (fast)`);
      } else results.push(`${name}: ignored${rejects.length ? ' (a reject came without the fast extension)' : ''}`);
    }
  }
  if (probed === 0) {
    const s = ctx.session('main');
    return { result: 'skip', detail: s ? why(s, 'the peer unchoked us before we could ask while choked') : 'main scenario not run' };
  }
  if (warn) return { result: 'warn', detail: warn };
  return { result: 'pass', detail: results.join('; ') };
}

/** A request that breaks a BEP 3 limit: rejected or the connection closed, never data. */
function badRequest(scenario: ScenarioName, what: string) {
  return (ctx: Ctx): CheckOutcome => {
    const s = ctx.session(scenario);
    if (!s?.handshake) return { result: 'skip', detail: `no handshake on the ${scenario} connection` };
    const req = outgoing(s, 'bad_request')[0];
    if (!req) return { result: 'skip', detail: why(s, 'never unchoked, so the request was not sent') };
    const b = blockOf(req.message)!;
    const { pieces, rejects } = answersTo(s, req);
    if (pieces.length > 0) {
      const got = (pieces[0]!.message as Extract<Message, { type: 'piece' }>).block.length;
      return { result: 'fail', detail: `${what} (piece ${b.index} begin ${b.begin} length ${b.length}) answered with ${got} bytes of data`, evidence: [ref(s, req), ref(s, pieces[0]!)] };
    }
    if (rejects.length > 0) return { result: 'pass', detail: 'rejected', evidence: [ref(s, req), ref(s, rejects[0]!)] };
    if (peerClosed(s)) return { result: 'pass', detail: `connection closed ${s.end!.at - req.at} ms later`, evidence: [ref(s, req)] };
    return {
      result: fastOn(s) ? 'warn' : 'pass',
      detail: fastOn(s) ? 'ignored: no data, but no reject either (BEP 6 expects a reject)' : 'ignored, no data',
      evidence: [ref(s, req)],
    };
  };
}

/**
 * BEP 3 cancel, judged on the `cancel` scenario: reading held, a queue of
 * requests, cancels for its last blocks. Only when at least
 * `cancelQueueBytes` of requested data was still unsent ahead of them does
 * "every cancelled block came anyway" prove the peer ignored cancel; with a
 * shorter queue the blocks may honestly have been in flight (warn).
 */
function cancelHonoured(ctx: Ctx): CheckOutcome {
  const s = ctx.session('cancel');
  if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the cancel connection' };
  const cancels = outgoing(s, 'cancel');
  if (cancels.length === 0) return { result: 'skip', detail: why(s, 'never unchoked, so nothing to cancel') };
  const burst = outgoing(s, 'cancel_request');
  const firstCancel = cancels[0]!.seq;
  const cancelled = new Set(cancels.map((c) => requestBefore(s, c)?.seq));
  let served = 0;
  let rejected = 0;
  let ahead = 0;
  let keptMissing = 0;
  const evidence = [];
  for (const r of burst) {
    const { pieces, rejects } = answersTo(s, r);
    const b = blockOf(r.message)!;
    if (pieces.length > 1) return { result: 'fail', detail: `piece ${b.index} begin ${b.begin} arrived ${pieces.length} times`, evidence: pieces.slice(0, 3).map((p) => ref(s, p)) };
    if (!cancelled.has(r.seq)) {
      // Data we had not received when we cancelled: the peer still had it to send first.
      if (!pieces.some((p) => p.seq < firstCancel)) ahead += b.length;
      if (pieces.length === 0) keptMissing++;
      continue;
    }
    if (pieces.length === 1 && pieces[0]!.seq > firstCancel) {
      served++;
      if (evidence.length < 4) evidence.push(ref(s, cancels.find((c) => requestBefore(s, c)?.seq === r.seq) ?? r), ref(s, pieces[0]!));
    }
    if (rejects.length > 0) rejected++;
  }
  const n = cancels.length;
  const need = (s.facts['cancelQueueBytes'] as number | undefined) ?? 0;
  const mib = (x: number) => `${(x / 1048576).toFixed(1)} MiB`;
  const detail = `${n} blocks cancelled behind ${mib(ahead)} of unsent requests: ${served} still sent, ${rejected} rejected, ${n - served - rejected} dropped`;
  if (served < n) {
    if (keptMissing > 0 && !peerClosed(s)) {
      return { result: 'warn', detail: `${detail}; but ${plural(keptMissing, 'request')} we did not cancel went unanswered too, so the missing ones prove nothing`, evidence: [ref(s, cancels[0]!)] };
    }
    return { result: 'pass', detail, evidence: [ref(s, cancels[0]!)] };
  }
  if (ahead >= need && need > 0) return { result: 'fail', detail: `cancel ignored: ${detail}`, evidence };
  return { result: 'warn', detail: `${detail}: only ${mib(ahead)} queued ahead (${mib(need)} needed to tell), they may have been in flight`, evidence };
}

export const REQUEST_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'requests.valid',
    bep: 3,
    section: 'request / piece',
    title: 'a valid request while unchoked gets exactly the bytes asked for, which hash-check',
    scenarios: ['main'],
    evaluate: validRequests,
  },
  {
    id: 'requests.choked',
    bep: 6,
    section: 'reject request',
    title: 'a request while choked is ignored, or rejected (required with the fast extension)',
    scenarios: ['main', 'plain'],
    evaluate: chokedRequests,
  },
  {
    id: 'requests.oversize',
    bep: 3,
    section: 'request',
    title: 'a request over 16 KiB is rejected or the connection closed, never answered',
    scenarios: ['oversize_request'],
    evaluate: badRequest('oversize_request', 'a 32 KiB request'),
  },
  {
    id: 'requests.beyond_piece',
    bep: 3,
    section: 'request',
    title: 'a request running past the end of the piece is rejected or the connection closed',
    scenarios: ['beyond_piece_request'],
    evaluate: badRequest('beyond_piece_request', 'a request past the end of the piece'),
  },
  {
    id: 'requests.bad_index',
    bep: 3,
    section: 'request',
    title: 'a request for a piece index that does not exist is rejected or the connection closed',
    scenarios: ['bad_index_request'],
    evaluate: badRequest('bad_index_request', 'a request for a piece that does not exist'),
  },
  {
    id: 'requests.cancel',
    bep: 3,
    section: 'cancel',
    title: 'cancel is honoured: blocks cancelled while queued behind others are not all sent anyway',
    scenarios: ['cancel'],
    evaluate: cancelHonoured,
  },
];
