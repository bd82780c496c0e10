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
