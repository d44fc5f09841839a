import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (tests read them); default stdout. */
  destination?: NodeJS.WritableStream;
}

/** Keys whose values never reach a log line. */
export const REDACT = ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'auth.*', 'credentials'];

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !opts.destination);
  const base = { level, redact: { paths: REDACT, censor: '[redacted]' } };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return opts.destination ? pino(base, opts.destination) : pino(base);
}

/**
 * Logs a repeated problem once per window instead of on every poll; the next line after the
 * window says how many were suppressed.
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly windowMs = 60_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit('warn', key, obj, msg);
  }

  error(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit('error', key, obj, msg);
  }

  private emit(level: 'warn' | 'error', key: string, obj: Record<string, unknown>, msg: string): void {
    const now = this.now();
    const entry = this.seen.get(key);
    if (entry && now < entry.until) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.set(key, { until: now + this.windowMs, suppressed: 0 });
    this.log[level](suppressed > 0 ? { ...obj, suppressed } : obj, suppressed > 0 ? `${msg} (${suppressed} similar suppressed)` : msg);
  }
}
