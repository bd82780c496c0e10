import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitForTcp } from '../interop/tracker-util.js';
import { stopChild } from './child.js';

export interface Qbittorrent {
  readonly proc: ChildProcess;
  /** Its peer port on 127.0.0.1. */
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * qbittorrent-nox 4.5 (libtorrent 2.0 underneath) seeding `torrentPath` from
 * `dir` on loopback, headless: its own profile under `dir` with the legal
 * notice accepted, peer port and WebUI on 127.0.0.1, DHT/LSD/PeX/uTP/UPnP
 * off; `encryption` 0 allows it, 1 requires it (Session\\Encryption), 2
 * disables it (default). Resolves once the WebUI API (no auth from
 * localhost) says it seeds (bounded: 20 s). Stopped by PID.
 */
export async function startQbittorrent(dir: string, torrentPath: string, opts: { encryption?: 0 | 1 | 2 } = {}): Promise<Qbittorrent> {
  const port = await freePort();
  const webui = await freePort();
  const cfg = path.join(dir, 'profile', 'qBittorrent', 'config');
  await mkdir(cfg, { recursive: true });
  const conf = [
    '[LegalNotice]',
    'Accepted=true',
    '[BitTorrent]',
    `Session\\Port=${port}`,
    'Session\\Interface=lo',
    'Session\\InterfaceAddress=127.0.0.1',
    'Session\\DHTEnabled=false',
    'Session\\LSDEnabled=false',
    'Session\\PeXEnabled=false',
    `Session\\Encryption=${opts.encryption ?? 2}`,
    'Session\\uTPEnabled=false',
    `Session\\DefaultSavePath=${dir}`,
    '[Preferences]',
    `WebUI\\Port=${webui}`,
    'WebUI\\Address=127.0.0.1',
    'WebUI\\LocalHostAuth=false',
    'WebUI\\UPnP=false',
    'Connection\\UPnP=false',
  ];
  await writeFile(path.join(cfg, 'qBittorrent.conf'), conf.join('\n') + '\n');
  const proc = spawn('qbittorrent-nox', [`--profile=${path.join(dir, 'profile')}`, `--save-path=${dir}`, torrentPath], { stdio: 'ignore' });
  const stop = (): Promise<void> => stopChild(proc);
  try {
    await waitForTcp(webui, 20_000);
    await waitForTcp(port, 10_000);
    for (let i = 0; ; i++) {
      const info = await fetch(`http://127.0.0.1:${webui}/api/v2/torrents/info`, { signal: AbortSignal.timeout(3000) })
        .then((r) => r.json() as Promise<Array<{ state: string; progress: number }>>)
        .catch(() => []);
      if (info[0] && info[0].progress === 1 && /^(stalledUP|uploading|forcedUP)$/.test(info[0].state)) break;
      if (i >= 100) throw new Error(`qbittorrent-nox not seeding after 20 s: ${JSON.stringify(info[0] ?? null)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, port, stop };
}
