import { describe, expect, it } from 'vitest';
import { buildChart, linear, niceScale, niceStep, runs, type ChartBox } from '../src/chart.js';
import type { Bucket } from '../src/types.js';

const bucket = (t: number, min: number, avg: number, max: number): Bucket => ({ t, min, avg, max, last: avg, count: 1 });
// A 100 × 100 plot area starting at (10, 0), so pixel positions are easy to read.
const BOX: ChartBox = { width: 110, height: 110, left: 10, right: 0, top: 0, bottom: 10 };

describe('chart scaling', () => {
  it('maps linearly, and a zero-width domain to the middle', () => {
    expect(linear(0, 10, 0, 100)(2.5)).toBe(25);
    expect(linear(0, 10, 100, 0)(2.5)).toBe(75);
    expect(linear(5, 5, 0, 100)(5)).toBe(50);
  });

  it.each([
    [0.7, 1],
    [1.5, 2],
    [3, 5],
    [7, 10],
    [23, 50],
    [0.03, 0.05],
  ])('nice step near %s is %s', (raw, step) => {
    expect(niceStep(raw)).toBeCloseTo(step, 10);
  });

  it('rounds the axis outwards to whole steps', () => {
    expect(niceScale(21.3, 38.9)).toEqual({ lo: 20, hi: 40, ticks: [20, 30, 40] });
    expect(niceScale(0.12, 0.31).ticks).toEqual([0.1, 0.2, 0.3, 0.4]);
  });

  it('widens a flat series so it still has an axis', () => {
    const s = niceScale(30, 30);
    expect(s.lo).toBeLessThan(30);
    expect(s.hi).toBeGreaterThan(30);
  });

  it('breaks runs at gaps longer than one bucket', () => {
    const b = [bucket(0, 1, 1, 1), bucket(10, 1, 1, 1), bucket(40, 1, 1, 1), bucket(50, 1, 1, 1), bucket(80, 1, 1, 1)];
    expect(runs(b, 10).map((r) => r.map((x) => x.t))).toEqual([[0, 10], [40, 50], [80]]);
  });
});

describe('buildChart', () => {
  // Window 0..40 in 10 ms buckets; values 0..40, which is already a round scale (steps of 20).
  const input = { from: 0, to: 40, bucketMs: 10, buckets: [bucket(0, 0, 20, 30), bucket(10, 20, 30, 40), bucket(30, 15, 15, 15)] };

  it('draws the average through bucket middles and the band from min to max', () => {
    const g = buildChart(input, BOX);
    expect(g.empty).toBe(false);
    expect(g.yTicks).toEqual([
      { value: 0, at: 100 },
      { value: 20, at: 50 },
      { value: 40, at: 0 },
    ]);
    // x: bucket middles 5, 15 -> 22.5, 47.5 px (+10 left); y: 40 at the top (0), 0 at the bottom (100).
    // The lone bucket at 30 (after a gap) is a dot: a zero-length segment.
    expect(g.line).toBe('M22.5 50L47.5 25M97.5 62.5h0');
    expect(g.band).toBe('M22.5 25L47.5 0L47.5 50L22.5 100Z');
    expect(g.xTicks.map((t) => t.at)).toEqual([10, 35, 60, 85, 110]);
  });

  it('draws guides that fall inside the scale', () => {
    // 45 is near the data (0..40), so the scale grows to hold it: 0..45 -> 0..60 in steps of 20.
    const g = buildChart(input, BOX, [25, 45]);
    expect(g.yTicks.map((t) => t.value)).toEqual([0, 20, 40, 60]);
    expect(g.guides).toEqual([
      { value: 25, at: 58.3 },
      { value: 45, at: 25 },
    ]);
  });

  it('leaves a far-away guide out of the scale', () => {
    const g = buildChart({ from: 0, to: 20, bucketMs: 10, buckets: [bucket(0, 5, 6, 7), bucket(10, 6, 7, 8)] }, BOX, [95]);
    expect(g.guides).toEqual([]);
    expect(g.yTicks.at(-1)?.value).toBeLessThan(20);
  });

  it('is empty without buckets', () => {
    const g = buildChart({ from: 0, to: 40, bucketMs: 10, buckets: [] }, BOX);
    expect(g).toMatchObject({ empty: true, line: '', band: '' });
    expect(g.xTicks).toHaveLength(5);
  });
});
