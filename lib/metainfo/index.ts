export type { Torrent, TorrentFile, MagnetLink } from './types.js';
export { parseTorrent, parseInfoDict, DEFAULT_MAX_PIECES, DEFAULT_MAX_FILES, type ParseTorrentOptions, type InfoDictExtra } from './parse.js';
export { safeFilePath, sanitizePath, sanitizePathComponent, type SafePath, type PathFinding, type UnsafePathReason } from './safe-path.js';
export { pieceFileRanges, pieceHashV1, pieceHashV2, pieceSize, filePieces, fileAt, torrentKind, type PieceFileRange } from './layout.js';
export { v2PieceHash, rootFromPieceLayer, merkleRoot, blockHashes, zeroHash, BLOCK_SIZE } from './merkle.js';
export { checkPieceV1, checkPieceV2, pieceMatches, pieceMatchesV2, checkPieceLayers, needsPieceLayers, type PieceHashCheck } from './piece-check.js';
export { torrentFrame, metainfoHooks, METAINFO_FIELDS } from './frame.js';
