import { et0MmPerHour } from '../sim/et0.js';
import { declination, inverseDistance, sinSolarElevation, solarTimeHours, sunsetHourAngle } from '../sim/sun.js';
import { SiteCalendar } from './calendar.js';

/**
 * Reference evapotranspiration (ET0) from a weather station, and the percentage it scales a
 * program by. FAO-56 = Allen et al. (1998), FAO Irrigation and Drainage Paper 56. Pure: the
 * samples and the period come in, numbers go out.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** FAO-56 Eq. 21/28: solar constant Gsc, MJ m⁻² min⁻¹. */
const GSC = 0.082;
/** W/m² sustained for one hour (3600 s), in MJ m⁻² h⁻¹. */
const WM2_TO_MJ_PER_HOUR = 0.0036;
/** FAO-56 Eq. 20: 1 MJ m⁻² of latent heat evaporates 0.408 mm of water. */
const MJ_TO_MM = 0.408;
/** FAO-56 ch. 3 (wind speed): 2 m/s at 2 m is the estimate to use when wind is not measured. */
const DEFAULT_WIND_MS = 2;
/**
 * Rs/Rso for hours with the sun low or down, until a daytime value is known: 0.8, the value
 * FAO-56 Example 19 takes for its night hour.
 */
const DEFAULT_NIGHT_RATIO = 0.8;
/**
 * Rs/Rso is only trusted with the sun more than 0.3 rad (17°) high (ASCE-EWRI 2005
 * standardized equation); lower, both terms are small and their ratio noise.
 */
const MIN_SIN_ELEVATION_FOR_RATIO = Math.sin(0.3);
/** FAO-56 Eq. 39 note: at night take Rs/Rso from the afternoon, so look back at most a day. */
const RATIO_LOOKBACK_HOURS = 24;
/** Hargreaves needs the day's temperature range: fewer hours of readings would understate it. */
const MIN_RANGE_SPAN_MS = 18 * HOUR_MS;
/** A local day whose readings span this much is a whole day for its Tmin/Tmax. */
const WHOLE_DAY_SPAN_MS = 20 * HOUR_MS;

/** One weather-station reading; fields the station lacks are left out. */
export interface WeatherSample {
  ts: number;
  airTemperatureC: number;
  /** % */
  relativeHumidity?: number;
  /** m/s, taken as measured at 2 m (FAO-56 Eq. 47 converts other heights before this). */
  windSpeed?: number;
  /** Incoming shortwave (global) radiation Rs, W/m². */
  solarWm2?: number;
  pressureHPa?: number;
}

/** FAO-56 Eq. 52 (Hargreaves) daily ET0 mm/day from Tmin, Tmax and Ra (MJ m-2 day-1, Eq. 21). */
export function et0Hargreaves(tminC: number, tmaxC: number, raMJ: number): number {
  const tmean = (tminC + tmaxC) / 2;
  // Eq. 52 takes Ra as evaporation equivalent (mm/day): Eq. 20's 0.408 converts MJ.
  return Math.max(0, 0.0023 * (tmean + 17.8) * Math.sqrt(Math.max(0, tmaxC - tminC)) * MJ_TO_MM * raMJ);
}

/** FAO-56 Eq. 21: daily extraterrestrial radiation. */
export function extraterrestrialDailyMJ(latDeg: number, dayOfYear: number): number {
  const phi = (latDeg * Math.PI) / 180;
  const delta = declination(dayOfYear); // Eq. 24
  const ws = sunsetHourAngle(latDeg, dayOfYear); // Eq. 25
  const dr = inverseDistance(dayOfYear); // Eq. 23
  return ((24 * 60) / Math.PI) * GSC * dr * (ws * Math.sin(phi) * Math.sin(delta) + Math.cos(phi) * Math.cos(delta) * Math.sin(ws));
}

/**
 * FAO-56 Eq. 28: extraterrestrial radiation, MJ m⁻², between two apparent solar times (hours,
 * Eq. 29–31; the end may pass 24). The hour angles are clipped to daylight, −ωs..ωs (Eq. 25),
 * so hours at sunrise and sunset count only their sunlit part.
 */
export function extraterrestrialHourlyMJ(latDeg: number, dayOfYear: number, solarHoursStart: number, solarHoursEnd: number): number {
  const phi = (latDeg * Math.PI) / 180;
  const delta = declination(dayOfYear);
  const ws = sunsetHourAngle(latDeg, dayOfYear);
  const w1 = (Math.PI / 12) * (solarHoursStart - 12);
  const w2 = (Math.PI / 12) * (solarHoursEnd - 12);
  let sum = 0;
  // Daylight repeats every 2π of hour angle; a period crossing solar midnight meets two copies.
  for (const k of [-1, 0, 1]) {
    const a = Math.max(w1, -ws + 2 * Math.PI * k);
    const b = Math.min(w2, ws + 2 * Math.PI * k);
    if (b > a) sum += (b - a) * Math.sin(phi) * Math.sin(delta) + Math.cos(phi) * Math.cos(delta) * (Math.sin(b) - Math.sin(a));
  }
  return ((12 * 60) / Math.PI) * GSC * inverseDistance(dayOfYear) * sum;
}

/** FAO-56 Eq. 7: atmospheric pressure from altitude, hPa. */
function pressureFromAltitudeHPa(altitudeM: number): number {
  return 10 * 101.3 * ((293 - 0.0065 * altitudeM) / 293) ** 5.26;
}

/** Day of year (1..366) of a 'YYYY-MM-DD' date. */
function dayOfYearOf(localDate: string): number {
  const y = Number(localDate.slice(0, 4));
  return Math.round((Date.parse(`${localDate}T00:00:00Z`) - Date.UTC(y, 0, 1)) / DAY_MS) + 1;
}

/** One hour's weather: means of its samples, each field over the samples that have it. */
interface HourWeather {
  t: number;
  rh: number | undefined;
  wind: number | undefined;
  solar: number | undefined;
  pressure: number | undefined;
}

function mean(values: (number | undefined)[]): number | undefined {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v !== undefined && Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n > 0 ? sum / n : undefined;
}

/** Index of the first sample with ts ≥ ms (samples sorted by ts). */
function lowerBound(samples: readonly WeatherSample[], ms: number): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid]!.ts < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Et0Site {
  lat: number;
  lon: number;
  timezone: string;
  altitudeM?: number;
}

export interface Et0Result {
  mm: number;
  coveredMs: number;
  method: 'penman-monteith' | 'hargreaves' | 'mixed' | 'none';
}

/**
 * ET0 accumulated over [fromMs, toMs) from weather-station samples: hour by hour with the
 * FAO-56 hourly Penman–Monteith (Eq. 53) where temperature, humidity and radiation are present
 * (wind default 2 m/s per FAO-56 when missing, pressure from altitude Eq. 7 when missing);
 * Hargreaves (per local day, from that day's Tmin/Tmax, prorated by the hours covered) when radiation or humidity is missing.
 * Hours without any sample within maxGapMs are not covered (no invention).
 *
 * An hour is a clock hour (UTC-aligned); its weather is the mean of the samples inside it, or,
 * when it has none, the sample nearest its middle if that is within maxGapMs (default 1 h).
 * Partial hours at the ends count pro rata, so the result is additive: [a, c) = [a, b) + [b, c).
 * Hargreaves takes Tmin/Tmax from the local day's samples; when those span less than 20 h
 * (today so far, or a gap) from the 24 h before that day's last sample instead; with less than
 * 18 h of readings there the hours are not covered. Its daily value is prorated per 24 h.
 */
export function accumulateEt0(samples: readonly WeatherSample[], fromMs: number, toMs: number, site: Et0Site, opts?: { maxGapMs?: number }): Et0Result {
  const maxGapMs = opts?.maxGapMs ?? HOUR_MS;
  const sorted = samples.filter((s) => Number.isFinite(s.ts) && Number.isFinite(s.airTemperatureC)).sort((a, b) => a.ts - b.ts);
  if (!(toMs > fromMs) || sorted.length === 0) return { mm: 0, coveredMs: 0, method: 'none' };
  const cal = new SiteCalendar(site);
  const pressureDefault = pressureFromAltitudeHPa(site.altitudeM ?? 0);

  const hourWeather = new Map<number, HourWeather | undefined>();
  const weatherOf = (hs: number): HourWeather | undefined => {
    if (hourWeather.has(hs)) return hourWeather.get(hs);
    let inHour = sorted.slice(lowerBound(sorted, hs), lowerBound(sorted, hs + HOUR_MS));
    if (inHour.length === 0) {
      const mid = hs + HOUR_MS / 2;
      const i = lowerBound(sorted, mid);
      const near = [sorted[i - 1], sorted[i]].filter((s): s is WeatherSample => s !== undefined && Math.abs(s.ts - mid) <= maxGapMs);
      near.sort((a, b) => Math.abs(a.ts - mid) - Math.abs(b.ts - mid));
      inHour = near.slice(0, 1);
    }
    const w =
      inHour.length === 0
        ? undefined
        : {
            t: mean(inHour.map((s) => s.airTemperatureC))!,
            rh: mean(inHour.map((s) => s.relativeHumidity)),
            wind: mean(inHour.map((s) => s.windSpeed)),
            solar: mean(inHour.map((s) => s.solarWm2)),
            pressure: mean(inHour.map((s) => s.pressureHPa)),
          };
    hourWeather.set(hs, w);
    return w;
  };

  const sunOf = (hs: number): { J: number; solarStart: number; sinElevMid: number } => {
    const J = dayOfYearOf(cal.localDate(hs + HOUR_MS / 2));
    const solarStart = solarTimeHours(hs, site.lon, J); // Eq. 31 from UTC
    return { J, solarStart, sinElevMid: sinSolarElevation(site.lat, J, solarStart + 0.5) };
  };

  /** Rs/Rso (Eq. 39) of an hour with the sun high and radiation measured, else undefined. */
  const dayRatio = (hs: number): number | undefined => {
    const w = weatherOf(hs);
    if (w?.solar === undefined) return undefined;
    const { J, solarStart, sinElevMid } = sunOf(hs);
    if (sinElevMid < MIN_SIN_ELEVATION_FOR_RATIO) return undefined;
    // Eq. 37: clear-sky radiation Rso = (0.75 + 2·10⁻⁵ z) Ra, here per hour from Eq. 28.
    const rso = (0.75 + 2e-5 * (site.altitudeM ?? 0)) * extraterrestrialHourlyMJ(site.lat, J, solarStart, solarStart + 1);
    return Math.min(1, (Math.max(0, w.solar) * WM2_TO_MJ_PER_HOUR) / rso);
  };
  const ratioAt = (hs: number): number => {
    // FAO-56 (hourly Eq. 39): with the sun low or down, Rs/Rso from the latest hour with the
    // sun high, found from the samples (not from the loop), so splitting a period changes nothing.
    for (let k = 0; k <= RATIO_LOOKBACK_HOURS; k++) {
      const r = dayRatio(hs - k * HOUR_MS);
      if (r !== undefined) return r;
    }
    return DEFAULT_NIGHT_RATIO;
  };

  let pmMm = 0;
  let pmMs = 0;
  /** Hargreaves hours per local date: covered ms. */
  const hgMs = new Map<string, number>();

  for (let hs = Math.floor(fromMs / HOUR_MS) * HOUR_MS; hs < toMs; hs += HOUR_MS) {
    const part = Math.min(hs + HOUR_MS, toMs) - Math.max(hs, fromMs);
    const w = weatherOf(hs);
    if (!w) continue;
    if (w.rh !== undefined && w.solar !== undefined) {
      const mmPerHour = et0MmPerHour({
        airTemperatureC: w.t,
        relativeHumidity: w.rh,
        windSpeed2m: w.wind ?? DEFAULT_WIND_MS,
        solarWm2: w.solar,
        relativeShortwave: ratioAt(hs),
        pressureHPa: w.pressure ?? pressureDefault,
      });
      // Negative hourly values are dew at night: it wets the leaves, not the root zone.
      pmMm += (Math.max(0, mmPerHour) * part) / HOUR_MS;
      pmMs += part;
    } else {
      const date = cal.localDate(hs + HOUR_MS / 2);
      hgMs.set(date, (hgMs.get(date) ?? 0) + part);
    }
  }

  let hgMm = 0;
  let hgCovered = 0;
  for (const [date, ms] of hgMs) {
    const range = temperatureRange(sorted, cal.at(date, 0), cal.at(cal.addDays(date, 1), 0));
    if (!range) continue;
    hgMm += (et0Hargreaves(range.min, range.max, extraterrestrialDailyMJ(site.lat, dayOfYearOf(date))) * ms) / DAY_MS;
    hgCovered += ms;
  }

  const coveredMs = pmMs + hgCovered;
  const method = pmMs > 0 && hgCovered > 0 ? 'mixed' : pmMs > 0 ? 'penman-monteith' : hgCovered > 0 ? 'hargreaves' : 'none';
  return { mm: pmMm + hgMm, coveredMs, method };
}

/** Tmin/Tmax for Hargreaves on the local day [dayStart, dayEnd); see accumulateEt0. */
function temperatureRange(sorted: readonly WeatherSample[], dayStart: number, dayEnd: number): { min: number; max: number } | undefined {
  let lo = lowerBound(sorted, dayStart);
  const hi = lowerBound(sorted, dayEnd);
  if (hi === 0) return undefined;
  const last = sorted[hi - 1]!.ts;
  if (hi <= lo || last - sorted[lo]!.ts < WHOLE_DAY_SPAN_MS) lo = lowerBound(sorted, last - DAY_MS);
  const day = sorted.slice(lo, hi);
  if (last - day[0]!.ts < MIN_RANGE_SPAN_MS) return undefined;
  const temps = day.map((s) => s.airTemperatureC);
  return { min: Math.min(...temps), max: Math.max(...temps) };
}

export interface EtScaleInput {
  /** ET0 accumulated since the last watering (accumulateEt0), mm. */
  et0Mm: number;
  /** Rain measured over the same period, mm. */
  rainMm: number;
  /** How much of the period the weather covered (accumulateEt0), ms. */
  coveredMs: number;
  /** Length of the period since the last watering, ms. */
  periodMs: number;
  /** The program's nominal interval (nominalIntervalDays). */
  intervalDays: number;
  baseMmPerDay: number;
  minPercent: number;
  maxPercent: number;
  newestSampleTs: number | undefined;
  nowMs: number;
  maxAgeMs: number;
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);
/** Up to two decimals, without trailing zeros: 7/3 days → "2.33", 2 days → "2". */
const short = (n: number): string => String(Math.round(n * 100) / 100);

/**
 * The percentage a program's durations are scaled by. Water need = ET0 accumulated since the
 * last watering minus effective rain since then (never below 0); 100 % is `baseMmPerDay` per
 * day of the program's nominal interval. Result clamped to [minPercent, maxPercent].
 * Fallback (documented in the reason): when weather is stale (no sample newer than maxAgeMs
 * before now) or less than half the period is covered → 100 %, never 0.
 *
 * Effective rain: all measured rain counts, up to the deficit. FAO-56 leaves effective rainfall
 * to local methods; at the few-mm-per-day scale of one watering interval, runoff and deep
 * percolation are small beside the gauge's own error, so the simple rule is kept.
 * ET0 covering between half and all of the period is scaled up to the whole period (its mean
 * rate times the period): uncovered hours are as likely day as night, and erring wet is safe.
 */
export function etScalePercent(i: EtScaleInput): { percent: number; reason: string } {
  const fallback = (why: string): { percent: number; reason: string } => ({ percent: 100, reason: `ET scaling: ${why}; watering 100 %` });
  if (i.newestSampleTs === undefined) return fallback('no weather readings');
  const ageMs = i.nowMs - i.newestSampleTs;
  if (ageMs > i.maxAgeMs) return fallback(`weather stale (newest reading ${fmt(ageMs / 60_000, 0)} min old, max ${fmt(i.maxAgeMs / 60_000, 0)} min)`);
  if (!(i.periodMs > 0) || !(i.coveredMs >= i.periodMs / 2)) {
    const pct = i.periodMs > 0 ? (100 * Math.max(0, i.coveredMs)) / i.periodMs : 0;
    return fallback(`weather covers only ${fmt(pct, 0)} % of the ${fmt(Math.max(0, i.periodMs) / HOUR_MS)} h since the last watering (need half)`);
  }
  const base = i.baseMmPerDay * i.intervalDays;
  if (![i.et0Mm, i.rainMm, base].every(Number.isFinite) || !(base > 0)) return fallback('ET inputs not usable');
  const et0 = (Math.max(0, i.et0Mm) * i.periodMs) / Math.min(i.coveredMs, i.periodMs);
  const rain = Math.max(0, i.rainMm);
  const need = Math.max(0, et0 - rain);
  const raw = (100 * need) / base;
  const percent = Math.min(i.maxPercent, Math.max(i.minPercent, raw));
  const clampNote = percent > raw ? ` (raised to the minimum ${fmt(i.minPercent, 0)} %)` : percent < raw ? ` (capped at the maximum ${fmt(i.maxPercent, 0)} %)` : '';
  return {
    percent,
    reason: `ET scaling: ET0 ${fmt(et0)} mm − rain ${fmt(rain)} mm = ${fmt(need)} mm needed; 100 % is ${fmt(base)} mm (${short(i.baseMmPerDay)} mm/day × ${short(i.intervalDays)} days) → ${fmt(raw, 0)} %${clampNote}`,
  };
}
