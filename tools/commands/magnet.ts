import type { Argv } from 'yargs';
import { toHex } from '../../lib/core/bytes.js';
import { DecodeError } from '../../lib/core/errors.js';
import { parseMagnet } from '../../lib/magnet/parse.js';
import type { MagnetLink } from '../../lib/metainfo/types.js';
import { palette } from '../../lib/render/color.js';
import { EXIT } from '../exit-codes.js';
import { ioOf } from '../io.js';
import { withJson } from '../options.js';

export const command = 'magnet <uri>';
export const describe = 'Decode a magnet link (BEP 9, BEP 53): info-hashes v1/v2, name, trackers, web seeds, peers, selected files';

export function builder(y: Argv) {
  return withJson(y)
    .positional('uri', { type: 'string', demandOption: true, describe: 'The magnet link (quote it: it holds & characters)' })
    .example('$0 magnet "magnet:?xt=urn:btih:...&dn=name&tr=udp://..."', 'what the link names')
    .example('$0 magnet --json "magnet:?xt=..." | jq -r .infoHash', 'JSON for scripts')
    .epilogue('Exit codes: 0 ok; 3 not a magnet link or a malformed one (the message names the character offset).');
}

interface Args {
  uri: string;
  json: boolean;
  io?: unknown;
}

export function magnetJson(m: MagnetLink): Record<string, unknown> {
  return {
    infoHash: m.infoHash ? toHex(m.infoHash) : null,
    infoHashV2: m.infoHashV2 ? toHex(m.infoHashV2) : null,
    name: m.name ?? null,
    trackers: m.trackers,
    webSeeds: m.webSeeds,
    peers: m.peers,
    selectOnly: m.selectOnly ?? null,
  };
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  let m: MagnetLink;
  try {
    m = parseMagnet(String(argv.uri));
  } catch (e) {
    if (e instanceof DecodeError) throw new DecodeError(e.code, e.offset, `magnet link: ${e.message}`, e.path);
    throw e;
  }
  if (argv.json) {
    io.out(JSON.stringify(magnetJson(m), null, 2));
    return EXIT.ok;
  }
  const p = palette(io.color);
  const out: string[] = [];
  const row = (k: string, v: string): void => void out.push(`${p.label(k.padEnd(13))}${v}`);
  const kind = m.infoHash && m.infoHashV2 ? 'hybrid (v1 + v2)' : m.infoHashV2 ? 'v2 (BEP 52)' : 'v1';
  out.push(p.heading(`magnet link: ${kind}`));
  if (m.infoHash) row('info-hash v1', toHex(m.infoHash));
  if (m.infoHashV2) row('info-hash v2', toHex(m.infoHashV2));
  if (m.infoHashV2) row('', p.dim(`(peers and trackers use its first 20 bytes: ${toHex(m.infoHashV2.subarray(0, 20))})`));
  row('name', m.name !== undefined ? JSON.stringify(m.name) : p.dim('none (dn absent): learnt from peers via BEP 9'));
  if (m.trackers.length === 0) row('trackers', 'none (DHT or x.pe peers only)');
  m.trackers.forEach((t, i) => row(i === 0 ? 'trackers' : '', t));
  m.webSeeds.forEach((u, i) => row(i === 0 ? 'web seeds' : '', u));
  m.peers.forEach((u, i) => row(i === 0 ? 'peers (x.pe)' : '', u));
  if (m.selectOnly) row('select only', `files ${m.selectOnly.join(', ')} (BEP 53)`);
  io.out(out.join('\n'));
  return EXIT.ok;
}
