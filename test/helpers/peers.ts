import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * The real BitTorrent software the interop tests start on loopback. Where one is
 * missing, its tests are skipped loudly; under BTSCOPE_REQUIRE_PEERS=1 (.ci/run)
 * they fail instead.
 */
export const PEERS = {
  opentracker: () => onPath('opentracker'),
  aria2c: () => onPath('aria2c'),
  'transmission-cli': () => onPath('transmission-cli'),
  'transmission-create': () => onPath('transmission-create'),
  'transmission-show': () => onPath('transmission-show'),
  'transmission-daemon': () => onPath('transmission-daemon'),
  mktorrent: () => onPath('mktorrent'),
  tshark: () => onPath('tshark'),
  tcpdump: () => onPath('tcpdump'),
  libtorrent: () => hasLibtorrent(),
  rtorrent: () => onPath('rtorrent'),
  'qbittorrent-nox': () => onPath('qbittorrent-nox'),
} as const;

export type PeerName = keyof typeof PEERS;

export const REQUIRE_PEERS = process.env['BTSCOPE_REQUIRE_PEERS'] === '1';

/** Debian's python with the libtorrent bindings (a python3 on PATH may lack them). */
export const LIBTORRENT_PYTHON = '/usr/bin/python3';

function onPath(bin: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir && existsSync(`${dir}/${bin}`)) return true;
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(`${d}/${bin}`));
}

let libtorrentCache: boolean | undefined;
function hasLibtorrent(): boolean {
  if (libtorrentCache === undefined) {
    try {
      execFileSync(LIBTORRENT_PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore', timeout: 20_000 });
      libtorrentCache = true;
    } catch {
      libtorrentCache = false;
    }
  }
  return libtorrentCache;
}

/**
 * True when every named peer is installed. When one is missing: throws under
 * BTSCOPE_REQUIRE_PEERS=1, else warns on stderr and returns false (use with
 * `describe.skipIf(!havePeers(...))`).
 */
export function havePeers(...names: PeerName[]): boolean {
  const missing = names.filter((n) => !PEERS[n]());
  if (missing.length === 0) return true;
  const msg = `real peer(s) missing: ${missing.join(', ')} — these interop tests are SKIPPED (install with .ci/run)`;
  if (REQUIRE_PEERS) throw new Error(`${msg}; BTSCOPE_REQUIRE_PEERS=1 makes this a failure`);
  process.stderr.write(`\n*** ${msg} ***\n`);
  return false;
}
