import type { Argv } from 'yargs';
import { UsageError } from '../lib/core/errors.js';

/** Shared options, defined once (STYLE 12). */
export function withJson<T>(y: Argv<T>) {
  return y.option('json', { type: 'boolean', default: false, describe: 'Machine-readable JSON on stdout (for jq and scripts)' });
}

export function withFrames<T>(y: Argv<T>) {
  return y.option('frames', {
    type: 'boolean',
    default: false,
    describe: 'Show every protocol frame as hex-annotated bytes: each field named, with offset, bytes and meaning',
  });
}

export function withTimeout<T>(y: Argv<T>, seconds: number) {
  return y.option('timeout', { type: 'number', default: seconds, describe: 'Give up after this many seconds (whole attempt)' });
}

/** What a number option may hold; the rule of an option is the same in every tool that has it. */
type NumberRule = { readonly test: (n: number) => boolean; readonly expected: string };
const positive: NumberRule = { test: (n) => n > 0 && Number.isFinite(n), expected: 'a number of seconds > 0' };
const nonNegative: NumberRule = { test: (n) => n >= 0 && Number.isFinite(n), expected: 'a number of seconds >= 0' };
const port: NumberRule = { test: (n) => Number.isInteger(n) && n >= 0 && n <= 65535, expected: 'a port, 0 to 65535 (0: any free port)' };
const count: NumberRule = { test: (n) => Number.isInteger(n) && n >= 0, expected: 'a whole number >= 0' };
const atLeastOne: NumberRule = { test: (n) => Number.isInteger(n) && n >= 1, expected: 'a whole number >= 1' };

/** Option (or positional) name → its rule. Options not named here must only be numbers. */
export const NUMBER_RULES: Readonly<Record<string, NumberRule>> = {
  timeout: positive,
  wait: nonNegative,
  settle: nonNegative,
  answer: positive,
  gap: nonNegative,
  duration: positive,
  seconds: positive,
  'cancel-queue': { test: (n) => n > 0 && Number.isFinite(n), expected: 'a number of MiB > 0' },
  port,
  'listen-port': port,
  listen: port,
  index: count,
  stream: atLeastOne,
  'frames-limit': count,
  'show-peers': count,
  numwant: count,
  left: count,
  'max-peers': atLeastOne,
  pipeline: atLeastOne,
};

/**
 * Numbers checked at parse time, for every tool (issue 14: `--timeout abc` must not
 * become "timed out after NaN s"): NaN anywhere, and each named option against its rule.
 * `raw` is the command line, to quote what was typed.
 */
export function checkNumbers(argv: Record<string, unknown>, raw: readonly string[]): void {
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || /[A-Z]/.test(key)) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'number') continue;
      const rule = NUMBER_RULES[key];
      if (!Number.isNaN(v) && (!rule || rule.test(v))) continue;
      const flag = raw.some((a) => a === `--${key}` || a.startsWith(`--${key}=`) || (key.length === 1 && a === `-${key}`));
      const name = flag ? (key.length === 1 ? `-${key}` : `--${key}`) : key.toUpperCase();
      const typed = Number.isNaN(v) ? typedValue(raw, key) : String(v);
      throw new UsageError(`${name}: expected ${rule?.expected ?? 'a number'}, got ${typed}`);
    }
  }
}

function typedValue(raw: readonly string[], key: string): string | undefined {
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i]!;
    if (a.startsWith(`--${key}=`)) return JSON.stringify(a.slice(key.length + 3));
    if (a === `--${key}` && raw[i + 1] !== undefined) return JSON.stringify(raw[i + 1]);
  }
  return 'something that is not a number';
}

/**
 * MSE/PE (`--encryption`) and the key log (`--keylog`), on every tool that
 * connects or listens. `fallback` is the tool's default: prefer for download
 * and seed, plaintext for the probe tools.
 */
export function withEncryption<T>(y: Argv<T>, fallback: 'plaintext' | 'prefer' | 'require') {
  return y
    .option('encryption', {
      choices: ['plaintext', 'prefer', 'require'] as const,
      default: fallback,
      describe: 'MSE/PE: plaintext (none), prefer (offer RC4, accept plaintext peers, fall back to plaintext), require (RC4 only)',
    })
    .option('keylog', {
      type: 'string',
      describe: 'Append each MSE connection\'s shared secret to this file (default $BTSCOPE_KEYLOG), so trace --keylog can decrypt a capture of it',
    });
}
