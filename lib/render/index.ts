export { renderHexFrame, type HexRenderOptions } from './hex-frame.js';
export { renderTree } from './tree.js';
export { frameJson, fieldJson, diagnosticJson, jsonValue, stringifyJson } from './json.js';
export { palette, wantsColor, type Palette } from './color.js';
