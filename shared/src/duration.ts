import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "30s", "5m", "1h", "2d" or a number of milliseconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  // A bare number is milliseconds, as in YAML.
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] as number));
}

/** Node timers hold at most 2^31-1 ms (about 24.8 days); longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration of at least `min` ms (and, unless `timer` is false, one a timer can hold). */
export function duration(min = 0, timer = true) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (write e.g. 500ms, 30s, 5m, 1h, or milliseconds)` });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `${v} is too short: at least ${min} ms` });
      return z.NEVER;
    }
    if (timer && ms > MAX_TIMER_MS) {
      ctx.addIssue({ code: 'custom', message: `${v} is too long for a timer: at most 24 days` });
      return z.NEVER;
    }
    return ms;
  });
}

export const durationSchema = duration();
