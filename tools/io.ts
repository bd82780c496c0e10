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
};

/** An Io that records everything, for tests. */
export function captureIo(): Io & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    color: false,
    errIsTTY: false,
    text: () => stdout.join('\n'),
  };
}

export function ioOf(argv: { io?: unknown }): Io {
  return (argv.io as Io | undefined) ?? processIo;
}
