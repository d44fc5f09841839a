import type { Quality, Unit } from '@smart-village/shared';

/** One value of a sensor as control sees it. */
export interface SensorValue {
  value: number | null;
  ts: number;
  quality: Quality;
  unit: Unit;
}

/** What the control core reads: the latest value of a sensor and its recent history. */
export interface SensorView {
  latest(sensor: string): SensorValue | undefined;
  /** Values with from <= ts <= to, oldest first. */
  history(sensor: string, from: number, to: number): readonly SensorValue[];
}

/** A usable number: good (or out-of-range but present) and not older than maxAge. */
export function freshValue(v: SensorValue | undefined, now: number, maxAgeMs: number): number | undefined {
  if (!v || v.value === null || v.quality === 'error' || v.quality === 'stale') return undefined;
  if (now - v.ts > maxAgeMs) return undefined;
  return v.value;
}

/**
 * Rain over [from, to] from a gauge's running total (mm). Rises are summed; a fall means the
 * counter wrapped or the gauge restarted, and the new value after it counts as rain since the
 * reset (Modbus rain gauges keep a 16-bit counter that restarts at 0).
 */
export function rainFromTotals(values: readonly SensorValue[]): number {
  let sum = 0;
  let prev: number | undefined;
  for (const v of values) {
    if (v.value === null || v.quality === 'error') continue;
    if (prev !== undefined) sum += v.value >= prev ? v.value - prev : v.value;
    prev = v.value;
  }
  return sum;
}

/** Rain over [from, to] from per-interval amounts (a GPIO gauge's `rain` point). */
export function rainFromAmounts(values: readonly SensorValue[]): number {
  return values.reduce((s, v) => s + (v.value !== null && v.quality !== 'error' ? v.value : 0), 0);
}

/**
 * Recent readings per sensor, bounded by age and count, for the sensors control uses. The
 * engine fills it from the poller and, at start, from the outbox.
 */
export class ReadingHistory implements SensorView {
  private readonly series = new Map<string, SensorValue[]>();

  constructor(
    private readonly keepMs: number,
    private readonly maxPerSensor = 6_000,
  ) {}

  add(sensor: string, v: SensorValue): void {
    let list = this.series.get(sensor);
    if (!list) this.series.set(sensor, (list = []));
    // Readings normally arrive in time order; a late one is inserted where it belongs.
    let i = list.length;
    while (i > 0 && (list[i - 1] as SensorValue).ts > v.ts) i--;
    list.splice(i, 0, v);
    const cutoff = v.ts - this.keepMs;
    let drop = 0;
    while (drop < list.length && (list[drop] as SensorValue).ts < cutoff) drop++;
    if (list.length - drop > this.maxPerSensor) drop = list.length - this.maxPerSensor;
    if (drop > 0) list.splice(0, drop);
  }

  latest(sensor: string): SensorValue | undefined {
    const list = this.series.get(sensor);
    return list?.[list.length - 1];
  }

  history(sensor: string, from: number, to: number): readonly SensorValue[] {
    const list = this.series.get(sensor) ?? [];
    return list.filter((v) => v.ts >= from && v.ts <= to);
  }
}
