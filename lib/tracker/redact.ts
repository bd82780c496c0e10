import type { Field, Frame } from '../core/field.js';
import { encodeUtf8 } from '../core/bytes.js';

/**
 * A frame with each secret replaced by `*` of the same length, in the bytes and
 * in every label, value and display, so spans still line up with the hex.
 */
export function redactFrame(frame: Frame, secrets: readonly string[]): Frame {
  const list = secrets.filter((s) => s.length > 0);
  if (list.length === 0) return frame;
  const bytes = Uint8Array.from(frame.bytes);
  for (const s of list) {
    const needle = encodeUtf8(s);
    for (let i = indexOf(bytes, needle, 0); i >= 0; i = indexOf(bytes, needle, i + needle.length)) bytes.fill(0x2a, i, i + needle.length);
  }
  const text = (t: string): string => list.reduce((acc, s) => acc.split(s).join('*'.repeat(s.length)), t);
  const walk = (f: Field): Field => ({
    ...f,
    label: text(f.label),
    ...(typeof f.value === 'string' ? { value: text(f.value) } : {}),
    ...(f.display !== undefined ? { display: text(f.display) } : {}),
    ...(f.children ? { children: f.children.map(walk) } : {}),
  });
  return { ...frame, bytes, fields: frame.fields.map(walk) };
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
