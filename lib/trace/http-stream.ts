import { createRequire } from 'node:module';
import { DecodeError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import { findHeadEnd, decodeHttpRequestHead, decodeHttpResponseHead, headerValue, type HttpResponseHead } from '../tracker/http-message.js';
import { decode as decodeBencode } from '../bencode/decode.js';
import { decodeHttpAnnounceRequest, decodeHttpAnnounceResponse, type AnnounceQuery, type HttpAnnounceResponse } from '../tracker/http-announce.js';
import { decodeHttpScrapeResponse, type HttpScrapeResponse } from '../tracker/http-scrape.js';
import { ownedCopy } from '../capture/copy.js';

/**
 * What an HTTP exchange is, found from its content: a tracker announce (BEP 3)
 * or scrape (BEP 48), or `http`, plain HTTP that is not a tracker's.
 */
export type HttpExchangeKind = 'announce' | 'scrape' | 'http';

/** An HTTP message seen on a TCP stream: a tracker exchange or plain HTTP (`what`). */
export type HttpTrackerEvent =
  | { kind: 'request'; what: HttpExchangeKind; method: string; query?: AnnounceQuery; target: string; offset: number; end: number; frame: () => Frame }
  | {
      kind: 'response';
      what: HttpExchangeKind;
      status: number;
      announce?: HttpAnnounceResponse;
      scrape?: HttpScrapeResponse;
      error?: DecodeError;
      offset: number;
      end: number;
      /** Time of the matching request, for the round trip. */
      requestTime?: number;
      frame: () => Frame;
    }
  | { kind: 'error'; error: DecodeError; offset: number; end: number };

export interface HttpStreamLimits {
  /** Largest head or body held (an endless body becomes an error, not memory). */
  maxMessageBytes: number;
}

interface Buffered {
  chunks: Uint8Array[];
  bytes: number;
  start: number;
}

/**
 * HTTP/1.x over one TCP connection, requests one way and responses the other,
 * matched in order (HTTP/1.1 pipelining keeps order). Bodies by
 * Content-Length, chunked, or until the connection closes. A request is a
 * tracker's by its content, not its port or path alone (`trackerRequest`);
 * a response is a tracker's when its request was, or, request unseen or plain,
 * when its body is a tracker's bencoded answer (`trackerAnswer`). The rest is
 * plain HTTP, reported as such. Decoding of the tracker parts is lib/tracker's.
 */
export class HttpTrackerStream {
  private readonly req: Buffered = { chunks: [], bytes: 0, start: 0 };
  private readonly res: Buffered = { chunks: [], bytes: 0, start: 0 };
  private readonly pending: Array<{ what: HttpExchangeKind; time: number }> = [];
  private readonly maxBytes: number;
  private failed = { request: false, response: false };

  constructor(
    private readonly emit: (e: HttpTrackerEvent) => void,
    limits: Partial<HttpStreamLimits> = {},
  ) {
    this.maxBytes = limits.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  /** Bytes from the client (`request`) or the tracker (`response`), in stream order. */
  data(side: 'request' | 'response', offset: number, bytes: Uint8Array, time: number): void {
    if (this.failed[side]) return;
    const b = side === 'request' ? this.req : this.res;
    if (b.bytes === 0) b.start = offset;
    b.chunks.push(ownedCopy(bytes));
    b.bytes += bytes.length;
    if (side === 'request') this.parseRequests(time);
    else this.parseResponses(false);
    if (b.bytes > this.maxBytes) {
      this.failed[side] = true;
      this.emit({ kind: 'error', error: new DecodeError('limit_exceeded', b.start, `HTTP ${side} larger than ${this.maxBytes} bytes`), offset: b.start, end: b.start + b.bytes });
      b.chunks = [];
      b.bytes = 0;
    }
  }

  gap(side: 'request' | 'response', offset: number): void {
    const b = side === 'request' ? this.req : this.res;
    b.chunks = [];
    b.bytes = 0;
    b.start = offset;
  }

  /** The connection closed: a body without a length ends here. */
  end(): void {
    this.parseResponses(true);
  }

  private flat(b: Buffered): Uint8Array {
    if (b.chunks.length === 1) return b.chunks[0]!;
    const out = new Uint8Array(b.bytes);
    let at = 0;
    for (const c of b.chunks) {
      out.set(c, at);
      at += c.length;
    }
    b.chunks = [out];
    return out;
  }

  private consume(b: Buffered, n: number): void {
    const buf = this.flat(b);
    b.chunks = n < buf.length ? [buf.subarray(n)] : [];
    b.bytes -= n;
    b.start += n;
  }

  private parseRequests(time: number): void {
    for (;;) {
      if (this.req.bytes === 0) return;
      const buf = this.flat(this.req);
      const headEnd = findHeadEnd(buf);
      if (headEnd < 0) return;
      const offset = this.req.start;
      const bytes = buf.subarray(0, headEnd);
      try {
        const head = decodeHttpRequestHead(bytes, offset);
        const what = trackerRequest(head.target);
        this.pending.push({ what, time });
        if (what === 'http') {
          const frame: Frame = { title: 'HTTP request (not a tracker)', bytes: bytes.subarray(0, head.end), base: offset, fields: head.fields, diagnostics: head.diagnostics };
          this.emit({ kind: 'request', what, method: head.method, target: head.target, offset, end: offset + headEnd, frame: () => frame });
        } else {
          const r = decodeHttpAnnounceRequest(bytes, offset);
          const frame = r.frame;
          this.emit({ kind: 'request', what, method: head.method, query: r.value.query, target: head.target, offset, end: offset + headEnd, frame: () => frame });
        }
        const cl = Number(headerValue(head.headers, 'content-length') ?? 0);
        this.consume(this.req, Math.min(buf.length, headEnd + (Number.isFinite(cl) ? cl : 0)));
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.emit({ kind: 'error', error: e, offset, end: offset + headEnd });
        this.consume(this.req, headEnd);
      }
    }
  }

  private parseResponses(final: boolean): void {
    for (;;) {
      if (this.res.bytes === 0) return;
      const buf = this.flat(this.res);
      const headEnd = findHeadEnd(buf);
      if (headEnd < 0) return;
      const offset = this.res.start;
      let head: HttpResponseHead;
      try {
        head = decodeHttpResponseHead(buf.subarray(0, headEnd), offset);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.emit({ kind: 'error', error: e, offset, end: offset + headEnd });
        this.consume(this.res, buf.length);
        return;
      }
      const te = headerValue(head.headers, 'transfer-encoding')?.toLowerCase();
      const cl = headerValue(head.headers, 'content-length');
      let body: Uint8Array | undefined;
      let total = 0;
      if (te?.includes('chunked')) {
        const r = dechunk(buf, headEnd);
        if (!r) {
          if (!final) return;
          body = buf.subarray(headEnd);
          total = buf.length;
        } else {
          body = r.body;
          total = r.end;
        }
      } else if (cl !== undefined && /^\d+$/.test(cl.trim())) {
        const n = Number(cl.trim());
        if (buf.length < headEnd + n) {
          if (!final) return;
          body = buf.subarray(headEnd);
          total = buf.length;
        } else {
          body = buf.subarray(headEnd, headEnd + n);
          total = headEnd + n;
        }
      } else if (head.status === 204 || head.status === 304 || (head.status >= 300 && head.status < 400 && cl === undefined && !final)) {
        body = new Uint8Array(0);
        total = headEnd;
      } else {
        if (!final) return;
        body = buf.subarray(headEnd);
        total = buf.length;
      }
      const req = this.pending.shift();
      // A plain request's (or an unseen request's) answer is still a tracker's if its body says so.
      const what = req && req.what !== 'http' ? req.what : (trackerAnswer(head, body) ?? 'http');
      const ev: Extract<HttpTrackerEvent, { kind: 'response' }> = {
        kind: 'response',
        what,
        status: head.status,
        offset,
        end: offset + total,
        frame: () => ({ title: `HTTP ${head.status} ${head.reason}`, bytes: buf.subarray(0, headEnd), base: offset, fields: head.fields, diagnostics: head.diagnostics }),
        ...(req ? { requestTime: req.time } : {}),
      };
      if (head.status === 200 && body.length > 0 && (what === 'announce' || what === 'scrape')) {
        // (decoded below unless decompression failed)
        const bodyBase = offset + headEnd;
        let bodyBytes = body;
        const encoding = headerValue(head.headers, 'content-encoding')?.toLowerCase().trim();
        if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') {
          // Spans of a decompressed body count bytes of the decompressed body from the body's start.
          try {
            const opts = { maxOutputLength: this.maxBytes };
            const zlib = loadZlib();
            const raw = encoding === 'deflate' ? zlib.inflateSync(body, opts) : zlib.gunzipSync(body, opts);
            bodyBytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
          } catch (e) {
            ev.error = new DecodeError('bad_encoding', bodyBase, `${encoding} body does not decompress: ${(e as Error).message}`);
          }
        }
        if (!ev.error) try {
          if (what === 'announce') {
            const r = decodeHttpAnnounceResponse(bodyBytes, bodyBase);
            ev.announce = r.value;
            ev.frame = () => r.frame;
          } else {
            const r = decodeHttpScrapeResponse(bodyBytes, bodyBase);
            ev.scrape = r.value;
            ev.frame = () => r.frame;
          }
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          ev.error = e;
        }
      }
      this.emit(ev);
      this.consume(this.res, total);
    }
  }
}

/**
 * A request is a tracker's when its query carries `info_hash=` (BEP 3
 * announce, BEP 48 scrape) or it is a scrape of everything (a `/scrape` path,
 * no query). `/announce` alone is not enough: web servers have such paths too.
 */
export function trackerRequest(target: string): HttpExchangeKind {
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const scrape = /\/scrape[^/]*$/.test(path);
  if (q >= 0 && /(^|&)info_hash=/.test(target.slice(q + 1))) return scrape ? 'scrape' : 'announce';
  return scrape && (q < 0 || q === target.length - 1) ? 'scrape' : 'http';
}

/** Keys only a tracker's answer has (BEP 3, 23, 24, 48): the body is then one, whatever asked for it. */
const ANNOUNCE_KEYS = ['failure reason', 'interval', 'peers', 'peers6', 'min interval', 'warning message'];

/**
 * A response body that is a tracker's answer: an uncompressed bencoded dict
 * with `files` (scrape) or an announce reply's keys. Undefined otherwise
 * (a web page, an image, JSON, a compressed body).
 */
export function trackerAnswer(head: HttpResponseHead, body: Uint8Array): 'announce' | 'scrape' | undefined {
  if (body.length < 2 || body[0] !== 0x64 /* d */ || headerValue(head.headers, 'content-encoding') !== undefined) return undefined;
  let root;
  try {
    root = decodeBencode(body, { allowTrailing: true }).root;
  } catch {
    return undefined;
  }
  if (!root.isDict()) return undefined;
  if (root.get('files')?.isDict()) return 'scrape';
  return ANNOUNCE_KEYS.some((k) => root.get(k) !== undefined) ? 'announce' : undefined;
}

/** A complete chunked body (RFC 9112 section 7.1) starting at `at`, or undefined if more bytes are needed. */
function dechunk(b: Uint8Array, at: number): { body: Uint8Array; end: number } | undefined {
  const parts: Uint8Array[] = [];
  let p = at;
  for (let i = 0; i < 100_000; i++) {
    let eol = -1;
    for (let j = p; j + 1 < b.length; j++) if (b[j] === 0x0d && b[j + 1] === 0x0a) {
      eol = j;
      break;
    }
    if (eol < 0) return undefined;
    const size = parseInt(Buffer.from(b.subarray(p, eol)).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) return { body: concat(parts), end: b.length };
    p = eol + 2;
    if (size === 0) {
      // Trailers end with an empty line.
      const end = findHeadEnd(b.subarray(p - 2));
      return { body: concat(parts), end: end < 0 ? Math.min(b.length, p + 2) : p - 2 + end };
    }
    if (p + size + 2 > b.length) return undefined;
    parts.push(b.subarray(p, p + size));
    p += size + 2;
  }
  return undefined;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/**
 * node:zlib, loaded the first time a compressed tracker response is met: most
 * captures have none, and the tracer's start-up is part of every run.
 * (A builtin loads synchronously through require.)
 */
let zlib: typeof import('node:zlib') | undefined;
function loadZlib(): typeof import('node:zlib') {
  return (zlib ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib'));
}
