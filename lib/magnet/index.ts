export { parseMagnet, formatMagnet, type ParseMagnetOptions } from './parse.js';
export type { MagnetLink } from '../metainfo/types.js';
