import type { Argv } from 'yargs';
import { decode } from '../../lib/bencode/decode.js';
import { bencodeFields } from '../../lib/bencode/fields.js';
import { DecodeError } from '../../lib/core/errors.js';
import { describeNotBencode } from '../../lib/core/sniff.js';
import type { Frame } from '../../lib/core/field.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { renderTree } from '../../lib/render/tree.js';
import { diagnosticJson } from '../../lib/render/json.js';
import { withFrames, withJson } from '../options.js';
import { hexOptions, ioOf } from '../io.js';
import { readInput } from '../input.js';
import { EXIT } from '../exit-codes.js';
import { jsonOf } from '../shared.js';

export const command = 'bdecode <file>';
export const describe = 'Decode any bencoded data (file or - for stdin) as an annotated tree, hex frames or JSON';

export function builder(y: Argv) {
  return withFrames(withJson(y))
    .positional('file', { type: 'string', demandOption: true, describe: 'Bencoded file, or - for stdin' })
    .option('strict', { type: 'boolean', default: false, describe: 'Fail on any non-canonical form instead of reporting it' })
    .example('$0 bdecode samples/demo.torrent', 'tree of keys and values with byte spans')
    .example('$0 bdecode --json x.torrent | jq .info.name', 'JSON; byte strings that are not UTF-8 become {"hex": "..."}');
}

interface Args {
  file: string;
  json: boolean;
  frames: boolean;
  strict: boolean;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const bytes = await readInput(argv.file);
  const doc = decodeNamed(bytes, argv.file === '/dev/stdin' ? 'stdin' : argv.file);
  if (argv.strict && doc.diagnostics.length > 0) {
    const d = doc.diagnostics[0]!;
    throw new DecodeError(d.code, d.span.start, `not canonical bencode: ${d.message}`);
  }
  if (argv.json) {
    io.out(JSON.stringify({ value: jsonOf(doc.root), diagnostics: doc.diagnostics.map(diagnosticJson) }, null, 2));
    return EXIT.ok;
  }
  const frame: Frame = { title: argv.file === '-' ? 'stdin' : argv.file, bytes, base: 0, fields: [bencodeFields(doc, 'root')] };
  io.out(argv.frames ? renderHexFrame(frame, { color: io.color }) : renderTree(frame, hexOptions(io)));
  for (const d of doc.diagnostics) io.err(`warning: ${d.code} at byte ${d.span.start}: ${d.message}`);
  return EXIT.ok;
}

/** Decode; input that is not bencode at all is named for what it looks like (HTML, gzip, empty...). */
function decodeNamed(bytes: Uint8Array, label: string) {
  try {
    return decode(bytes);
  } catch (e) {
    const what = e instanceof DecodeError ? describeNotBencode(bytes, e.offset) : undefined;
    if (what) throw new DecodeError('not_bencode', (e as DecodeError).offset, `${label} is ${what}`);
    throw e;
  }
}
