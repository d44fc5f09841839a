/**
 * Where the sun is, and how much light reaches the top of the atmosphere and a clear-sky
 * field. Formulas from FAO Irrigation and Drainage Paper 56 (Allen et al., 1998), chapter 3,
 * so the radiation that drives evapotranspiration is the one FAO-56 itself would compute.
 */

const DEG = Math.PI / 180;
const HOUR_MS = 3_600_000;

/** Solar constant, FAO-56 Eq. 21/28: Gsc = 0.0820 MJ m⁻² min⁻¹ = 1367 W/m². */
export const SOLAR_CONSTANT_W_M2 = 1367;

/** FAO-56 Eq. 24: solar declination (rad) for day of year J (1..366). */
export function declination(dayOfYear: number): number {
  return 0.409 * Math.sin((2 * Math.PI * dayOfYear) / 365 - 1.39);
}

/** FAO-56 Eq. 23: inverse relative Earth–Sun distance. */
export function inverseDistance(dayOfYear: number): number {
  return 1 + 0.033 * Math.cos((2 * Math.PI * dayOfYear) / 365);
}

/** FAO-56 Eq. 32–33: seasonal correction for solar time (equation of time), hours. */
export function seasonalCorrectionHours(dayOfYear: number): number {
  const b = (2 * Math.PI * (dayOfYear - 81)) / 364;
  return 0.1645 * Math.sin(2 * b) - 0.1255 * Math.cos(b) - 0.025 * Math.sin(b);
}

/**
 * Apparent solar time in hours (12 = solar noon) at a UTC instant and an east longitude.
 * FAO-56 Eq. 31 writes it from clock time and the time-zone meridian; measured from UTC the
 * zone terms cancel and leave UTC + longitude/15 + Sc.
 */
export function solarTimeHours(utcMs: number, lonDeg: number, dayOfYear: number): number {
  const utcHours = (((utcMs % 86_400_000) + 86_400_000) % 86_400_000) / HOUR_MS;
  const t = utcHours + lonDeg / 15 + seasonalCorrectionHours(dayOfYear);
  return ((t % 24) + 24) % 24;
}

/**
 * Sine of the sun's elevation above the horizon: sin β = sin φ sin δ + cos φ cos δ cos ω,
 * with ω the hour angle (FAO-56 Eq. 31) — the same product FAO-56 Eq. 28 integrates for
 * hourly extraterrestrial radiation.
 */
export function sinSolarElevation(latDeg: number, dayOfYear: number, solarHours: number): number {
  const phi = latDeg * DEG;
  const delta = declination(dayOfYear);
  const omega = (Math.PI / 12) * (solarHours - 12);
  return Math.sin(phi) * Math.sin(delta) + Math.cos(phi) * Math.cos(delta) * Math.cos(omega);
}

/** Solar elevation in degrees (negative below the horizon). */
export function solarElevationDeg(latDeg: number, dayOfYear: number, solarHours: number): number {
  const s = sinSolarElevation(latDeg, dayOfYear, solarHours);
  return Math.asin(Math.max(-1, Math.min(1, s))) / DEG;
}

/** FAO-56 Eq. 25: sunset hour angle ωs (rad); clamped for polar day and night. */
export function sunsetHourAngle(latDeg: number, dayOfYear: number): number {
  const x = -Math.tan(latDeg * DEG) * Math.tan(declination(dayOfYear));
  return Math.acos(Math.max(-1, Math.min(1, x)));
}

/** Sunrise in apparent solar time, hours (FAO-56 Eq. 34: daylight N = 24 ωs / π). */
export function sunriseSolarHours(latDeg: number, dayOfYear: number): number {
  return 12 - (12 * sunsetHourAngle(latDeg, dayOfYear)) / Math.PI;
}

/** Instantaneous extraterrestrial irradiance on a horizontal plane, W/m² (FAO-56 Eq. 28 integrand). */
export function extraterrestrialWm2(latDeg: number, dayOfYear: number, solarHours: number): number {
  const s = sinSolarElevation(latDeg, dayOfYear, solarHours);
  return s > 0 ? SOLAR_CONSTANT_W_M2 * inverseDistance(dayOfYear) * s : 0;
}

/**
 * Clear-sky irradiance, W/m²: FAO-56 Eq. 37, Rso = (0.75 + 2·10⁻⁵ z) Ra. Near the equator at
 * noon that is ≈1000 W/m², the usual clear-sky peak.
 */
export function clearSkyWm2(latDeg: number, dayOfYear: number, solarHours: number, altitudeM: number): number {
  return (0.75 + 2e-5 * altitudeM) * extraterrestrialWm2(latDeg, dayOfYear, solarHours);
}
