import { describe, expect, it } from 'vitest';
import { HOUR_MS, hourBucket, mergeBuckets } from '../../src/store/history.js';
import { advance, statusApplies, toRanges } from '../../src/store/seq.js';

describe('toRanges', () => {
  it.each([
    { seqs: [], want: [] },
    { seqs: [3], want: [{ from: 3, to: 3 }] },
    { seqs: [5, 1, 2, 3, 9, 8, 3], want: [{ from: 1, to: 3 }, { from: 5, to: 5 }, { from: 8, to: 9 }] },
  ])('$seqs', ({ seqs, want }) => {
    expect(toRanges(seqs)).toEqual(want);
  });
});

describe('advance', () => {
  it.each([
    { cursor: 0, seqs: [1, 2, 3], want: 3, parked: [] },
    { cursor: 0, seqs: [2, 3], want: 0, parked: [{ from: 2, to: 3 }] },
    { cursor: 4, seqs: [5, 7, 8], want: 5, parked: [{ from: 7, to: 8 }] },
    { cursor: 10, seqs: [3, 11], want: 11, parked: [] }, // a late seq below the cursor
  ])('from $cursor with $seqs', ({ cursor, seqs, want, parked }) => {
    expect(advance(cursor, toRanges(seqs))).toEqual({ cursor: want, parked });
  });
});

describe('statusApplies', () => {
  it.each([
    { stored: { state: 'unknown', birth: 0 }, incoming: { state: 'online', birth: 0 }, want: true },
    { stored: { state: 'online', birth: 2 }, incoming: { state: 'offline', birth: 1 }, want: false },
    { stored: { state: 'online', birth: 2 }, incoming: { state: 'offline', birth: 2 }, want: true },
    { stored: { state: 'offline', birth: 2 }, incoming: { state: 'online', birth: 2 }, want: false },
    { stored: { state: 'offline', birth: 2 }, incoming: { state: 'online', birth: 3 }, want: true },
  ] as const)('$stored.state/$stored.birth <- $incoming.state/$incoming.birth', ({ stored, incoming, want }) => {
    expect(statusApplies(stored, incoming)).toBe(want);
  });
});

describe('history buckets', () => {
  it('puts an hourly aggregate in the bucket holding its start, or as it is for finer buckets', () => {
    expect(hourBucket(5 * HOUR_MS, 24 * HOUR_MS)).toBe(0);
    expect(hourBucket(5 * HOUR_MS, 2 * HOUR_MS)).toBe(4 * HOUR_MS);
    expect(hourBucket(5 * HOUR_MS, 300_000)).toBe(5 * HOUR_MS);
  });

  it('merges parts: weighted avg, newest last, sorted, empty parts dropped', () => {
    expect(
      mergeBuckets([
        { t: 100, min: 1, max: 1, sum: 1, count: 1, last: 1, lastTs: 150 },
        { t: 0, min: 2, max: 4, sum: 6, count: 2, last: 4, lastTs: 50 },
        { t: 0, min: 1, max: 9, sum: 30, count: 4, last: 9, lastTs: 40 },
        { t: 200, min: 0, max: 0, sum: 0, count: 0, last: 0, lastTs: 0 },
      ]),
    ).toEqual([
      { t: 0, min: 1, avg: 6, max: 9, last: 4, count: 6 },
      { t: 100, min: 1, avg: 1, max: 1, last: 1, count: 1 },
    ]);
  });
});
