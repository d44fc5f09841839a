/**
 * The site's local clock (IANA time zone) for the simulated village, using only Intl.
 * Weather follows local time (afternoon maximum, evening showers), so every step needs the
 * UTC offset. Intl is slow-ish, so offsets are cached per UTC day, and per quarter hour on
 * the days a zone changes its clocks (every zone in use changes on a quarter hour at finest).
 */

const HOUR_MS = 3_600_000;
const QUARTER_MS = 900_000;
const DAY_MS = 86_400_000;

export class LocalTime {
  private readonly formatter: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();
  /** Per UTC day: its single offset, or null when the zone changes its clocks that day. */
  private readonly days = new Map<number, number | null>();

  /** Throws a RangeError naming the zone if Intl does not know it. */
  constructor(readonly timezone: string) {
    this.formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
  }

  /** Local minus UTC, ms, at a UTC instant. */
  offsetMs(utcMs: number): number {
    // Most days have one offset all day: ask Intl at both ends of the UTC day and only walk
    // quarter hours on the few days a zone changes its clocks.
    const day = Math.floor(utcMs / DAY_MS);
    let span = this.days.get(day);
    if (span === undefined) {
      const first = this.offsetAtQuarter(day * (DAY_MS / QUARTER_MS));
      const last = this.offsetAtQuarter((day + 1) * (DAY_MS / QUARTER_MS) - 1);
      span = first === last ? first : null;
      if (this.days.size > 64) this.days.clear();
      this.days.set(day, span);
    }
    return span ?? this.offsetAtQuarter(Math.floor(utcMs / QUARTER_MS));
  }

  private offsetAtQuarter(key: number): number {
    const cached = this.offsets.get(key);
    if (cached !== undefined) return cached;
    const at = key * QUARTER_MS;
    const parts: Record<string, number> = {};
    for (const p of this.formatter.formatToParts(new Date(at))) {
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    }
    const wall = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0);
    const offset = Math.round((wall - at) / 60_000) * 60_000;
    // A long run visits each quarter hour once; keep the cache small.
    if (this.offsets.size > 256) this.offsets.clear();
    this.offsets.set(key, offset);
    return offset;
  }

  /** Local wall time as if it were UTC (ms), handy for day and hour arithmetic. */
  wallMs(utcMs: number): number {
    return utcMs + this.offsetMs(utcMs);
  }

  /** Local hour of day, fractional, 0 ≤ h < 24. */
  hour(utcMs: number): number {
    const w = this.wallMs(utcMs);
    return (((w % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  }

  /** Local calendar day as days since 1970-01-01 (a stable key for daily weather). */
  dayIndex(utcMs: number): number {
    return Math.floor(this.wallMs(utcMs) / DAY_MS);
  }
}

/** Day of year (1..366) of a day index as returned by `LocalTime.dayIndex`. */
export function dayOfYear(dayIndex: number): number {
  const date = new Date(dayIndex * DAY_MS);
  return dayIndex - Math.floor(Date.UTC(date.getUTCFullYear(), 0, 1) / DAY_MS) + 1;
}
