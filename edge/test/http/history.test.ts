/**
 * History from the outbox: the buckets the edge answers equal the cloud's definition computed
 * here from the raw readings (min, max, avg = sum / count, last = the newest reading's value,
 * t = ts floored to the width), through first loads, catch-ups after new commits, slice
 * boundaries and one-off windows; plus the query rules and rain from a running total.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import { HistoryBook, historyWindow, parseHistoryQuery, rainFromBuckets, type HistoryBucket, type HistoryWindow } from '../../src/http/history.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';

const START = Date.UTC(2026, 5, 1, 0, 0, 0);
const MIN = 60_000;
const DAY = 86_400_000;

/** The definition, over readings in commit order. */
function expected(readings: readonly Reading[], sensor: string, w: HistoryWindow): HistoryBucket[] {
  const byT = new Map<number, { min: number; max: number; sum: number; count: number; last: number; lastTs: number }>();
  for (const r of readings) {
    if (r.sensor !== sensor || r.value === null || r.ts < w.from || r.ts >= w.to) continue;
    const t = Math.floor(r.ts / w.bucketMs) * w.bucketMs;
    const b = byT.get(t);
    if (!b) byT.set(t, { min: r.value, max: r.value, sum: r.value, count: 1, last: r.value, lastTs: r.ts });
    else {
      b.min = Math.min(b.min, r.value);
      b.max = Math.max(b.max, r.value);
      b.sum += r.value;
      b.count++;
      if (r.ts >= b.lastTs) {
        b.last = r.value;
        b.lastTs = r.ts;
      }
    }
  }
  return [...byT].sort(([a], [b]) => a - b).map(([t, b]) => ({ t, min: b.min, avg: b.sum / b.count, max: b.max, last: b.last, count: b.count }));
}

function same(actual: HistoryBucket[], wanted: HistoryBucket[]): void {
  expect(actual.map(({ avg: _, ...b }) => b)).toEqual(wanted.map(({ avg: _, ...b }) => b));
  actual.forEach((b, i) => expect(b.avg).toBeCloseTo(wanted[i]?.avg ?? NaN, 9));
}

describe('history buckets from the outbox', () => {
  let dir: string | undefined;
  let outbox: SqliteOutbox | undefined;

  afterEach(() => {
    outbox?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    outbox = dir = undefined;
  });

  /** Nine days of two soil probes every 7 minutes, with read errors, a late (backfilled) reading and ties. */
  function village(clock: ManualClock): { o: SqliteOutbox; written: Reading[]; write: (from: number, to: number) => void } {
    dir = mkdtempSync(join(tmpdir(), 'sv-hist-'));
    const o = new SqliteOutbox({ path: join(dir, 'outbox.sqlite'), clock, log: createLogger({ level: 'silent' }) });
    o.start();
    outbox = o;
    const written: Reading[] = [];
    let n = 0;
    const write = (from: number, to: number): void => {
      for (let ts = from; ts < to; ts += 7 * MIN) {
        n++;
        const batch: Reading[] = [
          { sensor: 'soil-a', ts, value: n % 13 === 0 ? null : 20 + ((n * 37) % 23) / 2, unit: '%VWC', quality: n % 13 === 0 ? 'error' : 'good', clockSynced: true },
          { sensor: 'soil-b', ts: ts + 1000, value: 30 - ((n * 11) % 17) / 4, unit: '%VWC', quality: 'good', clockSynced: true },
        ];
        // Same timestamp twice: the later row is the bucket's last.
        if (n % 50 === 0) batch.push({ sensor: 'soil-b', ts: ts + 1000, value: 99, unit: '%VWC', quality: 'good', clockSynced: true });
        // A reading committed late with an old timestamp (the clock corrected after boot).
        if (n % 97 === 0) batch.push({ sensor: 'soil-a', ts: ts - 2 * 3_600_000, value: 5, unit: '%VWC', quality: 'good', clockSynced: true });
        o.addReadings(batch);
        written.push(...batch);
      }
      o.flush();
    };
    return { o, written, write };
  }

  it('equals the definition for day, week and season, through catch-ups and slice boundaries', async () => {
    const clock = new ManualClock(START + 9 * DAY);
    const { o, written, write } = village(clock);
    write(START, START + 9 * DAY);
    const book = new HistoryBook(o, () => clock.now(), 97);
    for (const range of ['day', 'week', 'season'] as const) {
      const w = historyWindow({ range }, clock.now());
      for (const sensor of ['soil-a', 'soil-b']) same(await book.buckets(sensor, w), expected(written, sensor, w));
    }
    // Two more hours: only the new rows are folded in, and the windows move on.
    write(clock.now(), clock.now() + 2 * 3_600_000);
    clock.advance(2 * 3_600_000);
    for (const range of ['day', 'week', 'season'] as const) {
      const w = historyWindow({ range }, clock.now());
      const got = await book.buckets('soil-a', w);
      same(got, expected(written, 'soil-a', w));
      expect(got.every((b) => b.t >= w.from && b.t < w.to && b.t % w.bucketMs === 0)).toBe(true);
    }
    // A window of its own (from/to) is aggregated on request.
    const w = historyWindow(parseHistoryQuery({ from: String(START + DAY), to: String(START + 3 * DAY), bucket: '2h' }), clock.now());
    expect(w).toEqual({ from: START + DAY, to: START + 3 * DAY, bucketMs: 7_200_000 });
    same(await book.buckets('soil-b', w), expected(written, 'soil-b', w));
    expect(await book.buckets('no-such-sensor', w)).toEqual([]);
  });

  it('finds where a time begins in the outbox', () => {
    const clock = new ManualClock(START + DAY);
    const { o, write } = village(clock);
    expect(o.seqAtTime(START)).toBe(1);
    write(START, START + DAY);
    const seq = o.seqAtTime(START + 12 * 3_600_000);
    const rows = o.rowsAfter(seq - 2, 2).filter((r) => r.kind === 'reading');
    expect(rows.map((r) => (r.kind === 'reading' ? r.reading.ts >= START + 12 * 3_600_000 : false))).toEqual([false, true]);
    expect(o.seqAtTime(START + 2 * DAY)).toBe(o.stats().lastSeq + 1);
  });

  it('takes the cloud’s query: a named range or from/to with a bucket, naming every problem', () => {
    const now = Date.UTC(2026, 5, 1, 10, 7, 30);
    expect(historyWindow(parseHistoryQuery({}), now)).toEqual({ from: Date.UTC(2026, 5, 1, 10, 10) - DAY, to: Date.UTC(2026, 5, 1, 10, 10), bucketMs: 300_000 });
    expect(historyWindow(parseHistoryQuery({ range: 'week' }), now)).toEqual({ from: Date.UTC(2026, 5, 1, 11) - 7 * DAY, to: Date.UTC(2026, 5, 1, 11), bucketMs: 3_600_000 });
    expect(historyWindow(parseHistoryQuery({ range: 'season' }), now)).toEqual({ from: Date.UTC(2026, 5, 2) - 120 * DAY, to: Date.UTC(2026, 5, 2), bucketMs: DAY });
    expect(historyWindow(parseHistoryQuery({ from: '2026-05-25' }), now).bucketMs).toBe(DAY);
    const problems = (q: Record<string, string>): string[] => {
      try {
        historyWindow(parseHistoryQuery(q), now);
        return [];
      } catch (err) {
        return ((err as { issues?: { path: string }[] }).issues ?? []).map((i) => i.path);
      }
    };
    expect(problems({ range: 'month' })).toEqual(['query.range']);
    expect(problems({ range: 'day', from: '1' })).toEqual(['query.range']);
    expect(problems({ to: '5' })).toEqual(['query.from']);
    expect(problems({ from: 'yesterday', bucket: '10s', limit: '5' })).toEqual(['query.limit', 'query.from', 'query.bucket']);
    expect(problems({ from: '0', bucket: '1m' })).toEqual(['query.bucket']);
  });

  it('sums rain from a running total, across a counter reset', () => {
    const b = (last: number): HistoryBucket => ({ t: 0, min: last, avg: last, max: last, last, count: 1 });
    expect(rainFromBuckets([])).toBeNull();
    expect(rainFromBuckets([b(10.2)])).toBe(0);
    expect(rainFromBuckets([b(10.2), b(10.2), b(11), b(12.4), b(0.6), b(1)])).toBe(3.2);
  });
});
