/**
 * Geometry of a sensor chart: a line through the bucket averages over a band from each bucket's
 * min to its max, in SVG path syntax. Pure, so the scaling is tested without a browser.
 * The server omits empty buckets; a gap longer than one bucket breaks the line instead of
 * drawing a straight ramp across hours nobody measured.
 */
import type { Bucket } from './types.js';

export interface ChartBox {
  width: number;
  height: number;
  /** Room for the y labels on the left and the x labels below. */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface Tick {
  value: number;
  /** Pixel position along its axis. */
  at: number;
}

export interface ChartGeometry {
  /** Path of the average line (one `M` per unbroken run of buckets). */
  line: string;
  /** Closed path of the min–max band. */
  band: string;
  yTicks: Tick[];
  /** Times (epoch ms) spread evenly over the window. */
  xTicks: Tick[];
  /** Guide lines (e.g. the dry and wet limits) that fall inside the chart. */
  guides: Tick[];
  empty: boolean;
}

export interface ChartInput {
  from: number;
  to: number;
  bucketMs: number;
  buckets: readonly Bucket[];
}

/** One decimal place is finer than a pixel on any phone, and keeps the DOM small. */
const px = (n: number): number => Math.round(n * 10) / 10;

/** A linear map from [d0, d1] onto [r0, r1]; a zero-width domain maps to the middle. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** A step of 1, 2 or 5 times a power of ten, near `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

/** Round axis ends around [min, max] and about `count` ticks between them. */
export function niceScale(min: number, max: number, count = 4): { lo: number; hi: number; ticks: number[] } {
  if (min === max) {
    // A flat line still needs an axis: widen it around the value.
    const pad = Math.abs(min) > 1 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const step = niceStep((max - min) / Math.max(1, count - 1));
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  // Decimals of the step, so 0.1 + 0.2 is written 0.3.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toFixed(decimals)));
  return { lo, hi, ticks };
}

/** Runs of buckets without a gap longer than one bucket. */
export function runs(buckets: readonly Bucket[], bucketMs: number): Bucket[][] {
  const out: Bucket[][] = [];
  let current: Bucket[] = [];
  let prev: Bucket | undefined;
  for (const b of [...buckets].sort((a, c) => a.t - c.t)) {
    if (prev && b.t - prev.t > bucketMs) {
      out.push(current);
      current = [];
    }
    current.push(b);
    prev = b;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function buildChart(input: ChartInput, box: ChartBox, guideValues: readonly number[] = [], xTickCount = 4): ChartGeometry {
  const x0 = box.left;
  const x1 = box.width - box.right;
  const yTop = box.top;
  const yBottom = box.height - box.bottom;
  const x = linear(input.from, input.to, x0, x1);
  const xTicks: Tick[] = [];
  for (let i = 0; i <= xTickCount; i++) {
    const t = input.from + ((input.to - input.from) * i) / xTickCount;
    xTicks.push({ value: t, at: px(x(t)) });
  }
  const usable = input.buckets.filter((b) => Number.isFinite(b.min) && Number.isFinite(b.max) && Number.isFinite(b.avg));
  if (usable.length === 0) return { line: '', band: '', yTicks: [], xTicks, guides: [], empty: true };

  let min = Infinity;
  let max = -Infinity;
  for (const b of usable) {
    min = Math.min(min, b.min);
    max = Math.max(max, b.max);
  }
  // Guides widen the scale only when near the data, so a 40 % line never squashes a 5–8 range.
  const span = Math.max(max - min, 1);
  for (const g of guideValues) {
    if (g >= min - span && g <= max + span) {
      min = Math.min(min, g);
      max = Math.max(max, g);
    }
  }
  const scale = niceScale(min, max);
  const y = linear(scale.lo, scale.hi, yBottom, yTop);
  const mid = input.bucketMs / 2;

  let line = '';
  let band = '';
  for (const run of runs(usable, input.bucketMs)) {
    const pts = run.map((b) => `${px(x(b.t + mid))} ${px(y(b.avg))}`);
    // A lone bucket is a zero-length segment: with round caps it shows as a dot.
    line += run.length === 1 ? `M${pts[0]}h0` : `M${pts.join('L')}`;
    if (run.length > 1) {
      const upper = run.map((b) => `${px(x(b.t + mid))} ${px(y(b.max))}`);
      const lower = run.map((b) => `${px(x(b.t + mid))} ${px(y(b.min))}`).reverse();
      band += `M${upper.join('L')}L${lower.join('L')}Z`;
    }
  }
  return {
    line,
    band,
    yTicks: scale.ticks.map((v) => ({ value: v, at: px(y(v)) })),
    xTicks,
    guides: guideValues.filter((g) => g >= scale.lo && g <= scale.hi).map((g) => ({ value: g, at: px(y(g)) })),
    empty: false,
  };
}
