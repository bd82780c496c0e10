export { decode, type BencodeDocument, type DecodeOptions } from './decode.js';
export { BNode, toValue, type BValue, type BDict, type BKind } from './node.js';
export { encode, type Encodable } from './encode.js';
export { bencodeFields, attachDiagnostics, BENCODE_FIELDS, type BencodeFieldHooks } from './fields.js';
