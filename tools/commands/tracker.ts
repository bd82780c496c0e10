import type { Argv } from 'yargs';
import { existsSync, readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import type { Frame } from '../../lib/core/field.js';
import { parseMagnet } from '../../lib/magnet/parse.js';
import { announce, scrape } from '../../lib/tracker/client/announce.js';
import { formatPeer } from '../../lib/tracker/compact-peers.js';
import { TrackerError } from '../../lib/tracker/errors.js';
import { redactFrame } from '../../lib/tracker/redact.js';
import { maskSecrets, secretsOf } from '../../lib/tracker/url.js';
import type { AnnounceEvent, AnnounceResult, ScrapeResult, TrackerPeer } from '../../lib/tracker/types.js';
import { frameJson } from '../../lib/render/json.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { palette } from '../../lib/render/color.js';
import { EXIT } from '../exit-codes.js';
import { readInput } from '../input.js';
import { hexOptions, ioOf } from '../io.js';
import { renderTable } from '../table.js';
import { withFrames, withJson, withTimeout } from '../options.js';
import { readTorrent } from '../shared.js';
import { reservePort } from '../peer-source.js';
import { makePeerId } from '../../lib/peer/identity.js';

export const command = 'tracker <target>';
export const describe = 'Probe trackers (HTTP, HTTPS, UDP): announce or scrape, and show exactly what each one answered, or why it failed';

export function builder(y: Argv) {
  return withTimeout(withFrames(withJson(y)), 15)
    .positional('target', { type: 'string', demandOption: true, describe: 'A .torrent file, a magnet link, or an info-hash (40 hex, or 64 hex for v2)' })
    .option('tracker', { type: 'string', array: true, default: [], describe: 'Also probe this tracker URL (repeatable); the target\'s own trackers (every tier) are always probed' })
    .option('scrape', { type: 'boolean', default: false, describe: 'Scrape (BEP 48 / BEP 15) instead of announcing: seeders, leechers, downloaded' })
    .option('event', { choices: ['started', 'completed', 'stopped'] as const, describe: 'Announce event (default: none, a regular announce)' })
    .option('port', { type: 'number', describe: 'Port we announce (default: one held open on 127.0.0.1 during the probe, so a peer given our entry reaches nobody else)' })
    .option('numwant', { type: 'number', describe: 'Peers asked for (default: the tracker decides)' })
    .option('left', { type: 'number', describe: 'Bytes left to announce (default: the torrent size, 1 when unknown, 0 with --event completed|stopped)' })
    .option('show-secrets', { type: 'boolean', default: false, describe: 'Show passkeys in URLs and frames (masked as *** otherwise)' })
    .option('show-peers', { type: 'number', default: 50, describe: 'Peers listed under the table (--json lists all)' })
    .option('ca', { type: 'string', describe: 'Also trust this CA certificate (PEM file) for https:// trackers, e.g. a self-signed tracker\'s own cert. Certificates are always verified; NODE_EXTRA_CA_CERTS works too' })
    .example('$0 tracker x.torrent', 'announce to every tracker of the torrent, one table row each')
    .example('$0 tracker 0123...cdef --tracker udp://127.0.0.1:6969/announce --frames', 'every packet hex-annotated, step by step')
    .example('$0 tracker magnet:?xt=... --scrape --json | jq .results', 'seeders and leechers per tracker, for scripts')
    .epilogue(
      'Timeouts: --timeout caps each tracker\'s whole attempt; UDP retransmits after 15 s, 30 s, ... (BEP 15) within it.\n' +
        'Cleaning up: a plain announce (no --event) is followed by `stopped` to each tracker that answered, so the probe leaves no phantom peer in the swarm; with --event the announce is sent as asked and nothing else.\n' +
        'Exit codes: 0 at least one tracker answered; 1 none did; 2 usage (no trackers, bad target); 3 unreadable torrent or magnet.',
    );
}

interface Args {
  target: string;
  tracker: string[];
  scrape: boolean;
  event?: AnnounceEvent;
  port?: number;
  numwant?: number;
  left?: number;
  timeout: number;
  json: boolean;
  frames: boolean;
  'show-secrets': boolean;
  'show-peers': number;
  ca?: string;
  io?: unknown;
}

/** What is probed: one 20-byte info-hash and the trackers named with it. */
export interface ProbeTarget {
  infoHash: Uint8Array;
  /** Where the hash came from, e.g. `v1 info-hash`, `v2 info-hash truncated (BEP 52)`. */
  hashNote: string;
  trackers: string[];
  length?: number;
}

export async function resolveTarget(target: string): Promise<ProbeTarget> {
  const t = target.trim();
  if (/^[0-9a-fA-F]{40}$/.test(t)) return { infoHash: fromHex(t), hashNote: 'v1 info-hash', trackers: [] };
  if (/^[0-9a-fA-F]{64}$/.test(t)) return { infoHash: fromHex(t).slice(0, 20), hashNote: 'v2 info-hash truncated to 20 bytes (BEP 52)', trackers: [] };
  if (/^magnet:/i.test(t)) {
    const m = parseMagnet(t);
    const pick = pickHash(m.infoHash, m.infoHashV2);
    return { ...pick, trackers: [...m.trackers] };
  }
  if (!existsSync(target) && target !== '/dev/stdin') {
    throw new UsageError(`${target}: not a file, a magnet link, or a 40/64-hex info-hash`);
  }
  const torrent = readTorrent(await readInput(target), target);
  return { ...pickHash(torrent.infoHash, torrent.infoHashV2), trackers: torrent.trackers.flat(), length: torrent.length };
}

function pickHash(v1: Uint8Array | null, v2: Uint8Array | null): { infoHash: Uint8Array; hashNote: string } {
  if (v1) return { infoHash: v1, hashNote: v2 ? 'v1 info-hash (hybrid torrent)' : 'v1 info-hash' };
  if (v2) return { infoHash: v2.slice(0, 20), hashNote: 'v2 info-hash truncated to 20 bytes (BEP 52)' };
  throw new UsageError('the target has no info-hash');
}

interface ProbeRow {
  url: string;
  shown: string;
  protocol: string;
  ok: boolean;
  rttMs: number;
  result?: AnnounceResult;
  scrape?: ScrapeResult;
  error?: TrackerError | Error;
  frames: Frame[];
  /** Our entry taken out again by a `stopped` announce: true, false (sent, not answered), undefined (not sent). */
  stopped?: boolean;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const p = palette(io.color);
  const target = await resolveTarget(argv.target);
  const urls = [...new Set([...target.trackers, ...argv.tracker])];
  if (urls.length === 0) throw new UsageError('no trackers to probe: the target names none; add --tracker URL');
  const peerId = makePeerId();
  const event = argv.event;
  const left = argv.left ?? (event === 'completed' || event === 'stopped' ? 0 : (target.length ?? 1));
  const timeoutMs = Math.max(0.1, argv.timeout) * 1000;
  const ca = argv.ca !== undefined ? readCa(argv.ca) : undefined;
  const reqOpts = { timeoutMs, ...(ca ? { ca } : {}) };
  const show = (u: string): string => (argv['show-secrets'] ? u : maskSecrets(u));

  if (io.errIsTTY && !argv.json) io.err(`probing ${urls.length} tracker${urls.length === 1 ? '' : 's'} for ${toHex(target.infoHash)} …`);
  // Without --port, the port we announce is one we hold, so nobody else is dialled by a peer that gets our entry.
  const reservation = argv.port === undefined && !argv.scrape ? await reservePort() : undefined;
  const port = argv.port ?? reservation?.port ?? 0;
  // A plain probe takes its entry out again; --event is sent as asked, and only that.
  const cleanUp = !argv.scrape && event === undefined;
  try {
  const rows = await Promise.all(
    urls.map(async (url): Promise<ProbeRow> => {
      const started = performance.now();
      const protocol = /^(\w+):/.exec(url)?.[1]?.toLowerCase() ?? '?';
      const row: ProbeRow = { url, shown: show(url), protocol, ok: false, rttMs: 0, frames: [] };
      try {
        if (argv.scrape) row.scrape = await scrape(url, [target.infoHash], reqOpts);
        else {
          row.result = await announce(
            url,
            {
              infoHash: target.infoHash,
              peerId,
              port,
              uploaded: 0,
              downloaded: 0,
              left,
              ...(event ? { event } : {}),
              ...(argv.numwant !== undefined ? { numwant: argv.numwant } : {}),
            },
            reqOpts,
          );
        }
        row.ok = true;
        row.rttMs = performance.now() - started;
        row.frames = [...(row.result ?? row.scrape)!.frames];
        if (cleanUp) {
          const stop = await announce(url, { infoHash: target.infoHash, peerId, port, uploaded: 0, downloaded: 0, left, event: 'stopped', numwant: 0 }, { ...reqOpts, timeoutMs: Math.min(timeoutMs, 3000) }).then(
            (r) => r,
            () => undefined,
          );
          row.stopped = stop !== undefined;
          if (stop) row.frames.push(...stop.frames);
        }
      } catch (e) {
        row.error = e as Error;
        row.frames = e instanceof TrackerError ? e.frames : [];
        if (!(e instanceof TrackerError) && !(e instanceof Error)) throw e;
      }
      if (!row.ok) row.rttMs = performance.now() - started;
      if (!argv['show-secrets']) row.frames = row.frames.map((f) => redactFrame(f, secretsOf(url)));
      return row;
    }),
  );

  const answered = rows.filter((r) => r.ok).length;
  const stoppedCount = rows.filter((r) => r.stopped).length;
  const failure = answered > 0 ? undefined : `no tracker answered (${rows.map((r) => `${r.shown}: ${r.error ? errorText(r.error) : 'no answer'}`).join('; ')})`;
  if (failure) io.err(`btscope: ${failure}`);
  if (argv.json) {
    io.out(
      JSON.stringify(
        {
          ok: answered > 0,
          ...(failure ? { error: failure } : {}),
          infoHash: toHex(target.infoHash),
          port,
          cleanup: cleanUp ? (answered === 0 ? 'nothing to clean up' : `stopped sent to ${answered}, answered by ${stoppedCount}`) : argv.scrape ? 'none (scrape)' : `none (--event ${event})`,
          hashNote: target.hashNote,
          mode: argv.scrape ? 'scrape' : 'announce',
          results: rows.map((r) => jsonRow(r, argv.frames)),
        },
        null,
        2,
      ),
    );
    return answered > 0 ? EXIT.ok : EXIT.failure;
  }

  io.out(`${p.heading(argv.scrape ? 'scrape' : 'announce')} ${toHex(target.infoHash)} ${p.dim(`(${target.hashNote})`)}`);
  if (argv.frames) {
    for (const r of rows) {
      io.out(p.heading(`\n═══ ${r.shown} ═══`));
      for (const f of r.frames) io.out(renderHexFrame(f, hexOptions(io)));
      if (r.error) io.out(p.error(`✗ ${errorText(r.error)}`));
    }
    io.out('');
  }
  const tableRows: string[][] = [];
  const tableOptions = {
    head: argv.scrape
      ? ['tracker', 'proto', 'status', 'rtt', 'seeders', 'leechers', 'downloaded', 'error']
      : ['tracker', 'proto', 'status', 'rtt', 'interval', 'seeders', 'leechers', 'peers', 'error'],
    style: { head: io.color ? ['cyan'] : [], border: io.color ? ['grey'] : [] },
    wordWrap: true,
    wrapOnWordBoundary: false,
    colWidths: argv.scrape ? [36, null, null, null, null, null, null, 32] : [36, null, null, null, null, null, null, null, 32],
  };
  const n = (v: number | undefined): string => (v === undefined ? '-' : String(v));
  for (const r of rows) {
    const status = r.ok ? p.value('ok') : p.error('failed');
    const rtt = `${Math.round(r.rttMs)} ms`;
    const err = r.error ? errorText(r.error) : (r.result?.warning ? `warning: ${r.result.warning}` : '');
    if (argv.scrape) {
      const f = r.scrape?.files[0];
      tableRows.push([r.shown, r.protocol, status, rtt, n(f?.complete), n(f?.incomplete), n(f?.downloaded), err]);
    } else {
      const a = r.result;
      tableRows.push([r.shown, r.protocol, status, rtt, a ? `${a.interval} s` : '-', n(a?.complete), n(a?.incomplete), a ? String(a.peers.length) : '-', err]);
    }
  }
  io.out(renderTable(tableOptions, tableRows, io.columns));
  if (!argv.scrape) {
    const peers = uniquePeers(rows);
    if (peers.length > 0) {
      io.out(`\n${p.heading(`peers (${peers.length} unique)`)}`);
      for (const [addr, from] of peers.slice(0, argv['show-peers'])) io.out(`  ${addr.padEnd(47)} ${p.dim(`from ${from.join(', ')}`)}`);
      if (peers.length > argv['show-peers']) io.out(p.dim(`  … ${peers.length - argv['show-peers']} more (--show-peers N, or --json)`));
    }
  }
  io.out(`\n${answered} of ${rows.length} tracker${rows.length === 1 ? '' : 's'} answered`);
  if (cleanUp && answered > 0) {
    io.out(
      stoppedCount === answered
        ? `sent stopped to ${answered === 1 ? 'it' : `all ${answered}`}: the probe left no peer behind (port ${port})`
        : `sent stopped to ${answered}, ${answered - stoppedCount} did not answer it: our entry (port ${port}) stays there until it expires`,
    );
  }
  return answered > 0 ? EXIT.ok : EXIT.failure;
  } finally {
    await reservation?.release();
  }
}

function readCa(file: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (e) {
    throw new UsageError(`--ca ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca ${file}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  return pem;
}

function errorText(e: Error): string {
  if (e instanceof TrackerError) return `${e.code}: ${e.message}`;
  const code = (e as { code?: string }).code;
  return code ? `${code}: ${e.message}` : e.message;
}

function uniquePeers(rows: ProbeRow[]): Array<[string, string[]]> {
  const seen = new Map<string, string[]>();
  for (const [i, r] of rows.entries()) {
    for (const peer of r.result?.peers ?? []) {
      const k = formatPeer(peer);
      const list = seen.get(k) ?? [];
      list.push(`#${i + 1}`);
      seen.set(k, list);
    }
  }
  return [...seen.entries()];
}

function jsonRow(r: ProbeRow, frames: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    tracker: r.shown,
    protocol: r.protocol,
    ok: r.ok,
    error: r.error ? r.error.message : null,
    errorCode: r.error ? ((r.error as { code?: string }).code ?? null) : null,
    step: r.error instanceof TrackerError ? r.error.step : null,
    rttMs: Math.round(r.rttMs * 10) / 10,
    stopped: r.stopped ?? null,
  };
  if (r.result) {
    Object.assign(out, {
      interval: r.result.interval,
      minInterval: r.result.minInterval ?? null,
      complete: r.result.complete ?? null,
      incomplete: r.result.incomplete ?? null,
      downloaded: r.result.downloaded ?? null,
      warning: r.result.warning ?? null,
      peers: r.result.peers.map((x: TrackerPeer) => formatPeer(x)),
    });
  } else if (r.scrape) {
    const f = r.scrape.files[0];
    Object.assign(out, { interval: null, complete: f?.complete ?? null, incomplete: f?.incomplete ?? null, downloaded: f?.downloaded ?? null, peers: [] });
  } else {
    Object.assign(out, { interval: null, complete: null, incomplete: null, downloaded: null, peers: [] });
  }
  if (frames) out['frames'] = r.frames.map(frameJson);
  return out;
}
