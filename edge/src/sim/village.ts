/**
 * The simulated village: a pure physical model of its weather, fields and water tanks,
 * driven by an injected time and a seed. No timers, no I/O, no wall clock — the demo and the
 * closed-loop tests call `advanceTo(now)` with whatever clock they run, and 30 simulated
 * days take a fraction of a second.
 *
 * Integration runs on a fixed grid (start + k·stepMs) so the same seed and the same calls
 * give the same values however the caller chunks time: `advanceTo` integrates every whole
 * step up to `now`; irrigation changes and forced rain between grid points are split exactly
 * inside the step that contains them. Stored quantities (soil, tanks, gauge, delivered volume)
 * are as of the last grid point ≤ now; weather is evaluated at `now` itself.
 *
 * The simulated Modbus slaves (devices.ts) map these values onto registers.
 */
import type { Quantity } from '@smart-village/shared';
import { et0MmPerHour } from './et0.js';
import { LocalTime } from './local-time.js';
import { Rain } from './rain.js';
import { Random, hash32, hashString } from './random.js';
import {
  initialSoil,
  resolveField,
  soilEc,
  soilPh,
  stepSoil,
  type FieldOptions,
  type FieldParams,
  type FieldState,
} from './soil.js';
import { exchange, resolveTank, tankFill, type TankOptions, type TankParams, type TankState } from './tank.js';
import { Weather, type WeatherSample } from './weather.js';

export type { FieldOptions } from './soil.js';
export type { TankOptions } from './tank.js';
export type { WeatherSample } from './weather.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface VillageOptions {
  seed: number;
  /** Epoch ms of the start. */
  start: number;
  lat: number;
  /** East positive. */
  lon: number;
  /** IANA zone, e.g. Asia/Ho_Chi_Minh. */
  timezone: string;
  /** Integration step, ms (default 60_000). */
  stepMs?: number;
  /** Random showers (default 0.3 per day, 15 mm mean). */
  rain?: { probabilityPerDay?: number; meanMm?: number };
  /** Site altitude, m, for clear-sky radiation (default 2, the Mekong delta). */
  altitudeM?: number;
  /** Climatological daily minimum and maximum air temperature, °C (default 25 and 33). */
  temperature?: { minC?: number; maxC?: number };
}

/** Quantities measured once for the whole village (the `thing` argument is ignored). */
export const WEATHER_QUANTITIES = [
  'air-temperature',
  'relative-humidity',
  'air-pressure',
  'rain',
  'wind-speed',
  'wind-direction',
  'solar-radiation',
  'illuminance',
] as const satisfies readonly Quantity[];

export const FIELD_QUANTITIES = [
  'soil-moisture',
  'soil-temperature',
  'soil-ec',
  'soil-ph',
  'soil-nitrogen',
  'soil-phosphorus',
  'soil-potassium',
  'flow',
  'volume',
] as const satisfies readonly Quantity[];

export const TANK_QUANTITIES = ['water-level', 'water-fill', 'volume', 'flow'] as const satisfies readonly Quantity[];

interface FlowChange {
  at: number;
  lpm: number;
  tank: string | undefined;
}

interface Field {
  params: FieldParams;
  soil: FieldState;
  rng: Random;
  /** Setting in force at the last grid point. */
  lpm: number;
  tank: string | undefined;
  /** The pump drawing for this field ran its tank dry and stopped; cleared by irrigate(). */
  tripped: boolean;
  /** Settings made after the last grid point, applied inside the next step. */
  changes: FlowChange[];
  /** Scratch for the current step: litres asked for, by source (undefined = canal, unlimited). */
  asked: { litres: number; tank: string | undefined }[];
  deliveredL: number;
}

interface Tank {
  params: TankParams;
  state: TankState;
  /** Scratch for the current step. */
  demandL: number;
  share: number;
  ranDry: boolean;
}

const isWeather = (q: Quantity): boolean => (WEATHER_QUANTITIES as readonly Quantity[]).includes(q);

export class Village {
  private readonly stepMs: number;
  private readonly clock: LocalTime;
  private readonly weather: Weather;
  private readonly rain: Rain;
  private readonly rng: Random;
  private readonly fields = new Map<string, Field>();
  private readonly tanks = new Map<string, Tank>();
  /** ET0 of each of the last 24 h of steps, mm (a ring). */
  private readonly et0Ring: Float64Array;
  private et0Index = 0;
  /** Time of the last grid point integrated to. */
  private t: number;
  private requested: number;

  constructor(private readonly opts: VillageOptions) {
    const stepMs = opts.stepMs ?? MINUTE_MS;
    if (!(Number.isInteger(stepMs) && stepMs > 0 && stepMs <= DAY_MS)) {
      throw new Error(`village: stepMs must be a whole number of ms in (0, 1 day], got ${stepMs}`);
    }
    if (!Number.isFinite(opts.start)) throw new Error(`village: start must be epoch ms, got ${opts.start}`);
    if (!(Math.abs(opts.lat) <= 90)) throw new Error(`village: lat must be in [-90, 90], got ${opts.lat}`);
    if (!(Math.abs(opts.lon) <= 180)) throw new Error(`village: lon must be in [-180, 180], got ${opts.lon}`);
    this.stepMs = stepMs;
    this.clock = new LocalTime(opts.timezone);
    this.weather = new Weather(
      {
        lat: opts.lat,
        lon: opts.lon,
        altitudeM: opts.altitudeM ?? 2,
        seed: opts.seed,
        minTempC: opts.temperature?.minC ?? 25,
        maxTempC: opts.temperature?.maxC ?? 33,
      },
      this.clock,
    );
    this.rain = new Rain({
      probabilityPerDay: opts.rain?.probabilityPerDay ?? 0.3,
      meanMm: opts.rain?.meanMm ?? 15,
    });
    this.rng = new Random(hash32(opts.seed, 0x5eed));
    this.et0Ring = new Float64Array(Math.ceil(DAY_MS / stepMs));
    this.t = opts.start;
    this.requested = opts.start;
  }

  /** The latest time passed to advanceTo (or the start). */
  get now(): number {
    return this.requested;
  }

  addField(id: string, opts?: FieldOptions): void {
    this.checkNewId(id);
    const params = resolveField(id, opts);
    const key = hashString(id);
    this.fields.set(id, {
      params,
      soil: initialSoil(params, this.opts.seed, key, this.weather.dailyMeanTemperature(this.t) + 1),
      rng: new Random(hash32(this.opts.seed, key, 0xf1e1d)),
      lpm: 0,
      tank: undefined,
      tripped: false,
      changes: [],
      asked: [],
      deliveredL: 0,
    });
  }

  addTank(id: string, opts: TankOptions): void {
    this.checkNewId(id);
    const params = resolveTank(id, opts);
    this.tanks.set(id, {
      params,
      state: { volumeL: params.initialFill * params.capacityL },
      demandL: 0,
      share: 1,
      ranDry: false,
    });
  }

  /** Ids of what the village has. */
  things(): { fields: string[]; tanks: string[] } {
    return { fields: [...this.fields.keys()], tanks: [...this.tanks.keys()] };
  }

  /** Integrates the model forward in whole steps up to `now`; earlier times are ignored. */
  advanceTo(now: number): void {
    if (Number.isNaN(now)) throw new Error('village: advanceTo(NaN)');
    if (now <= this.requested) return;
    this.requested = now;
    while (this.t + this.stepMs <= now) {
      this.step(this.t, this.t + this.stepMs);
      this.t += this.stepMs;
    }
  }

  /**
   * The current value of a quantity at a thing. Weather quantities are village-wide (thing
   * ignored); soil-*, flow (L/min now) and volume (L delivered) at a field; water-level,
   * water-fill, volume (L stored) and flow (L/min drawn) at a tank.
   */
  value(thing: string, quantity: Quantity): number {
    if (isWeather(quantity)) return this.weatherValue(quantity);
    const field = this.fields.get(thing);
    if (field) return this.fieldValue(thing, field, quantity);
    const tank = this.tanks.get(thing);
    if (tank) return this.tankValue(thing, tank, quantity);
    throw new Error(
      `village: unknown thing "${thing}" for quantity "${quantity}" ` +
        `(fields: ${this.list(this.fields)}; tanks: ${this.list(this.tanks)})`,
    );
  }

  /** The whole weather at `now`. */
  weatherNow(): WeatherSample {
    return this.weather.sample(this.requested);
  }

  /** Rain intensity at `now`, mm/h. */
  rainRate(): number {
    return this.rain.rateMmPerHour(this.requested);
  }

  /** Rain that fell since t (through the integrated steps), mm. */
  rainSince(t: number): number {
    return this.rain.totalMm - this.rain.totalAt(t);
  }

  /**
   * Waters a field at this flow (L/min; 0 stops), optionally pumped from a tank. Takes
   * effect at `now`. A pump that empties its tank down to the outlet stops delivering and
   * stays stopped (like a dry-run protection relay) until irrigate() is called again.
   */
  irrigate(fieldId: string, litresPerMinute: number, fromTank?: string): void {
    const field = this.fields.get(fieldId);
    if (!field) throw new Error(`village: irrigate: unknown field "${fieldId}" (fields: ${this.list(this.fields)})`);
    if (!(litresPerMinute >= 0 && Number.isFinite(litresPerMinute))) {
      throw new Error(`village: irrigate: flow must be a finite L/min ≥ 0, got ${litresPerMinute}`);
    }
    if (fromTank !== undefined && !this.tanks.has(fromTank)) {
      throw new Error(`village: irrigate: unknown tank "${fromTank}" (tanks: ${this.list(this.tanks)})`);
    }
    field.changes.push({ at: this.requested, lpm: litresPerMinute, tank: fromTank });
  }

  /** True while a pump drawing from this tank is stopped because the tank ran dry. */
  dryRun(tankId: string): boolean {
    if (!this.tanks.has(tankId)) throw new Error(`village: dryRun: unknown tank "${tankId}" (tanks: ${this.list(this.tanks)})`);
    for (const field of this.fields.values()) {
      const s = this.setting(field);
      if (s.tripped && s.tank === tankId && s.lpm > 0) return true;
    }
    return false;
  }

  /** Forces a shower of `mm` spread over [now, now + durationMs). */
  rainNow(mm: number, durationMs: number): void {
    this.rain.force(this.requested, mm, durationMs);
  }

  /** Reference evapotranspiration (FAO-56 grass reference) over the last 24 h of steps, mm. */
  et0Last24h(): number {
    let sum = 0;
    for (const v of this.et0Ring) sum += v;
    return sum;
  }

  private step(t0: number, t1: number): void {
    const dt = t1 - t0;
    this.rain.maybeStart(t0, dt, this.clock.hour(t0), this.weather.rainWeight(t0), this.rng);
    const rainMm = this.rain.fall(t0, t1);

    // Midpoint weather drives the step's evaporative demand (FAO-56 Eq. 53, per hour).
    const w = this.weather.sample(t0 + dt / 2);
    const et0 = Math.max(0, et0MmPerHour({
      airTemperatureC: w.airTemperatureC,
      relativeHumidity: w.relativeHumidity,
      windSpeed2m: w.windSpeed,
      solarWm2: w.solarWm2,
      relativeShortwave: w.relativeShortwave,
      pressureHPa: w.pressureHPa,
    })) * (dt / HOUR_MS);
    this.et0Ring[this.et0Index] = et0;
    this.et0Index = (this.et0Index + 1) % this.et0Ring.length;

    // Irrigation: what each field asks for in this step, then what each tank can give.
    for (const tank of this.tanks.values()) tank.demandL = 0;
    for (const field of this.fields.values()) {
      this.demandInStep(field, t0, t1);
      for (const ask of field.asked) {
        const tank = ask.tank === undefined ? undefined : this.tanks.get(ask.tank);
        if (tank) tank.demandL += ask.litres;
      }
    }
    for (const tank of this.tanks.values()) {
      const given = exchange(tank.params, tank.state, dt, tank.demandL);
      tank.share = tank.demandL > 0 ? given / tank.demandL : 1;
      tank.ranDry = tank.demandL - given > 1e-9;
    }

    for (const field of this.fields.values()) {
      let litres = 0;
      for (const ask of field.asked) {
        const tank = ask.tank === undefined ? undefined : this.tanks.get(ask.tank);
        litres += ask.litres * (tank ? tank.share : 1);
      }
      const source = field.tank === undefined ? undefined : this.tanks.get(field.tank);
      if (source?.ranDry && field.lpm > 0) field.tripped = true;
      field.deliveredL += litres;
      stepSoil(field.params, field.soil, {
        dtMs: dt,
        rainMm,
        irrigationMm: litres / field.params.areaM2,
        et0Mm: et0,
        airTemperatureC: w.airTemperatureC,
        solarWm2: w.solarWm2,
        normal: field.rng.normal(),
      });
    }

    this.weather.advance(dt, rainMm / (dt / HOUR_MS), this.rng);
  }

  /** Fills `field.asked` with the litres its settings ask for in [t0, t1); applies the changes due. */
  private demandInStep(field: Field, t0: number, t1: number): void {
    field.asked.length = 0;
    const add = (from: number, to: number): void => {
      if (field.tripped || field.lpm <= 0 || to <= from) return;
      field.asked.push({ litres: (field.lpm * (to - from)) / MINUTE_MS, tank: field.tank });
    };
    let t = t0;
    let next = field.changes[0];
    while (next !== undefined && next.at < t1) {
      field.changes.shift();
      const at = Math.max(next.at, t0);
      add(t, at);
      field.lpm = next.lpm;
      field.tank = next.tank;
      field.tripped = false;
      t = at;
      next = field.changes[0];
    }
    add(t, t1);
  }

  /** The setting in force at `now`: the latest irrigate() call, or the stepped state. */
  private setting(field: Field): { lpm: number; tank: string | undefined; tripped: boolean } {
    const last = field.changes[field.changes.length - 1];
    return last ? { lpm: last.lpm, tank: last.tank, tripped: false } : field;
  }

  private weatherValue(quantity: Quantity): number {
    if (quantity === 'rain') return this.rain.totalMm;
    const w = this.weather.sample(this.requested);
    switch (quantity) {
      case 'air-temperature':
        return w.airTemperatureC;
      case 'relative-humidity':
        return w.relativeHumidity;
      case 'air-pressure':
        return w.pressureHPa;
      case 'wind-speed':
        return w.windSpeed;
      case 'wind-direction':
        return w.windDirection;
      case 'solar-radiation':
        return w.solarWm2;
      case 'illuminance':
        return w.illuminanceLx;
      default:
        throw new Error(`village: "${quantity}" is not a weather quantity`);
    }
  }

  private fieldValue(id: string, field: Field, quantity: Quantity): number {
    const soil = field.soil;
    switch (quantity) {
      case 'soil-moisture':
        return soil.moisture;
      case 'soil-temperature':
        return soil.temperatureC;
      case 'soil-ec':
        return soilEc(field.params, soil);
      case 'soil-ph':
        return soilPh(soil);
      case 'soil-nitrogen':
        return soil.nitrogen;
      case 'soil-phosphorus':
        return soil.phosphorus;
      case 'soil-potassium':
        return soil.potassium;
      case 'flow': {
        const s = this.setting(field);
        return s.tripped ? 0 : s.lpm;
      }
      case 'volume':
        return field.deliveredL;
      default:
        throw new Error(
          `village: field "${id}" has no quantity "${quantity}" (it has ${[...FIELD_QUANTITIES, ...WEATHER_QUANTITIES].join(', ')})`,
        );
    }
  }

  private tankValue(id: string, tank: Tank, quantity: Quantity): number {
    switch (quantity) {
      case 'water-level':
        return tankFill(tank.params, tank.state) * tank.params.heightCm;
      case 'water-fill':
        return tankFill(tank.params, tank.state) * 100;
      case 'volume':
        return tank.state.volumeL;
      case 'flow': {
        let lpm = 0;
        for (const field of this.fields.values()) {
          const s = this.setting(field);
          if (s.tank === id && !s.tripped) lpm += s.lpm;
        }
        return lpm;
      }
      default:
        throw new Error(
          `village: tank "${id}" has no quantity "${quantity}" (it has ${[...TANK_QUANTITIES, ...WEATHER_QUANTITIES].join(', ')})`,
        );
    }
  }

  private checkNewId(id: string): void {
    if (id.length === 0) throw new Error('village: an id must not be empty');
    if (this.fields.has(id) || this.tanks.has(id)) throw new Error(`village: "${id}" already exists`);
  }

  private list(map: Map<string, unknown>): string {
    return map.size === 0 ? 'none' : [...map.keys()].join(', ');
  }
}
