import { describe, expect, it } from 'vitest';
import { SiteCalendar } from '../../src/control/calendar.js';
import { et0MmPerHour } from '../../src/sim/et0.js';
import {
  accumulateEt0,
  et0Hargreaves,
  etScalePercent,
  extraterrestrialDailyMJ,
  extraterrestrialHourlyMJ,
  type WeatherSample,
} from '../../src/control/et.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('extraterrestrial radiation (FAO-56 Eq. 21, 28)', () => {
  it.each([
    // FAO-56 Example 8: 20° S, 3 September (J = 246): Ra = 32.2 MJ m⁻² day⁻¹.
    { name: 'Example 8', lat: -20, J: 246, ra: 32.2, digits: 1 },
    // FAO-56 Example 17: Bangkok 13°44′ N, mid-April (J = 105): Ra = 38.06.
    { name: 'Example 17', lat: 13 + 44 / 60, J: 105, ra: 38.06, digits: 2 },
    // FAO-56 Example 18: Brussels 50°48′ N, 6 July (J = 187): Ra = 41.09.
    { name: 'Example 18', lat: 50 + 48 / 60, J: 187, ra: 41.09, digits: 2 },
  ])('daily, $name: Ra = $ra', ({ lat, J, ra, digits }) => {
    expect(extraterrestrialDailyMJ(lat, J)).toBeCloseTo(ra, digits);
  });

  it('hourly, FAO-56 Example 19 (N′Diaye 16°13′ N, 1 October, 14–15 h): Ra = 3.543 MJ m⁻² h⁻¹', () => {
    // Solar time at the middle of the hour, Eq. 31–33: t + 0.06667 (Lz − Lm) + Sc, Lz = 15°, Lm = 16.25°.
    const b = (2 * Math.PI * (274 - 81)) / 364;
    const sc = 0.1645 * Math.sin(2 * b) - 0.1255 * Math.cos(b) - 0.025 * Math.sin(b);
    const mid = 14.5 + 0.06667 * (15 - 16.25) + sc;
    expect(extraterrestrialHourlyMJ(16 + 13 / 60, 274, mid - 0.5, mid + 0.5)).toBeCloseTo(3.543, 3);
  });

  it('hourly values add up to the daily value (Eq. 28 over the day = Eq. 21), also across solar midnight', () => {
    for (const [lat, J] of [
      [10.8, 74],
      [-20, 246],
      [50.8, 187],
      [75, 172], // polar day: the sun shines at solar midnight too
    ] as const) {
      let sum = 0;
      for (let h = 0; h < 24; h++) sum += extraterrestrialHourlyMJ(lat, J, 12.5 + h, 13.5 + h);
      expect(sum).toBeCloseTo(extraterrestrialDailyMJ(lat, J), 9);
    }
  });
});

describe('Hargreaves (FAO-56 Eq. 52)', () => {
  it('FAO-56 Example 17 inputs (Bangkok, April): 5.20 mm/day, within 10 % of the Penman–Monteith 5.72', () => {
    // By hand: 0.0023 · (30.2 + 17.8) · √9.2 · 0.408 · 38.06 = 5.20 mm/day.
    const et0 = et0Hargreaves(25.6, 34.8, 38.06);
    expect(et0).toBeCloseTo(5.2, 2);
    expect(Math.abs(et0 - 5.72) / 5.72).toBeLessThan(0.1);
  });

  it('no temperature range, no evaporation by Hargreaves', () => {
    expect(et0Hargreaves(30, 30, 38)).toBe(0);
  });
});

// FAO-56 Example 19, N′Diaye (Senegal): 16°13′ N, 16°15′ W, 8 m; local clock Lz = 15° W,
// i.e. UTC−1, so 14:00–15:00 local is 15:00–16:00 UTC. 1 October 2025 is J = 274.
const ndiaye = { lat: 16 + 13 / 60, lon: -(16 + 15 / 60), timezone: 'Atlantic/Cape_Verde', altitudeM: 8 };

describe('accumulateEt0: FAO-56 Example 19 through the whole pipeline', () => {
  it.each([
    // Rs = 2.450 MJ m⁻² h⁻¹ → 680.6 W/m²; Rs/Rso = 0.922 (from Eq. 28 and Eq. 37); ET0 = 0.63 mm/h.
    { name: '14–15 h', hour: 15, T: 38, RH: 52, u2: 3.3, rs: 2.45, expected: 0.63 },
    // Night, Rs/Rso = 0.8 assumed as in the example: ET0 = 0.0 mm/h.
    { name: '02–03 h', hour: 3, T: 28, RH: 90, u2: 1.9, rs: 0, expected: 0 },
  ])('$name: $expected mm', ({ hour, T, RH, u2, rs, expected }) => {
    const from = Date.UTC(2025, 9, 1, hour);
    const sample: WeatherSample = { ts: from + 30 * MIN, airTemperatureC: T, relativeHumidity: RH, windSpeed: u2, solarWm2: (rs * 1e6) / 3600 };
    const r = accumulateEt0([sample], from, from + HOUR, ndiaye);
    expect(r.method).toBe('penman-monteith');
    expect(r.coveredMs).toBe(HOUR);
    expect(Math.abs(r.mm - expected)).toBeLessThan(0.01);
    // Pressure from altitude (Eq. 7: 8 m → 101.2 kPa) gives what the station's barometer would.
    expect(accumulateEt0([{ ...sample, pressureHPa: 1012 }], from, from + HOUR, ndiaye).mm).toBeCloseTo(r.mm, 3);
  });

  it('uses the example’s Rs/Rso = 2.450 / 2.658 (Rso from Eq. 28 and 37) for the afternoon hour', () => {
    const from = Date.UTC(2025, 9, 1, 15);
    const inputs = { airTemperatureC: 38, relativeHumidity: 52, windSpeed2m: 3.3, solarWm2: 2.45e6 / 3600, pressureHPa: 1012 };
    const r = accumulateEt0([{ ts: from + 30 * MIN, airTemperatureC: 38, relativeHumidity: 52, windSpeed: 3.3, solarWm2: inputs.solarWm2, pressureHPa: 1012 }], from, from + HOUR, ndiaye);
    expect(r.mm).toBeCloseTo(et0MmPerHour({ ...inputs, relativeShortwave: 2.45 / 2.658 }), 4);
    expect(r.mm).not.toBeCloseTo(et0MmPerHour({ ...inputs, relativeShortwave: 0.8 }), 3);
  });
});

describe('accumulateEt0: night hours take Rs/Rso from the last hour with the sun high (FAO-56 Eq. 39 note)', () => {
  // A dry, windy night hour at N′Diaye, 22:00–23:00 local (23:00 UTC), so ET0 stays above 0.
  const night = Date.UTC(2025, 9, 1, 23);
  const nightSample: WeatherSample = { ts: night + 30 * MIN, airTemperatureC: 30, relativeHumidity: 40, windSpeed: 4, solarWm2: 0 };
  const nightInputs = { airTemperatureC: 30, relativeHumidity: 40, windSpeed2m: 4, solarWm2: 0, pressureHPa: 1012 };
  // 15:00–16:00 local (16:00 UTC), sun ~45° high. 1200 W/m² is above clear sky: Rs/Rso clamps to 1;
  // 30 W/m² is heavy cloud: Rs/Rso clamps to FAO-56's lower bound 0.25 (Eq. 39 range 0.25–1).
  const afternoon = (daysBack: number, solarWm2: number): WeatherSample => ({
    ts: Date.UTC(2025, 9, 1, 16, 30) - daysBack * DAY,
    airTemperatureC: 35,
    relativeHumidity: 45,
    solarWm2,
    pressureHPa: 1012,
  });
  it.each([
    { name: 'after a bright afternoon', before: [afternoon(0, 1200)], ratio: 1 },
    { name: 'after an overcast afternoon', before: [afternoon(0, 30)], ratio: 0.25 },
    { name: 'with no afternoon in the last 24 h: 0.8', before: [afternoon(1, 30)], ratio: 0.8 },
    { name: 'with no afternoon at all: 0.8', before: [], ratio: 0.8 },
  ])('$name: Rs/Rso = $ratio', ({ before, ratio }) => {
    const r = accumulateEt0([...before, { ...nightSample, pressureHPa: 1012 }], night, night + HOUR, ndiaye);
    const expected = et0MmPerHour({ ...nightInputs, relativeShortwave: ratio });
    expect(expected).toBeGreaterThan(0);
    expect(r.mm).toBeCloseTo(expected, 9);
  });

  it('dew (a negative hourly value) counts as 0, not as water given back', () => {
    const dew = { airTemperatureC: 24, relativeHumidity: 100, windSpeed2m: 0, solarWm2: 0, pressureHPa: 1012 };
    expect(et0MmPerHour({ ...dew, relativeShortwave: 0.8 })).toBeLessThan(0);
    const r = accumulateEt0([{ ts: night + 30 * MIN, airTemperatureC: 24, relativeHumidity: 100, windSpeed: 0, solarWm2: 0, pressureHPa: 1012 }], night, night + HOUR, ndiaye);
    expect(r).toEqual({ mm: 0, coveredMs: HOUR, method: 'penman-monteith' });
  });
});

// A dry-season day in the Mekong delta (Can Tho, 10.05° N, 105.75° E), local 2026-03-15, one
// sample every 10 minutes: 24 °C at dawn to 33 °C mid-afternoon, humidity 95 % → 55 %, light wind,
// sunshine peaking at 850 W/m².
const canTho = { lat: 10.045, lon: 105.747, timezone: 'Asia/Ho_Chi_Minh', altitudeM: 2 };
const cal = new SiteCalendar(canTho);
const dayStart = cal.at('2026-03-15', 0);

function mekongDay(start = dayStart, hours = 24, fields: (h: number) => Partial<WeatherSample> = () => ({})): WeatherSample[] {
  const out: WeatherSample[] = [];
  for (let ts = start; ts < start + hours * HOUR; ts += 10 * MIN) {
    const h = cal.localParts(ts).minutes / 60;
    const T = 28.5 - 4.5 * Math.cos((2 * Math.PI * (h - 3)) / 24);
    const sunUp = Math.max(0, Math.sin((Math.PI * (h - 6.1)) / 12.1));
    out.push({
      ts,
      airTemperatureC: T,
      relativeHumidity: 95 - (40 * (T - 24)) / 9,
      windSpeed: 1 + sunUp,
      solarWm2: 850 * sunUp,
      ...fields(h),
    });
  }
  return out;
}

const strip = (samples: WeatherSample[], keys: (keyof WeatherSample)[], when: (s: WeatherSample) => boolean = () => true): WeatherSample[] =>
  samples.map((s) => {
    if (!when(s)) return s;
    const c = { ...s };
    for (const k of keys) delete c[k];
    return c;
  });

describe('accumulateEt0 over a Mekong day', () => {
  const samples = mekongDay();
  const day = accumulateEt0(samples, dayStart, dayStart + DAY, canTho);

  it('lands in the 3–6 mm/day of the dry season, by hourly Penman–Monteith over the whole day', () => {
    expect(day.method).toBe('penman-monteith');
    expect(day.coveredMs).toBe(DAY);
    expect(day.mm).toBeGreaterThan(3);
    expect(day.mm).toBeLessThan(6);
  });

  it('equals the sum of its 24 hourly values, and any split adds up', () => {
    let sum = 0;
    for (let h = 0; h < 24; h++) sum += accumulateEt0(samples, dayStart + h * HOUR, dayStart + (h + 1) * HOUR, canTho).mm;
    expect(sum).toBeCloseTo(day.mm, 9);
    const cut = dayStart + 10 * HOUR + 17 * MIN + 23_456;
    const a = accumulateEt0(samples, dayStart, cut, canTho);
    const b = accumulateEt0(samples, cut, dayStart + DAY, canTho);
    expect(a.mm + b.mm).toBeCloseTo(day.mm, 9);
    expect(a.coveredMs + b.coveredMs).toBe(DAY);
  });

  it('the night adds almost nothing; the hours around noon the most', () => {
    const night = accumulateEt0(samples, dayStart, dayStart + 5 * HOUR, canTho).mm;
    const noon = accumulateEt0(samples, dayStart + 11 * HOUR, dayStart + 14 * HOUR, canTho).mm;
    expect(night).toBeLessThan(0.1);
    expect(noon).toBeGreaterThan(day.mm / 3);
  });

  it.each<{ name: string; samples: WeatherSample[]; method: string }>([
    { name: 'no radiation → Hargreaves', samples: strip(samples, ['solarWm2']), method: 'hargreaves' },
    { name: 'no humidity → Hargreaves', samples: strip(samples, ['relativeHumidity']), method: 'hargreaves' },
    { name: 'radiation only in the morning → mixed', samples: strip(samples, ['solarWm2'], (s) => s.ts >= dayStart + 12 * HOUR), method: 'mixed' },
    { name: 'no wind → Penman–Monteith with 2 m/s', samples: strip(samples, ['windSpeed']), method: 'penman-monteith' },
  ])('$name', ({ samples, method }) => {
    const r = accumulateEt0(samples, dayStart, dayStart + DAY, canTho);
    expect(r.method).toBe(method);
    expect(r.coveredMs).toBe(DAY);
    expect(r.mm).toBeGreaterThan(3);
    expect(r.mm).toBeLessThan(6);
  });

  it('missing wind is exactly 2 m/s (FAO-56 ch. 3); missing pressure is Eq. 7 at the altitude', () => {
    const noWind = accumulateEt0(strip(samples, ['windSpeed']), dayStart, dayStart + DAY, canTho).mm;
    const twoMs = accumulateEt0(mekongDay(dayStart, 24, () => ({ windSpeed: 2 })), dayStart, dayStart + DAY, canTho).mm;
    expect(noWind).toBe(twoMs);
    // FAO-56 Example 2: at 1800 m, P = 81.8 kPa.
    const high = { ...canTho, altitudeM: 1800 };
    const eq7 = accumulateEt0(samples, dayStart, dayStart + DAY, high).mm;
    const barometer = accumulateEt0(mekongDay(dayStart, 24, () => ({ pressureHPa: 818 })), dayStart, dayStart + DAY, high).mm;
    expect(eq7).toBeCloseTo(barometer, 3);
    expect(eq7).not.toBeCloseTo(day.mm, 2);
  });
});

describe('accumulateEt0: Hargreaves per local day', () => {
  // Temperature only, every 10 min: 24 °C until 04:00, rising to 34 °C at 14:00, back to 24 °C at midnight.
  const tempOnly = (start: number, hours: number): WeatherSample[] =>
    strip(mekongDay(start, hours, (h) => ({ airTemperatureC: h < 4 ? 24 : 29 - 5 * Math.cos((2 * Math.PI * (h - 4)) / 20) })), ['relativeHumidity', 'solarWm2', 'windSpeed']);
  // Ra at 10.045° N on 15 March (J = 74) = 36.7 MJ m⁻² day⁻¹ (Eq. 21): 0.0023·(29+17.8)·√10·0.408·36.7 ≈ 5.1 mm.
  const daily = et0Hargreaves(24, 34, extraterrestrialDailyMJ(10.045, 74));

  it('a whole day is that day’s Eq. 52 value from its Tmin/Tmax', () => {
    const samples = tempOnly(dayStart, 24);
    expect(Math.min(...samples.map((s) => s.airTemperatureC))).toBeCloseTo(24, 9);
    expect(Math.max(...samples.map((s) => s.airTemperatureC))).toBeCloseTo(34, 9);
    expect(daily).toBeCloseTo(5.1, 1);
    const r = accumulateEt0(samples, dayStart, dayStart + DAY, canTho);
    expect(r).toEqual({ mm: expect.closeTo(daily, 9), coveredMs: DAY, method: 'hargreaves' });
  });

  it('part of a day is prorated by the hours covered', () => {
    const r = accumulateEt0(tempOnly(dayStart, 24), dayStart + 6 * HOUR, dayStart + 12 * HOUR, canTho);
    expect(r.mm).toBeCloseTo(daily / 4, 9);
    expect(r.coveredMs).toBe(6 * HOUR);
  });

  it('today so far takes its range from the last 24 h of readings', () => {
    // Yesterday in full and today until 06:00: today's own readings (24–25 °C) would say no range.
    const samples = tempOnly(dayStart - DAY, 30);
    const r = accumulateEt0(samples, dayStart, dayStart + 6 * HOUR, canTho);
    expect(r.coveredMs).toBe(6 * HOUR);
    expect(r.mm).toBeCloseTo(daily / 4, 1);
  });

  it('fewer than 18 h of readings give no range: not covered rather than 0 mm', () => {
    const r = accumulateEt0(tempOnly(dayStart, 10), dayStart, dayStart + 10 * HOUR, canTho);
    expect(r).toEqual({ mm: 0, coveredMs: 0, method: 'none' });
  });
});

describe('accumulateEt0: coverage', () => {
  const samples = mekongDay();

  it.each<{ name: string; samples: WeatherSample[]; maxGapMs?: number; covered: number }>([
    { name: 'the morning only, gap 30 min', samples: samples.filter((s) => s.ts < dayStart + 12 * HOUR), maxGapMs: 30 * MIN, covered: 12 * HOUR },
    // 12:00–13:00 is 40 min from the 11:50 reading: within the default hour.
    { name: 'the morning only, default gap 1 h', samples: samples.filter((s) => s.ts < dayStart + 12 * HOUR), covered: 13 * HOUR },
    // 15:00–16:00 has its middle 30 min from the 16:00 reading: beyond 20 min.
    { name: 'a hole 13:00–16:00, gap 20 min', samples: samples.filter((s) => s.ts < dayStart + 13 * HOUR || s.ts >= dayStart + 16 * HOUR), maxGapMs: 20 * MIN, covered: 21 * HOUR },
    { name: 'one reading an hour at :30', samples: samples.filter((s) => (s.ts - dayStart) % HOUR === 30 * MIN), covered: DAY },
    // The day before's 23:50 reading is 40 min from the middle of 00:00–01:00: that hour only.
    { name: 'readings from the day before only', samples: samples.map((s) => ({ ...s, ts: s.ts - DAY })), covered: HOUR },
    { name: 'readings from two days before only', samples: samples.map((s) => ({ ...s, ts: s.ts - 2 * DAY })), covered: 0 },
    { name: 'no readings', samples: [], covered: 0 },
  ])('$name: $covered ms covered', ({ samples, maxGapMs, covered }) => {
    const r = accumulateEt0(samples, dayStart, dayStart + DAY, canTho, maxGapMs === undefined ? undefined : { maxGapMs });
    expect(r.coveredMs).toBe(covered);
    if (covered === 0) expect(r).toEqual({ mm: 0, coveredMs: 0, method: 'none' });
  });

  it('uncovered hours add nothing: the morning alone is the morning of the full day', () => {
    const morning = samples.filter((s) => s.ts < dayStart + 12 * HOUR);
    const r = accumulateEt0(morning, dayStart, dayStart + DAY, canTho, { maxGapMs: 30 * MIN });
    expect(r.mm).toBeCloseTo(accumulateEt0(samples, dayStart, dayStart + 12 * HOUR, canTho).mm, 9);
  });

  it('an empty or reversed period is nothing', () => {
    expect(accumulateEt0(samples, dayStart + HOUR, dayStart + HOUR, canTho)).toEqual({ mm: 0, coveredMs: 0, method: 'none' });
    expect(accumulateEt0(samples, dayStart + 2 * HOUR, dayStart + HOUR, canTho)).toEqual({ mm: 0, coveredMs: 0, method: 'none' });
  });
});

describe('etScalePercent', () => {
  const now = Date.UTC(2026, 2, 15, 22, 30);
  const base = {
    et0Mm: 4.5,
    rainMm: 0,
    coveredMs: DAY,
    periodMs: DAY,
    intervalDays: 1,
    baseMmPerDay: 4.5,
    minPercent: 30,
    maxPercent: 150,
    newestSampleTs: now - 10 * MIN,
    nowMs: now,
    maxAgeMs: 3 * HOUR,
  };

  it.each<{ name: string; input: Partial<typeof base> & { newestSampleTs?: number | undefined }; percent: number; reason: RegExp }>([
    { name: 'ET0 equal to the base', input: {}, percent: 100, reason: /ET0 4\.5 mm − rain 0\.0 mm = 4\.5 mm needed; 100 % is 4\.5 mm/ },
    { name: 'a cooler day', input: { et0Mm: 3.6 }, percent: 80, reason: /→ 80 %/ },
    // Rain counts fully up to the deficit: 4.5 − 0.9 = 3.6 mm = 80 % of 4.5.
    { name: 'rain takes its share', input: { rainMm: 0.9 }, percent: 80, reason: /rain 0\.9 mm = 3\.6 mm needed.*→ 80 %$/ },
    { name: 'rain beyond the need: raised to the minimum', input: { rainMm: 10 }, percent: 30, reason: /= 0\.0 mm needed.*→ 0 % \(raised to the minimum 30 %\)/ },
    { name: 'rain beyond the need, minimum 0', input: { rainMm: 10, minPercent: 0 }, percent: 0, reason: /→ 0 %$/ },
    { name: 'a hot spell: capped at the maximum', input: { et0Mm: 9 }, percent: 150, reason: /→ 200 % \(capped at the maximum 150 %\)/ },
    { name: 'odd days: 100 % is two days of base', input: { et0Mm: 9, periodMs: 2 * DAY, coveredMs: 2 * DAY, intervalDays: 2 }, percent: 100, reason: /100 % is 9\.0 mm \(4\.5 mm\/day × 2 days\)/ },
    { name: 'Mon+Thu: 3.5 days', input: { et0Mm: 15.75, periodMs: 3.5 * DAY, coveredMs: 3.5 * DAY, intervalDays: 3.5 }, percent: 100, reason: /× 3\.5 days/ },
    // 3 mm in 16 covered hours of 24 is 4.5 mm over the period.
    { name: 'two thirds covered: scaled to the period', input: { et0Mm: 3, coveredMs: 16 * HOUR }, percent: 100, reason: /ET0 4\.5 mm/ },
    { name: 'less than half covered: 100 %', input: { et0Mm: 1, coveredMs: 11 * HOUR }, percent: 100, reason: /covers only 46 % of the 24\.0 h .*watering 100 %/ },
    { name: 'stale weather: 100 %', input: { newestSampleTs: now - 4 * HOUR }, percent: 100, reason: /weather stale \(newest reading 240 min old, max 180 min\); watering 100 %/ },
    { name: 'no weather at all: 100 %', input: { newestSampleTs: undefined, et0Mm: 0, coveredMs: 0 }, percent: 100, reason: /no weather readings; watering 100 %/ },
    { name: 'stale even with rain: 100 %, never 0', input: { newestSampleTs: now - 4 * HOUR, rainMm: 30, minPercent: 0 }, percent: 100, reason: /stale/ },
    { name: 'just within maxAge', input: { newestSampleTs: now - 3 * HOUR, et0Mm: 3.6 }, percent: 80, reason: /→ 80 %/ },
    { name: 'a zero-length period', input: { periodMs: 0, coveredMs: 0 }, percent: 100, reason: /covers only 0 %/ },
  ])('$name → $percent %', ({ input, percent, reason }) => {
    const r = etScalePercent({ ...base, ...input });
    expect(r.percent).toBeCloseTo(percent, 9);
    expect(r.reason).toMatch(reason);
  });
});
