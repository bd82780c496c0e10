/**
 * IP addresses as bytes and as text, for every layer that meets them: tracker compact
 * peers (BEP 23, BEP 7), ut_pex (BEP 11), BEP 10 `yourip`, IP headers in captures.
 */

export type AddressFamily = 4 | 6;

/** Dotted IPv4 text of the 4 bytes at `at`. */
export function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/**
 * RFC 5952 text of the 16 bytes at `at`: lower case, the longest run of two or more zero
 * groups (the first if tied) as `::`. Every address in hex groups, IPv4-mapped ones too
 * (`::ffff:102:304`); `ipText` writes those as `::ffff:1.2.3.4`.
 */
export function ipv6Text(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[at + i * 2]! << 8) | b[at + i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The 16 bytes at `at` are an IPv4-mapped IPv6 address (RFC 4291 2.5.5.2, ::ffff:0:0/96). */
export function isIpv4Mapped(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (b[at + i] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
}

/** Address text as RFC 5952 section 5 recommends: IPv4-mapped IPv6 as `::ffff:1.2.3.4`. */
export function ipText(b: Uint8Array, at: number, family: AddressFamily): string {
  if (family === 4) return ipv4Text(b, at);
  return isIpv4Mapped(b, at) ? `::ffff:${ipv4Text(b, at + 12)}` : ipv6Text(b, at);
}

/** IP address text from 4 or 16 raw bytes (BEP 10 `yourip`, BEP 11 compact peers). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return ipText(b, 0, 4);
  if (b.length === 16) return ipText(b, 0, 6);
  return `<${b.length}-byte address>`;
}

/**
 * Bytes of one compact peer: the address, then the port big-endian. BEP 23 (IPv4, 6) and
 * BEP 7 (IPv6, 18) define it for trackers; BEP 5 (`values`, node info) and BEP 11 (ut_pex) reuse it.
 */
export const COMPACT_PEER_SIZE: Readonly<Record<AddressFamily, number>> = { 4: 6, 6: 18 };

/** The compact peer whose first byte is `b[at]` (the caller checks that a whole entry is there). */
export function compactPeerAt(b: Uint8Array, at: number, family: AddressFamily): { ip: string; port: number } {
  const size = COMPACT_PEER_SIZE[family];
  return { ip: ipText(b, at, family), port: (b[at + size - 2]! << 8) | b[at + size - 1]! };
}

export interface CompactPeer {
  readonly ip: string;
  readonly port: number;
  /** Offset of the entry inside the compact string (relative; add the string's data offset). */
  readonly at: number;
}

/** Every whole entry of a compact peer string, at most `maxPeers`; `trailing` bytes do not make an entry. */
export function parseCompactPeers(bytes: Uint8Array, family: AddressFamily, maxPeers = Infinity): { peers: CompactPeer[]; trailing: number } {
  const size = COMPACT_PEER_SIZE[family];
  const whole = Math.floor(bytes.length / size);
  const n = Math.min(whole, maxPeers);
  const peers: CompactPeer[] = [];
  for (let i = 0; i < n; i++) peers.push({ ...compactPeerAt(bytes, i * size, family), at: i * size });
  return { peers, trailing: bytes.length - whole * size };
}

/** A compact peer string. Throws RangeError for an address not of `family` or a port out of range. */
export function encodeCompactPeers(peers: readonly { ip: string; port: number }[], family: AddressFamily): Uint8Array {
  const size = COMPACT_PEER_SIZE[family];
  const out = new Uint8Array(peers.length * size);
  peers.forEach((p, i) => {
    const ip = family === 4 ? parseIpv4(p.ip) : parseIpv6(p.ip);
    if (!ip) throw new RangeError(`not an IPv${family} address: ${p.ip}`);
    if (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535) throw new RangeError(`not a port: ${p.port}`);
    out.set(ip, i * size);
    out[i * size + size - 2] = p.port >> 8;
    out[i * size + size - 1] = p.port & 0xff;
  });
  return out;
}

/** `host:port`, IPv6 in brackets. */
export function formatEndpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function parseIpv4(ip: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return Uint8Array.from(parts);
}

/**
 * IPv6 text to 16 bytes. Takes brackets (`[::1]`), drops a zone (`fe80::1%eth0`), reads an
 * embedded IPv4 tail (`::ffff:1.2.3.4`); `::` stands for one or more zero groups (RFC 4291 2.2).
 */
export function parseIpv6(ip: string): Uint8Array | undefined {
  let text = ip;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const groups = [...head, ...rest];
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - groups.length;
    if (fill < 1) return undefined;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    if (groups.length !== 8) return undefined;
    all = groups;
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** An IPv4 (4 bytes) or IPv6 (16 bytes) literal; undefined if it is neither. */
export function parseIp(ip: string): Uint8Array | undefined {
  return parseIpv4(ip) ?? parseIpv6(ip);
}

export function familyOf(ip: string): AddressFamily | undefined {
  if (parseIpv4(ip)) return 4;
  if (parseIpv6(ip)) return 6;
  return undefined;
}

/** `::ffff:1.2.3.4` (a v4 peer on a dual-stack socket) as plain IPv4. */
export function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** A peer's (or any TCP endpoint's) host and port. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * `host:port` or `[IPv6]:port` (RFC 3986 authority form, as in `x.pe` and on the command
 * line) to host and port; undefined unless the port is 1..65535. The host is not resolved.
 */
export function parseHostPort(s: string): PeerAddress | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}
