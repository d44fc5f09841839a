/** What a rate-limited log needs of a logger (pino's Logger fits). */
export interface LogSink {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Logs a repeated problem once per window instead of on every poll or packet; the next line
 * after the window says how many were suppressed (STYLE.md habit 12). Keys may come from the
 * network (addresses, usernames), so the table is bounded: expired keys are dropped, and past
 * `maxKeys` new keys share one.
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly log: LogSink,
    private readonly now: () => number,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 1_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit('warn', key, obj, msg);
  }

  error(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit('error', key, obj, msg);
  }

  private emit(level: 'warn' | 'error', key: string, obj: Record<string, unknown>, msg: string): void {
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
    if (suppressed > 0) this.log[level]({ ...obj, suppressed }, `${msg} (${suppressed} similar suppressed)`);
    else this.log[level](obj, msg);
  }
}
