import type { Argv } from 'yargs';
import * as bdecode from './bdecode.js';
import * as torrent from './torrent.js';
import * as magnet from './magnet.js';
import * as tracker from './tracker.js';
import * as trackerServe from './tracker-serve.js';
import * as handshake from './handshake.js';
import * as metadata from './metadata.js';
import * as piece from './piece.js';
import * as comply from './comply.js';
import * as demo from './demo.js';
import * as download from './download.js';
import * as seed from './seed.js';
import * as trace from './trace.js';

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
export const commands: ToolModule[] = [demo, torrent, magnet, tracker, trackerServe, bdecode, comply, handshake, metadata, piece, download, seed, trace];
