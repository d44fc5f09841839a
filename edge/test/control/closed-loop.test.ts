/**
 * Control in a closed loop with the simulated village (edge/src/control/harness.ts): 30 days of
 * seed 11 — a month with dry spells and a few rainy days — with two fields under soil-moisture
 * control from a canal pump, one under an ET-scaled program from the tank, and street lights by
 * the sun. Readings come from the model every minute; what the outputs do waters the fields.
 * A second, shorter run drains a small tank on purpose to exercise the low-tank interlock.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { EventInput } from '@smart-village/shared';
import { programStarts, SiteCalendar } from '../../src/control/calendar.js';
import { ClosedLoop, RememberingCalendar, type LoopSample, type OnPeriod } from '../../src/control/harness.js';
import { parseConfigText } from '../../src/config.js';
import { mmToVwc, resolveField } from '../../src/sim/soil.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** 2025-03-01 00:00 in Can Tho (UTC+7). */
const T0 = Date.UTC(2025, 1, 28, 17);
const DAYS = 30;
const END = T0 + DAYS * DAY;
const SITE = { timezone: 'Asia/Ho_Chi_Minh', lat: 10.03, lon: 105.78 };

const VILLAGE = (seed: number, body: string): string => `
version: 1
site: { id: my-hoa, name: My Hoa, timezone: ${SITE.timezone}, lat: ${SITE.lat}, lon: ${SITE.lon} }
edge: { id: pi-1, gpio: { driver: simulated } }
buses:
  - { id: rs485-1, type: simulated, timeout: 500ms }
devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1 }
  - { id: soil-2, bus: rs485-1, profile: soil-th-ec-rs485, slave: 2 }
  - { id: soil-3, bus: rs485-1, profile: soil-th-ec-rs485, slave: 3 }
  - { id: rain, bus: rs485-1, profile: rain-gauge-rs485, slave: 10 }
  - { id: tank, bus: rs485-1, profile: level-ultrasonic-dyp-a02, slave: 11, overrides: { level: { quantity: water-fill, scale: -0.05, offset: 100, max: 100 } } }
  - { id: weather, bus: rs485-1, profile: weather-station-rs485, slave: 12 }
  - { id: pump-flow, driver: gpio, pin: 27, mode: flow-meter }
sensors:
  - { id: ruong-1-do-am, source: soil-1/moisture, field: ruong-1 }
  - { id: ruong-2-do-am, source: soil-2/moisture, field: ruong-2 }
  - { id: ruong-3-do-am, source: soil-3/moisture, field: ruong-3 }
  - { id: bon-nuoc-muc, source: tank/level, field: bon-nuoc }
simulation: { seed: ${seed} }
${body}`;

/**
 * Fields 1 and 3: soil moisture 28-32 % from a canal pump of 150 L/min (9 m³/h, a small
 * Mekong-delta pump; the demo's 20 L/min cannot keep up with ~5 mm/day of ET on 0.1 ha).
 * Field 2: an ET-scaled program from the tank (5000 L, refilled at 2 L/min by the simulation).
 */
const MAIN = VILLAGE(
  11,
  `
actuators:
  - { id: van-ruong-1, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: van-ruong-2, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: van-ruong-3, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: bom-kenh, kind: pump, output: { driver: simulated }, maxRuntime: 2h }
  - { id: bom-bon, kind: pump, output: { driver: simulated }, maxRuntime: 1h }
  - { id: den-duong-1, kind: light, output: { driver: simulated } }
  - { id: den-duong-2, kind: light, output: { driver: simulated } }
zones:
  - { id: ruong-1, field: ruong-1, valve: van-ruong-1, pump: bom-kenh, flowLpm: 150, moisture: { sensor: ruong-1-do-am, start: 28, target: 32, maxRun: 40m, minOff: 30m } }
  - { id: ruong-2, field: ruong-2, valve: van-ruong-2, pump: bom-bon, tank: bon-nuoc-muc, flowLpm: 40, flowSensor: pump-flow-flow }
  - { id: ruong-3, field: ruong-3, valve: van-ruong-3, pump: bom-kenh, flowLpm: 150, moisture: { sensor: ruong-3-do-am, start: 28, target: 32, maxRun: 40m, minOff: 30m } }
programs:
  - { id: sang-chieu, days: daily, starts: ["05:30", "sunset-30m"], zones: [{ zone: ruong-2, duration: 15m }], etScaling: true }
irrigation:
  capacity: { zones: 1 }
  rain: { gaugeSensor: rain-rain-total, mm: 5, hours: 24 }
  et:
    sensors: { airTemperature: weather-temperature, relativeHumidity: weather-humidity, windSpeed: weather-wind-speed, solarRadiation: weather-solar, airPressure: weather-pressure }
  tank: { minPercent: 15, restartPercent: 25 }
lighting:
  - { id: den-duong, lights: [den-duong-1, den-duong-2], on: sunset+10m, off: sunrise-10m, offWindows: [["23:30", "04:30"]] }
`,
);

/**
 * One field that always wants water (start 40 %: the soil never gets there) pumped at
 * 100 L/min from the 5000 L tank, which the simulation refills at only 2 L/min.
 */
const THIRSTY = VILLAGE(
  11,
  `
actuators:
  - { id: van-ruong-1, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: bom-bon, kind: pump, output: { driver: simulated }, maxRuntime: 1h }
zones:
  - { id: ruong-1, field: ruong-1, valve: van-ruong-1, pump: bom-bon, tank: bon-nuoc-muc, flowLpm: 100, moisture: { sensor: ruong-1-do-am, start: 40, target: 44, maxRun: 40m, minOff: 10m } }
irrigation:
  tank: { minPercent: 15, restartPercent: 25 }
`,
);

const config = parseConfigText(MAIN);
const zoneOf = (id: string) => config.site.zones.find((z) => z.id === id) as (typeof config.site.zones)[number];
const MOISTURE_ZONES = ['ruong-1', 'ruong-3'];
/** %VWC per mm of water in the model's root zone (300 mm: 1 mm = 0.33 %VWC). */
const VWC_PER_MM = mmToVwc(resolveField('any'), 1);
/** A shower forced on day 4, so at least one start follows heavy rain whatever the seed does. */
const SHOWER = { at: T0 + 3 * DAY + 14 * HOUR, mm: 12, ms: HOUR };

let controlled: ClosedLoop;
let uncontrolled: ClosedLoop;

async function run(text: string, days: number, control = true, before?: (loop: ClosedLoop) => void): Promise<ClosedLoop> {
  const loop = new ClosedLoop({ config: parseConfigText(text), start: T0, control });
  await loop.start();
  before?.(loop);
  await loop.runUntil(T0 + days * DAY);
  await loop.stop();
  return loop;
}

const forceShower = (loop: ClosedLoop): void => void loop.clock.setTimeout(() => loop.village.rainNow(SHOWER.mm, SHOWER.ms), SHOWER.at - T0);

beforeAll(async () => {
  // The same seed, weather and forced shower, with and without control.
  controlled = await run(MAIN, DAYS, true, forceShower);
  uncontrolled = await run(MAIN, DAYS, false, forceShower);
}, 80_000);

const series = (loop: ClosedLoop, sensor: string): { ts: number; v: number }[] => loop.samples.map((s) => ({ ts: s.ts, v: s.values[sensor] as number }));
const rainAt = (s: LoopSample): number => s.values['rain-rain-total'] as number;
const eventsOf = (loop: ClosedLoop, kind: string, source?: string): EventInput[] => loop.events.filter((e) => e.kind === kind && (source === undefined || e.source === source));

/**
 * The fastest the model dries a field inside or below the band, %VWC per hour: the largest
 * fall over any hour of the uncontrolled run that starts at or below the target (below field
 * capacity, 35 %, so only crop water use, no drainage).
 */
function dryingPerHour(target: number): number {
  let worst = 0;
  for (const z of MOISTURE_ZONES) {
    const s = series(uncontrolled, `${z}-do-am`);
    for (let i = 0; i + 60 < s.length; i++) {
      const a = s[i] as { v: number };
      if (a.v <= target) worst = Math.max(worst, a.v - (s[i + 60] as { v: number }).v);
    }
  }
  return worst;
}

/**
 * The most one minute of watering raises a field (a minute with its valve on and no rain): the
 * overshoot above target before the next reading stops the run.
 */
function risePerSample(zone: string): number {
  const valve = zoneOf(zone).valve;
  const s = controlled.samples;
  let worst = 0;
  for (let i = 1; i < s.length; i++) {
    const a = s[i - 1] as LoopSample;
    const b = s[i] as LoopSample;
    if (a.on.includes(valve) && rainAt(b) === rainAt(a)) worst = Math.max(worst, (b.values[`${zone}-do-am`] as number) - (a.values[`${zone}-do-am`] as number));
  }
  return worst;
}

/** The first 6 h: a field that starts below the band is brought into it. */
const SETTLE = 6 * HOUR;

interface BandCheck {
  /** When the field was first at or above start. */
  reached: number | undefined;
  /** Lowest reading after SETTLE. */
  lowest: number;
  /** Readings after SETTLE below start − lowMargin. */
  tooDry: number;
  /** Readings above target + highMargin not explained by rain since it was last within that. */
  tooWet: number;
}

/** A field's readings against [start − lowMargin, target + highMargin + rain since it was last in band]. */
function checkBand(loop: ClosedLoop, zone: string, lowMargin: number, highMargin: number): BandCheck {
  const m = zoneOf(zone).moisture as { start: number; target: number };
  const out: BandCheck = { reached: undefined, lowest: Infinity, tooDry: 0, tooWet: 0 };
  // Wetter than target before it was ever in band: the field started that way.
  let lastIn: LoopSample | undefined;
  for (const s of loop.samples) {
    const v = s.values[`${zone}-do-am`] as number;
    if (out.reached === undefined && v >= m.start) out.reached = s.ts;
    if (s.ts >= T0 + SETTLE) {
      out.lowest = Math.min(out.lowest, v);
      if (v < m.start - lowMargin) out.tooDry++;
    }
    if (v <= m.target + highMargin) lastIn = s;
    else if (lastIn && v > m.target + highMargin + (rainAt(s) - rainAt(lastIn)) * VWC_PER_MM) out.tooWet++;
  }
  return out;
}

describe('control in a closed loop with the simulated village (30 days, seed 11)', () => {
  it('the rig runs the real calendar: its remembered answers equal SiteCalendar', () => {
    const plain = new SiteCalendar(SITE);
    const remembering = new RememberingCalendar(SITE);
    for (let t = T0 - DAY; t < END; t += 37 * MIN + 13_001) {
      expect(remembering.localDate(t)).toBe(plain.localDate(t));
      expect(remembering.localParts(t)).toEqual(plain.localParts(t));
    }
    for (let d = plain.localDate(T0); d <= plain.localDate(END); d = plain.addDays(d, 1)) {
      expect(remembering.sun(d)).toEqual(plain.sun(d));
      expect(remembering.at(d, 330)).toBe(plain.at(d, 330));
    }
  });

  it('keeps soil moisture of moisture-controlled fields in their band; without control they leave it', () => {
    const zone = zoneOf('ruong-1');
    const m = zone.moisture as NonNullable<typeof zone.moisture>;
    // Below start: the time from a reading under start to water on that field is at most one
    // reading, the field's own soak time (minOff, after a run that ended at maxRun below
    // target), and the runs ahead of it on the single pump (the other field's maxRun, the
    // program's longest run: 15 min at ET's maxPercent), at the model's fastest drying rate.
    const step = (config.site.programs[0] as { zones: { duration?: number }[] }).zones[0]?.duration as number;
    const programRun = (step * config.site.irrigation.et.maxPercent) / 100;
    const lagHours = (MIN + m.minOff + m.maxRun + programRun) / HOUR;
    const drying = dryingPerHour(m.target);
    const low = drying * lagHours;
    expect(drying).toBeGreaterThan(0.05); // the model does dry the soil (~0.1-0.3 %/h by day)
    expect(low).toBeLessThan(1); // a margin, not a second band

    for (const z of MOISTURE_ZONES) {
      // Above target: one minute of watering before the reading that stops it, plus rain.
      const high = risePerSample(z);
      expect(high).toBeLessThan(0.15);
      const c = checkBand(controlled, z, low, high);
      // A field that starts dry is brought into the band within hours.
      expect(c.reached, z).toBeLessThan(T0 + SETTLE);
      expect({ zone: z, tooDry: c.tooDry, tooWet: c.tooWet }).toEqual({ zone: z, tooDry: 0, tooWet: 0 });
      expect(c.lowest).toBeGreaterThanOrEqual(m.start - low);

      // The same weather without control: the field dries far out of the band.
      const u = checkBand(uncontrolled, z, low, high);
      expect(u.tooDry, `${z} without control`).toBeGreaterThan(3 * 24 * 60);
      expect(u.lowest).toBeLessThan(m.start - 3);
    }
    // Control did it with its own runs, each explained.
    expect(eventsOf(controlled, 'zone.started').filter((e) => e.data?.source === 'moisture').length).toBeGreaterThan(10);
  });

  it('never leaves an output on past its lease or its maxRuntime', () => {
    const periods = controlled.periods;
    expect(periods.filter((p) => p.kind === 'valve').length).toBeGreaterThan(60);
    expect(periods.filter((p) => p.kind === 'light').length).toBe(2 * 2 * DAYS);
    for (const p of periods) {
      const to = p.to ?? END;
      expect(p.leases.length, `${p.id} at ${p.from} went on without a lease`).toBeGreaterThan(0);
      // A renewal comes while the lease before it still holds.
      for (let i = 1; i < p.leases.length; i++) expect((p.leases[i] as { at: number }).at).toBeLessThanOrEqual((p.leases[i - 1] as { end: number }).end);
      expect(to, `${p.id} on at ${p.from} past its lease`).toBeLessThanOrEqual((p.leases[p.leases.length - 1] as { end: number }).end);
      expect(to - p.from, `${p.id} on at ${p.from} past its maxRuntime`).toBeLessThanOrEqual(p.maxRuntime);
    }
    // The periods agree with what each simulated output itself recorded (after open()'s safe state).
    for (const [id, output] of controlled.outputs) {
      const mine = periods.filter((p) => p.id === id).flatMap((p) => [{ at: p.from, on: true }, ...(p.to !== undefined ? [{ at: p.to, on: false }] : [])]);
      expect(mine).toEqual(output.history().slice(1));
    }
    // Control switched every output off itself: the leases never had to.
    expect(eventsOf(controlled, 'output.lease-expired')).toEqual([]);
  });

  it('writes its state when it changes, not on every pass', () => {
    const runs = controlled.store.runs().length;
    expect(runs).toBeGreaterThan(60);
    // Every reading (43 200 of them) starts a pass; the state is written only with a
    // decision — an event or a run — so the SD card is not worn by the poll loop.
    expect(controlled.store.writes).toBeGreaterThan(runs);
    expect(controlled.store.writes).toBeLessThanOrEqual(controlled.events.length + runs);
  });

  it('never runs the tank pump while the tank is below its minimum (normal month)', () => {
    const t = config.site.irrigation.tank;
    const pumping = controlled.samples.filter((s) => s.on.includes('bom-bon'));
    expect(pumping.length).toBeGreaterThan(300);
    for (const s of pumping) expect(s.values['bon-nuoc-muc']).toBeGreaterThanOrEqual(t.minPercent);
    // Each tank-pump run starts with its valve open and stops before the valve closes.
    for (const p of controlled.periods.filter((x) => x.id === 'bom-bon')) {
      const valve = controlled.periods.find((v) => v.id === 'van-ruong-2' && v.from <= p.from && (v.to ?? END) >= (p.to ?? END)) as OnPeriod;
      expect(valve, `pump on at ${p.from} without its valve`).toBeDefined();
    }
  });

  it('stops the pump when a small tank runs low, and waters again once it refills above restartPercent', async () => {
    const loop = await run(THIRSTY, 2);
    const t = loop.config.site.irrigation.tank;
    const low = eventsOf(loop, 'tank.low', 'bon-nuoc-muc');
    const ok = eventsOf(loop, 'tank.ok', 'bon-nuoc-muc');
    expect(low.length).toBeGreaterThanOrEqual(3);
    expect(ok.length).toBeGreaterThanOrEqual(low.length - 1);
    for (const e of low) expect(e.data?.value).toBeLessThan(t.minPercent);
    for (const e of ok) expect(e.data?.value).toBeGreaterThanOrEqual(t.restartPercent);

    // At every minute the pump runs, the model's tank is at or above the minimum; the reading
    // that shows it below stops the pump in the same instant.
    const pumping = loop.samples.filter((s) => s.on.includes('bom-bon'));
    expect(pumping.length).toBeGreaterThan(30);
    for (const s of pumping) expect(s.values['bon-nuoc-muc']).toBeGreaterThanOrEqual(t.minPercent);
    for (const s of loop.samples) if ((s.values['bon-nuoc-muc'] as number) < t.minPercent) expect(s.on).not.toContain('bom-bon');

    // Locked from each tank.low to the next tank.ok; then watering resumes at once (the run
    // waited in the queue), the pump after its pumpDelay, with the tank above restartPercent.
    const pumpOns = loop.periods.filter((p) => p.id === 'bom-bon').map((p) => p.from);
    const fillAt = (ts: number): number => (loop.samples.filter((s) => s.ts <= ts).pop() as LoopSample).values['bon-nuoc-muc'] as number;
    const pumpDelay = (loop.config.site.zones[0] as { pumpDelay: number }).pumpDelay;
    low.forEach((l, i) => {
      const refilled = ok[i];
      expect(refilled === undefined || refilled.ts > l.ts).toBe(true);
      const until = refilled?.ts ?? T0 + 2 * DAY;
      expect(pumpOns.filter((at) => at > l.ts && at < until), `pump on while locked after tank.low at ${l.ts}`).toEqual([]);
      if (refilled === undefined) return;
      const resumed = pumpOns.find((at) => at >= until) as number;
      expect(resumed - until).toBe(pumpDelay);
      expect(fillAt(resumed)).toBeGreaterThanOrEqual(t.restartPercent);
    });
    // The tank really ran low: the pump stopped within one minute's draw (100 L = 2 %) of the minimum.
    const lowest = Math.min(...loop.samples.map((s) => s.values['bon-nuoc-muc'] as number));
    expect(lowest).toBeLessThan(t.minPercent);
    expect(lowest).toBeGreaterThan(t.minPercent - 2.1);
  });

  it('skips a program start after the configured rain in the preceding window, with the rain reason, and only then', () => {
    const rain = config.site.irrigation.rain;
    const program = config.site.programs[0] as (typeof config.site.programs)[number];
    const cal = new SiteCalendar(SITE);
    const s = controlled.samples;
    /** Gauge rise over [at - hours, at) from the readings control had before the start. */
    const rainBefore = (at: number, inclusive: boolean): number => {
      const upTo = s.filter((x) => (inclusive ? x.ts <= at : x.ts < at)).pop() as LoopSample;
      const base = s.filter((x) => x.ts < at - rain.hours * HOUR).pop() ?? (s[0] as LoopSample);
      return rainAt(upTo) - rainAt(base);
    };
    let wet = 0;
    let dry = 0;
    for (const start of programStarts(program, cal, T0 + 1, END)) {
      const a = rainBefore(start.at, false);
      const b = rainBefore(start.at, true);
      const skipped = eventsOf(controlled, 'zone.skipped', 'ruong-2').filter((e) => e.data?.scheduledAt === start.at && e.data?.rule === 'rain');
      const started = eventsOf(controlled, 'zone.started', 'ruong-2').filter((e) => e.data?.source === 'program' && e.ts >= start.at && e.ts < start.at + program.window);
      if (a >= rain.mm && b >= rain.mm) {
        wet++;
        expect(skipped.length, `start ${start.at} after ${a} mm`).toBe(1);
        expect(skipped[0]?.message).toMatch(new RegExp(`mm rain in the last ${rain.hours} h >= ${rain.mm} mm$`));
        expect(skipped[0]?.ts).toBe(start.at);
        expect(started.filter((e) => e.ts < start.at + MIN)).toEqual([]);
      } else if (a < rain.mm && b < rain.mm) {
        dry++;
        expect(skipped, `start ${start.at} after ${a} mm`).toEqual([]);
        expect(started.length, `start ${start.at} after ${a} mm did not water`).toBeGreaterThan(0);
      }
    }
    // The forced shower (12 mm) covers that evening's and the next morning's start.
    expect(wet).toBeGreaterThanOrEqual(2);
    expect(dry).toBeGreaterThan(40);
    expect(eventsOf(controlled, 'zone.skipped', 'ruong-2').filter((e) => e.data?.rule === 'rain' && e.ts > SHOWER.at && e.ts < SHOWER.at + DAY).length).toBe(2);
  });

  it('switches the street lights by the sun: on within a minute after sunset+10m, off before sunrise-10m, off from 23:30 to 04:30', () => {
    const cal = new SiteCalendar(SITE);
    const group = config.site.lighting[0] as (typeof config.site.lighting)[number];
    expect([group.on, group.off, group.offWindows]).toEqual(['sunset+10m', 'sunrise-10m', [['23:30', '04:30']]]);
    // The nights as the calendar has them: sunset+10m to 23:30, and 04:30 to sunrise-10m.
    const expected: { from: number; to: number }[] = [];
    for (let d = cal.addDays(cal.localDate(T0), -1); d <= cal.localDate(END); d = cal.addDays(d, 1)) {
      const next = cal.addDays(d, 1);
      const sunset = (cal.sun(d) as { sunset: number }).sunset;
      const sunrise = (cal.sun(next) as { sunrise: number }).sunrise;
      expected.push({ from: sunset + 10 * MIN, to: cal.at(d, 23 * 60 + 30) }, { from: cal.at(next, 4 * 60 + 30), to: sunrise - 10 * MIN });
    }
    const inRun = expected.filter((e) => e.from >= T0 && e.to <= END);
    expect(inRun.length).toBe(2 * DAYS);
    for (const id of group.lights) {
      const actual = controlled.periods.filter((p) => p.id === id);
      expect(actual.length).toBe(inRun.length);
      actual.forEach((p, i) => {
        const e = inRun[i] as { from: number; to: number };
        expect(p.from - e.from, `${id} on at ${new Date(p.from).toISOString()}`).toBeGreaterThanOrEqual(0);
        expect(p.from - e.from).toBeLessThanOrEqual(MIN);
        expect(e.to - (p.to as number), `${id} off at ${new Date(p.to as number).toISOString()}`).toBeGreaterThanOrEqual(0);
        expect(e.to - (p.to as number)).toBeLessThanOrEqual(MIN);
      });
    }
    expect(eventsOf(controlled, 'light.on', 'den-duong').length).toBe(2 * DAYS);
  });
});
