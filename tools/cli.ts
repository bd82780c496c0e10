#!/usr/bin/env -S node --openssl-legacy-provider
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadCommands } from './commands/index.js';
import { UsageError } from '../lib/core/errors.js';
import { describeError, errorJson } from './errors.js';
import { EXIT } from './exit-codes.js';
import type { Argv } from 'yargs';
import { foldText, processStdoutUsed, ttyColumns } from './io.js';
import { checkNumbers } from './options.js';

/** `--json` on the command line: a failure is then also one JSON document on stdout. */
function wantsJson(args: readonly string[]): boolean {
  return args.some((a) => a === '--json' || a === '--json=true');
}

/** The btscope entry point: wires the tool modules into yargs and maps errors to exit codes. */
export async function main(args: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const commands = await loadCommands(args);
  // yargs-parser reads a lone '-' as a flag; the tools take it to mean stdin.
  const parser = yargs(args.map((a) => (a === '-' ? '/dev/stdin' : a)))
    .scriptName('btscope')
    .usage('$0 <tool> [options]\n\nBitTorrent protocol inspection: every frame, every byte, annotated.')
    .command(
      commands.map((c) => ({
        command: c.command,
        describe: c.describe,
        builder: (y: Argv) => c.builder(foldedEpilogues(y)),
        handler: async (argv: Record<string, unknown>) => {
          const code = await c.handler(argv);
          if (typeof code === 'number') exitCode = code;
        },
      })),
    )
    // Numbers are checked once the command's options are known, before any handler runs.
    .middleware((argv) => checkNumbers(argv as Record<string, unknown>, args))
    .demandCommand(1, 'Name a tool: btscope <tool> --help explains each one.')
    .strict()
    .recommendCommands()
    // Help fits the terminal, or 80 columns (or $COLUMNS) when piped.
    .wrap(helpWidth())
    .epilogue(
      foldText('Exit codes: 0 ok, 1 the answer is no (check failed, nothing answered), 2 usage, 3 undecodable input, 4 network, 70 internal error.', helpWidth()),
    )
    .fail((msg, err, y) => {
      if (err) throw err;
      if (args.length === 0) y.showHelp((text: string) => process.stderr.write(`${text}\n\n`));
      const tool = commands.length === 1 ? ` ${args.find((a) => !a.startsWith('-'))}` : '';
      throw new UsageError(`${msg.replace(/\s*\n\s*/g, ' ')} (btscope${tool} --help shows usage)`);
    })
    .help()
    .alias('help', 'h')
    .version();
  try {
    await parser.parseAsync();
  } catch (e) {
    // One line on stderr; with --json, one document on stdout too, unless the tool printed its own.
    const { message, exitCode: code } = describeError(e);
    process.stderr.write(`btscope: ${message}\n`);
    if (wantsJson(args) && !processStdoutUsed()) process.stdout.write(`${JSON.stringify(errorJson(e))}\n`);
    return code;
  }
  return exitCode;
}

// `btscope ... | head`: a closed pipe ends the run quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`btscope: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = EXIT.internal;
  },
);

/**
 * Help is prose for a person: wrapped at the terminal's width, or when piped
 * at $COLUMNS if set, else 80 (tables and trace lines, which scripts read,
 * stay whole when piped).
 */
function helpWidth(): number {
  const env = Number(process.env['COLUMNS']);
  return ttyColumns(process.stdout) ?? (Number.isInteger(env) && env >= 40 ? env : 80);
}

/**
 * yargs' help layout cuts an epilogue at the width mid-word ("Ex/it codes"):
 * a tool's epilogue is folded at word boundaries first, to the same width.
 */
function foldedEpilogues<T>(y: Argv<T>): Argv<T> {
  const width = helpWidth();
  const set = y.epilogue.bind(y);
  const fold = (text: string): Argv<T> => set(foldText(text, width));
  return Object.assign(y, { epilogue: fold, epilog: fold });
}
