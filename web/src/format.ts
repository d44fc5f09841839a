/**
 * Numbers, units, times and durations for people, through Intl only: vi-VN or en-GB, always in
 * the site's timezone (a phone in Hanoi and a browser abroad show the same field times).
 * Pure: the caller passes the language, the zone and "now".
 */
import type { Lang, Unit } from './types.js';

export const LOCALES: Record<Lang, string> = { vi: 'vi-VN', en: 'en-GB' };

/** Decimals worth showing per unit (a soil probe is not better than ±1 %). */
const UNIT_DIGITS: Partial<Record<Unit, number>> = {
  '%VWC': 0,
  '%': 0,
  '%RH': 0,
  '°C': 1,
  pH: 1,
  mm: 1,
  'm/s': 1,
  V: 2,
  'L/min': 1,
  cm: 0,
};

/** How a unit is written after a number; %VWC and %RH read as plain % next to their label. */
const UNIT_LABEL: Partial<Record<Unit, string>> = { '%VWC': '%', '%RH': '%', state: '', count: '' };

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface Format {
  readonly lang: Lang;
  readonly locale: string;
  readonly timeZone: string;
  /** A number with at most `digits` decimals. */
  number(value: number, digits?: number): string;
  /** "32 %", "27,5 °C"; a dash when there is no value. */
  value(value: number | null | undefined, unit: Unit): string;
  /** "06:30" in the site's zone. */
  time(ms: number): string;
  /** "1/6" (vi) or "1 Jun" (en). */
  day(ms: number): string;
  /** Time alone when it is on the same site day as now, else day and time. */
  when(ms: number, now: number): string;
  /** "5 phút trước", "in 2 hours". */
  relative(ms: number, now: number): string;
  /** Minutes under an hour, hours under a day, else days: "20 phút", "1.5 hours", "3 ngày". */
  duration(ms: number): string;
}

export function createFormat(lang: Lang, timeZone: string): Format {
  const locale = LOCALES[lang];
  const numbers = new Map<number, Intl.NumberFormat>();
  const numberFormat = (digits: number): Intl.NumberFormat => {
    let f = numbers.get(digits);
    if (!f) {
      f = new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
      numbers.set(digits, f);
    }
    return f;
  };
  const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone });
  const day = new Intl.DateTimeFormat(locale, lang === 'vi' ? { day: 'numeric', month: 'numeric', timeZone } : { day: 'numeric', month: 'short', timeZone });
  // A calendar date in the site zone, to compare days (not shown).
  const ymd = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const unitFormat = (unit: 'minute' | 'hour' | 'day', digits: number) =>
    new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long', maximumFractionDigits: digits });
  const minutes = unitFormat('minute', 0);
  const hours = unitFormat('hour', 1);
  const days = unitFormat('day', 1);

  const format: Format = {
    lang,
    locale,
    timeZone,
    number: (value, digits = 1) => numberFormat(digits).format(value),
    value(value, unit) {
      if (value === null || value === undefined || !Number.isFinite(value)) return '—';
      const text = numberFormat(UNIT_DIGITS[unit] ?? 1).format(value);
      const label = UNIT_LABEL[unit] ?? unit;
      if (label === '') return text;
      // A degree of angle sticks to its number; every other unit takes a space.
      return label === '°' ? `${text}°` : `${text}\u00a0${label}`;
    },
    time: (ms) => time.format(ms),
    day: (ms) => day.format(ms),
    when: (ms, now) => (ymd.format(ms) === ymd.format(now) ? time.format(ms) : `${day.format(ms)} ${time.format(ms)}`),
    relative(ms, now) {
      const diff = ms - now;
      const abs = Math.abs(diff);
      if (abs < MINUTE) return relative.format(0, 'second');
      if (abs < HOUR) return relative.format(Math.round(diff / MINUTE), 'minute');
      if (abs < DAY) return relative.format(Math.round(diff / HOUR), 'hour');
      return relative.format(Math.round(diff / DAY), 'day');
    },
    duration(ms) {
      if (ms < HOUR) return minutes.format(Math.max(0, Math.round(ms / MINUTE)));
      if (ms < DAY) return hours.format(Math.round(ms / (HOUR / 10)) / 10);
      return days.format(Math.round(ms / (DAY / 10)) / 10);
    },
  };
  return format;
}
