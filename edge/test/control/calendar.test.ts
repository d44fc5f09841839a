import { describe, expect, it } from 'vitest';
import { parseTimeOfDay, type ProgramDays } from '@smart-village/shared';
import { nextProgramStart, nominalIntervalDays, programStarts, runsOn, SiteCalendar } from '../../src/control/calendar.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// Ho Chi Minh City (UTC+7, no DST since 1975).
const hcmc = new SiteCalendar({ timezone: 'Asia/Ho_Chi_Minh', lat: 10.8231, lon: 106.6297 });
// EU rules: clocks go 02:00 CET → 03:00 CEST on the last Sunday of March (2026-03-29, 01:00 UTC)
// and 03:00 CEST → 02:00 CET on the last Sunday of October (2026-10-25, 01:00 UTC).
const berlin = new SiteCalendar({ timezone: 'Europe/Berlin', lat: 52.52, lon: 13.405 });
// US rules: 02:00 EST → 03:00 EDT on the second Sunday of March (2026-03-08, 07:00 UTC) and
// 02:00 EDT → 01:00 EST on the first Sunday of November (2026-11-01, 06:00 UTC).
const newYork = new SiteCalendar({ timezone: 'America/New_York', lat: 40.7128, lon: -74.006 });
const tromso = new SiteCalendar({ timezone: 'Europe/Oslo', lat: 69.6492, lon: 18.9553 });
// UTC+14 at 157° W: local clock noon is ~10.5 h away from the site's meridian noon.
const kiritimati = new SiteCalendar({ timezone: 'Pacific/Kiritimati', lat: 1.8721, lon: -157.4278 });

const cals = { hcmc, berlin, newYork } as const;

/** Local wall minutes of an instant on a calendar, as "HH:MM". */
const hhmm = (cal: SiteCalendar, ms: number): string => {
  const m = cal.localParts(ms).minutes;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

describe('SiteCalendar: local dates and wall-clock parts', () => {
  it.each([
    // 2026-01-01 is a Thursday, so 2026-02-01, 2026-03-01 and 2026-03-29 are Sundays.
    { zone: 'hcmc', utc: Date.UTC(2026, 0, 31, 16, 59), date: '2026-01-31', weekday: 6, minutes: 23 * 60 + 59 },
    { zone: 'hcmc', utc: Date.UTC(2026, 0, 31, 17, 0), date: '2026-02-01', weekday: 0, minutes: 0 },
    { zone: 'hcmc', utc: Date.UTC(2026, 2, 28, 22, 30), date: '2026-03-29', weekday: 0, minutes: 5 * 60 + 30 },
    // Berlin spring forward: 01:59 CET is followed by 03:00 CEST.
    { zone: 'berlin', utc: Date.UTC(2026, 2, 29, 0, 59), date: '2026-03-29', weekday: 0, minutes: 60 + 59 },
    { zone: 'berlin', utc: Date.UTC(2026, 2, 29, 1, 0), date: '2026-03-29', weekday: 0, minutes: 3 * 60 },
    // Berlin fall back: 02:30 happens twice, once in CEST and once in CET.
    { zone: 'berlin', utc: Date.UTC(2026, 9, 25, 0, 30), date: '2026-10-25', weekday: 0, minutes: 2 * 60 + 30 },
    { zone: 'berlin', utc: Date.UTC(2026, 9, 25, 1, 30), date: '2026-10-25', weekday: 0, minutes: 2 * 60 + 30 },
    { zone: 'berlin', utc: Date.UTC(2026, 11, 31, 23, 0), date: '2027-01-01', weekday: 5, minutes: 0 },
    { zone: 'newYork', utc: Date.UTC(2026, 2, 8, 6, 59), date: '2026-03-08', weekday: 0, minutes: 60 + 59 },
    { zone: 'newYork', utc: Date.UTC(2026, 2, 8, 7, 0), date: '2026-03-08', weekday: 0, minutes: 3 * 60 },
    { zone: 'newYork', utc: Date.UTC(2026, 10, 1, 5, 30), date: '2026-11-01', weekday: 0, minutes: 60 + 30 },
    { zone: 'newYork', utc: Date.UTC(2026, 10, 1, 6, 30), date: '2026-11-01', weekday: 0, minutes: 60 + 30 },
    { zone: 'newYork', utc: Date.UTC(2026, 6, 4, 3, 59), date: '2026-07-03', weekday: 5, minutes: 23 * 60 + 59 },
  ] as const)('$zone at $utc is $date, weekday $weekday, minute $minutes', ({ zone, utc, date, weekday, minutes }) => {
    const cal = cals[zone];
    expect(cal.localDate(utc)).toBe(date);
    const p = cal.localParts(utc);
    expect(p).toEqual({ year: Number(date.slice(0, 4)), month: Number(date.slice(5, 7)), day: Number(date.slice(8, 10)), weekday, minutes });
  });

  it('rejects an unknown time zone, naming it', () => {
    expect(() => new SiteCalendar({ timezone: 'Mars/Olympus_Mons', lat: 0, lon: 0 })).toThrow(/Mars\/Olympus_Mons/);
  });
});

describe('SiteCalendar.at: wall time to instant', () => {
  it.each([
    { zone: 'hcmc', date: '2026-03-29', minutes: 0, utc: Date.UTC(2026, 2, 28, 17, 0) },
    { zone: 'hcmc', date: '2026-03-29', minutes: 330, utc: Date.UTC(2026, 2, 28, 22, 30) },
    { zone: 'hcmc', date: '2026-03-29', minutes: 1439, utc: Date.UTC(2026, 2, 29, 16, 59) },
    { zone: 'berlin', date: '2026-03-29', minutes: 90, utc: Date.UTC(2026, 2, 29, 0, 30) },
    // The gap 02:00–03:00 does not exist: the first valid instant after it is the jump, 03:00 CEST.
    { zone: 'berlin', date: '2026-03-29', minutes: 120, utc: Date.UTC(2026, 2, 29, 1, 0) },
    { zone: 'berlin', date: '2026-03-29', minutes: 150, utc: Date.UTC(2026, 2, 29, 1, 0) },
    { zone: 'berlin', date: '2026-03-29', minutes: 180, utc: Date.UTC(2026, 2, 29, 1, 0) },
    { zone: 'berlin', date: '2026-03-29', minutes: 210, utc: Date.UTC(2026, 2, 29, 1, 30) },
    // The overlap 02:00–03:00 happens twice: the earlier (CEST) instant.
    { zone: 'berlin', date: '2026-10-25', minutes: 90, utc: Date.UTC(2026, 9, 24, 23, 30) },
    { zone: 'berlin', date: '2026-10-25', minutes: 120, utc: Date.UTC(2026, 9, 25, 0, 0) },
    { zone: 'berlin', date: '2026-10-25', minutes: 150, utc: Date.UTC(2026, 9, 25, 0, 30) },
    { zone: 'berlin', date: '2026-10-25', minutes: 180, utc: Date.UTC(2026, 9, 25, 2, 0) },
    { zone: 'newYork', date: '2026-03-08', minutes: 150, utc: Date.UTC(2026, 2, 8, 7, 0) },
    { zone: 'newYork', date: '2026-11-01', minutes: 90, utc: Date.UTC(2026, 10, 1, 5, 30) },
    { zone: 'newYork', date: '2026-11-01', minutes: 120, utc: Date.UTC(2026, 10, 1, 7, 0) },
    { zone: 'newYork', date: '2026-07-04', minutes: 720, utc: Date.UTC(2026, 6, 4, 16, 0) },
  ] as const)('$zone $date +$minutes min = $utc', ({ zone, date, minutes, utc }) => {
    expect(cals[zone].at(date, minutes)).toBe(utc);
  });

  it.each([
    { zone: 'hcmc', date: '2026-03-29', gap: undefined },
    { zone: 'berlin', date: '2026-03-29', gap: [120, 180] },
    { zone: 'berlin', date: '2026-10-25', gap: undefined },
    { zone: 'newYork', date: '2026-03-08', gap: [120, 180] },
    { zone: 'newYork', date: '2026-11-01', gap: undefined },
  ] as const)('$zone $date: every minute maps back to itself, except in the gap, and never runs backwards', ({ zone, date, gap }) => {
    const cal = cals[zone];
    let prev = -Infinity;
    for (let m = 0; m < 1440; m += 5) {
      const t = cal.at(date, m);
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
      expect(cal.localDate(t)).toBe(date);
      const inGap = gap !== undefined && m >= gap[0] && m < gap[1];
      expect(cal.localParts(t).minutes).toBe(inGap ? gap[1] : m);
    }
  });
});

describe('SiteCalendar.addDays', () => {
  it.each([
    { date: '2026-01-31', n: 1, out: '2026-02-01' },
    { date: '2026-02-28', n: 1, out: '2026-03-01' },
    { date: '2028-02-28', n: 1, out: '2028-02-29' },
    { date: '2026-12-31', n: 1, out: '2027-01-01' },
    { date: '2026-03-01', n: -1, out: '2026-02-28' },
    { date: '2026-01-01', n: 365, out: '2027-01-01' },
    { date: '2026-03-29', n: 0, out: '2026-03-29' },
  ])('$date + $n = $out', ({ date, n, out }) => {
    expect(hcmc.addDays(date, n)).toBe(out);
  });

  it.each(['2026-02-30', '2026-13-01', '26-01-01', '2026-1-1'])('rejects "%s" as no date', (date) => {
    expect(() => hcmc.addDays(date, 1)).toThrow(/not a date/);
  });
});

describe('SiteCalendar.sun', () => {
  // Expected times from the U.S. Naval Observatory "Almanac for Computers" (1990) sunrise/sunset
  // algorithm (zenith 90°50′), worked out for each site; it agrees with published almanacs to a
  // minute or two, e.g. Ho Chi Minh City on 1 January: sunrise 06:12, sunset 17:42.
  it.each([
    { name: 'HCMC, 1 Jan', cal: hcmc, date: '2026-01-01', rise: '06:12', set: '17:42' },
    { name: 'HCMC, March equinox', cal: hcmc, date: '2026-03-20', rise: '05:58', set: '18:04' },
    { name: 'HCMC, June solstice', cal: hcmc, date: '2026-06-21', rise: '05:32', set: '18:18' },
    { name: 'Berlin, day of the spring DST change (CEST)', cal: berlin, date: '2026-03-29', rise: '06:49', set: '19:35' },
    { name: 'New York, 4 July (EDT)', cal: newYork, date: '2026-07-04', rise: '05:30', set: '20:31' },
    { name: 'Kiritimati, UTC+14 at 157° W', cal: kiritimati, date: '2026-03-20', rise: '06:34', set: '18:40' },
  ])('$name: sunrise $rise, sunset $set (±2 min)', ({ cal, date, rise, set }) => {
    const sun = cal.sun(date);
    expect(sun).toBeDefined();
    const minutes = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
    for (const [at, want] of [
      [sun!.sunrise, rise],
      [sun!.sunset, set],
    ] as const) {
      expect(cal.localDate(at)).toBe(date);
      expect(Math.abs(at - cal.at(date, minutes(want)))).toBeLessThanOrEqual(2 * MIN);
    }
  });

  it.each([
    { date: '2026-06-21', what: 'midnight sun' },
    { date: '2026-12-21', what: 'polar night' },
  ])('Tromsø on $date ($what): no sunrise or sunset', ({ date }) => {
    expect(tromso.sun(date)).toBeUndefined();
    expect(tromso.resolve(parseTimeOfDay('sunset+30m')!, date)).toBeUndefined();
    // A clock time still resolves.
    expect(tromso.resolve(parseTimeOfDay('05:30')!, date)).toBe(tromso.at(date, 330));
  });

  it.each([
    { text: 'sunrise', event: 'sunrise', offset: 0 },
    { text: 'sunset+30m', event: 'sunset', offset: 30 * MIN },
    { text: 'sunrise-1h', event: 'sunrise', offset: -HOUR },
    { text: 'sunset+1.5h', event: 'sunset', offset: 90 * MIN },
  ] as const)('resolves "$text" as $event $offset ms', ({ text, event, offset }) => {
    const sun = hcmc.sun('2026-03-20')!;
    expect(hcmc.resolve(parseTimeOfDay(text)!, '2026-03-20')).toBe(sun[event] + offset);
  });
});

describe('runsOn and nominalIntervalDays', () => {
  it.each<{ days: ProgramDays; yes: string[]; no: string[] }>([
    { days: 'daily', yes: ['2026-01-31', '2026-02-28', '2028-02-29'], no: [] },
    // The 31st is odd: an odd program runs on the 31st and again on the 1st.
    { days: 'odd', yes: ['2026-01-31', '2026-02-01', '2026-03-01', '2028-02-29', '2026-12-31'], no: ['2026-02-28', '2026-04-30', '2026-01-30'] },
    { days: 'even', yes: ['2026-02-28', '2026-04-30', '2026-01-30'], no: ['2026-01-31', '2026-02-01', '2028-02-29'] },
    // 2026-03-29 Sun, 03-30 Mon, 03-31 Tue, 04-02 Thu, 04-04 Sat.
    { days: ['mon', 'thu'], yes: ['2026-03-30', '2026-04-02', '2026-04-06'], no: ['2026-03-29', '2026-03-31', '2026-04-04'] },
    { days: ['sun'], yes: ['2026-03-29', '2026-02-01', '2027-01-03'], no: ['2026-03-28'] },
    // Every 3 days from 30 January, across the month end; nothing before the start date.
    { days: { every: 3, from: '2026-01-30' }, yes: ['2026-01-30', '2026-02-02', '2026-03-01'], no: ['2026-01-27', '2026-01-31', '2026-02-01', '2025-12-31'] },
    { days: { every: 1, from: '2026-03-01' }, yes: ['2026-03-01', '2026-12-31'], no: ['2026-02-28'] },
  ])('$days', ({ days, yes, no }) => {
    for (const d of yes) expect(runsOn(days, d), d).toBe(true);
    for (const d of no) expect(runsOn(days, d), d).toBe(false);
  });

  it.each<{ days: ProgramDays; interval: number }>([
    { days: 'daily', interval: 1 },
    { days: 'odd', interval: 2 },
    { days: 'even', interval: 2 },
    { days: ['mon', 'thu'], interval: 3.5 },
    { days: ['mon', 'wed', 'fri'], interval: 7 / 3 },
    { days: ['sat'], interval: 7 },
    { days: { every: 4, from: '2026-01-01' }, interval: 4 },
  ])('$days: every $interval days', ({ days, interval }) => {
    expect(nominalIntervalDays(days)).toBeCloseTo(interval, 12);
  });
});

describe('programStarts', () => {
  const program = (days: ProgramDays, starts: string[], enabled = true) => ({ days, starts, enabled });

  it('lists clock and sun starts over several days, sorted, with their start index and date', () => {
    const from = hcmc.at('2026-03-20', 0);
    const to = hcmc.at('2026-03-23', 0);
    const got = programStarts(program('daily', ['sunset+30m', '05:30']), hcmc, from, to);
    expect(got.map((s) => [s.localDate, s.startIndex, hhmm(hcmc, s.at)])).toEqual([
      ['2026-03-20', 1, '05:30'],
      ['2026-03-20', 0, expect.stringMatching(/^18:3[3-6]$/)], // sunset 18:04 (USNO) + 30 min
      ['2026-03-21', 1, '05:30'],
      ['2026-03-21', 0, expect.stringMatching(/^18:3[3-6]$/)],
      ['2026-03-22', 1, '05:30'],
      ['2026-03-22', 0, expect.stringMatching(/^18:3[3-6]$/)],
    ]);
    expect(got[0]!.at).toBe(Date.UTC(2026, 2, 19, 22, 30));
    expect(got[1]!.at).toBe(hcmc.sun('2026-03-20')!.sunset + 30 * MIN);
  });

  it.each<{ name: string; days: ProgramDays; starts: string[]; from: string; to: string; dates: string[] }>([
    { name: 'odd days across the month end', days: 'odd', starts: ['06:00'], from: '2026-01-29', to: '2026-02-04', dates: ['2026-01-29', '2026-01-31', '2026-02-01', '2026-02-03'] },
    { name: 'even days in a leap February', days: 'even', starts: ['06:00'], from: '2028-02-27', to: '2028-03-03', dates: ['2028-02-28', '2028-03-02'] },
    { name: 'weekdays', days: ['mon', 'thu'], starts: ['06:00'], from: '2026-03-29', to: '2026-04-12', dates: ['2026-03-30', '2026-04-02', '2026-04-06', '2026-04-09'] },
    { name: 'every 3 days from a date', days: { every: 3, from: '2026-03-25' }, starts: ['06:00'], from: '2026-03-20', to: '2026-04-05', dates: ['2026-03-25', '2026-03-28', '2026-03-31', '2026-04-03'] },
  ])('$name', ({ days, starts, from, to, dates }) => {
    const got = programStarts(program(days, starts), hcmc, hcmc.at(from, 0), hcmc.at(to, 0));
    expect(got.map((s) => s.localDate)).toEqual(dates);
    for (const s of got) expect(s.at).toBe(hcmc.at(s.localDate, 360));
  });

  it('a start pushed past local midnight still belongs to the day it was planned for', () => {
    // 2026-03-20 is a Friday; sunset 18:04 + 6 h = 00:04 on Saturday.
    const from = hcmc.at('2026-03-21', 0);
    const to = hcmc.at('2026-03-21', 60);
    const fri = programStarts(program(['fri'], ['sunset+6h']), hcmc, from, to);
    expect(fri).toHaveLength(1);
    expect(fri[0]!.localDate).toBe('2026-03-20');
    expect(hcmc.localDate(fri[0]!.at)).toBe('2026-03-21');
    expect(Math.abs(fri[0]!.at - hcmc.at('2026-03-21', 4))).toBeLessThanOrEqual(2 * MIN);
    // A Saturday program's own start is a day later.
    expect(programStarts(program(['sat'], ['sunset+6h']), hcmc, from, to)).toEqual([]);
    // And one that falls the evening before: sunrise 05:58 − 7 h = 22:58 on Thursday.
    const early = programStarts(program(['fri'], ['sunrise-7h']), hcmc, hcmc.at('2026-03-19', 0), hcmc.at('2026-03-20', 0));
    expect(early.map((s) => [s.localDate, hcmc.localDate(s.at)])).toEqual([['2026-03-20', '2026-03-19']]);
  });

  it.each([
    // The gap night starts once, at the jump (03:00 CEST); the days either side at 02:30.
    { cal: berlin, from: '2026-03-28', to: '2026-03-31', ats: [Date.UTC(2026, 2, 28, 1, 30), Date.UTC(2026, 2, 29, 1, 0), Date.UTC(2026, 2, 30, 0, 30)] },
    // The overlap night starts once, at the first 02:30 (CEST).
    { cal: berlin, from: '2026-10-24', to: '2026-10-27', ats: [Date.UTC(2026, 9, 24, 0, 30), Date.UTC(2026, 9, 25, 0, 30), Date.UTC(2026, 9, 26, 1, 30)] },
    { cal: newYork, from: '2026-03-07', to: '2026-03-09', ats: [Date.UTC(2026, 2, 7, 7, 30), Date.UTC(2026, 2, 8, 7, 0)] },
    { cal: newYork, from: '2026-11-01', to: '2026-11-02', ats: [Date.UTC(2026, 10, 1, 7, 30)] },
  ])('02:30 daily across a change of clocks ($from)', ({ cal, from, to, ats }) => {
    expect(programStarts(program('daily', ['02:30']), cal, cal.at(from, 0), cal.at(to, 0)).map((s) => s.at)).toEqual(ats);
  });

  it('the range is half-open: a start at fromMs is in, one at toMs is out', () => {
    const at = hcmc.at('2026-03-20', 330);
    const p = program('daily', ['05:30']);
    expect(programStarts(p, hcmc, at, at + 1)).toHaveLength(1);
    expect(programStarts(p, hcmc, at - DAY + 1, at)).toHaveLength(0);
    expect(programStarts(p, hcmc, at, at)).toHaveLength(0);
  });

  it('a disabled program has no starts', () => {
    expect(programStarts(program('daily', ['05:30'], false), hcmc, hcmc.at('2026-03-20', 0), hcmc.at('2026-03-27', 0))).toEqual([]);
    expect(nextProgramStart(program('daily', ['05:30'], false), hcmc, hcmc.at('2026-03-20', 0))).toBeUndefined();
  });
});

describe('nextProgramStart', () => {
  const p = (days: ProgramDays, starts: string[]) => ({ days, starts, enabled: true });

  it.each<{ name: string; days: ProgramDays; after: [string, number]; horizon?: number; want?: [string, number] }>([
    { name: 'strictly after a start: the next day', days: 'daily', after: ['2026-03-20', 330], want: ['2026-03-21', 330] },
    { name: 'a minute before: that start', days: 'daily', after: ['2026-03-20', 329], want: ['2026-03-20', 330] },
    { name: 'Saturdays only, asked on Friday evening', days: ['sat'], after: ['2026-03-20', 20 * 60], want: ['2026-03-21', 330] },
    { name: 'every 60 days from 61 days ahead', days: { every: 60, from: '2026-05-20' }, after: ['2026-03-20', 0], want: ['2026-05-20', 330] },
    { name: 'beyond the horizon', days: { every: 60, from: '2026-05-20' }, after: ['2026-03-20', 0], horizon: 30 },
  ])('$name', ({ days, after, horizon, want }) => {
    const got = nextProgramStart(p(days, ['05:30']), hcmc, hcmc.at(after[0], after[1]), horizon);
    expect(got && [got.localDate, got.at]).toEqual(want && [want[0], hcmc.at(want[0], want[1])]);
  });

  it('agrees with programStarts over two months', () => {
    const prog = p('odd', ['05:30', 'sunset', 'sunrise-1h']);
    const from = berlin.at('2026-03-01', 0);
    const all = programStarts(prog, berlin, from, from + 60 * DAY);
    let after = from - 1;
    for (const want of all) {
      const got = nextProgramStart(prog, berlin, after);
      expect(got).toEqual(want);
      after = got!.at;
    }
  });
});
