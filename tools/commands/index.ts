import type { Argv } from 'yargs';
import * as bdecode from './bdecode.js';
import * as torrent from './torrent.js';
import * as magnet from './magnet.js';

/** What every tool module exports (webdriverio's command modules). */
export interface ToolModule {
  command: string | readonly string[];
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  builder: (y: Argv) => Argv<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (argv: any) => Promise<number | void>;
}

/** Every btscope tool, in the order `btscope --help` lists them. Adding a tool is one line here. */
export const commands: ToolModule[] = [torrent, magnet, bdecode];
