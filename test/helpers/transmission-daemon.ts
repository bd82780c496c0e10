import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForTcp } from '../interop/tracker-util.js';
import { stopChild } from './child.js';

/**
 * transmission-daemon 3.00 on loopback for interop tests: its own config dir
 * under `dir`, free RPC and peer ports, no auth, no DHT/LPD/uTP/port mapping,
 * encryption tolerated (`-et`: plaintext handshakes answered in plaintext).
 * Stop it with `stop()` (SIGTERM, then SIGKILL after 5 s), by PID.
 */
export interface TransmissionDaemon {
  readonly proc: ChildProcess;
  readonly peerPort: number;
  rpc(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  status(): Promise<{ status: number; percentDone: number; peersConnected: number }>;
  /** Poll (bounded) until `ok(status)`. */
  waitStatus(ok: (s: { status: number; percentDone: number; peersConnected: number }) => boolean, ms: number, what: string): Promise<void>;
  stop(): Promise<void>;
}

/** RPC status of a torrent that is seeding (TR_STATUS_SEED). */
export const TR_SEEDING = 6;

/** `encryption`: 'tolerated' (default, -et) or 'required' (-er: MSE/PE only, as transmission's "encryption": 2). */
export async function startTransmissionDaemon(dir: string, opts: { encryption?: 'tolerated' | 'required' } = {}): Promise<TransmissionDaemon> {
  const rpcPort = await freePort();
  const peerPort = await freePort();
  const cfg = join(dir, 'transmission-cfg');
  mkdirSync(cfg, { recursive: true });
  const proc = spawn(
    'transmission-daemon',
    ['-g', cfg, '-f', '-p', String(rpcPort), '-P', String(peerPort), '-T', '-O', '-Y', '--no-utp', '-M', opts.encryption === 'required' ? '-er' : '-et', '-r', '127.0.0.1', '-i', '127.0.0.1', '-w', dir, '--log-error'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const stop = (): Promise<void> => stopChild(proc);
  try {
    await waitForTcp(rpcPort, 15_000);
  } catch (e) {
    await stop();
    throw new Error(`transmission-daemon did not open its RPC port: ${(e as Error).message}; stderr: ${stderr}`);
  }
  let session = '';
  const rpc = async (method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch(`http://127.0.0.1:${rpcPort}/transmission/rpc`, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': session, 'Content-Type': 'application/json' },
        body: JSON.stringify({ method, arguments: args }),
        signal: AbortSignal.timeout(5000),
      });
      if (res.status === 409) {
        session = res.headers.get('X-Transmission-Session-Id') ?? '';
        continue;
      }
      const j = (await res.json()) as { result: string; arguments: Record<string, unknown> };
      if (j.result !== 'success') throw new Error(`transmission RPC ${method}: ${j.result}`);
      return j.arguments;
    }
    throw new Error(`transmission RPC ${method}: no session id after 3 tries`);
  };
  const status = async () => {
    const r = await rpc('torrent-get', { fields: ['status', 'percentDone', 'peersConnected'] });
    return (r['torrents'] as { status: number; percentDone: number; peersConnected: number }[])[0]!;
  };
  const waitStatus: TransmissionDaemon['waitStatus'] = async (ok, ms, what) => {
    const until = Date.now() + ms;
    let s;
    for (let i = 0; i < 400 && Date.now() < until; i++) {
      s = await status();
      if (ok(s)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`transmission: ${what} not reached in ${ms} ms (last status ${JSON.stringify(s)})`);
  };
  return { proc, peerPort, rpc, status, waitStatus, stop };
}
