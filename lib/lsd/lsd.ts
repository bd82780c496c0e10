import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { asBuffer, fromHex } from '../core/bytes.js';

export const LSD_FIELDS = {
  requestLine: { id: 'lsd.request_line', label: 'request line', bep: 14 },
  host: { id: 'lsd.host', label: 'Host', bep: 14 },
  port: { id: 'lsd.port', label: 'Port', bep: 14 },
  infohash: { id: 'lsd.infohash', label: 'Infohash', bep: 14 },
  cookie: { id: 'lsd.cookie', label: 'cookie', bep: 14 },
  header: { id: 'lsd.header', label: 'header', bep: 14 },
  end: { id: 'lsd.end', label: 'end of message', bep: 14 },
} as const satisfies Record<string, FieldDef>;

export interface LsdAnnounce {
  readonly host?: string;
  readonly port?: number;
  readonly infoHashes: Uint8Array[];
  readonly cookie?: string;
  readonly fields: Field[];
  readonly diagnostics: Diagnostic[];
}

const PREFIX = 'BT-SEARCH * HTTP/1.1';

export function looksLikeLsd(b: Uint8Array): boolean {
  if (b.length < PREFIX.length) return false;
  for (let i = 0; i < PREFIX.length; i++) if (b[i] !== PREFIX.charCodeAt(i)) return false;
  return true;
}

/**
 * A Local Service Discovery announce (BEP 14, multicast to 239.192.152.143:6771 or
 * [ff15::efc0:988f]:6771): `BT-SEARCH * HTTP/1.1`, then
 * Host, Port, one or more Infohash headers and an optional cookie, each line
 * ending in CRLF. Unknown headers and bad values are diagnostics.
 */
export function decodeLsd(b: Uint8Array, base = 0): LsdAnnounce {
  if (!looksLikeLsd(b)) throw new DecodeError('bad_magic', base, 'not a BT-SEARCH announce (BEP 14)');
  const text = asBuffer(b).toString('latin1');
  const fields: Field[] = [];
  const diagnostics: Diagnostic[] = [];
  const infoHashes: Uint8Array[] = [];
  let host: string | undefined;
  let port: number | undefined;
  let cookie: string | undefined;
  let at = 0;
  let first = true;
  let ended = false;
  while (at < text.length) {
    let eol = text.indexOf('\r\n', at);
    let nl = 2;
    if (eol < 0) {
      eol = text.indexOf('\n', at);
      nl = 1;
      if (eol < 0) {
        eol = text.length;
        nl = 0;
      } else diagnostics.push(diagnostic('bare_lf', 'note', 'line ends in LF, BEP 14 says CRLF', { start: base + eol, end: base + eol + 1 }));
    }
    const line = text.slice(at, eol);
    const span = { start: base + at, end: base + eol + nl };
    if (first) {
      fields.push(field(LSD_FIELDS.requestLine, span, line, { display: JSON.stringify(line) }));
      first = false;
    } else if (line === '') {
      fields.push(field(LSD_FIELDS.end, { start: span.start, end: base + b.length }, undefined, { display: 'blank line' }));
      ended = true;
      break;
    } else {
      const colon = line.indexOf(':');
      const name = colon >= 0 ? line.slice(0, colon).trim() : line;
      const value = colon >= 0 ? line.slice(colon + 1).trim() : '';
      const lower = name.toLowerCase();
      if (lower === 'host') {
        host = value;
        fields.push(field(LSD_FIELDS.host, span, value));
      } else if (lower === 'port') {
        const n = Number(value);
        if (!/^\d{1,5}$/.test(value) || n > 65535) diagnostics.push(diagnostic('invalid_value', 'warning', `Port ${JSON.stringify(value)} is not a port number`, span));
        else port = n;
        fields.push(field(LSD_FIELDS.port, span, port ?? value));
      } else if (lower === 'infohash') {
        if (/^[0-9a-fA-F]{40}$/.test(value) || /^[0-9a-fA-F]{64}$/.test(value)) infoHashes.push(fromHex(value));
        else diagnostics.push(diagnostic('invalid_value', 'warning', `Infohash ${JSON.stringify(value.slice(0, 70))} is not 40 hex digits`, span));
        fields.push(field(LSD_FIELDS.infohash, span, value.toLowerCase(), { display: value.toLowerCase() }));
      } else if (lower === 'cookie') {
        cookie = value;
        fields.push(field(LSD_FIELDS.cookie, span, value));
      } else {
        fields.push(field(LSD_FIELDS.header, span, line, { label: name, display: JSON.stringify(value) }));
      }
    }
    at = eol + nl;
  }
  if (!ended) diagnostics.push(diagnostic('unterminated', 'warning', 'announce does not end with a blank line', { start: base + b.length, end: base + b.length }));
  if (port === undefined) diagnostics.push(diagnostic('missing_field', 'warning', 'announce has no Port header', { start: base, end: base + b.length }));
  if (infoHashes.length === 0) diagnostics.push(diagnostic('missing_field', 'warning', 'announce has no valid Infohash header', { start: base, end: base + b.length }));
  return { ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}), infoHashes, ...(cookie !== undefined ? { cookie } : {}), fields, diagnostics };
}

export function lsdFrame(b: Uint8Array, base: number, a: LsdAnnounce, meta?: Record<string, string | number>): Frame {
  return { title: 'LSD BT-SEARCH (BEP 14)', bytes: b, base, fields: a.fields, diagnostics: a.diagnostics, ...(meta ? { meta } : {}) };
}
