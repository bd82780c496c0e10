import Table from 'cli-table3';
import { foldText, visibleWidth } from './io.js';

export type TableOptions = ConstructorParameters<typeof Table>[0];
export type Row = readonly (string | number)[];

/** Narrowest a column is made before words are cut (a cell's padding included). */
const MIN_COLUMN = 5;

/**
 * A cli-table3 table, rendered to fit `columns` when stdout is a TTY of that width
 * (tools/io.ts `Io.columns`); with `columns` undefined (piped), exactly as `options` say.
 *
 * Fitting: each column starts at its content's width; while the table is too wide, the
 * widest column gives up a column, no narrower than its longest word, so text folds at spaces
 * (a path or URL wider than its column breaks after a /). A table that cannot fit that way
 * (too many columns) is printed as one record a row: `name  value` lines, values folded.
 */
export function renderTable(options: TableOptions, rows: readonly Row[], columns: number | undefined): string {
  if (columns === undefined) {
    const t = new Table(options);
    for (const r of rows) t.push([...r]);
    return t.toString();
  }
  const head = options?.head ?? [];
  const n = Math.max(head.length, ...rows.map((r) => r.length));
  const cells = [head, ...rows].map((r) => Array.from({ length: n }, (_, i) => String(r[i] ?? '')));
  const padding = (options?.style?.['padding-left'] ?? 1) + (options?.style?.['padding-right'] ?? 1);
  const natural = Array.from({ length: n }, (_, i) => padding + Math.max(1, ...cells.flatMap((r) => r[i]!.split('\n').map(visibleWidth))));
  // Words break at spaces, and a path or URL after a / (breakLongWords).
  const longestWord = Array.from({ length: n }, (_, i) => padding + Math.max(1, ...cells.flatMap((r) => r[i]!.split(/\s+|(?<=\/)/).map(visibleWidth))));
  // Too many columns for the terminal even with every word on a line of its own: one record a row.
  if (longestWord.reduce((x, y) => x + y, 0) > columns - (n + 1)) return renderRecords(cells[0]!, cells.slice(1), columns);
  const widths = fitWidths(natural, longestWord, columns - (n + 1));
  const t = new Table({ ...options, colWidths: widths, wordWrap: true, wrapOnWordBoundary: true });
  for (const r of rows) t.push(r.map((c, i) => (typeof c === 'string' ? breakLongWords(c, widths[i]! - padding) : c)));
  return t.toString();
}

/**
 * Words wider than `room` (paths, URLs) broken onto lines of their own, after a `/` where
 * there is one: cli-table3 would otherwise cut them with an ellipsis and the rest be lost.
 * Coloured words are left alone (a cut could split an escape code).
 */
export function breakLongWords(text: string, room: number): string {
  if (room < 1) return text;
  return text
    .split('\n')
    .map((line) =>
      line
        .split(' ')
        .map((word) => (word.length <= room || word.includes('\x1b') ? word : packPieces(word.split(/(?<=\/)/), room)))
        .join(' '),
    )
    .join('\n');
}

function packPieces(pieces: string[], room: number): string {
  const lines: string[] = [];
  let line = '';
  for (let piece of pieces) {
    while (piece.length > 0) {
      if (line.length + piece.length <= room) {
        line += piece;
        piece = '';
      } else if (line.length > 0) {
        lines.push(line);
        line = '';
      } else {
        lines.push(piece.slice(0, room));
        piece = piece.slice(room);
      }
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** Column widths summing to at most `room` where possible: the widest column shrinks first. */
export function fitWidths(natural: readonly number[], longestWord: readonly number[], room: number): number[] {
  const widths = [...natural];
  const total = (): number => widths.reduce((a, b) => a + b, 0);
  for (const floor of [(i: number) => Math.min(natural[i]!, Math.max(MIN_COLUMN, longestWord[i]!)), () => MIN_COLUMN]) {
    while (total() > room) {
      let widest = -1;
      for (let i = 0; i < widths.length; i++) if (widths[i]! > floor(i) && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      if (widest < 0) break;
      widths[widest]! -= 1;
    }
  }
  return widths;
}

/** Rows as records: each cell on its own line after its column's name, a blank line between rows. */
function renderRecords(head: readonly string[], rows: readonly string[][], columns: number): string {
  const nameWidth = Math.min(Math.floor(columns / 2), Math.max(0, ...head.map(visibleWidth)));
  // A name wider than that has its value on the next line.
  const pad = (s: string): string => (visibleWidth(s) > nameWidth ? `${s}\n${' '.repeat(nameWidth)}` : s + ' '.repeat(nameWidth - visibleWidth(s)));
  return rows
    .map((row) =>
      row
        .map((value, i) => {
          const [first = '', ...rest] = value.split('\n');
          const name = head[i] ?? '';
          const lines = [`${pad(name)}  ${first}`, ...rest.map((l) => `${' '.repeat(nameWidth + 2)}${l}`)];
          return foldText(lines.map((l) => l.trimEnd()).join('\n'), columns, nameWidth + 2);
        })
        .join('\n'),
    )
    .join('\n\n');
}
