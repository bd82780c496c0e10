// The address and compact-peer helpers live in lib/core/address.ts; these names stay importable from here.
export { formatEndpoint, formatIp, parseIp, parseCompactPeers, type CompactPeer } from '../core/address.js';
