/**
 * Reference evapotranspiration ET0 by the FAO-56 Penman–Monteith equation for hourly (or
 * shorter) time steps — Allen et al. (1998), FAO Irrigation and Drainage Paper 56, chapter 4,
 * Eq. 53 — fed with the simulated weather. Hourly PM beats daily Hargreaves here because the
 * simulation knows the hour-by-hour radiation, humidity and wind, and a passing shower
 * should cut the afternoon's demand, not the whole day's.
 */

/** FAO-56 Eq. 11: saturation vapour pressure e°(T), kPa. */
export function saturationVapourPressure(tempC: number): number {
  return 0.6108 * Math.exp((17.27 * tempC) / (tempC + 237.3));
}

/** FAO-56 Eq. 13: slope of the saturation vapour pressure curve Δ, kPa/°C. */
export function vapourPressureSlope(tempC: number): number {
  return (4098 * saturationVapourPressure(tempC)) / (tempC + 237.3) ** 2;
}

export interface Et0Inputs {
  airTemperatureC: number;
  relativeHumidity: number; // %
  windSpeed2m: number; // m/s, FAO-56 assumes the anemometer at 2 m (Eq. 47 otherwise)
  solarWm2: number; // incoming shortwave Rs
  /** Rs/Rso, the relative shortwave radiation (≤ 1); at night the daytime value (FAO-56 ch. 3, Eq. 39 note). */
  relativeShortwave: number;
  pressureHPa: number;
}

/** W/m² sustained for one hour, in MJ m⁻² h⁻¹. */
const WM2_TO_MJ_PER_HOUR = 0.0036;
/** Stefan–Boltzmann constant per hour, FAO-56 Eq. 39 table: 2.043·10⁻¹⁰ MJ K⁻⁴ m⁻² h⁻¹. */
const SIGMA_HOURLY = 2.043e-10;
/** FAO-56 Eq. 38: albedo of the hypothetical grass reference crop. */
const ALBEDO = 0.23;

/** Hourly ET0, mm/h (may be slightly negative at night: dew; callers clamp where needed). */
export function et0MmPerHour(i: Et0Inputs): number {
  const t = i.airTemperatureC;
  const es = saturationVapourPressure(t);
  const ea = (es * Math.max(0, Math.min(100, i.relativeHumidity))) / 100; // FAO-56 Eq. 10 (RH = 100·ea/e°) rearranged
  const rs = Math.max(0, i.solarWm2) * WM2_TO_MJ_PER_HOUR;
  const rns = (1 - ALBEDO) * rs; // FAO-56 Eq. 38
  const ratio = Math.max(0.25, Math.min(1, i.relativeShortwave));
  // FAO-56 Eq. 39: net outgoing longwave, from air temperature, humidity and cloudiness.
  const rnl = SIGMA_HOURLY * (t + 273.16) ** 4 * (0.34 - 0.14 * Math.sqrt(ea)) * (1.35 * ratio - 0.35);
  const rn = rns - rnl; // FAO-56 Eq. 40
  const g = rn > 0 ? 0.1 * rn : 0.5 * rn; // FAO-56 Eq. 45 (day) and 46 (night)
  const gamma = 0.665e-3 * (i.pressureHPa / 10); // FAO-56 Eq. 8, P in kPa
  const delta = vapourPressureSlope(t);
  const u2 = Math.max(0, i.windSpeed2m);
  // FAO-56 Eq. 53 (hourly Penman–Monteith, grass reference).
  return (0.408 * delta * (rn - g) + gamma * (37 / (t + 273)) * u2 * (es - ea)) / (delta + gamma * (1 + 0.34 * u2));
}
