/**
 * Client identification from a peer id (BEP 20 "Peer ID Conventions"):
 * Azureus style `-qB4520-xxxxxxxxxxxx`, Shadow style `S58B-----xxxxxxxxxxx`,
 * Mainline style `M7-1-2--xxxxxxxxxxxx`, and a few one-offs.
 */
export type PeerIdStyle = 'azureus' | 'shadow' | 'mainline' | 'other' | 'unknown';

export interface PeerIdInfo {
  readonly client: string;
  readonly version?: string;
  readonly style: PeerIdStyle;
  /** The client code as written (`qB`, `S`, `M`...). */
  readonly code?: string;
}

/** Azureus-style two-letter codes (BEP 20 and the lists clients publish). */
export const AZUREUS_CLIENTS: Readonly<Record<string, string>> = {
  '7T': 'aTorrent', AB: 'AnyEvent::BitTorrent', AG: 'Ares', 'A~': 'Ares', A2: 'aria2', AR: 'Arctic', AT: 'Artemis', AV: 'Avicora',
  AX: 'BitPump', AZ: 'Azureus/Vuze', BB: 'BitBuddy', BC: 'BitComet', BE: 'Baretorrent', BF: 'Bitflu', BG: 'BTG',
  BI: 'BiglyBT', BL: 'BitCometLite', BP: 'BitTorrent Pro', BR: 'BitRocket', BS: 'BTSlave', BT: 'BitTorrent',
  BW: 'BitWombat', BX: 'Bittorrent X', CD: 'Enhanced CTorrent', CT: 'CTorrent', DE: 'Deluge', DP: 'Propagate Data Client',
  EB: 'EBit', ES: 'electric sheep', FC: 'FileCroc', FD: 'Free Download Manager', FG: 'FlashGet', FT: 'FoxTorrent', FW: 'FrostWire', FX: 'Freebox BitTorrent',
  GS: 'GSTorrent', HK: 'Hekate', HL: 'Halite', HM: 'hMule', HN: 'Hydranode', IL: 'iLivid', JS: 'Justseed.it', JT: 'JavaTorrent',
  KG: 'KGet', KT: 'KTorrent', LC: 'LeechCraft', LH: 'LH-ABC', LP: 'Lphant', LT: 'libtorrent (Rasterbar)', lt: 'libTorrent (rakshasa)',
  LW: 'LimeWire', MK: 'Meerkat', MO: 'MonoTorrent', MP: 'MooPolice', MR: 'Miro', MT: 'MoonlightTorrent', NB: 'Net::BitTorrent',
  NX: 'Net Transport', OS: 'OneSwarm', OT: 'OmegaTorrent', PB: 'Protocol::BitTorrent', PD: 'Pando', PI: 'PicoTorrent',
  PT: 'PHPTracker', qB: 'qBittorrent', QD: 'QQDownload', QT: 'Qt 4 Torrent example', RT: 'Retriever', RZ: 'RezTorrent',
  'S~': 'Shareaza alpha/beta', SB: '~Swiftbit', SD: 'Thunder (XunLei)', SM: 'SoMud', SP: 'BitSpirit', SS: 'SwarmScope',
  ST: 'SymTorrent', st: 'sharktorrent', SZ: 'Shareaza', TB: 'Torch', TE: 'terasaur Seed Bank', TL: 'Tribler', TN: 'TorrentDotNET',
  TR: 'Transmission', TS: 'Torrentstorm', TT: 'TuoTu', UL: 'uLeecher!', UM: 'µTorrent for Mac', UT: 'µTorrent', VG: 'Vagaa',
  WD: 'WebTorrent Desktop', WT: 'BitLet', WW: 'WebTorrent', WY: 'FireTorrent', XF: 'Xfplay', XL: 'Xunlei', XS: 'XSwifter',
  XT: 'XanTorrent', XX: 'Xtorrent', ZT: 'ZipTorrent', bS: 'btscope',
};

/** Shadow-style one-letter codes. */
export const SHADOW_CLIENTS: Readonly<Record<string, string>> = {
  A: 'ABC', O: 'Osprey Permaseed', Q: 'BTQueue', R: 'Tribler', S: 'Shadow', T: 'BitTornado', U: 'UPnP NAT Bit Torrent',
};

/** Mainline-style one-letter codes. */
export const MAINLINE_CLIENTS: Readonly<Record<string, string>> = { M: 'BitTorrent (Mainline)', Q: 'Queen Bee' };

const SHADOW_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-';

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

export function decodePeerId(peerId: Uint8Array): PeerIdInfo {
  if (peerId.length !== 20) return { client: 'unknown', style: 'unknown' };
  const text = ascii(peerId, 0, 20);
  // BEP 20 "other" clients whose ids look like the styles below, so they go first.
  if (text.startsWith('-BOW')) return { client: 'Bits on Wheels', version: text.slice(4, 7), style: 'other', code: 'BOW' };
  if (/^AZ\d{4}BT/.test(text)) return { client: 'BitTyrant (Azureus mod)', version: text.slice(2, 6).split('').join('.'), style: 'other', code: 'AZ..BT' };
  // Azureus style: '-' two chars, four version chars, '-'.
  if (peerId[0] === 0x2d && peerId[7] === 0x2d && isAlnum(peerId[1]!) && (isAlnum(peerId[2]!) || peerId[2] === 0x7e)) {
    const code = ascii(peerId, 1, 3);
    const v = ascii(peerId, 3, 7);
    const name = AZUREUS_CLIENTS[code];
    return { client: name ?? `unknown Azureus-style client ${JSON.stringify(code)}`, version: azureusVersion(code, v), style: 'azureus', code };
  }
  // aria2: "A2-1-36-0-" (dash-separated numbers).
  const aria2 = /^A2-(\d+)-(\d+)-(\d+)-/.exec(text);
  if (aria2) return { client: 'aria2', version: `${aria2[1]}.${aria2[2]}.${aria2[3]}`, style: 'other', code: 'A2' };
  // Mainline style: letter, then major-minor-tiny separated by dashes, padded with '-'.
  const mainline = /^([A-Z])(\d{1,3})-(\d{1,3})-(\d{1,3})--?/.exec(text);
  if (mainline && text.indexOf('-') <= 4) {
    const code = mainline[1]!;
    return { client: MAINLINE_CLIENTS[code] ?? `unknown Mainline-style client ${JSON.stringify(code)}`, version: `${mainline[2]}.${mainline[3]}.${mainline[4]}`, style: 'mainline', code };
  }
  if (text.startsWith('exbc')) return { client: 'BitComet', version: `${peerId[4]}.${String(peerId[5]).padStart(2, '0')}`, style: 'other', code: 'exbc' };
  if (text.startsWith('XBT')) return { client: 'XBT Client', version: text.slice(3, 6).split('').join('.'), style: 'other', code: 'XBT' };
  if (text.startsWith('OP')) return { client: 'Opera', version: text.slice(2, 6), style: 'other', code: 'OP' };
  // BitSpirit: bytes 2-3 "BS", byte 1 the major version (0 meaning 1).
  if (peerId[2] === 0x42 && peerId[3] === 0x53 && peerId[1]! < 10) return { client: 'BitSpirit', version: `v${peerId[1] === 0 ? 1 : peerId[1]}`, style: 'other', code: 'BS' };
  if (text.startsWith('-ML')) return { client: 'MLdonkey', version: text.slice(3, text.indexOf('-', 3) > 0 ? text.indexOf('-', 3) : 10), style: 'other', code: 'ML' };
  // Shadow style: letter, up to five version chars from a 64-char alphabet, '-' padding to byte 5, then "---".
  const shadow = shadowVersion(peerId);
  if (shadow !== undefined) {
    const code = String.fromCharCode(peerId[0]!);
    return { client: SHADOW_CLIENTS[code]!, version: shadow, style: 'shadow', code };
  }
  return { client: 'unknown', style: 'unknown' };
}

function azureusVersion(code: string, v: string): string {
  const digit = (c: string): string => {
    const i = SHADOW_ALPHABET.indexOf(c);
    return i >= 0 && i < 62 ? String(i) : c;
  };
  if (code === 'TR') {
    // Transmission: "3000" = 3.00, "300Z" = 3.00+ (development), "0072" = 0.72
    const major = v[0] === '0' ? '0' : digit(v[0]!);
    const minor = v[0] === '0' ? v.slice(2, 4) : v.slice(1, 3);
    const suffix = v[3] === 'Z' || v[3] === 'X' ? '+' : v[3] === 'B' ? ' beta' : '';
    return `${major}.${minor}${suffix}`;
  }
  if (code === 'UT' || code === 'UM') return `${digit(v[0]!)}.${digit(v[1]!)}.${digit(v[2]!)}${v[3] === 'B' ? ' beta' : ''}`;
  return v.split('').map(digit).join('.');
}

function shadowVersion(peerId: Uint8Array): string | undefined {
  const code = String.fromCharCode(peerId[0]!);
  if (!(code in SHADOW_CLIENTS)) return undefined;
  // BEP 20: up to 5 version chars padded with '-' to byte 5, then three chars,
  // "commonly '---', but not always" (BitTornado: "T03I--00"). A random id is
  // not taken for one: either bytes 6..8 are "---", or the version is padded.
  const parts: number[] = [];
  let padded = false;
  for (let i = 1; i <= 5; i++) {
    const c = String.fromCharCode(peerId[i]!);
    if (c === '-') {
      for (let j = i; j <= 5; j++) if (peerId[j] !== 0x2d) return undefined;
      padded = true;
      break;
    }
    const n = SHADOW_ALPHABET.indexOf(c);
    if (n < 0) return undefined;
    parts.push(n);
  }
  const dashes = peerId[6] === 0x2d && peerId[7] === 0x2d && peerId[8] === 0x2d;
  if (!dashes && !padded) return undefined;
  return parts.length > 0 ? parts.join('.') : undefined;
}
