import { hexy } from 'hexy';
import type { Field, Frame } from '../core/field.js';
import type { Diagnostic } from '../core/diagnostic.js';
import { palette, type Palette } from './color.js';

export interface HexRenderOptions {
  /** ANSI colours (only on a TTY). */
  color?: boolean;
  /** Total width to fit; annotations are cut to it. */
  width?: number;
  /**
   * Fit `width` everywhere, the heading too (folded at spaces): for a TTY. Without it the
   * heading is one line whatever its length, as grep and scripts of piped output expect.
   */
  fit?: boolean;
  /** Rows shown per field before eliding the middle of long values. */
  maxRowsPerField?: number;
}

const BYTES_PER_ROW = 8;
// hexy's row for 8 bytes: "00000000: 64 38 3a 61 6e 6e 6f 75    d8:annou"
const HEX_COLUMN_WIDTH = 46;

/**
 * A hex-annotated frame: hexy's hex rows, 8 bytes each, with every field marked
 * beside its first row. Rows start where fields start, so each field's bytes
 * are on their own rows; offsets are absolute. Fits 80 columns.
 */
export function renderHexFrame(frame: Frame, options: HexRenderOptions = {}): string {
  const p = palette(options.color ?? false);
  const width = options.width ?? defaultWidth();
  const maxRows = Math.max(2, options.maxRowsPerField ?? 4);
  const out: string[] = [];
  const head = heading(frame);
  for (const line of options.fit ? fold(head, width) : [head]) out.push(p.heading(line));
  const annotationWidth = Math.max(16, width - HEX_COLUMN_WIDTH - 1);

  const emitBytes = (start: number, end: number, depth: number, text: string, diags?: readonly Diagnostic[]): void => {
    const rows = hexRows(frame, start, end);
    const indent = ' '.repeat(Math.min(depth, 8));
    const note = cut(indent + text, annotationWidth);
    const shown = rows.length > maxRows ? [...rows.slice(0, maxRows - 1), null, rows[rows.length - 1]!] : rows;
    shown.forEach((row, i) => {
      if (row === null) {
        const hidden = rows.length - maxRows;
        out.push(p.dim(`${' '.repeat(10)}… ${hidden} more row${hidden === 1 ? '' : 's'} (${end - start} bytes in all)`));
        return;
      }
      const [off, rest] = [row.slice(0, 9), row.slice(9).padEnd(HEX_COLUMN_WIDTH - 9)];
      out.push(`${p.dim(off)}${rest} ${i === 0 ? p.label(note) : p.dim(cut(indent + '│', annotationWidth))}`);
    });
    if (rows.length === 0) out.push(`${' '.repeat(HEX_COLUMN_WIDTH)} ${p.label(note)} ${p.dim('(no bytes)')}`);
    for (const d of diags ?? []) out.push(renderDiagnostic(d, p));
  };

  const visit = (f: Field, depth: number): void => {
    const text = f.display !== undefined ? `${f.label} = ${f.display}` : f.label;
    if (!f.children || f.children.length === 0) {
      emitBytes(f.span.start, f.span.end, depth, text, f.diagnostics);
      return;
    }
    if (!f.flat) out.push(`${' '.repeat(HEX_COLUMN_WIDTH)} ${p.heading(cut(' '.repeat(Math.min(depth, 8)) + '▾ ' + text, annotationWidth))}`);
    const childDepth = f.flat ? depth : depth + 1;
    let cursor = f.span.start;
    const children = [...f.children].sort((a, b) => a.span.start - b.span.start);
    for (const c of children) {
      if (c.span.start > cursor) emitBytes(cursor, c.span.start, childDepth, `${f.label} (framing)`);
      visit(c, childDepth);
      cursor = Math.max(cursor, c.span.end);
    }
    if (cursor < f.span.end) emitBytes(cursor, f.span.end, childDepth, `${f.label} (end)`);
    for (const d of f.diagnostics ?? []) out.push(renderDiagnostic(d, p));
  };

  let cursor = frame.base;
  for (const f of frame.fields) {
    if (f.span.start > cursor) emitBytes(cursor, f.span.start, 0, '(undecoded)');
    visit(f, 0);
    cursor = Math.max(cursor, f.span.end);
  }
  if (cursor < frame.base + frame.bytes.length) emitBytes(cursor, frame.base + frame.bytes.length, 0, '(undecoded)');
  for (const d of frame.diagnostics ?? []) out.push(renderDiagnostic(d, p));
  return out.join('\n');
}

/** 80 columns, or a wider terminal's width (capped) so long labels are not cut. */
function defaultWidth(): number {
  const out = typeof process !== 'undefined' ? process.stdout : undefined;
  return out?.isTTY && out.columns ? Math.max(80, Math.min(out.columns, 160)) : 80;
}

function heading(frame: Frame): string {
  const meta = frame.meta
    ? Object.entries(frame.meta)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
    : '';
  return `── ${frame.title}${meta ? `  ${meta}` : ''}  (${frame.bytes.length} bytes at ${frame.base}) ──`;
}

/** Lines of at most `width` columns, broken at spaces (a word longer than that is cut); continuations indented. */
function fold(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (candidate.length <= width || line.trim() === '') line = candidate;
    else {
      lines.push(line.trimEnd());
      line = `   ${word}`;
    }
  }
  lines.push(line.trimEnd());
  return lines.map((l) => cut(l, width));
}

function hexRows(frame: Frame, start: number, end: number): string[] {
  const from = Math.max(0, start - frame.base);
  const to = Math.min(frame.bytes.length, end - frame.base);
  if (to <= from) return [];
  // hexy reads anything that is not a Buffer as text: hand it a Buffer view (no copy).
  const slice = Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset + from, to - from);
  const text = hexy(slice, { width: BYTES_PER_ROW, format: 'twos', caps: 'lower', display_offset: start });
  return text.split('\n').filter((l) => l.length > 0);
}

function renderDiagnostic(d: Diagnostic, p: Palette): string {
  const style = d.severity === 'error' ? p.error : p.warn;
  return style(`${' '.repeat(10)}${d.severity === 'note' ? 'ℹ' : '⚠'} ${d.code}: ${d.message} [${d.span.start}, ${d.span.end})`);
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, Math.max(0, n - 1)) + '…';
}
