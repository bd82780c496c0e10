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
