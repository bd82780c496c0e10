import { formatBytes } from '../lib/core/bytes.js';
import { formatDuration } from './progress.js';
import type { Io } from './io.js';

/**
 * The progress line of `create` and `verify` (hashing, no peers): bar, percent,
 * bytes, rate, ETA. Only on a TTY stderr, redrawn at most 10 times a second;
 * `end()` clears it.
 */
export function hashProgress(io: Io, enabled: boolean, verb: string): { update(done: number, total: number): void; end(): void } {
  if (!enabled || !io.errIsTTY) return { update: () => {}, end: () => {} };
  const t0 = performance.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = performance.now();
      if (now - last < 100 && done < total) return;
      last = now;
      drawn = true;
      process.stderr.write(`\r${renderHashProgress(verb, done, total, (done / Math.max(1e-3, now - t0)) * 1000, process.stderr.columns || 80)}`);
    },
    end() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

export function renderHashProgress(verb: string, done: number, total: number, rate: number, width = 80): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const eta = done >= total ? 'done' : rate > 0 ? formatDuration((total - done) / rate) : '--';
  const tail = ` ${(frac * 100).toFixed(1).padStart(5)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(Math.round(rate))}/s ETA ${eta}`;
  const barWidth = Math.max(10, Math.min(40, width - tail.length - verb.length - 4));
  const filled = Math.round(frac * barWidth);
  return `${verb} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
}
