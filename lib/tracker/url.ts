import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { TrackerError } from './errors.js';

/** A tracker URL split the way the transports need it. */
export interface TrackerUrl {
  readonly scheme: 'http' | 'https' | 'udp';
  readonly host: string;
  readonly port: number;
  /** Path and query as written (`/announce?passkey=...`), used for HTTP and BEP 41. */
  readonly pathAndQuery: string;
  readonly url: string;
}

const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/** Parse an announce URL; errors name the URL (masked) and what is wrong with it. */
export function parseTrackerUrl(url: string): TrackerUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrackerError('bad_url', `not a URL: ${maskSecrets(url)}`, 'announce');
  }
  const scheme = u.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'udp') {
    throw new TrackerError('unsupported_scheme', `unsupported tracker scheme ${u.protocol} in ${maskSecrets(url)} (http, https and udp are)`, 'announce');
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (!host) throw new TrackerError('bad_url', `no host in ${maskSecrets(url)}`, 'announce');
  let port: number;
  if (u.port) port = Number(u.port);
  else if (scheme === 'udp') throw new TrackerError('bad_url', `UDP tracker URL without a port: ${maskSecrets(url)}`, 'announce');
  else port = DEFAULT_PORTS[scheme];
  return { scheme, host, port, pathAndQuery: `${u.pathname}${u.search}`, url };
}

/**
 * The scrape URL of an announce URL (the convention BEP 48 describes): the last
 * path segment must start with `announce`, which becomes `scrape`; otherwise the
 * tracker has no scrape URL. UDP trackers scrape at the same address (BEP 15).
 */
export function scrapeUrlOf(announceUrl: string): string {
  const t = parseTrackerUrl(announceUrl);
  if (t.scheme === 'udp') return announceUrl;
  const q = announceUrl.indexOf('?');
  const head = q >= 0 ? announceUrl.slice(0, q) : announceUrl;
  const query = q >= 0 ? announceUrl.slice(q) : '';
  const slash = head.lastIndexOf('/');
  const last = head.slice(slash + 1);
  if (slash < head.indexOf('//') + 2 || !last.startsWith('announce')) {
    throw new TrackerError(
      'no_scrape_url',
      `cannot derive a scrape URL: the last path segment of ${maskSecrets(announceUrl)} is ${JSON.stringify(last)}, not "announce..." (BEP 48)`,
      'scrape',
    );
  }
  return `${head.slice(0, slash + 1)}scrape${last.slice('announce'.length)}${query}`;
}

/** RFC 3986 unreserved characters pass, every other byte is %XX (BEP 3: raw bytes, escaped). */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    const unreserved =
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    s += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

/** One decoded query parameter, with positions relative to the start of the query text. */
export interface QueryParam {
  readonly key: string;
  readonly value: Uint8Array;
  /** Offsets in the query string: the whole `key=value`, and the value text. */
  readonly start: number;
  readonly end: number;
  readonly valueStart: number;
  readonly diagnostics: Diagnostic[];
}

/**
 * Split a query string (without `?`) into raw-byte parameters. `%XX` becomes the
 * byte, `+` a space (form encoding); a bad escape stays literal and is reported.
 * `base` is the absolute offset of the query's first character, for the spans.
 */
export function parseQuery(query: string, base = 0): QueryParam[] {
  const out: QueryParam[] = [];
  let pos = 0;
  while (pos <= query.length) {
    let amp = query.indexOf('&', pos);
    if (amp < 0) amp = query.length;
    if (amp > pos) {
      const part = query.slice(pos, amp);
      const eq = part.indexOf('=');
      const rawKey = eq >= 0 ? part.slice(0, eq) : part;
      const rawValue = eq >= 0 ? part.slice(eq + 1) : '';
      const valueStart = pos + (eq >= 0 ? eq + 1 : part.length);
      const diagnostics: Diagnostic[] = [];
      const key = new TextDecoder().decode(percentDecode(rawKey, base + pos, diagnostics));
      const value = percentDecode(rawValue, base + valueStart, diagnostics);
      out.push({ key, value, start: pos, end: amp, valueStart, diagnostics });
    }
    pos = amp + 1;
  }
  return out;
}

export function percentDecode(text: string, base = 0, diagnostics: Diagnostic[] = []): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        out.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
      diagnostics.push(diagnostic('bad_percent_escape', 'warning', `'%' not followed by two hex digits`, { start: base + i, end: base + i + 1 }));
      out.push(c);
    } else if (c === 0x2b) {
      out.push(0x20);
    } else if (c < 0x80) {
      out.push(c);
    } else {
      out.push(...new TextEncoder().encode(text[i]!));
    }
  }
  return Uint8Array.from(out);
}

const SECRET_PARAMS = /^(passkey|pk|authkey|auth|key|token|secret|uid|torrent_pass|apikey|api_key|sid|hash|rsskey)$/i;
// A path segment that looks like a passkey: 16+ characters of hex or base64ish text.
const SECRET_SEGMENT = /^[A-Za-z0-9_-]{16,}$/;

/**
 * Private trackers put passkeys in their URLs (a path segment, a `passkey=`
 * parameter, user info). Show them as `***` unless the user asks for secrets.
 */
export function maskSecrets(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/[A-Za-z0-9_-]{16,}/g, '***');
  }
  const q = url.indexOf('?');
  const hashAt = url.indexOf('#');
  let head = q >= 0 ? url.slice(0, q) : hashAt >= 0 ? url.slice(0, hashAt) : url;
  const query = q >= 0 ? url.slice(q + 1, hashAt > q ? hashAt : undefined) : '';
  const schemeEnd = head.indexOf('//') + 2;
  const pathStart = head.indexOf('/', schemeEnd);
  let authority = pathStart >= 0 ? head.slice(schemeEnd, pathStart) : head.slice(schemeEnd);
  const path = pathStart >= 0 ? head.slice(pathStart) : '';
  if (u.username || u.password) authority = `***@${authority.slice(authority.lastIndexOf('@') + 1)}`;
  const maskedPath = path
    .split('/')
    .map((seg) => (SECRET_SEGMENT.test(seg) && !/^announce|^scrape/i.test(seg) ? '***' : seg))
    .join('/');
  head = `${head.slice(0, schemeEnd)}${authority}${maskedPath}`;
  if (!query) return head;
  const maskedQuery = query
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq >= 0 ? p.slice(0, eq) : p;
      return eq >= 0 && SECRET_PARAMS.test(k) ? `${k}=***` : p;
    })
    .join('&');
  return `${head}?${maskedQuery}`;
}

/**
 * The secret substrings of a tracker URL as written (passkey path segments,
 * secret query values, user info), so frames can be redacted byte for byte.
 */
export function secretsOf(url: string): string[] {
  const out: string[] = [];
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return (url.match(/[A-Za-z0-9_-]{16,}/g) ?? []).slice();
  }
  if (u.username) out.push(u.username);
  if (u.password) out.push(u.password);
  for (const seg of u.pathname.split('/')) if (SECRET_SEGMENT.test(seg) && !/^announce|^scrape/i.test(seg)) out.push(seg);
  for (const p of u.search.slice(1).split('&')) {
    const eq = p.indexOf('=');
    if (eq > 0 && SECRET_PARAMS.test(p.slice(0, eq)) && eq + 1 < p.length) out.push(p.slice(eq + 1));
  }
  return out;
}
