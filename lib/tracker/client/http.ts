import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';
import { encodeUtf8 } from '../../core/bytes.js';
import { DecodeError } from '../../core/errors.js';
import { field, type Field, type Frame } from '../../core/field.js';
import { diagnostic, type Diagnostic } from '../../core/diagnostic.js';
import { decodeHttpAnnounceRequest } from '../http-announce.js';
import { decodeHttpResponseHead, type HttpResponseHead } from '../http-message.js';
import { maskSecrets, parseTrackerUrl } from '../url.js';
import type { TrackerStep } from '../types.js';
import { DEFAULT_MAX_RESPONSE_BYTES, describeNetworkError, networkErrorCode, type Exchange } from './context.js';

export interface HttpAnswer {
  readonly url: string;
  readonly head: HttpResponseHead;
  readonly headBytes: Uint8Array;
  /** The body after any Content-Encoding was undone. */
  readonly body: Uint8Array;
  readonly bodyDiagnostics: Diagnostic[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'btscope/0.1';

/**
 * GET a tracker URL: bounded body (Content-Length checked first, then counted
 * as it arrives), gzip/deflate/br undone with the same bound, redirects followed
 * a bounded number of times. Every request and answer head becomes a frame.
 */
export async function httpGet(url: string, step: TrackerStep, ex: Exchange): Promise<HttpAnswer> {
  const maxRedirects = ex.opts.maxRedirects ?? 5;
  const maxBytes = ex.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  let current = url;
  for (let hop = 0; ; hop++) {
    const answer = await getOnce(current, step, ex, maxBytes);
    const location = answer.head.headers.find((h) => h.name.toLowerCase() === 'location')?.value;
    if (!REDIRECTS.has(answer.head.status) || !location) return answer;
    let next: string;
    try {
      next = new URL(location, current).toString();
    } catch {
      throw ex.fail('bad_url', `redirect to an invalid URL ${JSON.stringify(maskSecrets(location))}`, step);
    }
    ex.frame(rawFrame(answer, `HTTP redirect ${answer.head.status}`, [diagnostic('redirect', 'note', `redirected to ${maskSecrets(next)}`, { start: 0, end: answer.headBytes.length })]), step, 'received');
    if (hop + 1 > maxRedirects) throw ex.fail('too_many_redirects', `more than ${maxRedirects} redirects (last to ${maskSecrets(next)})`, step);
    const scheme = new URL(next).protocol;
    if (scheme !== 'http:' && scheme !== 'https:') throw ex.fail('unsupported_scheme', `redirect to ${scheme} URL ${maskSecrets(next)}`, step);
    current = next;
  }
}

async function getOnce(url: string, step: TrackerStep, ex: Exchange, maxBytes: number): Promise<HttpAnswer & { headBytes: Uint8Array }> {
  const t = parseTrackerUrl(url);
  const u = new URL(url);
  const hostHeader = u.host;
  const headers = { Host: hostHeader, 'User-Agent': USER_AGENT, 'Accept-Encoding': 'gzip, deflate', Connection: 'close' };
  const requestHead = `GET ${t.pathAndQuery || '/'} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  const reqBytes = encodeUtf8(requestHead);
  try {
    ex.frame(decodeHttpAnnounceRequest(reqBytes, 0).frame, step, 'sent');
  } catch {
    ex.frame({ title: 'HTTP request', bytes: reqBytes, base: 0, fields: [] }, step, 'sent');
  }
  const send = t.scheme === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: unknown, value?: HttpAnswer & { headBytes: Uint8Array }): void => {
      if (settled) return;
      settled = true;
      ex.signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => {
      req.destroy();
      done(ex.abortError(step, `waiting for ${t.host}:${t.port}`));
    };
    const tlsOpts = t.scheme === 'https' && ex.opts.ca !== undefined ? { ca: [...rootCertificates, ...(Array.isArray(ex.opts.ca) ? ex.opts.ca : [ex.opts.ca as string | Buffer])] } : {};
    const lookupOpt = ex.opts.lookup ? { lookup: ex.opts.lookup } : {};
    const req = send(url, { method: 'GET', headers, agent: false, ...tlsOpts, ...lookupOpt }, (res: IncomingMessage) => {
      const headText = `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage ?? ''}\r\n${pairs(res.rawHeaders)}\r\n`;
      const headBytes = encodeUtf8(headText);
      let head: HttpResponseHead;
      try {
        head = decodeHttpResponseHead(headBytes, 0);
      } catch (e) {
        done(ex.fail('bad_response', `unreadable HTTP head: ${(e as Error).message}`, step, { cause: e }));
        res.destroy();
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        done(ex.fail('too_large', `answer declares ${declared} bytes (Content-Length), more than the ${maxBytes}-byte limit`, step));
        res.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          done(ex.fail('too_large', `answer body exceeds the ${maxBytes}-byte limit (read ${size} bytes, stopped)`, step));
          res.destroy();
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', (e) => done(ex.fail(networkErrorCode(e), describeNetworkError(e, t.host), step, { cause: e })));
      res.on('aborted', () => done(ex.fail('network', 'connection closed in the middle of the answer', step)));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const bodyDiagnostics: Diagnostic[] = [];
        let body: Uint8Array = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
        const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase().trim();
        if (encoding && encoding !== 'identity') {
          try {
            const opts = { maxOutputLength: maxBytes };
            const out = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipSync(raw, opts) : encoding === 'deflate' ? inflateSync(raw, opts) : encoding === 'br' ? brotliDecompressSync(raw, opts) : undefined;
            if (!out) {
              bodyDiagnostics.push(diagnostic('unknown_encoding', 'warning', `Content-Encoding ${encoding} not understood; body shown as sent`, { start: headBytes.length, end: headBytes.length + raw.length }));
            } else {
              bodyDiagnostics.push(diagnostic('content_encoding', 'note', `body was ${encoding}-encoded (${raw.length} bytes on the wire), shown decoded (${out.length} bytes)`, { start: headBytes.length, end: headBytes.length + out.length }));
              body = new Uint8Array(out.buffer, out.byteOffset, out.length);
            }
          } catch (e) {
            const tooBig = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
            done(
              ex.fail(tooBig ? 'too_large' : 'bad_response', tooBig ? `${encoding} body inflates past the ${maxBytes}-byte limit` : `${encoding} body does not decode: ${(e as Error).message}`, step, { cause: e }),
            );
            return;
          }
        }
        done(undefined, { url, head, headBytes, body, bodyDiagnostics });
      });
    });
    req.on('error', (e) => done(ex.fail(networkErrorCode(e), describeNetworkError(e, t.host), step, { cause: e })));
    if (ex.signal.aborted) onAbort();
    else ex.signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

function pairs(raw: string[]): string {
  let s = '';
  for (let i = 0; i + 1 < raw.length; i += 2) s += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return s;
}

/** The answer as one frame: head fields, then `bodyFields` decoded at base = head length. */
export function answerFrame(answer: HttpAnswer, title: string, body?: Frame): Frame {
  const bytes = new Uint8Array(answer.headBytes.length + answer.body.length);
  bytes.set(answer.headBytes);
  bytes.set(answer.body, answer.headBytes.length);
  const fields: Field[] = [...answer.head.fields];
  if (body) fields.push(...body.fields);
  return {
    title,
    bytes,
    base: 0,
    fields,
    diagnostics: [...answer.head.diagnostics, ...answer.bodyDiagnostics, ...(body?.diagnostics ?? [])],
  };
}

/** A frame for an answer whose body could not be decoded: the error sits on the body bytes. */
export function rawFrame(answer: HttpAnswer, title: string, extra: Diagnostic[] = [], error?: DecodeError): Frame {
  const start = answer.headBytes.length;
  const fields: Field[] = [];
  if (answer.body.length > 0) {
    fields.push(field({ id: 'http.body', label: 'body' }, { start, end: start + answer.body.length }, undefined, { display: `${answer.body.length} bytes` }));
  }
  const diags = [...extra];
  if (error) diags.push(diagnostic(error.code, 'error', error.message, { start: error.offset, end: Math.min(error.offset + 1, start + answer.body.length) }));
  const frame = answerFrame(answer, title);
  return { ...frame, fields: [...frame.fields, ...fields], diagnostics: [...(frame.diagnostics ?? []), ...diags] };
}
