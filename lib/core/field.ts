import type { Diagnostic } from './diagnostic.js';
import type { Span } from './span.js';
import { printable, toHex } from './bytes.js';

/**
 * How a field is named and shown: one row of a registration table that lives next
 * to the BEP defining the field (Wireshark's hf_register_info). Renderers and the
 * JSON output read these, so adding a message type is one row and one decoder.
 */
export interface FieldDef {
  /** Filter-style id, e.g. `bt.piece.index`. */
  readonly id: string;
  /** Short human label, e.g. `piece index`. */
  readonly label: string;
  /** The BEP that defines the field. */
  readonly bep?: number;
  /** How a numeric value is shown. */
  readonly base?: 'dec' | 'hex';
  /** Names for well-known values (message ids, actions, events). */
  readonly valueNames?: Readonly<Record<number | string, string>>;
}

/** A decoded field: name, label, absolute byte span, value, and what it contains. */
export interface Field {
  readonly id: string;
  readonly label: string;
  readonly span: Span;
  readonly value?: unknown;
  /** The value as a human reads it (value names applied, bytes as hex or text). */
  readonly display?: string;
  readonly bep?: number;
  readonly children?: readonly Field[];
  readonly diagnostics?: readonly Diagnostic[];
  /** Presentation hint: show the children without a heading line of their own. */
  readonly flat?: boolean;
}

/**
 * One annotated frame: a message, packet or file, the bytes it covers and the
 * field tree over them. `base` is the absolute offset of `bytes[0]`, so field
 * spans index `bytes` at `span.start - base`.
 */
export interface Frame {
  readonly title: string;
  readonly bytes: Uint8Array;
  readonly base: number;
  readonly fields: readonly Field[];
  readonly diagnostics?: readonly Diagnostic[];
  /** Context shown in the heading: direction, time, packet numbers, step. */
  readonly meta?: Readonly<Record<string, string | number>>;
}

export interface FieldOptions {
  display?: string;
  children?: readonly Field[];
  diagnostics?: readonly Diagnostic[];
  label?: string;
  flat?: boolean;
}

/** Build a field from its table row. */
export function field(def: FieldDef, span: Span, value?: unknown, opts: FieldOptions = {}): Field {
  const f: {
    -readonly [K in keyof Field]: Field[K];
  } = {
    id: def.id,
    label: opts.label ?? def.label,
    span,
  };
  if (value !== undefined) f.value = value;
  const display = opts.display ?? displayValue(def, value);
  if (display !== undefined) f.display = display;
  if (def.bep !== undefined) f.bep = def.bep;
  if (opts.children && opts.children.length > 0) f.children = opts.children;
  if (opts.diagnostics && opts.diagnostics.length > 0) f.diagnostics = opts.diagnostics;
  if (opts.flat) f.flat = true;
  return f;
}

/** The default display of a value under its definition. */
export function displayValue(def: FieldDef | undefined, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  const named = def?.valueNames?.[value as number | string];
  if (typeof value === 'number' || typeof value === 'bigint') {
    const num = def?.base === 'hex' ? `0x${value.toString(16)}` : value.toString();
    return named ? `${named} (${num})` : num;
  }
  if (typeof value === 'string') return named ? `${named} (${JSON.stringify(value)})` : JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) {
    if (value.length <= 32) return toHex(value);
    return `${toHex(value.subarray(0, 16))}… (${value.length} bytes)`;
  }
  return undefined;
}

/** Text for a byte string: quoted if printable, hex otherwise. */
export function displayBytes(bytes: Uint8Array): string {
  let printableCount = 0;
  for (const b of bytes) if (b >= 0x20 && b < 0x7f) printableCount++;
  if (bytes.length > 0 && printableCount === bytes.length) return JSON.stringify(printable(bytes, 200));
  return displayValue(undefined, bytes) ?? '';
}

/** Depth-first walk over a field tree. */
export function* walkFields(fields: readonly Field[], depth = 0): Generator<{ field: Field; depth: number }> {
  for (const f of fields) {
    yield { field: f, depth };
    if (f.children) yield* walkFields(f.children, depth + 1);
  }
}
