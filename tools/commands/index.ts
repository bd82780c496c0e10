import type { Argv } from 'yargs';

/** What every tool module exports (webdriverio's command modules). */
export interface ToolModule {
  command: string | readonly string[];
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  builder: (y: Argv) => Argv<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (argv: any) => Promise<number | void>;
}

/**
 * Every btscope tool, in the order `btscope --help` lists them: its command name
 * and its module. Adding a tool is one line here. Modules load on demand, so
 * `btscope torrent x.torrent` does not pay for the downloader or the tracer.
 */
export const commandList: ReadonlyArray<readonly [name: string, load: () => Promise<ToolModule>]> = [
  ['demo', () => import('./demo.js')],
  ['torrent', () => import('./torrent.js')],
  ['create', () => import('./create.js')],
  ['verify', () => import('./verify.js')],
  ['magnet', () => import('./magnet.js')],
  ['bdecode', () => import('./bdecode.js')],
  ['tracker', () => import('./tracker.js')],
  ['tracker-serve', () => import('./tracker-serve.js')],
  ['handshake', () => import('./handshake.js')],
  ['metadata', () => import('./metadata.js')],
  ['piece', () => import('./piece.js')],
  ['download', () => import('./download.js')],
  ['seed', () => import('./seed.js')],
  ['trace', () => import('./trace.js')],
  ['comply', () => import('./comply.js')],
];

/** The modules needed to run `args`: just the named tool, or all of them for help and typos. */
export async function loadCommands(args: readonly string[]): Promise<ToolModule[]> {
  const first = args.find((a) => !a.startsWith('-'));
  const one = commandList.find(([name]) => name === first);
  if (!one && args.includes('--version') && !args.includes('--help')) return [];
  const wanted = one ? [one] : commandList;
  return Promise.all(wanted.map(([, load]) => load()));
}
