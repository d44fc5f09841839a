import { parseTimeOfDay, WEEKDAYS, type ProgramConfig, type ProgramDays, type TimeOfDay } from '@smart-village/shared';
import { getTimes } from 'suncalc';

/**
 * Site-local calendar arithmetic for schedules: local dates, wall-clock times across DST
 * changes, the sun's rise and set, and the days and start instants of irrigation programs.
 * Pure: only Intl (for the zone rules) and suncalc (for the sun), no clock and no timers.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface SiteTime {
  timezone: string;
  lat: number;
  lon: number;
}

interface WallParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Building an Intl.DateTimeFormat costs far more than using one: one per zone, for the process. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    // Throws a RangeError naming the zone when Intl does not know it.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a 'YYYY-MM-DD' date; a RangeError for text that is no real date. */
function dayNumber(localDate: string): number {
  const m = DATE_PATTERN.exec(localDate);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || formatDay(ms / DAY_MS) !== localDate) throw new RangeError(`not a date: "${localDate}" (write YYYY-MM-DD, e.g. 2026-03-29)`);
  return ms / DAY_MS;
}

function formatDay(dayNo: number): string {
  const d = new Date(dayNo * DAY_MS);
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

export class SiteCalendar {
  private readonly formatter: Intl.DateTimeFormat;

  constructor(readonly site: SiteTime) {
    this.formatter = formatterFor(site.timezone);
  }

  private wall(ms: number): WallParts {
    const p: Record<string, number> = {};
    for (const part of this.formatter.formatToParts(new Date(ms))) {
      if (part.type !== 'literal') p[part.type] = Number(part.value);
    }
    // Some ICU builds print midnight as 24 even with h23.
    return { year: p.year ?? 1970, month: p.month ?? 1, day: p.day ?? 1, hour: (p.hour ?? 0) % 24, minute: p.minute ?? 0, second: p.second ?? 0 };
  }

  /** Local minus UTC at an instant, ms (whole seconds: Intl shows no finer). */
  private offset(ms: number): number {
    const w = this.wall(ms);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
  }

  /** 'YYYY-MM-DD' of the site-local date at epoch ms. */
  localDate(ms: number): string {
    const w = this.wall(ms);
    return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  }

  /**
   * Local wall-clock parts at ms: weekday 0 = Sunday, minutes = whole wall-clock minutes since
   * local midnight (hour·60 + minute, so 03:10 on a spring-forward day is 190, not 130).
   */
  localParts(ms: number): { year: number; month: number; day: number; weekday: number; minutes: number } {
    const w = this.wall(ms);
    const weekday = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
    return { year: w.year, month: w.month, day: w.day, weekday, minutes: w.hour * 60 + w.minute };
  }

  /**
   * Epoch ms of local wall time `minutes` after midnight on localDate. In a DST gap (02:30 on
   * the spring-forward night): the first valid instant after it, i.e. the moment the clocks
   * jump. In a DST overlap (02:30 on the fall-back night): the earlier of the two instants, so
   * a start runs once.
   */
  at(localDate: string, minutes: number): number {
    const wall = dayNumber(localDate) * DAY_MS + minutes * MINUTE_MS;
    // The instant lies within [wall − 14 h, wall + 12 h] (the extreme zone offsets); offsets a
    // day either side are the ones before and after any change of clocks near it.
    const candidates = [...new Set([this.offset(wall - 26 * HOUR_MS), this.offset(wall + 26 * HOUR_MS)])];
    const valid = candidates.map((o) => wall - o).filter((t) => this.offset(t) === wall - t);
    if (valid.length > 0) return Math.min(...valid);
    // A gap: the clocks jumped over this wall time. The jump happened between the instant the
    // wall time would have had under the new offset and the one under the old offset.
    const instants = candidates.map((o) => wall - o);
    let lo = Math.min(...instants);
    let hi = Math.max(...instants);
    const before = this.offset(lo);
    lo = Math.floor(lo / 1000) * 1000;
    hi = Math.ceil(hi / 1000) * 1000;
    // Changes of clocks fall on whole seconds: bisect to the first second with the new offset.
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2000) * 1000;
      if (this.offset(mid) === before) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  addDays(localDate: string, n: number): string {
    return formatDay(dayNumber(localDate) + n);
  }

  /**
   * Sunrise and sunset (epoch ms) on that local date, from suncalc at the site's lat/lon
   * (upper limb on the horizon with refraction); undefined when the sun does not rise or set
   * (polar day or night).
   */
  sun(localDate: string): { sunrise: number; sunset: number } | undefined {
    // suncalc answers for the solar transit nearest the instant it is given: local clock noon
    // picks the transit of this local date, even where the zone is far from the site's meridian.
    const times = getTimes(new Date(this.at(localDate, 12 * 60)), this.site.lat, this.site.lon);
    if (!times.sunrise || !times.sunset) return undefined;
    return { sunrise: times.sunrise.getTime(), sunset: times.sunset.getTime() };
  }

  /**
   * The instant a TimeOfDay ("05:30", "sunset+30m") falls on that local date, or undefined
   * (polar day/night). A sun offset is elapsed time from the event, not wall-clock minutes.
   */
  resolve(tod: TimeOfDay, localDate: string): number | undefined {
    if (tod.kind === 'clock') return this.at(localDate, tod.minutes);
    const sun = this.sun(localDate);
    return sun && sun[tod.event] + tod.offsetMinutes * MINUTE_MS;
  }
}

/**
 * Whether a program runs on a local date: daily, odd/even day of the month (the 31st is odd,
 * so an odd program runs on the 31st and again on the 1st), a list of weekdays, or every N
 * days counted from `from` (dates before `from` never run).
 */
export function runsOn(days: ProgramDays, localDate: string): boolean {
  const dayNo = dayNumber(localDate);
  if (days === 'daily') return true;
  if (days === 'odd' || days === 'even') {
    const dom = new Date(dayNo * DAY_MS).getUTCDate();
    return dom % 2 === (days === 'odd' ? 1 : 0);
  }
  if (Array.isArray(days)) return days.includes(WEEKDAYS[new Date(dayNo * DAY_MS).getUTCDay()]!);
  const since = dayNo - dayNumber(days.from);
  return since >= 0 && since % days.every === 0;
}

/** Days between runs on average: what ET scaling calls 100 % (daily 1, odd/even 2, weekdays 7/count, every N → N). */
export function nominalIntervalDays(days: ProgramDays): number {
  if (days === 'daily') return 1;
  if (days === 'odd' || days === 'even') return 2;
  if (Array.isArray(days)) return 7 / new Set(days).size;
  return days.every;
}

export interface ProgramStart {
  at: number;
  /** Index into program.starts. */
  startIndex: number;
  /** The local date the start belongs to (a "sunset+6h" start falls after midnight but belongs to the day before). */
  localDate: string;
}

type ProgramTimes = Pick<ProgramConfig, 'days' | 'starts' | 'enabled'>;

function parsedStarts(program: ProgramTimes): TimeOfDay[] {
  return program.starts.map((text) => {
    const tod = parseTimeOfDay(text);
    if (!tod) throw new RangeError(`not a start time: "${text}" (write "05:30", "sunrise", "sunset+30m" or "sunrise-1h")`);
    return tod;
  });
}

/** Start instants of a program in [fromMs, toMs), sorted, each with the index into program.starts and the local date it belongs to. */
export function programStarts(program: ProgramTimes, cal: SiteCalendar, fromMs: number, toMs: number): ProgramStart[] {
  if (!program.enabled || !(toMs > fromMs)) return [];
  const starts = parsedStarts(program);
  // A start may fall on another calendar date than the one it belongs to: sun offsets of any
  // size, and a clock start pushed over midnight by a DST gap. Look that many days further.
  const reachDays = 1 + Math.ceil(Math.max(0, ...starts.map((s) => (s.kind === 'sun' ? Math.abs(s.offsetMinutes) : 0))) / (24 * 60));
  const first = cal.addDays(cal.localDate(fromMs), -reachDays);
  const last = cal.addDays(cal.localDate(toMs - 1), reachDays);
  const out: ProgramStart[] = [];
  for (let d = first; d <= last; d = cal.addDays(d, 1)) {
    if (!runsOn(program.days, d)) continue;
    starts.forEach((tod, startIndex) => {
      const at = cal.resolve(tod, d);
      if (at !== undefined && at >= fromMs && at < toMs) out.push({ at, startIndex, localDate: d });
    });
  }
  return out.sort((a, b) => a.at - b.at || a.startIndex - b.startIndex || (a.localDate < b.localDate ? -1 : 1));
}

/** The first start strictly after afterMs within horizonDays (default 62), or undefined. */
export function nextProgramStart(program: ProgramTimes, cal: SiteCalendar, afterMs: number, horizonDays = 62): ProgramStart | undefined {
  if (!program.enabled) return undefined;
  const end = afterMs + horizonDays * DAY_MS + 1;
  // A week at a time: most programs start within days, so this spares computing two months.
  for (let from = afterMs + 1; from < end; from += 7 * DAY_MS) {
    const found = programStarts(program, cal, from, Math.min(end, from + 7 * DAY_MS))[0];
    if (found) return found;
  }
  return undefined;
}
