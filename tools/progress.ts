import { formatBytes } from '../lib/core/bytes.js';

/** What the progress line shows (the downloader's onProgress fills it in). */
export interface ProgressState {
  done: number;
  total: number;
  /** Bytes per second now. */
  rate: number;
  peers: number;
  /** Peers that sent us data at least once. */
  seeding?: number;
  hashFailures?: number;
}

/**
 * One progress line for a TTY: bar, percent, bytes, rate, peers, ETA. Pure: the
 * caller decides where and when (stderr, only on a TTY, redrawn with \r).
 */
export function renderProgress(s: ProgressState, width = 80): string {
  const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 1;
  const pct = `${(frac * 100).toFixed(1).padStart(5)}%`;
  const eta = s.rate > 0 && s.done < s.total ? formatDuration((s.total - s.done) / s.rate) : s.done >= s.total ? 'done' : '--';
  const tail = ` ${pct} ${formatBytes(s.done)}/${formatBytes(s.total)} ${formatBytes(Math.round(s.rate))}/s ${s.peers} peer${s.peers === 1 ? '' : 's'}${
    s.hashFailures ? ` ${s.hashFailures} bad` : ''
  } ETA ${eta}`;
  const barWidth = Math.max(10, Math.min(40, width - tail.length - 3));
  const filled = Math.round(frac * barWidth);
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
