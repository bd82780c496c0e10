import type { Frame } from '../../lib/core/field.js';
import { UsageError } from '../../lib/core/errors.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { announce } from '../../lib/tracker/client/announce.js';
import type { AnnounceFn, PeerAddress } from '../../lib/engine/downloader.js';
import type { Io } from '../io.js';

/** `host:port`, `[v6]:port` -> address; a clear usage error otherwise. */
export function parsePeerArg(s: string): PeerAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new UsageError(`--peer ${s}: expected HOST:PORT (or [IPv6]:PORT)`);
  return { host: m[1]!, port };
}

/** The tracker client as the engine wants it (the engine does not import lib/tracker). */
export const trackerAnnounce: AnnounceFn = async (url, req) => {
  const r = await announce(url, req, { timeoutMs: 10_000 });
  return { interval: r.interval, peers: r.peers.map((p) => ({ ip: p.ip, port: p.port })) };
};

/**
 * --frames[=TYPES]: print frames hex-annotated, only the message types named
 * (handshake, bitfield, request, piece, extended, ...), at most `limit` of them
 * so a big download does not drown the terminal.
 */
export function frameLogger(io: Io, types: string | undefined, limit: number): ((f: Frame, dir: string, peer: string) => void) | undefined {
  if (types === undefined) return undefined;
  const wanted = types === '' || types === 'all' ? null : new Set(types.split(',').map((t) => t.trim()));
  let shown = 0;
  let skipped = 0;
  return (f, dir, peer) => {
    const type = f.title.split(' ')[0]!;
    if (wanted && !wanted.has(type) && !wanted.has(f.title)) return;
    if (shown >= limit) {
      if (skipped++ === 0) io.out(`… more frames not shown (--frames-limit ${limit})`);
      return;
    }
    shown++;
    io.out(renderHexFrame({ ...f, title: `${dir === 'out' ? '→' : '←'} ${peer} ${f.title}` }, { color: io.color }));
  };
}
