import { createHmac, randomBytes } from 'node:crypto';

/** BEP 15: a connection id is good for two minutes. */
export const CONNECTION_ID_LIFETIME_MS = 2 * 60_000;

/**
 * BEP 15 connection ids without a table (SYN cookies, as opentracker does it):
 * the id is the time it was issued (16 bits of seconds) and 48 bits of an HMAC
 * of that time and the address it was sent to, under a secret made at start.
 * An announce's id is checked by computing it again, so a flood of connects
 * costs no memory and cannot push out anyone's id; only an address that got
 * the connect answer can know its id. Checked ids are remembered per address
 * (bounded) so a busy client costs one Map lookup, not one HMAC, per announce.
 */
export class ConnectionIds {
  private readonly secret = randomBytes(32);
  private readonly verified = new Map<string, { hi: number; lo: number; issued: number }>();

  constructor(
    private readonly lifetimeMs = CONNECTION_ID_LIFETIME_MS,
    private readonly maxVerified = 65_536,
  ) {}

  /** A new id for `address` at `now` (ms), as its high and low 32 bits. */
  issue(address: string, now: number): { hi: number; lo: number } {
    const issued = Math.floor(now / 1000) >>> 0;
    return this.idFor(address, issued);
  }

  /** The id was issued to `address` no longer than the lifetime ago. */
  check(address: string, hi: number, lo: number, now: number): boolean {
    const seconds = Math.floor(now / 1000) >>> 0;
    const known = this.verified.get(address);
    if (known && known.hi === hi && known.lo === lo) return (seconds - known.issued) * 1000 <= this.lifetimeMs;
    // The full issue time is the latest one with these low 16 bits, not after now.
    const issued = (seconds - ((seconds - (hi >>> 16)) & 0xffff)) >>> 0;
    if ((seconds - issued) * 1000 > this.lifetimeMs) return false;
    const want = this.idFor(address, issued);
    if (want.hi !== hi || want.lo !== lo) return false;
    if (this.verified.size >= this.maxVerified) this.verified.clear();
    this.verified.set(address, { hi, lo, issued });
    return true;
  }

  private idFor(address: string, issued: number): { hi: number; lo: number } {
    const mac = createHmac('sha256', this.secret).update(`${issued} ${address}`).digest();
    return { hi: (((issued & 0xffff) << 16) | mac.readUInt16BE(0)) >>> 0, lo: mac.readUInt32BE(2) };
  }
}

/**
 * A token bucket per source address for connects (BEP 15 leaves it to the
 * tracker): `burst` at once, then `perSecond`. Over the limit the connect is
 * dropped without an answer. The table is bounded; idle buckets go first.
 */
export class ConnectRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly maxAddresses = 65_536,
  ) {}

  take(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= this.maxAddresses) this.sweep(now);
      if (this.buckets.size >= this.maxAddresses) this.buckets.clear();
      b = { tokens: this.burst, at: now };
      this.buckets.set(address, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Forgets addresses whose bucket has refilled (they are as new). */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k);
  }
}
