import { VillageError } from '@smart-village/shared';
import type { HistoryBucket } from './types.js';

export const HOUR_MS = 3_600_000;

/**
 * Partial aggregates of one bucket, from raw rows or from the hourly table: what both stores'
 * SQL returns, merged here so the rules live in one place.
 */
export interface PartialBucket {
  t: number;
  min: number;
  max: number;
  sum: number;
  count: number;
  last: number;
  lastTs: number;
}

export function checkBucket(bucketMs: number, from: number, to: number): void {
  if (!Number.isSafeInteger(bucketMs) || bucketMs < 1) {
    throw new VillageError('STORE_FAILED', `history bucket must be a positive whole number of ms, got ${bucketMs}`, { bucketMs });
  }
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    throw new VillageError('STORE_FAILED', `history range must be finite, got [${from}, ${to})`, { from, to });
  }
}

/**
 * The bucket an hourly aggregate goes to. For buckets of an hour or more it is the bucket holding
 * the hour's start; finer buckets cannot split an hour that was already aggregated, so the hour is
 * returned as it is (t = the hour's start, covering the whole hour).
 */
export function hourBucket(hour: number, bucketMs: number): number {
  return bucketMs >= HOUR_MS ? Math.floor(hour / bucketMs) * bucketMs : hour;
}

/**
 * Merges partial buckets with the same t: min of mins, max of maxes, avg weighted by count
 * (sum / count), last from the part whose last reading is newest. Sorted by t.
 */
export function mergeBuckets(parts: readonly PartialBucket[]): HistoryBucket[] {
  const byT = new Map<number, PartialBucket>();
  for (const p of parts) {
    if (p.count <= 0) continue;
    const b = byT.get(p.t);
    if (!b) {
      byT.set(p.t, { ...p });
      continue;
    }
    b.min = Math.min(b.min, p.min);
    b.max = Math.max(b.max, p.max);
    b.sum += p.sum;
    b.count += p.count;
    if (p.lastTs >= b.lastTs) {
      b.last = p.last;
      b.lastTs = p.lastTs;
    }
  }
  return [...byT.values()]
    .sort((a, b) => a.t - b.t)
    .map((b) => ({ t: b.t, min: b.min, avg: b.sum / b.count, max: b.max, last: b.last, count: b.count }));
}
