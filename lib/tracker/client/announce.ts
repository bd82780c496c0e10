import { DecodeError } from '../../core/errors.js';
import { toHex } from '../../core/bytes.js';
import { buildAnnounceUrl, decodeHttpAnnounceResponse } from '../http-announce.js';
import { buildScrapeUrl, decodeHttpScrapeResponse } from '../http-scrape.js';
import { parseTrackerUrl, type TrackerUrl } from '../url.js';
import { UDP_EVENTS, UDP_MAX_SCRAPE_HASHES, urlDataOptions } from '../udp.js';
import { TrackerError } from '../errors.js';
import type { AnnounceRequest, AnnounceResult, ScrapeEntry, ScrapeResult, TrackerStep } from '../types.js';
import { Exchange, type TrackerRequestOptions } from './context.js';
import { answerFrame, httpGet, rawFrame, type HttpAnswer } from './http.js';
import { randomTransactionId, UdpSession } from './udp.js';

export { clearConnectionIds } from './udp.js';

/** One 32-bit key per process, as clients keep theirs across announces. */
const PROCESS_KEY = randomTransactionId();

/**
 * Announce to a tracker (HTTP, HTTPS or UDP by the URL's scheme). Resolves with
 * the answer and every frame; rejects with TrackerError (code, step, frames)
 * on timeout, DNS, refusal, HTTP status, undecodable answer, failure reason,
 * UDP error or wrong transaction id.
 */
export async function announce(url: string, req: AnnounceRequest, opts: TrackerRequestOptions): Promise<AnnounceResult> {
  return withTracker(
    url,
    opts,
    (session, tracker, ex) => udpAnnounce(session, tracker.pathAndQuery, req, ex),
    async (ex) => {
      const answer = await httpGet(buildAnnounceUrl(url, req), 'announce', ex);
      const value = decodeBody(answer, ex, 'announce', (body, base) => decodeHttpAnnounceResponse(body, base, { compactRequested: req.compact !== false, ...(opts.maxPeers ? { maxPeers: opts.maxPeers } : {}) }));
      if (value.failureReason !== undefined) throw ex.fail('failure_reason', `tracker says: ${value.failureReason}`, 'announce');
      return {
        interval: value.interval ?? 0,
        ...(value.minInterval !== undefined ? { minInterval: value.minInterval } : {}),
        ...(value.complete !== undefined ? { complete: value.complete } : {}),
        ...(value.incomplete !== undefined ? { incomplete: value.incomplete } : {}),
        ...(value.downloaded !== undefined ? { downloaded: value.downloaded } : {}),
        peers: value.peers,
        ...(value.warning !== undefined ? { warning: value.warning } : {}),
        ...(value.trackerId !== undefined ? { trackerId: value.trackerId } : {}),
        frames: ex.frames,
      };
    },
  );
}

/**
 * One exchange with the tracker at `url`: over UDP in a connected session (BEP 15) for a
 * udp:// URL, else over HTTP(S). The session and the exchange are closed after, whatever happens.
 */
async function withTracker<T>(
  url: string,
  opts: TrackerRequestOptions,
  overUdp: (session: UdpSession, tracker: TrackerUrl, ex: Exchange) => Promise<T>,
  overHttp: (ex: Exchange) => Promise<T>,
): Promise<T> {
  const tracker = parseTrackerUrl(url);
  const ex = new Exchange(opts, `${tracker.host}:${tracker.port}`);
  try {
    if (tracker.scheme === 'udp') {
      const session = new UdpSession(tracker, ex);
      try {
        await session.open('connect');
        return await overUdp(session, tracker, ex);
      } finally {
        session.close();
      }
    }
    return await overHttp(ex);
  } finally {
    ex.close();
  }
}

async function udpAnnounce(session: UdpSession, pathAndQuery: string, req: AnnounceRequest, ex: Exchange): Promise<AnnounceResult> {
  for (let attempt = 0; ; attempt++) {
    const { id, reused } = await session.connectionId();
    try {
      const answer = await session.transact(
        {
          kind: 'announce_request',
          connectionId: id,
          transactionId: randomTransactionId(),
          infoHash: req.infoHash,
          peerId: req.peerId,
          downloaded: BigInt(req.downloaded),
          left: BigInt(req.left),
          uploaded: BigInt(req.uploaded),
          event: req.event ? UDP_EVENTS[req.event] : UDP_EVENTS.none,
          ip: 0,
          key: req.key ?? PROCESS_KEY,
          numWant: req.numwant ?? -1,
          port: req.port,
          options: urlDataOptions(pathAndQuery),
        },
        'announce',
      );
      if (answer.kind !== 'announce_response') throw ex.fail('wrong_action', `expected an announce response, got ${answer.kind}`, 'announce');
      return { interval: answer.interval, complete: answer.seeders, incomplete: answer.leechers, peers: [...answer.peers], frames: ex.frames };
    } catch (e) {
      // A reused connection id the tracker no longer accepts: connect afresh, once.
      if (reused && attempt === 0 && e instanceof TrackerError && e.code === 'tracker_error') {
        session.forgetConnectionId();
        continue;
      }
      throw e;
    }
  }
}

/** Scrape some info-hashes (BEP 48 over HTTP, BEP 15 over UDP in packets of 74). */
export async function scrape(url: string, infoHashes: readonly Uint8Array[], opts: TrackerRequestOptions): Promise<ScrapeResult> {
  return withTracker(
    url,
    opts,
    async (session, _tracker, ex) => {
      const files: ScrapeEntry[] = [];
      for (let i = 0; i < infoHashes.length || (i === 0 && infoHashes.length === 0); i += UDP_MAX_SCRAPE_HASHES) {
        const chunk = infoHashes.slice(i, i + UDP_MAX_SCRAPE_HASHES);
        const { id } = await session.connectionId();
        const answer = await session.transact({ kind: 'scrape_request', connectionId: id, transactionId: randomTransactionId(), infoHashes: chunk }, 'scrape');
        if (answer.kind !== 'scrape_response') throw ex.fail('wrong_action', `expected a scrape response, got ${answer.kind}`, 'scrape');
        if (answer.files.length < chunk.length) {
          throw ex.fail('bad_response', `scrape answer has ${answer.files.length} entries for ${chunk.length} info-hashes`, 'scrape');
        }
        chunk.forEach((h, j) => {
          const e = answer.files[j]!;
          files.push({ infoHash: h, complete: e.seeders, incomplete: e.leechers, downloaded: e.completed });
        });
        if (infoHashes.length === 0) break;
      }
      return { files, frames: ex.frames };
    },
    async (ex) => {
      let scrapeUrl: string;
      try {
        scrapeUrl = buildScrapeUrl(url, infoHashes);
      } catch (e) {
        if (e instanceof TrackerError) throw ex.fail(e.code as never, e.message, 'scrape');
        throw e;
      }
      const answer = await httpGet(scrapeUrl, 'scrape', ex);
      const value = decodeBody(answer, ex, 'scrape', (body, base) => decodeHttpScrapeResponse(body, base));
      if (value.failureReason !== undefined) throw ex.fail('failure_reason', `tracker says: ${value.failureReason}`, 'scrape');
      // Dict keys come sorted; give the caller its own order, extras after.
      const rank = new Map(infoHashes.map((h, i) => [toHex(h), i]));
      const files = [...value.files].sort((a, b) => (rank.get(toHex(a.infoHash)) ?? Infinity) - (rank.get(toHex(b.infoHash)) ?? Infinity));
      return { files, ...(value.minRequestInterval !== undefined ? { minRequestInterval: value.minRequestInterval } : {}), frames: ex.frames };
    },
  );
}

/**
 * Decode an HTTP answer's body, recording the frame either way. A non-2xx status
 * with a bencoded failure reason is reported as that reason (trackers do this).
 */
function decodeBody<V extends { failureReason?: string }>(
  answer: HttpAnswer,
  ex: Exchange,
  step: TrackerStep,
  decodeFn: (body: Uint8Array, base: number) => { value: V; frame: import('../../core/field.js').Frame },
): V {
  const status = answer.head.status;
  try {
    const { value, frame } = decodeFn(answer.body, answer.headBytes.length);
    ex.frame(answerFrame(answer, frame.title, frame), step, 'received');
    if ((status < 200 || status > 299) && value.failureReason === undefined) {
      throw ex.fail('http_status', `HTTP ${status} ${answer.head.reason}`.trim(), step);
    }
    return value;
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    ex.frame(rawFrame(answer, `HTTP ${step} answer (undecodable)`, [], e), step, 'received');
    if (status < 200 || status > 299) throw ex.fail('http_status', `HTTP ${status} ${answer.head.reason}`.trim(), step, { cause: e });
    const code = e.code === 'not_bencode' ? 'not_bencode' : 'bad_response';
    throw ex.fail(code, `${step} answer: ${e.message} (at byte ${e.offset - answer.headBytes.length} of the body)`, step, { cause: e, offset: e.offset });
  }
}
