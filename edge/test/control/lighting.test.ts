/**
 * Lighting decisions at the site: the sun's times in Can Tho with offsets, off windows across
 * midnight, lux with hysteresis and its fallback to the sun, and manual overrides.
 */
import { describe, expect, it } from 'vitest';
import { lightingSchema, siteConfigSchema, type LightingConfig } from '@smart-village/shared';
import { SiteCalendar } from '../../src/control/calendar.js';
import { Controller } from '../../src/control/core.js';
import { ReadingHistory } from '../../src/control/inputs.js';
import { decideLight, LUX_LEASE_MS, nightAt, type LightOverride } from '../../src/control/lighting.js';

const SEC = 1000;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const SITE = { timezone: 'Asia/Ho_Chi_Minh', lat: 10.03, lon: 105.78 };
const cal = new SiteCalendar(SITE);
const DATE = '2026-03-02';
const NEXT = '2026-03-03';

function local(hhmm: string, date = DATE): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return cal.at(date, h * 60 + m);
}

function hhmm(ms: number): string {
  const m = cal.localParts(ms).minutes;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

const group = (g: Partial<LightingConfig> & Record<string, unknown> = {}): LightingConfig => lightingSchema.parse({ id: 'den-duong', lights: ['den-1'], ...g });

const sensors = (lux?: { value: number; ts: number; quality?: 'good' | 'error' }): ReadingHistory => {
  const h = new ReadingHistory(DAY);
  if (lux) h.add('anh-sang', { value: lux.value, ts: lux.ts, quality: lux.quality ?? 'good', unit: 'lx' });
  return h;
};

const sun = cal.sun(DATE) as { sunrise: number; sunset: number };
const sunNext = cal.sun(NEXT) as { sunrise: number; sunset: number };

describe('sun mode', () => {
  it('the sun times are Can Tho\'s (UTC+7, near 10° N): rise about 06:10, set about 18:07 in early March', () => {
    expect(hhmm(sun.sunrise)).toMatch(/^06:(0\d|1\d)$/);
    expect(hhmm(sun.sunset)).toMatch(/^18:(0\d|1\d)$/);
  });

  it('on at sunset+15m, off at sunrise, leased until the planned switch-off', () => {
    const g = group({ on: 'sunset+15m', off: 'sunrise' });
    const at = (t: number) => decideLight(g, undefined, undefined, cal, sensors(), t);
    const on = sun.sunset + 15 * MIN;
    expect(at(on - SEC)).toEqual({ on: false, reason: 'daytime (sunset+15m to sunrise)' });
    expect(at(on)).toEqual({ on: true, reason: `sunset+15m to sunrise: on until ${hhmm(sunNext.sunrise)}`, until: sunNext.sunrise });
    expect(at(sunNext.sunrise - SEC)).toMatchObject({ on: true, until: sunNext.sunrise });
    expect(at(sunNext.sunrise)).toEqual({ on: false, reason: 'daytime (sunset+15m to sunrise)' });
  });

  it.each([
    { on: 'sunset', off: 'sunrise', at: local('02:00', NEXT), night: [sun.sunset, sunNext.sunrise] },
    { on: 'sunset', off: 'sunrise', at: local('19:00'), night: [sun.sunset, sunNext.sunrise] },
    { on: 'sunset', off: 'sunrise', at: local('12:00'), night: undefined },
    // An evening-only group ends the same evening.
    { on: '18:00', off: '23:00', at: local('19:00'), night: [local('18:00'), local('23:00')] },
    { on: '18:00', off: '23:00', at: local('23:30'), night: undefined },
    { on: 'sunset-30m', off: 'sunrise+1h', at: local('06:30', NEXT), night: [sun.sunset - 30 * MIN, sunNext.sunrise + HOUR] },
  ])('nightAt($on, $off) at $at', ({ on, off, at, night }) => {
    expect(nightAt({ on, off }, cal, at)).toEqual(night && { from: night[0], to: night[1] });
  });

  it.each([
    { at: local('21:00'), on: true, until: local('23:00'), reason: 'sunset to sunrise: on until 23:00' },
    { at: local('23:00'), on: false, reason: 'night off window 23:00-04:30' },
    { at: local('02:00', NEXT), on: false, reason: 'night off window 23:00-04:30' },
    { at: local('04:29', NEXT), on: false, reason: 'night off window 23:00-04:30' },
    { at: local('04:30', NEXT), on: true, until: sunNext.sunrise, reason: `sunset to sunrise: on until ${hhmm(sunNext.sunrise)}` },
    { at: local('12:00', NEXT), on: false, reason: 'daytime (sunset to sunrise)' },
  ])('an off window across midnight (23:00-04:30) at $at: on=$on', ({ at, ...want }) => {
    const g = group({ offWindows: [['23:00', '04:30']] });
    expect(decideLight(g, undefined, undefined, cal, sensors(), at)).toEqual(want);
  });

  it('a window inside the night ends the lease at its start, after midnight too', () => {
    const g = group({ offWindows: [['01:00', '03:00']] });
    expect(decideLight(g, undefined, undefined, cal, sensors(), local('22:00'))).toMatchObject({ on: true, until: local('01:00', NEXT) });
    expect(decideLight(g, undefined, undefined, cal, sensors(), local('00:30', NEXT))).toMatchObject({ on: true, until: local('01:00', NEXT) });
    expect(decideLight(g, undefined, undefined, cal, sensors(), local('02:00', NEXT))).toMatchObject({ on: false, reason: 'night off window 01:00-03:00' });
  });
});

describe('lux mode', () => {
  const g = group({ mode: 'lux', lux: { sensor: 'anh-sang', onBelow: 20, offAbove: 50 }, offWindows: [['23:00', '04:30']] });
  const now = local('17:30');

  it.each([
    { was: undefined, lux: 30, on: false, reason: '30 lx >= 20 lx' },
    { was: false, lux: 30, on: false, reason: '30 lx >= 20 lx' },
    { was: false, lux: 19, on: true, reason: '19 lx < 20 lx' },
    { was: true, lux: 30, on: true, reason: '30 lx <= 50 lx' },
    { was: true, lux: 50, on: true, reason: '50 lx <= 50 lx' },
    { was: true, lux: 51, on: false, reason: '51 lx > 50 lx' },
  ])('was on=$was, $lux lx → on=$on (hysteresis)', ({ was, lux, on, reason }) => {
    const d = decideLight(g, was === undefined ? undefined : { luxOn: was }, undefined, cal, sensors({ value: lux, ts: now - MIN }), now);
    expect(d).toEqual({ on, reason, luxOn: on, ...(on && { until: now + LUX_LEASE_MS }) });
  });

  it('an off window beats a dark sky', () => {
    expect(decideLight(g, { luxOn: true }, undefined, cal, sensors({ value: 1, ts: local('23:30') }), local('23:30'))).toEqual({ on: false, reason: 'night off window 23:00-04:30' });
  });

  it.each([
    { name: '11 min old', reading: { value: 1, ts: local('20:00') - 11 * MIN } },
    { name: 'an error', reading: { value: 1, ts: local('20:00'), quality: 'error' as const } },
    { name: 'missing', reading: undefined },
  ])('a lux reading that is $name falls back to the sun', ({ reading }) => {
    const night = decideLight(g, { luxOn: false }, undefined, cal, sensors(reading), local('20:00'));
    expect(night).toEqual({ on: true, reason: `lux sensor anh-sang has no fresh reading: by the sun until ${hhmm(sunNext.sunrise)}`, until: sunNext.sunrise });
    const day = decideLight(g, { luxOn: true }, undefined, cal, sensors(reading && { ...reading, ts: reading.ts - 8 * HOUR }), local('12:00'));
    expect(day).toEqual({ on: false, reason: 'lux sensor anh-sang has no fresh reading: by the sun, daytime' });
  });

  it('in the controller the hysteresis holds across passes: one switch on at dusk, one off at dawn', () => {
    const config = siteConfigSchema.parse({
      version: 1,
      site: { id: 'lang', name: 'Làng', ...SITE },
      edge: { id: 'pi' },
      actuators: [{ id: 'den-1', kind: 'light', output: { driver: 'simulated' } }],
      lighting: [{ id: 'den-duong', lights: ['den-1'], mode: 'lux', lux: { sensor: 'anh-sang', onBelow: 20, offAbove: 50 } }],
    });
    const ctl = new Controller({ config, calendar: cal, site: SITE });
    const h = new ReadingHistory(DAY);
    // Dusk: light falls from 80 to 0 lx and flickers around 30 lx (a passing cloud, headlights).
    const dusk = [80, 60, 30, 15, 35, 45, 30, 10, 0];
    const dawn = [0, 20, 45, 40, 55, 70];
    const events: string[] = [];
    let t = local('17:40');
    for (const lux of [...dusk, ...dawn]) {
      h.add('anh-sang', { value: lux, ts: t, quality: 'good', unit: 'lx' });
      for (const e of ctl.step(h, t).events) events.push(`${e.kind} ${e.message}`);
      t += 5 * MIN;
    }
    expect(events).toEqual(['light.off lights den-duong off: 80 lx >= 20 lx', 'light.on lights den-duong on: 15 lx < 20 lx', 'light.off lights den-duong off: 55 lx > 50 lx']);
    expect(ctl.persisted.luxOn).toEqual({ 'den-duong': false });
  });
});

describe('overrides', () => {
  const g = group();
  const on: LightOverride = { on: true, until: local('11:00'), by: 'lan' };
  const off: LightOverride = { on: false, until: local('21:00'), by: 'lan' };

  it.each([
    { name: 'on by day', o: on, at: local('10:00'), want: { on: true, reason: 'manual on by lan until 11:00', until: local('11:00') } },
    { name: 'on, expired', o: on, at: local('11:00'), want: { on: false, reason: 'daytime (sunset to sunrise)' } },
    { name: 'off at night', o: off, at: local('20:00'), want: { on: false, reason: 'manual off by lan until 21:00' } },
    { name: 'off, expired', o: off, at: local('21:00'), want: { on: true, reason: `sunset to sunrise: on until ${hhmm(sunNext.sunrise)}`, until: sunNext.sunrise } },
  ])('$name', ({ o, at, want }) => {
    expect(decideLight(g, undefined, o, cal, sensors(), at)).toEqual(want);
  });
});
