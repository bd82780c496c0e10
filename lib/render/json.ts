import type { Field, Frame } from '../core/field.js';
import type { Diagnostic } from '../core/diagnostic.js';
import { toHex } from '../core/bytes.js';

/** JSON-safe form of any decoded value: bytes as hex, bigints as strings, Maps as objects. */
export function jsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), jsonValue(x)]));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

export function diagnosticJson(d: Diagnostic): Record<string, unknown> {
  return { code: d.code, severity: d.severity, offset: d.span.start, end: d.span.end, message: d.message };
}

export function fieldJson(f: Field): Record<string, unknown> {
  const out: Record<string, unknown> = { id: f.id, label: f.label, span: [f.span.start, f.span.end] };
  if (f.value !== undefined) out['value'] = jsonValue(f.value);
  if (f.display !== undefined) out['display'] = f.display;
  if (f.bep !== undefined) out['bep'] = f.bep;
  if (f.children) out['children'] = f.children.map(fieldJson);
  if (f.diagnostics) out['diagnostics'] = f.diagnostics.map(diagnosticJson);
  return out;
}

export function frameJson(frame: Frame): Record<string, unknown> {
  return {
    title: frame.title,
    base: frame.base,
    length: frame.bytes.length,
    ...(frame.meta ? { meta: frame.meta } : {}),
    hex: toHex(frame.bytes),
    fields: frame.fields.map(fieldJson),
    diagnostics: (frame.diagnostics ?? []).map(diagnosticJson),
  };
}

/** JSON.stringify that accepts bigints and bytes. */
export function stringifyJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? toHex(v) : v), indent);
}
