import { decodeHandshake } from '../wire/handshake.js';
import { messageFrame, type Message } from '../wire/messages.js';
import type { Frame } from '../core/field.js';
import type { EvidenceRef, SessionRecord } from './types.js';

/**
 * The annotated frame behind one piece of evidence, rebuilt from the recorded
 * bytes (for `--frames`): offsets are those of the TCP stream it came from.
 */
export function evidenceFrame(sessions: readonly SessionRecord[], ref: EvidenceRef, pieceCount?: number): Frame | undefined {
  const s = sessions.find((x) => x.scenario === ref.scenario) as SessionRecord<Message> | undefined;
  if (!s) return undefined;
  if ('handshake' in ref) {
    const h = s.handshake;
    const meta = { connection: s.scenario, direction: 'in' };
    if (h && h.bytes.length === 68) {
      const f = decodeHandshake(h.bytes, h.offset).frame;
      return { ...f, title: `peer handshake${h.offset > 0 ? ` (after ${h.offset} stray bytes)` : ''}`, meta };
    }
    const raw = h?.bytes ?? s.badHandshake?.bytes ?? s.preHandshake;
    if (!raw || raw.length === 0) return undefined;
    const base = h?.offset ?? 0;
    return {
      title: h ? 'peer handshake (cut short)' : 'what the peer sent instead of a handshake',
      bytes: raw,
      base,
      fields: [{ id: 'comply.raw', label: 'raw bytes', span: { start: base, end: base + raw.length } }],
      meta,
    };
  }
  const e = s.events.find((x) => x.seq === ref.seq);
  if (!e) return undefined;
  const f = messageFrame(e.bytes, e.offset, e.message, { direction: e.dir, ...(pieceCount !== undefined ? { pieceCount } : {}) });
  return { ...f, meta: { connection: s.scenario, direction: e.dir === 'in' ? 'peer → us' : 'us → peer', '#': e.seq, ms: e.at, ...(e.tag ? { probe: e.tag } : {}) } };
}
