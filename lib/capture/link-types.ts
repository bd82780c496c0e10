import type { FieldDef } from '../core/field.js';

/** Link types btscope decodes (tcpdump.org/linktypes.html). */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  /** OpenBSD loopback: like NULL but the family is big-endian. */
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
  /** Some BSDs write DLT_RAW as 12 or 14 in pcap files. */
  RAW_12: 12,
  RAW_14: 14,
} as const;

export const LINKTYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'BSD loopback (NULL)',
  1: 'Ethernet',
  12: 'raw IP',
  14: 'raw IP',
  101: 'raw IP',
  108: 'OpenBSD loopback',
  113: 'Linux cooked (SLL)',
  228: 'raw IPv4',
  229: 'raw IPv6',
  276: 'Linux cooked v2 (SLL2)',
};

export const CAPTURE_FIELDS = {
  linkType: { id: 'capture.link_type', label: 'link type', valueNames: LINKTYPE_NAMES },
  time: { id: 'capture.time', label: 'time' },
  capturedLength: { id: 'capture.caplen', label: 'captured length' },
  originalLength: { id: 'capture.len', label: 'length on the wire' },
} as const satisfies Record<string, FieldDef>;
