import * as net from 'node:net';
import { WireFramer, parseMessage, encodeMessage, encodeHandshake, decodeHandshake, makeReserved, type Message, type Handshake } from '../../lib/wire/index.js';

/**
 * A scripted downloader for seeder tests: handshake with the bits we choose,
 * then messages out, and every message in recorded in order (so a test can
 * say "exactly one answer per request"). Built on lib/wire's codecs only.
 */
export class WireClient {
  readonly received: Message[] = [];
  remote: Handshake | undefined;
  closed = false;
  private readonly framer = new WireFramer({ maxFrameLength: 1024 * 1024 });
  private waiters = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) {
        if (f.kind === 'handshake') this.remote = decodeHandshake(f.bytes, f.offset).value;
        else {
          const m = parseMessage(f.bytes, f.offset);
          // Blocks are views into socket chunks: keep a copy.
          this.received.push(m.type === 'piece' ? { ...m, block: Uint8Array.from(m.block) } : m);
        }
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, infoHash: Uint8Array, bits: { fast?: boolean; extended?: boolean }): Promise<WireClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((res, rej) => {
      socket.once('connect', () => res());
      socket.once('error', rej);
    });
    const c = new WireClient(socket);
    const peerId = new Uint8Array(20).fill(7);
    socket.write(encodeHandshake({ reserved: makeReserved(bits), infoHash, peerId }));
    await c.until(() => c.remote !== undefined, 5000);
    return c;
  }

  send(...ms: Message[]): void {
    for (const m of ms) this.socket.write(encodeMessage(m));
  }

  /** Wait (bounded) until `pred` holds; returns whether it did. */
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return pred();
      await new Promise<void>((res) => {
        const t = setTimeout(done, left);
        function done(): void {
          clearTimeout(t);
          res();
        }
        this.waiters.add(done);
      });
    }
    return true;
  }

  of<T extends Message['type']>(type: T): Extract<Message, { type: T }>[] {
    return this.received.filter((m): m is Extract<Message, { type: T }> => m.type === type);
  }

  /** Pieces and rejects answering this request. */
  answers(r: { index: number; begin: number; length: number }): Message[] {
    return this.received.filter(
      (m) => (m.type === 'piece' && m.index === r.index && m.begin === r.begin && m.block.length === r.length) || (m.type === 'reject_request' && m.index === r.index && m.begin === r.begin && m.length === r.length),
    );
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = [...this.waiters];
    this.waiters.clear();
    for (const f of w) f();
  }
}
