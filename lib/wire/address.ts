// The address helpers live in lib/core/address.ts; these names stay importable from here.
export { formatEndpoint, formatIp } from '../core/address.js';
