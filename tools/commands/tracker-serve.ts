import type { Argv } from 'yargs';
import { toHex } from '../../lib/core/bytes.js';
import { startTracker } from '../../lib/tracker/server/index.js';
import { EXIT } from '../exit-codes.js';
import { ioOf } from '../io.js';
import { withJson } from '../options.js';

export const command = 'tracker-serve';
export const describe = 'Run a local BitTorrent tracker (HTTP and UDP; BEP 3/7/15/23/48) and log every announce';

export function builder(y: Argv) {
  return withJson(y)
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on (::1 for IPv6)' })
    .option('port', { type: 'number', default: 0, describe: 'Port for HTTP (TCP) and UDP alike; 0 picks free ports' })
    .option('http', { type: 'boolean', default: true, describe: 'Serve HTTP (--no-http to turn off)' })
    .option('udp', { type: 'boolean', default: true, describe: 'Serve UDP (--no-udp to turn off)' })
    .option('interval', { type: 'number', default: 1800, describe: 'Re-announce interval asked of clients, seconds' })
    .option('duration', { type: 'number', describe: 'Stop after this many seconds (default: until Ctrl-C)' })
    .example('$0 tracker-serve --port 6969', 'http://127.0.0.1:6969/announce and udp://127.0.0.1:6969/announce')
    .example('$0 tracker-serve --json --duration 60', 'one JSON line per announce, for a minute');
}

interface Args {
  host: string;
  port: number;
  http: boolean;
  udp: boolean;
  interval: number;
  duration?: number;
  json: boolean;
  io?: unknown;
  /** Tests stop the server with this instead of a signal. */
  signal?: AbortSignal;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const line = (o: Record<string, unknown>, text: string): void => io.out(argv.json ? JSON.stringify(o) : text);
  const tracker = await startTracker({
    host: argv.host,
    port: argv.port,
    http: argv.http,
    udp: argv.udp,
    interval: argv.interval,
    onAnnounce: (a) => {
      const swarm = tracker?.swarms.get(toHex(a.infoHash));
      const peer = a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
      line(
        { type: 'announce', time: new Date().toISOString(), protocol: a.protocol, infoHash: toHex(a.infoHash), peer, peerId: toHex(a.peerId), event: a.event ?? null, complete: swarm?.complete ?? 0, incomplete: swarm?.incomplete ?? 0 },
        `${new Date().toISOString()} ${a.protocol.padEnd(4)} ${toHex(a.infoHash)} ${peer.padEnd(22)} ${(a.event ?? '-').padEnd(9)} seeders ${swarm?.complete ?? 0} leechers ${swarm?.incomplete ?? 0}`,
      );
    },
  });
  line({ type: 'listening', url: tracker.url || null, udpUrl: tracker.udpUrl || null }, [tracker.url, tracker.udpUrl].filter(Boolean).map((u) => `listening on ${u}`).join('\n'));
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
  await tracker.close();
  line({ type: 'stopped', torrents: tracker.swarms.size }, `stopped; ${tracker.swarms.size} torrent${tracker.swarms.size === 1 ? '' : 's'} seen`);
  return EXIT.ok;
}
