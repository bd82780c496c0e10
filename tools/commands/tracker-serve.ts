import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { formatEndpoint } from '../../lib/core/address.js';
import { parseWhitelist, startTracker, type RunningTracker, type TrackerNotice, type TrackerStats } from '../../lib/tracker/server/index.js';
import { EXIT } from '../exit-codes.js';
import { ioOf, type Io } from '../io.js';
import { withJson } from '../options.js';

export const command = 'tracker-serve';
export const describe = 'Run a local BitTorrent tracker (HTTP and UDP; BEP 3/7/15/23/48) and log its announces';

const LOG_MODES = ['every', 'summary', 'none'] as const;
type LogMode = (typeof LOG_MODES)[number];

export function builder(y: Argv) {
  return withJson(y)
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on (::1 for IPv6, :: for IPv4 and IPv6)' })
    .option('port', { type: 'number', default: 0, describe: 'Port for HTTP (TCP) and UDP alike; 0 picks free ports' })
    .option('http', { type: 'boolean', default: true, describe: 'Serve HTTP (--no-http to turn off)' })
    .option('udp', { type: 'boolean', default: true, describe: 'Serve UDP (--no-udp to turn off)' })
    .option('interval', { type: 'number', default: 1800, describe: 'Re-announce interval asked of clients, seconds; silent peers go after twice that' })
    .option('log', { choices: LOG_MODES, default: 'every' as LogMode, describe: 'every: a line per announce (buffered); summary: one line a second with counts; none' })
    .option('whitelist', { type: 'string', describe: 'Serve only the info-hashes in FILE (40 hex a line, as opentracker); SIGHUP reloads it' })
    .option('max-peers', { type: 'number', default: 2_000_000, describe: 'Peers in all torrents together; past it new peers are refused (logged once)' })
    .option('max-peers-per-swarm', { type: 'number', default: 1_000_000, describe: 'Peers in one torrent; past it new peers are refused (logged once)' })
    .option('connect-rate', { type: 'number', default: 50, describe: 'UDP connects a second per source address (after a burst of 4x); the rest are dropped' })
    .option('duration', { type: 'number', describe: 'Stop after this many seconds (default: until Ctrl-C)' })
    .example('$0 tracker-serve --port 6969', 'http://127.0.0.1:6969/announce and udp://127.0.0.1:6969/announce')
    .example('$0 tracker-serve --json --duration 60', 'one JSON line per announce, for a minute')
    .example('$0 tracker-serve --port 6969 --log summary --whitelist hashes.txt', 'counts once a second; kill -HUP reloads hashes.txt');
}

interface Args {
  host: string;
  port: number;
  http: boolean;
  udp: boolean;
  interval: number;
  log?: LogMode;
  whitelist?: string;
  'max-peers'?: number;
  'max-peers-per-swarm'?: number;
  'connect-rate'?: number;
  duration?: number;
  json: boolean;
  io?: unknown;
  /** Tests stop the server with this instead of a signal. */
  signal?: AbortSignal;
}

/** Lines gathered and written together: a line per announce must not cost a write each. */
class LineBuffer {
  private lines: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly io: Io) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length >= 1000) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 100);
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const text = this.lines.join('\n');
    this.lines = [];
    this.io.out(text);
  }
}

function wholeNumber(name: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new UsageError(`--${name} ${v}: must be a whole number from ${min} to ${max}`);
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const mode: LogMode = argv.log ?? 'every';
  if (!LOG_MODES.includes(mode)) throw new UsageError(`--log ${String(mode)}: must be one of ${LOG_MODES.join(', ')}`);
  wholeNumber('port', argv.port, 0, 65535);
  wholeNumber('interval', argv.interval, 1);
  wholeNumber('max-peers', argv['max-peers'], 1);
  wholeNumber('max-peers-per-swarm', argv['max-peers-per-swarm'], 1);
  wholeNumber('connect-rate', argv['connect-rate'], 1);
  if (argv.duration !== undefined && !(argv.duration >= 0)) throw new UsageError(`--duration ${argv.duration}: must be a number of seconds`);
  const out = new LineBuffer(io);
  const line = (o: Record<string, unknown>, text: string): void => out.push(argv.json ? JSON.stringify(o) : text);
  const now = (): string => new Date().toISOString();

  const readWhitelist = (file: string): Set<string> => {
    const list = parseWhitelist(readFileSync(file, 'utf8'));
    for (const b of list.bad) io.err(`btscope: ${file}:${b.line}: not a 40-hex info-hash, skipped: ${b.text}`);
    return list.hashes;
  };
  const whitelist = argv.whitelist !== undefined ? readWhitelist(argv.whitelist) : undefined;

  let tracker: RunningTracker | undefined;
  const rate = argv['connect-rate'] ?? 50;
  tracker = await startTracker({
    host: argv.host,
    port: argv.port,
    http: argv.http,
    udp: argv.udp,
    interval: argv.interval,
    maxPeers: argv['max-peers'] ?? 2_000_000,
    maxPeersPerSwarm: argv['max-peers-per-swarm'] ?? 1_000_000,
    connectRate: rate,
    connectBurst: rate * 4,
    ...(whitelist ? { whitelist } : {}),
    onNotice: (n) => line({ type: 'limit', time: now(), ...n }, `${now()} limit ${noticeText(n)}`),
    ...(mode === 'every'
      ? {
          onAnnounce: (a) => {
            const swarm = tracker?.swarms.get(toHex(a.infoHash));
            const peer = formatEndpoint(a.ip, a.port);
            const [complete, incomplete] = [swarm?.complete ?? 0, swarm?.incomplete ?? 0];
            const t = now();
            line(
              { type: 'announce', time: t, protocol: a.protocol, infoHash: toHex(a.infoHash), peer, peerId: toHex(a.peerId), event: a.event ?? null, complete, incomplete },
              `${t} ${a.protocol.padEnd(4)} ${toHex(a.infoHash)} ${peer.padEnd(22)} ${(a.event ?? '-').padEnd(9)} seeders ${complete} leechers ${incomplete}`,
            );
          },
        }
      : {}),
  });
  const running = tracker;
  line({ type: 'listening', url: running.url || null, udpUrl: running.udpUrl || null }, [running.url, running.udpUrl].filter(Boolean).map((u) => `listening on ${u}`).join('\n'));
  if (whitelist) line({ type: 'whitelist', file: argv.whitelist, hashes: whitelist.size }, `whitelist: ${whitelist.size} info-hash${whitelist.size === 1 ? '' : 'es'} from ${argv.whitelist}`);
  out.flush();

  const reload = (): void => {
    try {
      const hashes = readWhitelist(argv.whitelist!);
      running.setWhitelist(hashes);
      line({ type: 'whitelist', file: argv.whitelist, hashes: hashes.size, reloaded: true }, `whitelist reloaded: ${hashes.size} info-hash${hashes.size === 1 ? '' : 'es'} from ${argv.whitelist}`);
    } catch (e) {
      io.err(`btscope: whitelist not reloaded, the old one stays: ${(e as Error).message}`);
    }
    out.flush();
  };
  if (argv.whitelist !== undefined) process.on('SIGHUP', reload);

  let last = { ...running.stats };
  let lastAt = performance.now();
  const summary =
    mode === 'summary'
      ? setInterval(() => {
          const s = running.stats;
          const d = delta(s, last);
          const at = performance.now();
          const seconds = (at - lastAt) / 1000;
          last = { ...s };
          lastAt = at;
          if (Object.values(d).every((v) => v === 0)) return;
          const rss = process.memoryUsage.rss();
          const announces = d.udpAnnounces + d.httpAnnounces;
          line(
            { type: 'summary', time: now(), seconds: Number(seconds.toFixed(3)), ...d, torrents: running.swarms.size, peers: running.swarms.peerCount, rssBytes: rss },
            `${now()} ${Math.round(announces / seconds)} announces/s (udp ${d.udpAnnounces}, http ${d.httpAnnounces}), ${d.scrapes} scrapes, ${d.connects} connects, ` +
              `${d.refused} refused, ${d.rateLimited} rate-limited, ${d.badConnectionIds} bad ids, ${d.expired} expired; ` +
              `${plural(running.swarms.size, 'torrent')}, ${plural(running.swarms.peerCount, 'peer')}, rss ${Math.round(rss / 2 ** 20)} MiB`,
          );
        }, 1000)
      : undefined;

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (timer) clearTimeout(timer);
      resolve();
    };
    const timer = argv.duration !== undefined ? setTimeout(stop, argv.duration * 1000) : undefined;
    if (argv.signal) {
      if (argv.signal.aborted) stop();
      else argv.signal.addEventListener('abort', stop, { once: true });
    } else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
  });
  if (summary) clearInterval(summary);
  process.off('SIGHUP', reload);
  await running.close();
  const s = running.stats;
  line(
    { type: 'stopped', torrents: running.swarms.size, ...(mode === 'every' ? {} : { totals: { ...s } }) },
    `stopped; ${running.swarms.size} torrent${running.swarms.size === 1 ? '' : 's'} seen` +
      (mode === 'every' ? '' : `; ${s.udpAnnounces} UDP and ${s.httpAnnounces} HTTP announces, ${s.scrapes} scrapes, ${s.connects} connects, ${s.rateLimited} rate-limited`),
  );
  out.flush();
  return EXIT.ok;
}

function delta(now: TrackerStats, before: TrackerStats): TrackerStats {
  const out = { ...now };
  for (const k of Object.keys(out) as Array<keyof TrackerStats>) out[k] = now[k] - before[k];
  return out;
}

function noticeText(n: TrackerNotice): string {
  if (n.kind === 'swarm_full') return `torrent ${n.infoHash} has ${n.limit} peers (--max-peers-per-swarm): new peers refused until some leave or expire`;
  return n.what === 'peers'
    ? `${n.limit} peers in all torrents (--max-peers): new peers refused until some leave or expire`
    : `${n.limit} torrents: new torrents refused until some empty out`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
