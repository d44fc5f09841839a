import type { Logger } from 'pino';

/**
 * One warning per key per window; the next line after the window carries how many were
 * suppressed (STYLE.md habit 12). Keys come from the network (addresses, usernames), so the
 * table is bounded: expired keys are dropped, and past `maxKeys` new keys share one.
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 1_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = this.now();
    if (!this.seen.has(key) && this.seen.size >= this.maxKeys) {
      for (const [k, v] of this.seen) if (v.until <= now) this.seen.delete(k);
      if (this.seen.size >= this.maxKeys) key = 'overflow';
    }
    const entry = this.seen.get(key);
    if (entry && now < entry.until) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.set(key, { until: now + this.windowMs, suppressed: 0 });
    if (suppressed > 0) this.log.warn({ ...obj, suppressed }, `${msg} (${suppressed} similar suppressed)`);
    else this.log.warn(obj, msg);
  }
}
