import type { Tracer } from './engine.js';
import type { StreamSummary } from './types.js';
import type { Transport, TransportListener } from '../transport/transport.js';
import { dialTcp, listenTcp } from '../transport/tcp.js';
import { acceptEncryption, mseInitiate, WrappedTransport } from '../transport/mse.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4 } from '../mse/constants.js';

export interface ProxyOptions {
  listenHost?: string;
  listenPort: number;
  forwardHost: string;
  forwardPort: number;
  /** Close a connection idle this long (ms); 0 = never. */
  idleMs?: number;
  /**
   * The torrents' info-hashes (from --torrent): MSE/PE is terminated on both
   * sides (the client's MSE answered with SKEY, the peer dialled with MSE too),
   * so the tracer sees the decrypted stream. Without them bytes pass as they are.
   */
  infoHashes?: readonly Uint8Array[];
  onListening?(port: number): void;
  onClose?(summary: StreamSummary): void;
  onError?(message: string): void;
}

/**
 * The live tracer: a proxy between a client and a peer, over transports. Each
 * accepted connection is dialled through to the forward address; the bytes of
 * both directions go to the tracer as they pass (`out` = from the client).
 * Backpressure is kept: a slow side pauses the other.
 */
export async function startTraceProxy(tracer: Tracer, opts: ProxyOptions): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<Transport>();
  const relay = async (accepted: Transport): Promise<void> => {
    open.add(accepted);
    let client: Transport = accepted;
    let upstream: Transport | undefined;
    try {
      if (opts.infoHashes?.length) {
        client = await acceptEncryption(accepted, { policy: 'prefer', infoHashes: () => opts.infoHashes! });
      }
      const raw = await dialTcp(opts.forwardHost, opts.forwardPort, { timeoutMs: 10_000 });
      open.add(raw);
      upstream = raw;
      // The client spoke MSE: so do we to the peer (it may insist on it), RC4 preferred.
      const mse = client instanceof WrappedTransport ? client.mse : undefined;
      if (mse) upstream = await mseInitiate(raw, { infoHash: mse.infoHash, provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT });
    } catch (e) {
      opts.onError?.(`${accepted.peer}: ${(e as Error).message}`);
      accepted.close();
      upstream?.close();
      return;
    }
    const up = upstream;
    const live = tracer.openLiveStream(accepted.peer, `${opts.forwardHost.includes(':') ? `[${opts.forwardHost}]` : opts.forwardHost}:${opts.forwardPort}`);
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(idle);
      accepted.close();
      up.close();
      open.delete(accepted);
      open.delete(up);
      opts.onClose?.(live.end());
    };
    const touch = (): void => {
      if (!opts.idleMs) return;
      clearTimeout(idle);
      idle = setTimeout(finish, opts.idleMs);
    };
    const pipe = (from: Transport, to: Transport, dir: 'out' | 'in'): void => {
      from.setHandlers({
        data: (chunk) => {
          touch();
          live.data(dir, chunk);
          if (!to.write(chunk)) from.pause();
        },
        // `from` can take more: the side writing to it may go on.
        drain: () => (from === client ? up : client).resume(),
        close: (e) => {
          if (e) opts.onError?.(`${dir === 'out' ? 'client' : 'peer'}: ${e.message}`);
          finish();
        },
      });
    };
    pipe(client, up, 'out');
    pipe(up, client, 'in');
    touch();
  };
  let listener: TransportListener;
  listener = await listenTcp({ host: opts.listenHost ?? '127.0.0.1', port: opts.listenPort }, (t) => void relay(t));
  opts.onListening?.(listener.port);
  return {
    port: listener.port,
    close: async () => {
      for (const t of open) t.close();
      await listener.close();
    },
  };
}
