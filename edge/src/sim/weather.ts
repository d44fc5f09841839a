/**
 * Diurnal weather at the site: sun, air temperature and humidity, pressure, wind. Each local
 * day draws its own character from a hash of (seed, day) — sunshine, min/max temperature,
 * dew point, mean wind, synoptic pressure — and short-memory noise (passing clouds, gusts)
 * plus the wetting of a shower are state stepped with the village.
 *
 * Defaults describe the Mekong delta (Can Tho, ~10°N): nights ~25 °C, afternoons ~33 °C,
 * RH ~95% at dawn and ~60% in the afternoon, SW monsoon in the wet season, NE in the dry.
 */
import { saturationVapourPressure } from './et0.js';
import type { LocalTime } from './local-time.js';
import { dayOfYear } from './local-time.js';
import { hashNormal, hashUnit, ouStep, type Random } from './random.js';
import { clearSkyWm2, seasonalCorrectionHours, solarTimeHours, sunriseSolarHours } from './sun.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DEG = Math.PI / 180;

/** Hour of the daily maximum: ~14:00 local, the usual lag of air temperature behind noon. */
const TMAX_HOUR = 14;

/**
 * Global luminous efficacy of daylight ≈ 110–120 lm/W across sun and sky (Littlefair, 1985,
 * "The luminous efficacy of daylight: a review", Lighting Research & Technology 17(4)).
 */
export const LUX_PER_WM2 = 120;

export interface Site {
  lat: number;
  lon: number; // east positive
  altitudeM: number;
  seed: number;
  /** Climatological mean daily minimum and maximum, °C. */
  minTempC: number;
  maxTempC: number;
}

/** Everything the weather is at one instant. */
export interface WeatherSample {
  localHour: number;
  dayOfYear: number;
  solarWm2: number;
  clearSkyWm2: number;
  /** Rs/Rso for FAO-56 Eq. 39 (cloudiness), also meaningful at night. */
  relativeShortwave: number;
  illuminanceLx: number;
  airTemperatureC: number;
  relativeHumidity: number;
  pressureHPa: number;
  windSpeed: number;
  windDirection: number;
  /** This day's sunshine fraction n/N (0..1), smoothed across midnight. */
  sunshine: number;
}

interface Day {
  sunshine: number;
  tminC: number;
  tmaxC: number;
  /** FAO-56 Eq. 48: in humid climates the dew point sits just below the daily minimum. */
  dewPointC: number;
  windMean: number;
  pressureOffsetHPa: number;
  sunriseLocalHour: number;
  dayOfYear: number;
}

export class Weather {
  /** Passing-cloud anomaly added to the day's sunshine fraction. */
  private cloud = 0;
  /** Relative gust anomaly of wind speed. */
  private gust = 0;
  /** Wind direction anomaly, degrees. */
  private veer = 0;
  /** 0..1, how much a shower (now or just past) darkens, cools and moistens the air. */
  private wet = 0;
  private readonly days = new Map<number, Day>();

  constructor(
    private readonly site: Site,
    private readonly clock: LocalTime,
  ) {}

  /** The weather at instant t, from the stepped state and the exact time (pure). */
  sample(t: number): WeatherSample {
    const wall = this.clock.wallMs(t);
    const d = Math.floor(wall / DAY_MS);
    const h = (wall - d * DAY_MS) / HOUR_MS;
    const today = this.day(d);
    const J = today.dayOfYear;

    // Radiation: FAO-56 Eq. 35 (Ångström, as = 0.25, bs = 0.50) relative to Eq. 36 clear sky,
    // so an overcast sky still lets through a third of the clear-sky beam-plus-diffuse.
    const sunshine = this.smooth(d, h, 'sunshine');
    const k = Math.min(1, Math.max(0, sunshine + this.cloud));
    const relative = ((0.25 + 0.5 * k) / 0.75) * (1 - 0.8 * this.wet);
    const clear = clearSkyWm2(this.site.lat, J, solarTimeHours(t, this.site.lon, J), this.site.altitudeM);
    const solar = clear * relative;

    // A shower cools the air by evaporation and drives it toward saturation.
    const air = this.diurnalTemperature(d, h) - 3 * this.wet;
    // FAO-56 Eq. 48: in humid climates the dew point sits near the daily minimum, so the
    // vapour pressure stays nearly constant through the day and RH swings inversely with T.
    const dew = Math.min(air, this.smooth(d, h, 'dewPointC'));
    const dry = (100 * saturationVapourPressure(dew)) / saturationVapourPressure(air);
    const rh = Math.min(100, Math.max(0, dry + (98 - dry) * this.wet));

    // Atmospheric tide: the semi-diurnal S2 wave, ~1.2·cos³φ hPa with maxima near 10:00 and
    // 22:00 local solar time (Haurwitz & Cowley, 1973; Dai & Wang, 1999). Tropics: ~±1.1 hPa.
    const solarHours = solarTimeHours(t, this.site.lon, J);
    const s2 = 1.16 * Math.cos(this.site.lat * DEG) ** 3 * Math.cos((2 * Math.PI * (solarHours - 10)) / 12);
    const pressure = 1010 + this.smooth(d, h, 'pressureOffsetHPa') + s2;

    // Wind: mixing makes afternoons windier than nights; gust fronts come with showers.
    const diurnalWind = 1 + 0.45 * Math.sin((2 * Math.PI * (h - 8)) / 24);
    const windMean = this.smooth(d, h, 'windMean');
    const wind = Math.max(0, windMean * diurnalWind * (1 + this.gust) + 3 * this.wet);
    const direction = (((this.monsoonDirection(J) + this.veer) % 360) + 360) % 360;

    return {
      localHour: h,
      dayOfYear: J,
      solarWm2: solar,
      clearSkyWm2: clear,
      relativeShortwave: relative,
      illuminanceLx: solar * LUX_PER_WM2,
      airTemperatureC: air,
      relativeHumidity: rh,
      pressureHPa: pressure,
      windSpeed: wind,
      windDirection: direction,
      sunshine,
    };
  }

  /** Steps the noisy state over dt; `rainMmPerHour` is the mean intensity in the step. */
  advance(dtMs: number, rainMmPerHour: number, rng: Random): void {
    this.cloud = ouStep(this.cloud, dtMs, 30 * MINUTE_MS, 0.18, rng.normal());
    this.gust = ouStep(this.gust, dtMs, 2 * MINUTE_MS, 0.3, rng.normal());
    this.veer = ouStep(this.veer, dtMs, HOUR_MS, 25, rng.normal());
    // Wetting follows a shower within minutes (2 mm/h counts as fully wet) and the air takes
    // a couple of hours to recover once it stops.
    const target = Math.min(1, Math.max(0, rainMmPerHour) / 2);
    const tau = target > this.wet ? 10 * MINUTE_MS : 90 * MINUTE_MS;
    this.wet = target + (this.wet - target) * Math.exp(-dtMs / tau);
  }

  /** The local day's cloudiness as a multiplier of rain chance (~1 on an average day). */
  rainWeight(t: number): number {
    const wall = this.clock.wallMs(t);
    const d = Math.floor(wall / DAY_MS);
    const h = (wall - d * DAY_MS) / HOUR_MS;
    return (1 - this.smooth(d, h, 'sunshine')) / 0.375;
  }

  /** Mean of the day's minimum and maximum air temperature at t, °C (soil starts there). */
  dailyMeanTemperature(t: number): number {
    const day = this.day(Math.floor(this.clock.wallMs(t) / DAY_MS));
    return (day.tminC + day.tmaxC) / 2;
  }

  /**
   * Air temperature from the day's min (at sunrise) and max (at 14:00), joined by two half
   * cosines — the common shape of diurnal temperature models (e.g. De Wit et al., 1978;
   * Parton & Logan, 1981 use a sine by day). Night cools from today's max toward tomorrow's
   * min, so the curve is continuous across midnight.
   */
  private diurnalTemperature(d: number, h: number): number {
    const today = this.day(d);
    const sunrise = today.sunriseLocalHour;
    if (h < sunrise) {
      const before = this.day(d - 1);
      const span = sunrise + 24 - TMAX_HOUR;
      const x = h + 24 - TMAX_HOUR;
      return today.tminC + ((before.tmaxC - today.tminC) * (1 + Math.cos((Math.PI * x) / span))) / 2;
    }
    if (h < TMAX_HOUR) {
      const x = (h - sunrise) / (TMAX_HOUR - sunrise);
      return today.tminC + ((today.tmaxC - today.tminC) * (1 - Math.cos(Math.PI * x))) / 2;
    }
    const next = this.day(d + 1);
    const span = 24 - TMAX_HOUR + next.sunriseLocalHour;
    const x = h - TMAX_HOUR;
    return next.tminC + ((today.tmaxC - next.tminC) * (1 + Math.cos((Math.PI * x) / span))) / 2;
  }

  /** Mekong delta monsoon: SW (~225°) in the wet season peaking Jul–Aug, NE (~45°) in the dry. */
  private monsoonDirection(J: number): number {
    const sw = 0.5 + 0.5 * Math.cos((2 * Math.PI * (J - 213)) / 365);
    const x = sw * Math.sin(225 * DEG) + (1 - sw) * Math.sin(45 * DEG);
    const y = sw * Math.cos(225 * DEG) + (1 - sw) * Math.cos(45 * DEG);
    // Near the switch the vector mean is short and its angle ill-defined: fall back to east.
    if (Math.hypot(x, y) < 0.05) return 90;
    return Math.atan2(x, y) / DEG;
  }

  /** A daily parameter interpolated linearly between local noons, so nothing jumps at midnight. */
  private smooth(d: number, h: number, key: 'sunshine' | 'dewPointC' | 'windMean' | 'pressureOffsetHPa'): number {
    if (h < 12) {
      const f = (h + 12) / 24;
      return this.day(d - 1)[key] * (1 - f) + this.day(d)[key] * f;
    }
    const f = (h - 12) / 24;
    return this.day(d)[key] * (1 - f) + this.day(d + 1)[key] * f;
  }

  private day(d: number): Day {
    const cached = this.days.get(d);
    if (cached) return cached;
    const seed = this.site.seed;
    const J = dayOfYear(d);
    // Slightly warmer before the rains (April) than in the cool dry season (January).
    const season = 1.2 * Math.cos((2 * Math.PI * (J - 110)) / 365);
    const sunshine = 0.35 + 0.55 * hashUnit(seed, d, 1);
    const tminC = this.site.minTempC + season + 0.6 * hashNormal(seed, d, 2);
    // Sunny days run hotter: ±1.5 °C across the sunshine range.
    const tmaxRaw = this.site.maxTempC + season + 5.5 * (sunshine - 0.625) + 0.5 * hashNormal(seed, d, 3);
    const tmaxC = Math.max(tmaxRaw, tminC + 3);
    // The offset of the local clock from solar time decides when the sun rises on the clock.
    const offsetHours = this.clock.offsetMs(d * DAY_MS + 12 * HOUR_MS) / HOUR_MS;
    const sunriseLocalHour =
      sunriseSolarHours(this.site.lat, J) - this.site.lon / 15 - seasonalCorrectionHours(J) + offsetHours;
    const day: Day = {
      sunshine,
      tminC,
      tmaxC,
      dewPointC: tminC - 0.5 - hashUnit(seed, d, 4),
      windMean: 1.2 + 2 * hashUnit(seed, d, 5),
      pressureOffsetHPa: 2 * hashUnit(seed, d, 6) - 1,
      // Keep the day's shape sane at any latitude (polar day/night clamp the sunrise).
      sunriseLocalHour: Math.min(Math.max(((sunriseLocalHour % 24) + 24) % 24, 1), TMAX_HOUR - 2),
      dayOfYear: J,
    };
    if (this.days.size > 64) this.days.clear();
    this.days.set(d, day);
    return day;
  }
}
