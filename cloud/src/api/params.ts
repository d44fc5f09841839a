import { z } from 'zod';
import { idSchema, parseDuration } from '@smart-village/shared';
import { badRequest, type ApiIssue } from '@smart-village/shared/server';

/**
 * Path and query parameters (and JSON bodies). Query and path values arrive as text; every route's query is a strict object,
 * so a misspelt parameter (`limt=5`) is a 400 naming it, not silently ignored.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A whole number within [min, max]. */
export function intParam(min: number, max: number) {
  const range = `must be a whole number from ${min} to ${max}`;
  return z.string().regex(/^\d{1,15}$/, range).transform(Number).pipe(z.number().int().min(min, range).max(max, range));
}

/** Epoch milliseconds, or an ISO 8601 date/time ("2024-06-01", "2024-06-01T06:00:00Z"). */
export const timeParam = z.string().transform((text, ctx) => {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a time (write epoch milliseconds or ISO 8601, e.g. 2024-06-01T06:00:00Z)` });
    return z.NEVER;
  }
  return ms;
});

/** A bucket width: "5m", "1h", "1d" or milliseconds; at least a minute. */
export const bucketParam = z.string().transform((text, ctx) => {
  const ms = parseDuration(/^\d+$/.test(text) ? Number(text) : text);
  if (ms === undefined || ms < MINUTE_MS) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a bucket width of at least a minute (write e.g. 5m, 1h, 1d, or milliseconds)` });
    return z.NEVER;
  }
  return ms;
});

export const LIMIT_MAX = 1000;
export const LIMIT_DEFAULT = 100;
const limit = intParam(1, LIMIT_MAX).default(LIMIT_DEFAULT);
/** Event kinds are dotted lowercase words ("zone.watered"); sources are device, sensor or zone names. */
const kind = z.string().regex(/^[a-z]+(\.[a-z-]+)+$/, 'an event kind is dotted lowercase words, e.g. zone.watered').max(100);
const source = z.string().min(1).max(100);

// ---- path parameters --------------------------------------------------------------------------

export const noParams = z.strictObject({});
export const siteParams = z.strictObject({ site: idSchema });
export const sensorParams = z.strictObject({ site: idSchema, sensor: idSchema });

// ---- query parameters -------------------------------------------------------------------------

export const noQuery = z.strictObject({});
/** The stream's token is consumed by authentication (EventSource cannot send headers). */
export const streamQuery = z.strictObject({ token: z.string().optional() });
export const latestQuery = z.strictObject({ edge: idSchema.optional() });
export const eventsQuery = z.strictObject({ edge: idSchema.optional(), kind: kind.optional(), source: source.optional(), since: timeParam.optional(), limit });
export const quarantineQuery = z.strictObject({ site: idSchema.optional(), limit });

/** Named windows: a day in 5-minute buckets, a week in hours, a 120-day season in days. */
export const RANGES = {
  day: { span: DAY_MS, bucket: 5 * MINUTE_MS },
  week: { span: 7 * DAY_MS, bucket: HOUR_MS },
  season: { span: 120 * DAY_MS, bucket: DAY_MS },
} as const;
export type RangeName = keyof typeof RANGES;
/** A chart needs no more points than this; it also bounds the work of one request. */
export const MAX_BUCKETS = 5000;

export const historyQuery = z
  .strictObject({
    range: z.enum(['day', 'week', 'season']).optional(),
    from: timeParam.optional(),
    to: timeParam.optional(),
    bucket: bucketParam.optional(),
  })
  .superRefine((q, ctx) => {
    if (q.range !== undefined && (q.from !== undefined || q.to !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['range'], message: 'give either range or from/to, not both' });
    }
    if (q.to !== undefined && q.from === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: 'from is required with to' });
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be after from' });
  });
export type HistoryQuery = z.output<typeof historyQuery>;

export interface HistoryWindow {
  from: number;
  to: number;
  bucketMs: number;
}

/**
 * The [from, to) window and bucket of a history query. A named range ends at the end of the
 * bucket holding `now`, so buckets line up with the store's (multiples of the width from the
 * epoch, UTC) and the current, still-filling bucket is the last one. No range and no from: a day.
 */
export function historyWindow(q: HistoryQuery, now: number): HistoryWindow {
  let window: HistoryWindow;
  if (q.from === undefined) {
    const named = RANGES[q.range ?? 'day'];
    const bucketMs = q.bucket ?? named.bucket;
    const to = Math.ceil((now + 1) / bucketMs) * bucketMs;
    window = { from: to - named.span, to, bucketMs };
  } else {
    const to = q.to ?? now;
    const span = to - q.from;
    const bucketMs = q.bucket ?? (span <= DAY_MS ? RANGES.day.bucket : span <= 7 * DAY_MS ? RANGES.week.bucket : RANGES.season.bucket);
    window = { from: q.from, to, bucketMs };
  }
  if (window.to <= window.from) throw badRequest([{ path: 'query.from', message: 'from must be before to (or before now, without to)' }]);
  const buckets = Math.ceil((window.to - window.from) / window.bucketMs);
  if (buckets > MAX_BUCKETS) {
    throw badRequest([{ path: 'query.bucket', message: `${buckets} buckets asked for; at most ${MAX_BUCKETS} (widen the bucket or shorten the window)` }]);
  }
  return window;
}


/** Parses with a schema, or throws 400 naming every problem (`query.limit: must be …`). */
export function parseParams<S extends z.ZodType>(schema: S, value: unknown, where: 'path' | 'query' | 'body'): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues: ApiIssue[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: [where, ...issue.path.map(String), key].join('.'), message: where === 'body' ? 'unknown field' : 'unknown parameter' });
    } else {
      issues.push({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message });
    }
  }
  throw badRequest(issues);
}

/** The query string as an object; a parameter given twice is an error, not "the last one wins". */
export function queryObject(search: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  const twice: ApiIssue[] = [];
  for (const [key, value] of search) {
    if (Object.hasOwn(out, key)) twice.push({ path: `query.${key}`, message: 'given more than once' });
    out[key] = value;
  }
  if (twice.length > 0) throw badRequest(twice);
  return out;
}
