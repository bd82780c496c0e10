/** IP address text from 4 or 16 raw bytes (BEP 10 `yourip`, BEP 11 compact peers). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    // IPv4-mapped ::ffff:a.b.c.d
    if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return `::ffff:${formatIp(b.subarray(12))}`;
    // Compress the longest run of zero groups (RFC 5952).
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  return `<${b.length}-byte address>`;
}

/** `host:port`, IPv6 in brackets. */
export function formatEndpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export interface CompactPeer {
  readonly ip: string;
  readonly port: number;
  /** Offset of the entry inside the compact string (relative; add the string's data offset). */
  readonly at: number;
}

/** Compact peers: 6 bytes (IPv4 + port) or 18 bytes (IPv6 + port) each, big endian port. */
export function parseCompactPeers(bytes: Uint8Array, family: 4 | 6): { peers: CompactPeer[]; trailing: number } {
  const size = family === 4 ? 6 : 18;
  const peers: CompactPeer[] = [];
  const n = Math.floor(bytes.length / size);
  for (let i = 0; i < n; i++) {
    const at = i * size;
    const ip = formatIp(bytes.subarray(at, at + size - 2));
    const port = (bytes[at + size - 2]! << 8) | bytes[at + size - 1]!;
    peers.push({ ip, port, at });
  }
  return { peers, trailing: bytes.length - n * size };
}

/** Parse an IPv4 or IPv6 literal to bytes; undefined if it is neither. */
export function parseIp(s: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const b = v4.slice(1).map(Number);
    return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
  }
  if (!s.includes(':')) return undefined;
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) return undefined;
  const parse = (p: string | undefined): number[] | undefined => {
    if (!p) return [];
    const out: number[] = [];
    for (const g of p.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  if (!h || !t) return undefined;
  const fill = 8 - h.length - t.length;
  if ((tail === undefined && fill !== 0) || fill < 0) return undefined;
  const groups = [...h, ...new Array<number>(fill).fill(0), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}
