#!/usr/bin/env -S node --openssl-legacy-provider
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadCommands } from './commands/index.js';
import { describeError } from './errors.js';
import { EXIT } from './exit-codes.js';

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
        builder: c.builder,
        handler: async (argv: Record<string, unknown>) => {
          const code = await c.handler(argv);
          if (typeof code === 'number') exitCode = code;
        },
      })),
    )
    .demandCommand(1, 'Name a tool: btscope <tool> --help explains each one.')
    .strict()
    .recommendCommands()
    .wrap(null)
    .epilogue(
      'Exit codes: 0 ok, 1 the answer is no (check failed, nothing answered), 2 usage, 3 undecodable input, 4 network, 70 internal error.',
    )
    .fail((msg, err, y) => {
      if (err) throw err;
      if (args.length === 0) y.showHelp((text: string) => process.stderr.write(`${text}\n\n`));
      throw Object.assign(new Error(msg), { usage: true });
    })
    .help()
    .alias('help', 'h')
    .version();
  try {
    await parser.parseAsync();
  } catch (e) {
    if ((e as { usage?: boolean }).usage) {
      process.stderr.write(`${(e as Error).message}\nRun btscope --help for usage.\n`);
      return EXIT.usage;
    }
    const { message, exitCode: code } = describeError(e);
    process.stderr.write(`btscope: ${message}\n`);
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
