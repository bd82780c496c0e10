/**
 * What a file that is not bencode looks like, so a tool can say "this is an
 * HTML page (a tracker error page saved as .torrent?)" instead of a bare
 * "expected a bencoded value at byte 0". Content only, never the file name.
 */
export type SniffKind =
  | 'empty'
  | 'whitespace'
  | 'html'
  | 'xml'
  | 'json'
  | 'magnet'
  | 'gzip'
  | 'zip'
  | 'bzip2'
  | 'xz'
  | 'zstd'
  | 'pdf'
  | 'png'
  | 'jpeg'
  | 'pcap'
  | 'pcapng'
  | 'elf'
  | 'utf16'
  | 'text'
  | 'binary';

export interface Sniffed {
  readonly kind: SniffKind;
  /** One phrase for an error line: "an HTML page (a tracker or login error page saved as .torrent?)". */
  readonly description: string;
}

const DESCRIPTIONS: Record<SniffKind, string> = {
  empty: 'an empty file (0 bytes): the download of the .torrent probably failed',
  whitespace: 'only whitespace, no data',
  html: 'an HTML page, not a torrent (a tracker or login error page saved as .torrent?)',
  xml: 'an XML document (an RSS feed or an error response?), not a torrent',
  json: 'a JSON document (an API response?), not a torrent',
  magnet: 'a text file holding a magnet link, not a .torrent (try: btscope magnet "<link>")',
  gzip: 'gzip-compressed data (a .torrent served with Content-Encoding: gzip? gunzip it first)',
  zip: 'a zip archive, not a torrent',
  bzip2: 'bzip2-compressed data, not a torrent',
  xz: 'xz-compressed data, not a torrent',
  zstd: 'zstd-compressed data, not a torrent',
  pdf: 'a PDF document, not a torrent',
  png: 'a PNG image, not a torrent',
  jpeg: 'a JPEG image, not a torrent',
  pcap: 'a pcap capture (try: btscope on the capture tools), not bencode',
  pcapng: 'a pcapng capture, not bencode',
  elf: 'an ELF executable, not a torrent',
  utf16: 'UTF-16 text, not bencode',
  text: 'plain text, not bencode',
  binary: 'binary data that is not bencode',
};

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

/** Name what `bytes` look like, or undefined when they could be bencode . */
export function sniff(bytes: Uint8Array): Sniffed | undefined {
  const kind = sniffKind(bytes);
  return kind ? { kind, description: DESCRIPTIONS[kind] } : undefined;
}

function sniffKind(b: Uint8Array): SniffKind | undefined {
  if (b.length === 0) return 'empty';
  // Binary signatures first: they are exact.
  if (startsWith(b, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  if (startsWith(b, [0x42, 0x5a, 0x68])) return 'bzip2';
  if (startsWith(b, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(b, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(b, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'pdf';
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47])) return 'png';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, [0xd4, 0xc3, 0xb2, 0xa1]) || startsWith(b, [0xa1, 0xb2, 0xc3, 0xd4]) || startsWith(b, [0x4d, 0x3c, 0xb2, 0xa1]) || startsWith(b, [0xa1, 0xb2, 0x3c, 0x4d])) return 'pcap';
  if (startsWith(b, [0x0a, 0x0d, 0x0d, 0x0a])) return 'pcapng';
  if (startsWith(b, [0x7f, 0x45, 0x4c, 0x46])) return 'elf';
  if (startsWith(b, [0xff, 0xfe]) || startsWith(b, [0xfe, 0xff])) return 'utf16';
  const first = b[0]!;
  // Bencode starts with d, l, i or a digit: leave those to the decoder (a truncated torrent is not "text").
  if ((first === 0x64 || first === 0x6c || first === 0x69 || (first >= 0x30 && first <= 0x39))) return undefined;

  let start = startsWith(b, [0xef, 0xbb, 0xbf]) ? 3 : 0;
  while (start < b.length && isSpace(b[start]!)) start++;
  if (start === b.length) return 'whitespace';
  const head = new TextDecoder('latin1').decode(b.subarray(start, Math.min(b.length, start + 512))).toLowerCase();
  if (head.startsWith('magnet:?')) return 'magnet';
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || /^<(head|body|title|meta|script|div|p|h1)\b/.test(head)) return 'html';
  if (head.startsWith('<?xml') || head.startsWith('<rss') || head.startsWith('<feed')) return 'xml';
  if (head.startsWith('<') && head.includes('<html')) return 'html';
  if ((head.startsWith('{') || head.startsWith('[')) && looksLikeJson(b, start)) return 'json';
  return textLike(b) ? 'text' : 'binary';
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function looksLikeJson(b: Uint8Array, start: number): boolean {
  if (b.length > 4 * 1024 * 1024) return textLike(b);
  try {
    JSON.parse(new TextDecoder().decode(b.subarray(start)));
    return true;
  } catch {
    // Truncated JSON still reads as JSON to a person: `{"` or `[{` is enough.
    const t = new TextDecoder('latin1').decode(b.subarray(start, start + 3));
    return /^(\{\s*"|\[\s*[{"\d[])/.test(t);
  }
}

/** Mostly printable UTF-8/ASCII in the first 4 KiB. */
function textLike(b: Uint8Array): boolean {
  const n = Math.min(b.length, 4096);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c < 0x20 && !isSpace(c)) bad++;
  }
  return bad === 0;
}

/**
 * The message for a bencode failure near the start: the sniffed description
 * when the input names itself, else undefined (keep the decoder's message).
 */
export function describeNotBencode(bytes: Uint8Array, errorOffset: number): string | undefined {
  if (errorOffset > 16) return undefined;
  return sniff(bytes)?.description;
}
