/** ANSI styling, applied only when the output is a terminal (the caller decides). */
export interface Palette {
  dim(s: string): string;
  label(s: string): string;
  value(s: string): string;
  heading(s: string): string;
  warn(s: string): string;
  error(s: string): string;
}

const wrap = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;

export const COLOR: Palette = {
  dim: wrap('2'),
  label: wrap('36'),
  value: wrap('33'),
  heading: wrap('1'),
  warn: wrap('35'),
  error: wrap('31'),
};

const id = (s: string) => s;
export const PLAIN: Palette = { dim: id, label: id, value: id, heading: id, warn: id, error: id };

export function palette(color: boolean): Palette {
  return color ? COLOR : PLAIN;
}

/** Whether to colour a stream: a TTY, and NO_COLOR not set. */
export function wantsColor(stream: { isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && !process.env['NO_COLOR'];
}
