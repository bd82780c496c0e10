// Moved to tools/peer-source.ts (a tool helper: it reads files and asks trackers for the
// wire tools). This re-export keeps tools/commands/handshake.ts and tools/peer-attempts.ts
// compiling until they import tools/peer-source.js; then delete this file.
export { findPeers, parsePeerAddress, resolveTarget, type Target } from '../../tools/peer-source.js';
