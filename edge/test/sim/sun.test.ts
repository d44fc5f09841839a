import { describe, expect, it } from 'vitest';
import { et0MmPerHour, saturationVapourPressure, vapourPressureSlope } from '../../src/sim/et0.js';
import { dayOfYear, LocalTime } from '../../src/sim/local-time.js';
import {
  clearSkyWm2,
  declination,
  solarElevationDeg,
  solarTimeHours,
  sunriseSolarHours,
} from '../../src/sim/sun.js';

const DEG = 180 / Math.PI;

describe('sun (FAO-56 ch. 3)', () => {
  it.each([
    // day of year, expected declination (deg): equinoxes ~0, solstices ~±23.4
    { J: 80, deg: 0, tol: 1 },
    { J: 172, deg: 23.45, tol: 0.3 },
    { J: 355, deg: -23.45, tol: 0.3 },
    // FAO-56 Example 8: 3 September (J = 246) δ = 0.120 rad
    { J: 246, deg: 0.12 * DEG, tol: 0.1 },
  ])('declination on day $J ≈ $deg°', ({ J, deg, tol }) => {
    expect(Math.abs(declination(J) * DEG - deg)).toBeLessThan(tol);
  });

  it.each([
    // lat, day, solar hour, expected elevation (deg)
    { lat: 0, J: 80, h: 12, deg: 90, tol: 1 },
    { lat: 10, J: 80, h: 12, deg: 80, tol: 1 },
    { lat: 52.5, J: 172, h: 12, deg: 61, tol: 1 },
    { lat: 10, J: 80, h: 6, deg: 0, tol: 1 },
    { lat: 10, J: 80, h: 0, deg: -80, tol: 1 },
    { lat: 10, J: 80, h: 15, deg: 44.3, tol: 1.5 },
  ])('elevation at lat $lat, day $J, $h h solar ≈ $deg°', ({ lat, J, h, deg, tol }) => {
    expect(Math.abs(solarElevationDeg(lat, J, h) - deg)).toBeLessThan(tol);
  });

  it('solar time runs with UTC plus longitude/15 (equation of time within ±17 min)', () => {
    const J = 172;
    const utcNoon = Date.UTC(2025, 5, 21, 12);
    const ts = solarTimeHours(utcNoon, 105.8, J);
    expect(Math.abs(ts - (12 + 105.8 / 15))).toBeLessThan(17 / 60);
  });

  it('sunrise near 6 h solar time in the tropics, earlier in a northern summer', () => {
    expect(Math.abs(sunriseSolarHours(10, 80) - 6)).toBeLessThan(0.1);
    expect(sunriseSolarHours(52.5, 172)).toBeLessThan(4);
    expect(sunriseSolarHours(52.5, 355)).toBeGreaterThan(8);
  });

  it('clear-sky noon irradiance is ~1000 W/m² in the tropics and 0 at night', () => {
    const noon = clearSkyWm2(10, 80, 12, 2);
    expect(noon).toBeGreaterThan(950);
    expect(noon).toBeLessThan(1050);
    expect(clearSkyWm2(10, 80, 0, 2)).toBe(0);
  });
});

describe('local time', () => {
  it.each([
    { tz: 'Asia/Ho_Chi_Minh', utc: Date.UTC(2025, 0, 15, 5), hour: 12 },
    { tz: 'Europe/Berlin', utc: Date.UTC(2025, 0, 15, 11), hour: 12 }, // CET
    { tz: 'Europe/Berlin', utc: Date.UTC(2025, 6, 15, 10), hour: 12 }, // CEST
    { tz: 'Asia/Kathmandu', utc: Date.UTC(2025, 6, 15, 6, 15), hour: 12 }, // +05:45
    // The day Berlin springs forward (02:00 → 03:00 local, 01:00 UTC).
    { tz: 'Europe/Berlin', utc: Date.UTC(2025, 2, 30, 0, 30), hour: 1.5 },
    { tz: 'Europe/Berlin', utc: Date.UTC(2025, 2, 30, 1, 30), hour: 3.5 },
  ])('$tz at $utc is $hour h local', ({ tz, utc, hour }) => {
    expect(new LocalTime(tz).hour(utc)).toBeCloseTo(hour, 9);
  });

  it('day of year of a local day index', () => {
    const lt = new LocalTime('Asia/Ho_Chi_Minh');
    expect(dayOfYear(lt.dayIndex(Date.UTC(2025, 0, 1, 0)))).toBe(1);
    expect(dayOfYear(lt.dayIndex(Date.UTC(2024, 11, 31, 18)))).toBe(1); // 01:00 on 1 Jan local
    expect(dayOfYear(lt.dayIndex(Date.UTC(2024, 11, 31, 12)))).toBe(366); // leap year
  });

  it('rejects an unknown zone clearly', () => {
    expect(() => new LocalTime('Mars/Olympus_Mons')).toThrow(/Mars\/Olympus_Mons|time ?zone/i);
  });
});

describe('ET0 (FAO-56 Eq. 53)', () => {
  it.each([
    // FAO-56 Table 2.3 / 2.4
    { t: 20, es: 2.338, slope: 0.1447 },
    { t: 30, es: 4.243, slope: 0.2434 },
  ])('e°($t) = $es kPa, Δ = $slope kPa/°C', ({ t, es, slope }) => {
    expect(saturationVapourPressure(t)).toBeCloseTo(es, 3);
    expect(vapourPressureSlope(t)).toBeCloseTo(slope, 3);
  });

  it.each([
    // FAO-56 Example 19 (N'Diaye, Senegal, 1 October): 14–15 h and 02–03 h.
    { name: 'afternoon', T: 38, RH: 52, u2: 3.3, rsMJ: 2.45, ratio: 0.922, expected: 0.63 },
    { name: 'night', T: 28, RH: 90, u2: 1.9, rsMJ: 0, ratio: 0.8, expected: 0 },
  ])('reproduces FAO-56 Example 19, $name: $expected mm/h', ({ T, RH, u2, rsMJ, ratio, expected }) => {
    const et0 = et0MmPerHour({
      airTemperatureC: T,
      relativeHumidity: RH,
      windSpeed2m: u2,
      solarWm2: rsMJ / 0.0036,
      relativeShortwave: ratio,
      pressureHPa: 1012,
    });
    expect(Math.abs(et0 - expected)).toBeLessThan(0.03);
  });
});
