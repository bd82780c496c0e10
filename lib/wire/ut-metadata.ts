import { decode } from '../bencode/decode.js';
import { encode } from '../bencode/encode.js';
import { bencodeFields } from '../bencode/fields.js';
import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef } from '../core/field.js';

/**
 * BEP 9 ut_metadata: `{msg_type, piece[, total_size]}` bencoded, and for data
 * messages the metadata piece bytes right after the dict. Pieces are 16 KiB,
 * the last one shorter.
 */
export const UT_METADATA_PIECE_LENGTH = 16384;
/** A sane default cap on metadata_size (libtorrent uses 4 MiB... 100 MiB as a setting). */
export const DEFAULT_MAX_METADATA_SIZE = 8 * 1024 * 1024;

const UT_METADATA_TYPES = { request: 0, data: 1, reject: 2 } as const;
const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(UT_METADATA_TYPES).map(([name, id]) => [id, name]));

export type UtMetadataMessage =
  | { readonly msgType: 'request'; readonly piece: number }
  | { readonly msgType: 'data'; readonly piece: number; readonly totalSize: number; readonly data: Uint8Array }
  | { readonly msgType: 'reject'; readonly piece: number }
  | { readonly msgType: 'unknown'; readonly code: number; readonly piece: number };

export const UT_METADATA_FIELDS = {
  dict: { id: 'bt.ut_metadata', label: 'ut_metadata', bep: 9 },
  msgType: { id: 'bt.ut_metadata.msg_type', label: 'msg_type', bep: 9, valueNames: TYPE_NAMES },
  piece: { id: 'bt.ut_metadata.piece', label: 'piece', bep: 9 },
  totalSize: { id: 'bt.ut_metadata.total_size', label: 'total_size', bep: 9 },
  data: { id: 'bt.ut_metadata.data', label: 'metadata piece data', bep: 9 },
} as const satisfies Record<string, FieldDef>;

/** Number of metadata pieces for a metadata_size. */
export function metadataPieceCount(metadataSize: number): number {
  return Math.ceil(metadataSize / UT_METADATA_PIECE_LENGTH);
}

/** Expected length of metadata piece `piece`. */
export function metadataPieceLength(metadataSize: number, piece: number): number {
  return Math.min(UT_METADATA_PIECE_LENGTH, metadataSize - piece * UT_METADATA_PIECE_LENGTH);
}

/** Decode a ut_metadata payload (after the ext id byte) at absolute offset `base`. */
export function decodeUtMetadata(payload: Uint8Array, base = 0): { value: UtMetadataMessage; fields: Field[]; end: number } {
  const doc = decode(payload, { base, allowTrailing: true, maxDepth: 4, maxTokens: 64 });
  const root = doc.root;
  if (!root.isDict()) throw new DecodeError('wrong_type', base, `ut_metadata should be a dict, is ${root.kind}`, 'ut_metadata');
  const need = (key: string): number => {
    const n = root.get(key);
    if (!n) throw new DecodeError('missing_field', base, `ut_metadata has no ${key}`, `ut_metadata.${key}`);
    const v = n.int(`ut_metadata.${key}`);
    if (v < 0) throw new DecodeError('invalid_value', n.span.start, `ut_metadata ${key} is negative (${v})`, `ut_metadata.${key}`);
    return v;
  };
  const code = need('msg_type');
  const piece = need('piece');
  const dictEnd = base + doc.end;
  const dataBytes = payload.subarray(doc.end);
  let value: UtMetadataMessage;
  if (code === 1) {
    value = { msgType: 'data', piece, totalSize: need('total_size'), data: dataBytes };
  } else if (code === 0 || code === 2) {
    value = { msgType: code === 0 ? 'request' : 'reject', piece };
  } else value = { msgType: 'unknown', code, piece };
  const tree = bencodeFields(doc, 'ut_metadata', {
    describe(path) {
      if (path === 'msg_type') return { ...UT_METADATA_FIELDS.msgType, display: `${TYPE_NAMES[code] ?? 'unknown'} (${code})` };
      if (path === 'piece') return UT_METADATA_FIELDS.piece;
      if (path === 'total_size') return UT_METADATA_FIELDS.totalSize;
      return undefined;
    },
  });
  const fields: Field[] = [{ ...tree, id: UT_METADATA_FIELDS.dict.id, bep: 9, display: `${TYPE_NAMES[code] ?? `msg_type ${code}`} piece ${piece}` }];
  if (dataBytes.length > 0) {
    fields.push(field(UT_METADATA_FIELDS.data, { start: dictEnd, end: dictEnd + dataBytes.length }, undefined, { display: `${dataBytes.length} bytes` }));
  }
  return { value, fields, end: base + payload.length };
}

/** A ut_metadata payload (without the ext id byte). */
export function encodeUtMetadata(m: UtMetadataMessage): Uint8Array {
  switch (m.msgType) {
    case 'request':
      return encode({ msg_type: UT_METADATA_TYPES.request, piece: m.piece });
    case 'reject':
      return encode({ msg_type: UT_METADATA_TYPES.reject, piece: m.piece });
    case 'unknown':
      return encode({ msg_type: m.code, piece: m.piece });
    case 'data': {
      const dict = encode({ msg_type: UT_METADATA_TYPES.data, piece: m.piece, total_size: m.totalSize });
      const out = new Uint8Array(dict.length + m.data.length);
      out.set(dict, 0);
      out.set(m.data, dict.length);
      return out;
    }
  }
}
