/**
 * Decoder limits with safe defaults (libtorrent's bdecode: depth 100, token
 * limit). Every decoder that can be fed hostile input takes these as parameters.
 */
export interface BencodeLimits {
  /** Maximum nesting of lists and dicts. */
  maxDepth: number;
  /** Maximum number of tokens (values, keys, containers) in one document. */
  maxTokens: number;
  /** Maximum length of one byte string. */
  maxStringLength: number;
}

export const DEFAULT_BENCODE_LIMITS: Readonly<BencodeLimits> = {
  maxDepth: 100,
  maxTokens: 8_000_000,
  maxStringLength: 256 * 1024 * 1024,
};
