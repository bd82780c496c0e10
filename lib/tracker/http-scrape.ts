import { bencodeFields } from '../bencode/fields.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { fromHex, toHex, utf8 } from '../core/bytes.js';
import { decodeTrackerBody, intOf, replaceEntries, responseHooks } from './http-announce.js';
import { percentEncodeBytes, scrapeUrlOf } from './url.js';
import type { ScrapeEntry } from './types.js';

/** Scrape response keys (BEP 48). */
export const SCRAPE_RESPONSE_FIELDS = {
  files: { id: 'tracker.scrape.files', label: 'files', bep: 48 },
  flags: { id: 'tracker.scrape.flags', label: 'flags', bep: 48 },
  'flags.min_request_interval': { id: 'tracker.scrape.min_request_interval', label: 'min_request_interval', bep: 48 },
  'failure reason': { id: 'tracker.failure_reason', label: 'failure reason', bep: 48 },
} as const satisfies Record<string, FieldDef>;

const FILE_FIELDS = {
  file: { id: 'tracker.scrape.file', label: 'file', bep: 48 },
  infoHash: { id: 'tracker.scrape.info_hash', label: 'info hash', bep: 48 },
  complete: { id: 'tracker.scrape.complete', label: 'complete (seeders)', bep: 48 },
  incomplete: { id: 'tracker.scrape.incomplete', label: 'incomplete (leechers)', bep: 48 },
  downloaded: { id: 'tracker.scrape.downloaded', label: 'downloaded', bep: 48 },
  name: { id: 'tracker.scrape.name', label: 'name', bep: 48 },
} as const satisfies Record<string, FieldDef>;

/** The scrape URL for some info-hashes (BEP 48): one `info_hash` parameter per hash. */
export function buildScrapeUrl(announceUrl: string, infoHashes: readonly Uint8Array[]): string {
  const url = scrapeUrlOf(announceUrl);
  const params = infoHashes.map((h) => {
    if (h.length !== 20) throw new TypeError(`info_hash must be 20 bytes, is ${h.length}`);
    return `info_hash=${percentEncodeBytes(h)}`;
  });
  if (params.length === 0) return url;
  const sep = url.includes('?') ? (url.endsWith('?') || url.endsWith('&') ? '' : '&') : '?';
  return `${url}${sep}${params.join('&')}`;
}

export interface HttpScrapeResponse {
  files: ScrapeEntry[];
  minRequestInterval?: number;
  failureReason?: string;
}

/**
 * Decode an HTTP scrape response body (BEP 48). Keys of `files` should be the
 * raw 20-byte hashes; 40-character hex keys (a common mistake) are decoded with
 * a diagnostic, other lengths are reported and skipped.
 */
export function decodeHttpScrapeResponse(bytes: Uint8Array, base = 0, opts: { maxFiles?: number } = {}): { value: HttpScrapeResponse; frame: Frame } {
  const doc = decodeTrackerBody(bytes, base, 'scrape');
  const root = doc.root;
  const diagnostics: Diagnostic[] = [];
  const value: HttpScrapeResponse = { files: [] };
  const replaced = new Map<string, Field>();
  const maxFiles = opts.maxFiles ?? 10_000;
  const failure = root.get('failure reason');
  if (failure?.isStr()) value.failureReason = utf8(failure.bytes());
  const flags = root.get('flags');
  if (flags?.isDict()) value.minRequestInterval = intOf(flags, 'min_request_interval', diagnostics);
  const files = root.get('files');
  if (files === undefined) {
    if (value.failureReason === undefined) diagnostics.push(diagnostic('missing_files', 'warning', 'no files dict in the scrape answer', root.span));
  } else if (!files.isDict()) {
    diagnostics.push(diagnostic('wrong_type', 'error', `files is ${files.kind}, must be a dict`, files.span));
  } else {
    const children: Field[] = [];
    for (const [k, v] of files.entries()) {
      if (value.files.length >= maxFiles) {
        diagnostics.push(diagnostic('files_truncated', 'note', `more than ${maxFiles} files; the rest not decoded`, { start: k.span.start, end: files.span.end }));
        break;
      }
      let hash = k.bytes();
      if (hash.length === 40 && /^[0-9a-fA-F]{40}$/.test(utf8(hash))) {
        diagnostics.push(diagnostic('hex_scrape_key', 'warning', 'files key is 40 hex characters, BEP 48 wants the raw 20 bytes', k.span));
        hash = fromHex(utf8(hash));
      } else if (hash.length !== 20) {
        diagnostics.push(diagnostic('bad_scrape_key', 'warning', `files key is ${hash.length} bytes, must be a 20-byte info-hash; skipped`, k.span));
        continue;
      }
      if (!v.isDict()) {
        diagnostics.push(diagnostic('wrong_type', 'warning', `files entry ${toHex(hash)} is ${v.kind}, must be a dict`, v.span));
        continue;
      }
      const entry: { -readonly [K in keyof ScrapeEntry]: ScrapeEntry[K] } = {
        infoHash: hash,
        complete: intOf(v, 'complete', diagnostics) ?? 0,
        incomplete: intOf(v, 'incomplete', diagnostics) ?? 0,
        downloaded: intOf(v, 'downloaded', diagnostics) ?? 0,
      };
      const name = v.get('name');
      if (name?.isStr()) entry.name = utf8(name.bytes());
      for (const key of ['complete', 'incomplete', 'downloaded'] as const) {
        if (!v.get(key)) diagnostics.push(diagnostic('missing_field', 'warning', `files entry ${toHex(hash)} has no ${key}`, v.span));
      }
      value.files.push(entry);
      const sub: Field[] = [field(FILE_FIELDS.infoHash, k.span, hash)];
      for (const key of ['complete', 'incomplete', 'downloaded', 'name'] as const) {
        const n = v.get(key);
        if (n) sub.push(field(FILE_FIELDS[key], n.span, key === 'name' ? entry.name : entry[key]));
      }
      children.push(
        field(FILE_FIELDS.file, { start: k.span.start, end: v.span.end }, undefined, {
          label: toHex(hash),
          display: `${entry.complete} seeders, ${entry.incomplete} leechers, ${entry.downloaded} downloaded`,
          children: sub,
        }),
      );
    }
    replaced.set('files', field(SCRAPE_RESPONSE_FIELDS.files, files.span, undefined, { display: `${value.files.length} torrents`, children }));
  }
  const tree = bencodeFields(doc, 'scrape response', responseHooks(SCRAPE_RESPONSE_FIELDS));
  return {
    value,
    frame: { title: value.failureReason !== undefined ? 'HTTP scrape failure' : 'HTTP scrape response', bytes, base, fields: [replaceEntries(tree, replaced)], diagnostics },
  };
}
