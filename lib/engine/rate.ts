/**
 * A transfer rate over a sliding window (bytes per second), in fixed slots so
 * memory is constant however long the transfer runs. Time is passed in (ms),
 * so tests need no clock.
 */
export class RateMeter {
  private readonly slots: Float64Array;
  private readonly slotMs: number;
  private slotAt = -1;
  private firstAt = -1;
  total = 0;

  constructor(windowMs = 5000, slots = 10) {
    this.slots = new Float64Array(slots);
    this.slotMs = windowMs / slots;
  }

  add(bytes: number, nowMs: number): void {
    this.advance(nowMs);
    this.slots[this.slotAt % this.slots.length]! += bytes;
    this.total += bytes;
  }

  /** Bytes per second over the window (or since the first sample, if shorter). */
  rate(nowMs: number): number {
    this.advance(nowMs);
    if (this.firstAt < 0) return 0;
    let sum = 0;
    for (const v of this.slots) sum += v;
    const windowMs = this.slotMs * this.slots.length;
    const spanMs = Math.min(windowMs, Math.max(this.slotMs, nowMs - this.firstAt));
    return (sum * 1000) / spanMs;
  }

  private advance(nowMs: number): void {
    const slot = Math.floor(nowMs / this.slotMs);
    if (this.slotAt < 0) {
      this.slotAt = slot;
      this.firstAt = nowMs;
      return;
    }
    if (slot <= this.slotAt) return;
    const steps = Math.min(slot - this.slotAt, this.slots.length);
    for (let i = 1; i <= steps; i++) this.slots[(this.slotAt + i) % this.slots.length] = 0;
    this.slotAt = slot;
  }
}
