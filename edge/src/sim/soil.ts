/**
 * A field's root zone as a single bucket (FAO-56 chapter 8, "ETc under soil water stress
 * conditions"): water in from rain and irrigation, out by crop evapotranspiration and deep
 * percolation, plus the soil probe's other readings (temperature, EC, pH, N-P-K).
 *
 * Units: water content θ in %VWC; depths of water in mm. 1 mm of water spread over a root
 * zone Zr mm deep changes θ by 100/Zr %VWC (0.33 %VWC for Zr = 300 mm).
 */
import { hashUnit, ouStep } from './random.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface FieldOptions {
  /** %VWC at the start (default 30). */
  initialMoisture?: number;
  /** %VWC after free drainage (default 35, a loam). */
  fieldCapacity?: number;
  /** %VWC at which the crop can extract no more (default 15). */
  wiltingPoint?: number;
  /** %VWC when every pore is full; wetter water runs off (default 45). */
  saturation?: number;
  /** Root zone depth Zr, mm (default 300). */
  rootDepthMm?: number;
  /** Field area, m² (default 1000): litres / m² = mm. */
  areaM2?: number;
  /** Single crop coefficient Kc (default 1.05: rice/vegetables mid-season, FAO-56 Table 12). */
  kc?: number;
  /** Depletion fraction p before stress (default 0.5, FAO-56 Table 22 for many vegetables). */
  depletionFraction?: number;
  /** Time constant of drainage from above field capacity, hours (default 8). */
  drainageHours?: number;
}

export type FieldParams = Readonly<Required<FieldOptions>>;

export interface FieldState {
  moisture: number; // %VWC
  temperatureC: number;
  /** Salt left in the root zone relative to the start (1 = as started; leaching lowers it). */
  salt: number;
  ecAtFieldCapacity: number; // µS/cm
  phBase: number;
  phNoise: number;
  nitrogen: number; // mg/kg
  phosphorus: number;
  potassium: number;
}

export interface SoilInput {
  dtMs: number;
  rainMm: number;
  irrigationMm: number;
  et0Mm: number;
  airTemperatureC: number;
  solarWm2: number;
  /** A standard normal for the pH drift. */
  normal: number;
}

/** Fills defaults and checks the options; throws a clear Error naming the bad one. */
export function resolveField(id: string, opts: FieldOptions = {}): FieldParams {
  const p: Required<FieldOptions> = {
    initialMoisture: opts.initialMoisture ?? 30,
    fieldCapacity: opts.fieldCapacity ?? 35,
    wiltingPoint: opts.wiltingPoint ?? 15,
    saturation: opts.saturation ?? 45,
    rootDepthMm: opts.rootDepthMm ?? 300,
    areaM2: opts.areaM2 ?? 1000,
    kc: opts.kc ?? 1.05,
    depletionFraction: opts.depletionFraction ?? 0.5,
    drainageHours: opts.drainageHours ?? 8,
  };
  const bad = (what: string): never => {
    throw new Error(`field "${id}": ${what}`);
  };
  if (!(p.wiltingPoint >= 0 && p.wiltingPoint < p.fieldCapacity)) bad(`need 0 ≤ wiltingPoint < fieldCapacity, got ${p.wiltingPoint} and ${p.fieldCapacity}`);
  if (!(p.fieldCapacity <= p.saturation && p.saturation <= 100)) bad(`need fieldCapacity ≤ saturation ≤ 100, got ${p.fieldCapacity} and ${p.saturation}`);
  if (!(p.initialMoisture >= 0 && p.initialMoisture <= p.saturation)) bad(`initialMoisture must be in [0, saturation], got ${p.initialMoisture}`);
  if (!(p.rootDepthMm > 0)) bad(`rootDepthMm must be > 0, got ${p.rootDepthMm}`);
  if (!(p.areaM2 > 0)) bad(`areaM2 must be > 0, got ${p.areaM2}`);
  if (!(p.kc >= 0)) bad(`kc must be ≥ 0, got ${p.kc}`);
  if (!(p.depletionFraction >= 0 && p.depletionFraction < 1)) bad(`depletionFraction must be in [0, 1), got ${p.depletionFraction}`);
  if (!(p.drainageHours > 0)) bad(`drainageHours must be > 0, got ${p.drainageHours}`);
  return Object.freeze(p);
}

/** A field's soil at the start; its chemistry varies from field to field by a hash of its id. */
export function initialSoil(params: FieldParams, seed: number, fieldKey: number, soilTemperatureC: number): FieldState {
  const u = (k: number): number => hashUnit(seed, fieldKey, k);
  return {
    moisture: params.initialMoisture,
    temperatureC: soilTemperatureC,
    salt: 1,
    // Non-saline delta loam: a few hundred to ~1000 µS/cm (saline intrusion would be several
    // thousand; a scenario can raise it by writing the state).
    ecAtFieldCapacity: 500 + 600 * u(1),
    phBase: 5.6 + 1.2 * u(2),
    phNoise: 0,
    nitrogen: 80 + 80 * u(3),
    phosphorus: 20 + 40 * u(4),
    potassium: 100 + 120 * u(5),
  };
}

/** FAO-56 Eq. 84: water stress coefficient Ks from the root-zone depletion. */
export function waterStress(params: FieldParams, moisture: number): number {
  const taw = ((params.fieldCapacity - params.wiltingPoint) / 100) * params.rootDepthMm; // Eq. 82
  const raw = params.depletionFraction * taw; // Eq. 83
  const depletion = Math.max(0, ((params.fieldCapacity - moisture) / 100) * params.rootDepthMm);
  if (depletion <= raw) return 1;
  return Math.max(0, (taw - depletion) / ((1 - params.depletionFraction) * taw));
}

/** Millimetres of water to %VWC in this root zone. */
export function mmToVwc(params: FieldParams, mm: number): number {
  return (mm / params.rootDepthMm) * 100;
}

/** Steps the soil over one interval, in place (the village steps thousands of times a run). */
export function stepSoil(params: FieldParams, s: FieldState, i: SoilInput): void {
  const before = s.moisture;
  // Water in (FAO-56 Eq. 85 terms P and I); above saturation it runs off the bunds.
  s.moisture = Math.min(params.saturation, s.moisture + mmToVwc(params, Math.max(0, i.rainMm + i.irrigationMm)));
  // Deep percolation: water above field capacity drains within about a day (FAO-56 ch. 8,
  // Eq. 88 drains it the same day); an exponential keeps the step size irrelevant.
  let drainedMm = 0;
  if (s.moisture > params.fieldCapacity) {
    const drained = (s.moisture - params.fieldCapacity) * (1 - Math.exp(-i.dtMs / (params.drainageHours * HOUR_MS)));
    s.moisture -= drained;
    drainedMm = (drained / 100) * params.rootDepthMm;
  }
  // Crop water use: FAO-56 Eq. 81, ETc,adj = Ks·Kc·ET0 (dew at night is not credited).
  const ks = waterStress(params, s.moisture);
  const etc = ks * params.kc * Math.max(0, i.et0Mm);
  s.moisture = Math.max(s.moisture - mmToVwc(params, etc), Math.min(before, params.wiltingPoint));

  // Soil temperature at probe depth (~10 cm) follows the surface with damping and lag: heat
  // conduction damps the daily wave by e^(−z/d) and delays it by z/(d·ω), d ≈ 10–15 cm in
  // moist soil (Hillel, Environmental Soil Physics, 1998, "Soil temperature and heat flow").
  // A first-order lag with τ = 5 h gives a similar ×0.6 amplitude and ~3.5 h delay. Sunlit
  // soil runs warmer than air.
  const surface = i.airTemperatureC + 0.003 * Math.max(0, i.solarWm2);
  s.temperatureC = surface + (s.temperatureC - surface) * Math.exp(-i.dtMs / (5 * HOUR_MS));

  // Percolating water carries solutes with it: half-efficient leaching of the stored salt,
  // nitrate alike (mobile); phosphate and potassium stay (adsorbed).
  const storedMm = Math.max(1, (s.moisture / 100) * params.rootDepthMm);
  const leached = Math.min(1, (0.5 * drainedMm) / storedMm);
  s.salt *= 1 - leached;
  // Crop uptake tracks transpiration (∝ Ks): N ~1%/day, K ~0.6%/day, P ~0.2%/day mid-season.
  const days = (i.dtMs / DAY_MS) * ks;
  s.nitrogen *= Math.exp(-0.01 * days) * (1 - leached);
  s.phosphorus *= Math.exp(-0.002 * days);
  s.potassium *= Math.exp(-0.006 * days);
  s.phNoise = ouStep(s.phNoise, i.dtMs, 6 * HOUR_MS, 0.03, i.normal);
}

/**
 * Bulk EC a probe reports, µS/cm. Salt mass fixed, the pore water concentrates as the soil
 * dries (∝ 1/θ), but a bulk-EC probe also loses conducting paths as θ falls (Rhoades et al.,
 * 1976), so the net rise is milder: ∝ (θFC/θ)^0.5.
 */
export function soilEc(params: FieldParams, s: FieldState): number {
  const theta = Math.max(s.moisture, 1);
  return s.ecAtFieldCapacity * s.salt * Math.sqrt(params.fieldCapacity / theta);
}

export function soilPh(s: FieldState): number {
  return s.phBase + s.phNoise;
}
