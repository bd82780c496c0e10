import { wantsColor } from '../lib/render/color.js';

/**
 * Where a tool writes. Handlers take it from argv (`io`) so tests can call them
 * directly and capture output; the CLI passes the process's streams.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Colours on stdout (a TTY, NO_COLOR unset). */
  readonly color: boolean;
  /** stderr is a TTY: progress bars go there only then. */
  readonly errIsTTY: boolean;
  /**
   * stdout's width when it is a TTY: help, tables and trace lines fit it there.
   * Undefined when piped or redirected: lines are then kept whole, for grep and scripts.
   */
  readonly columns?: number | undefined;
}

/** A TTY's width, or undefined for a pipe or a file (a TTY that reports no size counts as 80). */
export function ttyColumns(stream: { isTTY?: boolean; columns?: number }): number | undefined {
  return stream.isTTY ? stream.columns || 80 : undefined;
}

let stdoutUsed = false;

/** A tool wrote to stdout (so the CLI does not add a second --json document after it). */
export function processStdoutUsed(): boolean {
  return stdoutUsed;
}

export const processIo: Io = {
  out: (t) => {
    stdoutUsed = true;
    process.stdout.write(t.endsWith('\n') ? t : t + '\n');
  },
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  color: wantsColor(process.stdout),
  errIsTTY: Boolean(process.stderr.isTTY),
  get columns() {
    // Read at each use: the terminal may be resized while a tool runs.
    return ttyColumns(process.stdout);
  },
};

/** An Io that records everything, for tests; `{ columns: 80 }` makes it a TTY of that width. */
export function captureIo(tty: { columns?: number } = {}): Io & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    color: false,
    errIsTTY: false,
    columns: tty.columns,
    text: () => stdout.join('\n'),
  };
}

export function ioOf(argv: { io?: unknown }): Io {
  return (argv.io as Io | undefined) ?? processIo;
}

/** Cuts a line to `columns` with an ellipsis (no cut when undefined: not a TTY). ANSI colour codes take no room. */
export function fitLine(line: string, columns: number | undefined): string {
  if (columns === undefined || visibleWidth(line) <= columns) return line;
  let out = '';
  let shown = 0;
  for (const m of line.matchAll(/\x1b\[[0-9;]*m|[\s\S]/gu)) {
    const t = m[0];
    if (t.length > 1 && t.startsWith('\x1b')) {
      out += t;
      continue;
    }
    if (shown + 1 > columns - 1) break;
    out += t;
    shown += 1;
  }
  return `${out}…${/\x1b\[/.test(out) ? '\x1b[0m' : ''}`;
}

/** Columns a string takes on a terminal, colour codes aside (every character one column: btscope prints no wide ones). */
export function visibleWidth(s: string): number {
  return [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
}

/** The hex renderer's options for this output: colour, and on a TTY its width (the heading folded to it). */
export function hexOptions(io: Io): { color: boolean; width?: number; fit?: boolean } {
  return io.columns === undefined ? { color: io.color } : { color: io.color, width: Math.min(io.columns, 160), fit: true };
}

/**
 * Prose folded at spaces to `columns` (no change when undefined: not a TTY). A continuation
 * keeps its line's indent, plus `hang` columns; a word longer than a line is cut with an ellipsis.
 */
export function foldText(text: string, columns: number | undefined, hang = 0): string {
  if (columns === undefined) return text;
  return text
    .split('\n')
    .flatMap((line) => {
      if (visibleWidth(line) <= columns) return [line];
      const indent = (/^\s*/.exec(line)![0] + ' '.repeat(hang)).slice(0, Math.floor(columns / 2));
      const lines: string[] = [];
      let current = '';
      for (const word of line.trimStart().split(' ')) {
        const candidate = current === '' ? /^\s*/.exec(line)![0] + word : `${current} ${word}`;
        if (current === '' || visibleWidth(candidate) <= columns) current = candidate;
        else {
          lines.push(current);
          current = indent + word;
        }
      }
      lines.push(current);
      return lines.map((l) => fitLine(l, columns));
    })
    .join('\n');
}
