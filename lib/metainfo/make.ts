import { createHash } from 'node:crypto';
import { encode, type Encodable } from '../bencode/encode.js';

/**
 * A v1 .torrent (BEP 3, optional BEP 47 pad files) made with our canonical
 * bencode encoder from bytes in memory: used by the demo and by tests that
 * need a torrent whose every byte they control (including hostile paths).
 */
export interface MakeTorrentFile {
  /** Path components below the torrent's name (multi-file), or [name] for a single file. */
  path: readonly string[];
  data: Uint8Array;
}

export interface MakeTorrentOptions {
  name: string;
  pieceLength: number;
  /** One entry with path [name] and `single: true` gives a single-file torrent. */
  files: readonly MakeTorrentFile[];
  single?: boolean;
  /** Insert BEP 47 pad files so every file starts on a piece boundary. */
  pad?: boolean;
  announce?: string;
  announceList?: readonly (readonly string[])[];
  createdBy?: string;
  creationDate?: number;
}

export function makeTorrent(o: MakeTorrentOptions): { bytes: Uint8Array; stream: Uint8Array } {
  const entries: { path: readonly string[]; length: number; data?: Uint8Array; pad: boolean }[] = [];
  let offset = 0;
  o.files.forEach((f, i) => {
    entries.push({ path: f.path, length: f.data.length, data: f.data, pad: false });
    offset += f.data.length;
    const rem = offset % o.pieceLength;
    if (o.pad && i < o.files.length - 1 && rem !== 0) {
      const padLen = o.pieceLength - rem;
      entries.push({ path: ['.pad', String(padLen)], length: padLen, pad: true });
      offset += padLen;
    }
  });
  const stream = new Uint8Array(offset);
  let at = 0;
  for (const e of entries) {
    if (e.data) stream.set(e.data, at);
    at += e.length;
  }
  const pieceCount = Math.ceil(stream.length / o.pieceLength);
  const pieces = new Uint8Array(pieceCount * 20);
  for (let p = 0; p < pieceCount; p++) {
    pieces.set(createHash('sha1').update(stream.subarray(p * o.pieceLength, (p + 1) * o.pieceLength)).digest(), p * 20);
  }
  const info: Record<string, Encodable> = { name: o.name, 'piece length': o.pieceLength, pieces };
  if (o.single) info['length'] = stream.length;
  else
    info['files'] = entries.map((e) => (e.pad ? { attr: 'p', length: e.length, path: [...e.path] } : { length: e.length, path: [...e.path] }));
  const top: Record<string, Encodable> = { info };
  if (o.announce) top['announce'] = o.announce;
  if (o.announceList) top['announce-list'] = o.announceList.map((t) => [...t]);
  if (o.createdBy) top['created by'] = o.createdBy;
  if (o.creationDate !== undefined) top['creation date'] = o.creationDate;
  return { bytes: encode(top), stream };
}
