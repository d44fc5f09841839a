import { parseDuration } from '@smart-village/shared';
import type { Outbox, SensorBucket } from '../store/types.js';
import { badRequest, type ApiIssue } from '@smart-village/shared/server';

/**
 * Sensor history for charts, from the outbox: the cloud's windows and bucket shape
 * (cloud/src/api/params.ts, cloud/src/store/history.ts), so one chart draws both.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Named windows: a day in 5-minute buckets, a week in hours, a 120-day season in days. */
export const RANGES = {
  day: { span: DAY_MS, bucket: 5 * MINUTE_MS },
  week: { span: 7 * DAY_MS, bucket: HOUR_MS },
  season: { span: 120 * DAY_MS, bucket: DAY_MS },
} as const;
export type RangeName = keyof typeof RANGES;
export const MAX_BUCKETS = 5000;

export interface HistoryBucket {
  /** Bucket start, epoch ms (a multiple of the width from the epoch, UTC). */
  t: number;
  min: number;
  avg: number;
  max: number;
  last: number;
  count: number;
}

export interface HistoryQuery {
  range?: RangeName;
  from?: number;
  to?: number;
  bucket?: number;
}

export interface HistoryWindow {
  from: number;
  to: number;
  bucketMs: number;
}

function time(text: string, path: string, issues: ApiIssue[]): number | undefined {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) issues.push({ path, message: `"${text}" is not a time (write epoch milliseconds or ISO 8601, e.g. 2024-06-01T06:00:00Z)` });
  return Number.isNaN(ms) ? undefined : ms;
}

/** `?range=day|week|season` or `?from=…[&to=…][&bucket=5m]`; throws 400 naming every problem. */
export function parseHistoryQuery(q: Record<string, string>): HistoryQuery {
  const issues: ApiIssue[] = [];
  const out: HistoryQuery = {};
  for (const key of Object.keys(q)) if (!['range', 'from', 'to', 'bucket'].includes(key)) issues.push({ path: `query.${key}`, message: 'unknown parameter' });
  if (q.range !== undefined) {
    if (q.range in RANGES) out.range = q.range as RangeName;
    else issues.push({ path: 'query.range', message: 'must be day, week or season' });
  }
  if (q.from !== undefined) out.from = time(q.from, 'query.from', issues);
  if (q.to !== undefined) out.to = time(q.to, 'query.to', issues);
  if (q.bucket !== undefined) {
    const ms = parseDuration(/^\d+$/.test(q.bucket) ? Number(q.bucket) : q.bucket);
    if (ms === undefined || ms < MINUTE_MS) issues.push({ path: 'query.bucket', message: `"${q.bucket}" is not a bucket width of at least a minute (write e.g. 5m, 1h, 1d, or milliseconds)` });
    else out.bucket = ms;
  }
  if (q.range !== undefined && (q.from !== undefined || q.to !== undefined)) issues.push({ path: 'query.range', message: 'give either range or from/to, not both' });
  if (q.to !== undefined && q.from === undefined) issues.push({ path: 'query.from', message: 'from is required with to' });
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to) issues.push({ path: 'query.to', message: 'to must be after from' });
  if (issues.length > 0) throw badRequest(issues);
  return out;
}

/**
 * The [from, to) window and bucket of a query. A named range ends at the end of the bucket holding
 * `now`, so buckets line up with multiples of the width and the still-filling one is the last.
 */
export function historyWindow(q: HistoryQuery, now: number): HistoryWindow {
  let w: HistoryWindow;
  if (q.from === undefined) {
    const named = RANGES[q.range ?? 'day'];
    const bucketMs = q.bucket ?? named.bucket;
    const to = Math.ceil((now + 1) / bucketMs) * bucketMs;
    w = { from: to - named.span, to, bucketMs };
  } else {
    const to = q.to ?? now;
    const span = to - q.from;
    w = { from: q.from, to, bucketMs: q.bucket ?? (span <= DAY_MS ? RANGES.day.bucket : span <= 7 * DAY_MS ? RANGES.week.bucket : RANGES.season.bucket) };
  }
  if (w.to <= w.from) throw badRequest([{ path: 'query.from', message: 'from must be before to (or before now, without to)' }]);
  const buckets = Math.ceil((w.to - w.from) / w.bucketMs);
  if (buckets > MAX_BUCKETS) throw badRequest([{ path: 'query.bucket', message: `${buckets} buckets asked for; at most ${MAX_BUCKETS} (widen the bucket or shorten the window)` }]);
  return w;
}

/**
 * Rain from a gauge's running total in buckets (oldest first, the first from before the window as
 * the baseline): rises of each bucket's last value are summed; a fall is a wrap or reset, after
 * which the new value is rain since the reset. The cloud's rule, to 0.1 mm.
 */
export function rainFromBuckets(buckets: readonly HistoryBucket[]): number | null {
  const [first, ...rest] = buckets;
  if (!first) return null;
  let sum = 0;
  let prev = first.last;
  for (const b of rest) {
    sum += b.last >= prev ? b.last - prev : b.last;
    prev = b.last;
  }
  return Math.round(sum * 10) / 10;
}

type Partial = Omit<SensorBucket, 'sensor' | 't'>;

/** Seqs per outbox query while walking a long range (about 30 ms each on a 2-core PC); the event loop runs between them. */
const SLICE_SEQS = 10_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function fold(into: Map<string, Map<number, Partial>>, parts: readonly SensorBucket[]): void {
  for (const { sensor, t, ...p } of parts) {
    let byT = into.get(sensor);
    if (!byT) into.set(sensor, (byT = new Map()));
    const b = byT.get(t);
    if (!b) {
      byT.set(t, { ...p });
      continue;
    }
    b.min = Math.min(b.min, p.min);
    b.max = Math.max(b.max, p.max);
    b.sum += p.sum;
    b.count += p.count;
    // Later slices hold later seqs: on a tie of timestamps the later row is the newer.
    if (p.lastTs >= b.lastTs) {
      b.last = p.last;
      b.lastTs = p.lastTs;
    }
  }
}

function shape(byT: ReadonlyMap<number, Partial> | undefined, from: number, to: number): HistoryBucket[] {
  if (!byT) return [];
  return [...byT]
    .filter(([t]) => t >= from && t < to)
    .sort(([a], [b]) => a - b)
    .map(([t, b]) => ({ t, min: b.min, avg: b.sum / b.count, max: b.max, last: b.last, count: b.count }));
}

/** Every sensor's buckets of one width over a trailing span, brought up to date from the outbox on use. */
interface Rollup {
  bucketMs: number;
  spanMs: number;
  /** The last seq folded in; undefined until the first catch-up. */
  cursor: number | undefined;
  buckets: Map<string, Map<number, Partial>>;
  /** One catch-up at a time; a season's first load does not hold up the day's. */
  queue: Promise<unknown>;
}

/**
 * History answers without scanning the outbox each time. The outbox has no index by sensor or time
 * (every index would slow each commit), so a season of a busy village means millions of rows:
 * seconds on a Pi, in the process that also runs the valves. For the three named ranges we keep
 * every sensor's buckets in memory (a few thousand small objects), fold in only the rows committed
 * since the last request, and walk long ranges in slices, yielding between them. Nothing runs when
 * nobody looks. Other windows (from/to) are aggregated on request, in slices as well.
 *
 * The cursor is a seq. If the outbox renumbers its unsent rows after a replaced SD card
 * (Outbox.rebase, a one-off at the first connection), rows folded before it are folded again and
 * the counts of those buckets grow until the next restart; min, max and last stay right.
 */
export class HistoryBook {
  private readonly rollups = new Map<number, Rollup>();
  /** Windows of their own are walked one at a time. */
  private readonly oneOffs: { queue: Promise<unknown> } = { queue: Promise.resolve() };

  constructor(
    private readonly outbox: Outbox,
    private readonly now: () => number,
    /** Seqs per outbox query (tests make it small to cross many slice boundaries). */
    private readonly sliceSeqs = SLICE_SEQS,
  ) {
    for (const r of Object.values(RANGES)) this.rollups.set(r.bucket, { bucketMs: r.bucket, spanMs: r.span, cursor: undefined, buckets: new Map(), queue: Promise.resolve() });
  }

  /** One sensor's buckets in the window, oldest first. */
  buckets(sensor: string, w: HistoryWindow): Promise<HistoryBucket[]> {
    const rollup = this.rollups.get(w.bucketMs);
    if (rollup && w.from >= this.floorOf(rollup)) {
      return this.serially(rollup, async () => {
        await this.catchUp(rollup);
        return shape(rollup.buckets.get(sensor), w.from, w.to);
      });
    }
    return this.serially(this.oneOffs, async () => {
      const once = new Map<string, Map<number, Partial>>();
      await this.walk(this.outbox.seqAtTime(w.from) - 1, w.from, w.to, w.bucketMs, (parts) => fold(once, parts.filter((p) => p.sensor === sensor)));
      return shape(once.get(sensor), w.from, w.to);
    });
  }

  private serially<T>(holder: { queue: Promise<unknown> }, run: () => Promise<T>): Promise<T> {
    const result = holder.queue.then(run, run);
    holder.queue = result.catch(() => undefined);
    return result;
  }

  /** The oldest bucket a rollup keeps (one spare bucket: rain in 24 h needs a baseline before the day). */
  private floorOf(r: Rollup): number {
    return Math.floor((this.now() - r.spanMs) / r.bucketMs) * r.bucketMs - 2 * r.bucketMs;
  }

  private async catchUp(r: Rollup): Promise<void> {
    const floor = this.floorOf(r);
    const after = r.cursor ?? this.outbox.seqAtTime(floor) - 1;
    r.cursor = await this.walk(after, floor, Number.MAX_SAFE_INTEGER, r.bucketMs, (parts) => fold(r.buckets, parts));
    for (const [sensor, byT] of r.buckets) {
      for (const t of byT.keys()) if (t < floor) byT.delete(t);
      if (byT.size === 0) r.buckets.delete(sensor);
    }
  }

  /** Aggregates committed readings after seq `after` in slices; returns the last seq read. */
  private async walk(after: number, from: number, to: number, bucketMs: number, take: (parts: SensorBucket[]) => void): Promise<number> {
    const last = this.outbox.stats().lastSeq;
    let cursor = after;
    while (cursor < last) {
      const upto = Math.min(cursor + this.sliceSeqs, last);
      take(this.outbox.readingBuckets({ afterSeq: cursor, uptoSeq: upto, from, to, bucketMs }));
      cursor = upto;
      if (cursor < last) await nextTurn();
    }
    return Math.max(cursor, after);
  }
}
