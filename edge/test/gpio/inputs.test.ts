import { describe, expect, it } from 'vitest';
import { gpioDeviceSchema, readingSchema } from '@smart-village/shared';
import {
  Debouncer,
  GPIO_POINTS,
  InputChannel,
  countPulses,
  debounceEdges,
  defaultDebounceMs,
  errorReadings,
  flowLitresPerMinute,
  rainMm,
  volumeLitres,
  type Edge,
  type Level,
} from '../../src/gpio/inputs.js';

const e = (t: number, level: Level): Edge => ({ t, level });

describe('debounceEdges', () => {
  const cases: { name: string; debounce: number; initial: Level; edges: Edge[]; until?: number; want: Edge[] }[] = [
    { name: 'clean press is kept', debounce: 5, initial: 0, edges: [e(0, 1)], until: 100, want: [e(0, 1)] },
    { name: 'bouncy press collapses to one change, dated at the last bounce', debounce: 5, initial: 0, edges: [e(0, 1), e(1, 0), e(2, 1), e(3, 0), e(4, 1)], until: 100, want: [e(4, 1)] },
    {
      name: 'bouncy press and bouncy release: two changes',
      debounce: 5,
      initial: 0,
      edges: [e(0, 1), e(1, 0), e(2, 1), e(50, 0), e(51, 1), e(52, 0)],
      until: 100,
      want: [e(2, 1), e(52, 0)],
    },
    { name: 'spike shorter than the filter is dropped', debounce: 5, initial: 0, edges: [e(10, 1), e(12, 0)], until: 100, want: [] },
    { name: 'a level held exactly the filter time is kept', debounce: 5, initial: 0, edges: [e(10, 1), e(15, 0)], until: 100, want: [e(10, 1), e(15, 0)] },
    { name: 'a change not yet held long enough is not reported', debounce: 5, initial: 0, edges: [e(10, 1)], until: 14, want: [] },
    { name: 'without a flush the last change waits', debounce: 5, initial: 0, edges: [e(10, 1)], want: [] },
    { name: 'repeated interrupts at one level count once', debounce: 5, initial: 0, edges: [e(10, 1), e(11, 1), e(12, 1)], until: 100, want: [e(10, 1)] },
    { name: 'a level equal to the stable one is no change', debounce: 5, initial: 0, edges: [e(10, 0)], until: 100, want: [] },
    { name: 'release from an initial high', debounce: 50, initial: 1, edges: [e(10, 0)], until: 60, want: [e(10, 0)] },
    { name: 'digital 50 ms: a 30 ms glitch is dropped', debounce: 50, initial: 0, edges: [e(0, 1), e(30, 0)], until: 1000, want: [] },
    { name: 'filter 0 keeps every change at once', debounce: 0, initial: 0, edges: [e(1, 1), e(2, 0), e(3, 1)], want: [e(1, 1), e(2, 0), e(3, 1)] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(debounceEdges(c.edges, c.debounce, c.initial, c.until)).toEqual(c.want);
    });
  }
});

describe('Debouncer', () => {
  it('restarts the hold when the wall clock steps back', () => {
    const d = new Debouncer(5, 0);
    expect(d.feed(1000, 1)).toEqual([]);
    expect(d.flush(500)).toEqual([]);
    expect(d.flush(504)).toEqual([]);
    expect(d.flush(505)).toEqual([e(500, 1)]);
    expect(d.level).toBe(1);
  });

  it('reports pending while a change waits', () => {
    const d = new Debouncer(5, 0);
    d.feed(0, 1);
    expect(d.pending).toBe(true);
    d.flush(10);
    expect(d.pending).toBe(false);
  });
});

describe('counting and conversion', () => {
  it('counts only changes to the active level', () => {
    expect(countPulses([e(0, 1), e(5, 0), e(10, 1), e(15, 0), e(20, 1)])).toBe(3);
  });

  it.each([
    // Misol WH-SP-RG / Davis: 0.2794 mm per tip.
    { tips: 1, perTip: 0.2794, mm: 0.2794 },
    { tips: 3, perTip: 0.2794, mm: 0.8382 },
    { tips: 100, perTip: 0.2794, mm: 27.94 },
    { tips: 10, perTip: 0.2, mm: 2 },
    { tips: 0, perTip: 0.2794, mm: 0 },
  ])('$tips tips × $perTip mm = $mm mm', ({ tips, perTip, mm }) => {
    expect(rainMm(tips, perTip)).toBe(mm);
  });

  it.each([
    // YF-S201: F = 7.5 × Q, i.e. 7.5 Hz at 1 L/min = 450 pulses per minute.
    { pulses: 450, perLitre: 450, windowMs: 60_000, lpm: 1 },
    { pulses: 225, perLitre: 450, windowMs: 30_000, lpm: 1 },
    { pulses: 4500, perLitre: 450, windowMs: 60_000, lpm: 10 },
    { pulses: 75, perLitre: 450, windowMs: 1_000, lpm: 10 }, // 75 Hz = 10 L/min
    { pulses: 330, perLitre: 330, windowMs: 60_000, lpm: 1 }, // another meter's factor
    { pulses: 0, perLitre: 450, windowMs: 60_000, lpm: 0 },
    { pulses: 10, perLitre: 450, windowMs: 0, lpm: 0 },
  ])('$pulses pulses at $perLitre/L over $windowMs ms = $lpm L/min', ({ pulses, perLitre, windowMs, lpm }) => {
    expect(flowLitresPerMinute(pulses, perLitre, windowMs)).toBe(lpm);
  });

  it.each([
    { pulses: 450, perLitre: 450, litres: 1 },
    { pulses: 900, perLitre: 450, litres: 2 },
    { pulses: 45, perLitre: 450, litres: 0.1 },
  ])('$pulses pulses at $perLitre/L = $litres L', ({ pulses, perLitre, litres }) => {
    expect(volumeLitres(pulses, perLitre)).toBe(litres);
  });

  it('has the documented debounce defaults', () => {
    expect(defaultDebounceMs('digital')).toBe(50);
    expect(defaultDebounceMs('rain-gauge')).toBe(5);
    // Must stay below half a YF-S201 period at 30 L/min (225 Hz → 2.2 ms).
    expect(defaultDebounceMs('flow-meter')).toBeLessThan(1000 / (7.5 * 30) / 2);
  });
});

/** A tip of a tipping bucket as a reed switch shows it: bouncy close, held, bouncy release. */
function tip(ch: InputChannel, t: number): void {
  ch.edge(t, 1);
  ch.edge(t + 1, 0);
  ch.edge(t + 2, 1);
  ch.edge(t + 60, 0);
  ch.edge(t + 61, 1);
  ch.edge(t + 62, 0);
}

describe('InputChannel', () => {
  const rain = gpioDeviceSchema.parse({ id: 'rain-1', driver: 'gpio', pin: 5, mode: 'rain-gauge', interval: 60_000 });
  const flow = gpioDeviceSchema.parse({ id: 'flow-1', driver: 'gpio', pin: 6, mode: 'flow-meter', interval: 60_000 });
  const door = gpioDeviceSchema.parse({ id: 'float-1', driver: 'gpio', pin: 7, mode: 'digital', activeLow: true, interval: 1000 });

  it('turns bouncy tips into mm per interval and a running total', () => {
    const ch = new InputChannel(rain, 0, 0);
    tip(ch, 1000);
    tip(ch, 5000);
    tip(ch, 9000);
    const first = ch.sample(60_000, true);
    expect(first.map((r) => [r.sensor, r.value, r.unit])).toEqual([
      ['rain-1-rain', 0.8382, 'mm'],
      ['rain-1-rain-total', 0.8382, 'mm'],
    ]);
    tip(ch, 70_000);
    const second = ch.sample(120_000, true);
    expect(second.map((r) => r.value)).toEqual([0.2794, 1.1176]);
    const third = ch.sample(180_000, false);
    expect(third.map((r) => r.value)).toEqual([0, 1.1176]);
    expect(third.every((r) => r.clockSynced === false && r.ts === 180_000)).toBe(true);
    for (const r of [...first, ...second, ...third]) readingSchema.parse(r);
  });

  it('uses the configured mm per tip', () => {
    const ch = new InputChannel({ ...rain, mmPerTip: 0.2 }, 0, 0);
    for (let i = 0; i < 10; i++) tip(ch, i * 1000);
    expect(ch.sample(60_000, true)[0]?.value).toBe(2);
  });

  it('turns Hall pulses into L/min and litres', () => {
    const ch = new InputChannel(flow, 0, 0);
    // 7.5 Hz for a minute: 450 pulses, 1 L/min on a YF-S201.
    for (let i = 0; i < 450; i++) {
      const t = Math.round((i * 1000) / 7.5);
      ch.edge(t, 1);
      ch.edge(t + 60, 0);
    }
    const r = ch.sample(60_000, true);
    expect(r.map((x) => [x.sensor, x.value, x.unit])).toEqual([
      ['flow-1-flow', 1, 'L/min'],
      ['flow-1-volume', 1, 'L'],
    ]);
    for (const x of r) readingSchema.parse(x);
  });

  it('divides by the measured window, or the configured one when the clock stepped', () => {
    const ch = new InputChannel(flow, 0, 0);
    for (let i = 0; i < 225; i++) {
      ch.edge(i * 100, 1);
      ch.edge(i * 100 + 50, 0);
    }
    // A late timer: 225 pulses in 45 s measured = 0.5 L / 0.75 min.
    expect(ch.sample(45_000, true)[0]?.value).toBe(0.666667);
    for (let i = 0; i < 450; i++) {
      ch.edge(50_000 + i * 20, 1);
      ch.edge(50_000 + i * 20 + 10, 0);
    }
    // The wall clock jumped a day ahead (NTP at boot): use the nominal minute.
    expect(ch.sample(45_000 + 86_400_000, true)[0]?.value).toBe(1);
  });

  it('inverts an active-low contact and reports the debounced state', () => {
    // Pulled up: idle high, closed = low.
    const ch = new InputChannel(door, 1, 0);
    expect(ch.sample(1000, true)[0]?.value).toBe(0);
    ch.edge(1500, 0);
    ch.edge(1510, 1); // bounce
    ch.edge(1520, 0);
    expect(ch.sample(2000, true)[0]?.value).toBe(1);
    ch.edge(2500, 1);
    expect(ch.sample(2520, true)[0]?.value).toBe(1); // released 20 ms ago: not yet confirmed
    expect(ch.sample(3000, true)).toEqual([{ sensor: 'float-1-state', ts: 3000, value: 0, unit: 'state', quality: 'good', clockSynced: true }]);
  });

  it('error readings cover every point of the mode', () => {
    for (const mode of ['digital', 'rain-gauge', 'flow-meter'] as const) {
      const rs = errorReadings({ id: 'x-1', mode }, 42, true);
      expect(rs.map((r) => r.sensor)).toEqual(GPIO_POINTS[mode].map((p) => `x-1-${p.point}`));
      for (const r of rs) {
        expect(r).toMatchObject({ value: null, quality: 'error', ts: 42 });
        readingSchema.parse(r);
      }
    }
  });
});
