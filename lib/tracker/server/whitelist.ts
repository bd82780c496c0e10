/** A parsed whitelist file: the hashes, and the lines that were not one. */
export interface Whitelist {
  readonly hashes: Set<string>;
  readonly bad: ReadonlyArray<{ readonly line: number; readonly text: string }>;
}

/**
 * opentracker's whitelist format: one info-hash a line as 40 hex digits (for a
 * v2 torrent, the first 20 bytes of its SHA-256, BEP 52). Blank lines and `#`
 * comments are skipped; anything else is reported by line number.
 */
export function parseWhitelist(text: string): Whitelist {
  const hashes = new Set<string>();
  const bad: Array<{ line: number; text: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const hex = line.split(/\s+/)[0]!;
    if (/^[0-9a-fA-F]{40}$/.test(hex)) hashes.add(hex.toLowerCase());
    else bad.push({ line: i + 1, text: line.slice(0, 60) });
  });
  return { hashes, bad };
}
