import { spawn } from 'node:child_process';
import { UsageError } from '../lib/core/errors.js';

/** What to do when there is no tcpdump: said in the error, so the user need not look it up. */
const INSTALL_HINT =
  'install tcpdump (Debian/Ubuntu: apt-get install tcpdump; Fedora: dnf install tcpdump; macOS: built in), or pipe any capture in: tcpdump -w - ... | btscope trace -';

export interface LiveCapture {
  /** pcap bytes as tcpdump writes them (packet-buffered: -U), until it is stopped or fails. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Ends the capture (SIGTERM to tcpdump's PID: it writes what it holds and exits). */
  stop(): void;
}

/**
 * `trace --interface IF [--bpf FILTER]`: tcpdump writing pcap to its stdout, read as a
 * stream. Resolves once tcpdump runs; a missing tcpdump is a UsageError naming what to
 * install, and tcpdump failing (no such interface, no permission) ends the stream with
 * its own last words.
 */
export async function startTcpdump(iface: string, bpf: string | undefined, onNote: (line: string) => void): Promise<LiveCapture> {
  const args = ['-i', iface, '-s', '0', '-n', '-U', '--immediate-mode', '-w', '-', ...(bpf ? [bpf] : [])];
  const child = spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stopped = false;
  let lastWords = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    for (const line of d.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'tcpdump:')) {
      lastWords = line;
      onNote(line.startsWith('tcpdump:') ? line : `tcpdump: ${line}`);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new UsageError(`--interface ${iface}: tcpdump is not installed (not on PATH): ${INSTALL_HINT}`) : e),
    );
  });
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      const code = await exited;
      if (!stopped && code !== 0) throw new UsageError(`--interface ${iface}${bpf ? ` --bpf ${JSON.stringify(bpf)}` : ''}: tcpdump failed (exit ${code}): ${lastWords.replace(/^tcpdump: /, '') || 'no message'}`);
    } finally {
      // The reader stopped early (an error, or stdout closed): tcpdump goes too.
      stop();
      await exited;
    }
  }
  return { chunks: chunks(), stop };
}
