/** What btscope's exit codes mean; the same for every tool. */
export const EXIT = {
  /** The job was done and the answer is yes. */
  ok: 0,
  /** The tool ran, and the answer is no: a check failed, no tracker answered, a hash did not match. */
  failure: 1,
  /** Bad command-line usage. */
  usage: 2,
  /** The input could not be decoded (not bencode, not a torrent, truncated capture...). */
  badInput: 3,
  /** Network: refused, timed out, DNS, protocol violation by the other side. */
  network: 4,
  /** A bug in btscope. */
  internal: 70,
} as const;
