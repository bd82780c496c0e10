import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { utf8 } from '../core/bytes.js';

/** The HTTP/1.x head (RFC 9112) as a tracker exchange shows it: start line and headers. */
export const HTTP_FIELDS = {
  requestLine: { id: 'http.request_line', label: 'request line' },
  method: { id: 'http.method', label: 'method' },
  target: { id: 'http.target', label: 'target' },
  path: { id: 'http.path', label: 'path' },
  query: { id: 'http.query', label: 'query' },
  version: { id: 'http.version', label: 'version' },
  statusLine: { id: 'http.status_line', label: 'status line' },
  status: { id: 'http.status', label: 'status' },
  reason: { id: 'http.reason', label: 'reason' },
  header: { id: 'http.header', label: 'header' },
  headers: { id: 'http.headers', label: 'headers' },
  end: { id: 'http.head_end', label: 'end of head' },
} as const satisfies Record<string, FieldDef>;

export interface HttpHeader {
  readonly name: string;
  readonly value: string;
}

export interface HttpHead {
  /** Offset into the input just past the blank line that ends the head. */
  readonly end: number;
  readonly startLine: string;
  readonly headers: HttpHeader[];
  readonly fields: Field[];
  readonly diagnostics: Diagnostic[];
}

export interface HttpRequestHead extends HttpHead {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Absolute offset of the target's first character. */
  readonly targetStart: number;
}

export interface HttpResponseHead extends HttpHead {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
}

/** Where the head ends (after CRLFCRLF, or a bare LFLF as sloppy servers send), or -1. */
export function findHeadEnd(bytes: Uint8Array, maxHead = 64 * 1024): number {
  const n = Math.min(bytes.length, maxHead);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i + 1] === 0x0a) return i + 2;
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

function splitLines(bytes: Uint8Array, end: number): Array<{ text: string; start: number; end: number; lineEnd: number }> {
  const lines: Array<{ text: string; start: number; end: number; lineEnd: number }> = [];
  let pos = 0;
  while (pos < end) {
    let nl = bytes.indexOf(0x0a, pos);
    if (nl < 0 || nl >= end) nl = end - 1;
    const textEnd = nl > pos && bytes[nl - 1] === 0x0d ? nl - 1 : nl;
    lines.push({ text: utf8(bytes.subarray(pos, textEnd)), start: pos, end: textEnd, lineEnd: nl + 1 });
    pos = nl + 1;
  }
  return lines;
}

function decodeHead(bytes: Uint8Array, base: number, what: string): { lines: ReturnType<typeof splitLines>; end: number; headers: HttpHeader[]; headerFields: Field[]; diagnostics: Diagnostic[] } {
  const end = findHeadEnd(bytes);
  if (end < 0) {
    throw new DecodeError('unexpected_eof', base + bytes.length, `HTTP ${what} head does not end (no blank line in ${Math.min(bytes.length, 65536)} bytes)`);
  }
  const lines = splitLines(bytes, end);
  const diagnostics: Diagnostic[] = [];
  const headers: HttpHeader[] = [];
  const headerFields: Field[] = [];
  for (const line of lines.slice(1)) {
    if (line.text === '') continue;
    const colon = line.text.indexOf(':');
    const s = { start: base + line.start, end: base + line.lineEnd };
    if (colon <= 0) {
      diagnostics.push(diagnostic('bad_header', 'warning', `header line without a name: ${JSON.stringify(line.text.slice(0, 60))}`, s));
      continue;
    }
    const name = line.text.slice(0, colon).trim();
    const value = line.text.slice(colon + 1).trim();
    headers.push({ name, value });
    headerFields.push(field(HTTP_FIELDS.header, s, value, { label: name, display: JSON.stringify(value) }));
  }
  for (const l of lines) {
    if (bytes[l.lineEnd - 1] === 0x0a && bytes[l.lineEnd - 2] !== 0x0d) {
      diagnostics.push(diagnostic('bare_lf', 'note', 'line ends in LF without CR', { start: base + l.lineEnd - 1, end: base + l.lineEnd }));
      break;
    }
  }
  return { lines, end, headers, headerFields, diagnostics };
}

/** Decode a request head: `GET /announce?... HTTP/1.1` and its headers. */
export function decodeHttpRequestHead(bytes: Uint8Array, base = 0): HttpRequestHead {
  const { lines, end, headers, headerFields, diagnostics } = decodeHead(bytes, base, 'request');
  const first = lines[0]!;
  const m = /^([A-Z]+) (\S+) (HTTP\/\d\.\d)$/.exec(first.text);
  if (!m) throw new DecodeError('invalid_value', base, `not an HTTP request line: ${JSON.stringify(first.text.slice(0, 80))}`);
  const [, method, target, version] = m as unknown as [string, string, string, string];
  const targetStart = base + method.length + 1;
  const fields: Field[] = [
    field(HTTP_FIELDS.requestLine, { start: base + first.start, end: base + first.lineEnd }, undefined, {
      display: `${method} … ${version}`,
      children: [
        field(HTTP_FIELDS.method, { start: base, end: base + method.length }, method),
        field(HTTP_FIELDS.target, { start: targetStart, end: targetStart + target.length }, target, { display: `${target.length} characters` }),
        field(HTTP_FIELDS.version, { start: targetStart + target.length + 1, end: base + first.end }, version),
      ],
    }),
  ];
  if (headerFields.length) fields.push(headersField(headerFields));
  fields.push(field(HTTP_FIELDS.end, { start: base + lines[lines.length - 1]!.start, end: base + end }));
  return { end, startLine: first.text, headers, fields, diagnostics, method, target, version, targetStart };
}

/** Decode a response head: `HTTP/1.1 200 OK` and its headers. */
export function decodeHttpResponseHead(bytes: Uint8Array, base = 0): HttpResponseHead {
  const { lines, end, headers, headerFields, diagnostics } = decodeHead(bytes, base, 'response');
  const first = lines[0]!;
  const m = /^(HTTP\/\d(?:\.\d)?) (\d{3})(?: (.*))?$/.exec(first.text);
  if (!m) throw new DecodeError('invalid_value', base, `not an HTTP status line: ${JSON.stringify(first.text.slice(0, 80))}`);
  const version = m[1]!;
  const status = Number(m[2]);
  const reason = m[3] ?? '';
  const s0 = base + first.start;
  const fields: Field[] = [
    field(HTTP_FIELDS.statusLine, { start: s0, end: base + first.lineEnd }, undefined, {
      display: `${status} ${reason}`,
      children: [
        field(HTTP_FIELDS.version, { start: s0, end: s0 + version.length }, version),
        field(HTTP_FIELDS.status, { start: s0 + version.length + 1, end: s0 + version.length + 4 }, status),
        field(HTTP_FIELDS.reason, { start: s0 + version.length + 5, end: base + first.end }, reason),
      ],
    }),
  ];
  if (headerFields.length) fields.push(headersField(headerFields));
  fields.push(field(HTTP_FIELDS.end, { start: base + lines[lines.length - 1]!.start, end: base + end }));
  return { end, startLine: first.text, headers, fields, diagnostics, version, status, reason };
}

function headersField(children: Field[]): Field {
  return field(HTTP_FIELDS.headers, { start: children[0]!.span.start, end: children[children.length - 1]!.span.end }, undefined, {
    display: `${children.length}`,
    children,
  });
}

export function headerValue(headers: readonly HttpHeader[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** What a server needs of a request head, read without fields or diagnostics (the tracker's hot path). */
export interface HttpRequestEssentials {
  readonly method: string;
  readonly target: string;
  /** The connection stays open after the answer: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 9.3). */
  readonly keepAlive: boolean;
  /** A body follows the head (Content-Length above 0 or chunked): a tracker does not read one. */
  readonly hasBody: boolean;
}

/**
 * The request line and the headers that decide the connection's fate, from a
 * head's text (latin1, up to but not including the blank line). Undefined when
 * the request line is not `METHOD SP TARGET SP HTTP/1.x`.
 */
export function readHttpRequestEssentials(head: string): HttpRequestEssentials | undefined {
  const eol = head.indexOf('\r\n');
  const line = eol < 0 ? head : head.slice(0, eol);
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1 + 1) return undefined;
  const version = line.slice(sp2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
  let keepAlive = version === 'HTTP/1.1';
  let hasBody = false;
  for (let at = eol; at >= 0 && at < head.length; ) {
    const next = head.indexOf('\r\n', at + 2);
    const header = head.slice(at + 2, next < 0 ? head.length : next);
    const colon = header.indexOf(':');
    if (colon > 0) {
      const name = header.slice(0, colon).trim().toLowerCase();
      const value = header.slice(colon + 1).trim().toLowerCase();
      if (name === 'connection') keepAlive = value.includes('close') ? false : value.includes('keep-alive') ? true : keepAlive;
      else if (name === 'content-length') hasBody ||= value !== '0';
      else if (name === 'transfer-encoding') hasBody = true;
    }
    at = next;
  }
  return { method: line.slice(0, sp1), target: line.slice(sp1 + 1, sp2), keepAlive, hasBody };
}
