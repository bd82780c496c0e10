import { describe, expect, it } from 'vitest';
import { RateMeter } from '../../lib/engine/rate.js';
import { formatDuration, renderProgress } from '../../tools/progress.js';

describe('RateMeter', () => {
  it('measures bytes per second over its window and forgets old samples', () => {
    const r = new RateMeter(1000, 10);
    r.add(1000, 0);
    r.add(1000, 500);
    expect(r.rate(950)).toBeCloseTo((2000 * 1000) / 950, 5);
    expect(r.rate(1000)).toBeCloseTo(1000, 5); // the first sample has left the window
    expect(r.total).toBe(2000);
    expect(r.rate(2600)).toBe(0);
    r.add(500, 2700);
    expect(r.rate(3000)).toBeCloseTo(500, 5);
  });

  it('is 0 before any sample', () => {
    expect(new RateMeter().rate(123)).toBe(0);
  });
});

describe('renderProgress', () => {
  it('shows bar, percent, bytes, rate, peers and ETA in 80 columns', () => {
    const line = renderProgress({ done: 512 * 1024, total: 1024 * 1024, rate: 256 * 1024, peers: 3 }, 80);
    expect(line).toContain(' 50.0%');
    expect(line).toContain('512 KiB/1.00 MiB');
    expect(line).toContain('256 KiB/s');
    expect(line).toContain('3 peers');
    expect(line).toContain('ETA 2s');
    expect(line.length).toBeLessThanOrEqual(80);
  });

  it('says done at the end and never divides by zero', () => {
    expect(renderProgress({ done: 0, total: 0, rate: 0, peers: 0 })).toContain('done');
    expect(renderProgress({ done: 1, total: 10, rate: 0, peers: 1 })).toContain('ETA --');
  });

  it.each([
    [0, '0s'],
    [59.4, '59s'],
    [61, '1m01s'],
    [3725, '1h02m'],
    [Infinity, '--'],
  ])('formatDuration(%s) = %s', (s, want) => {
    expect(formatDuration(s)).toBe(want);
  });
});
