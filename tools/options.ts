import type { Argv } from 'yargs';

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
