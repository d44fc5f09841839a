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

/** One rate-limited log for edge and cloud; see shared/src/ratelog.ts. */
export { RateLimitedLog } from '@smart-village/shared';
