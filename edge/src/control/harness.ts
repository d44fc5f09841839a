/**
 * A closed-loop rig for control: the simulated village (sim/village.ts), the control engine and
 * simulated outputs bound to the village's fields (sim/irrigation.ts), all on one manual clock.
 * The sensors control reads are sampled straight from the model every `sampleMs` and fed to
 * engine.onReadings, bypassing Modbus (whose frames take real time), so 30 days of field
 * behaviour run in seconds. It records every output switch with the lease in force, every
 * control event and every sample, for the closed-loop test and the control benchmarks.
 *
 * Time moves from one due timer (or sample) to the next; after each, promise callbacks run
 * until the engine is idle, so an output switches at the simulated instant control decided it.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { maxRuntimeOf, type ActuatorConfig, type EventInput, type Quantity, type Reading, type Unit } from '@smart-village/shared';
import { ManualClock, type TimerHandle } from '../clock.js';
import type { EdgeConfig } from '../config.js';
import { sensorIdOf } from '../gpio/inputs.js';
import { createLogger, type Logger } from '../log.js';
import { createOutputs, openOutputs } from '../outputs/create.js';
import type { SimulatedOutput } from '../outputs/simulated.js';
import { SimulatedField } from '../sim/devices.js';
import { bindSimulatedIrrigation } from '../sim/irrigation.js';
import type { Village, WeatherSample } from '../sim/village.js';
import { SiteCalendar } from './calendar.js';
import { ControlEngine, controlSensors, type ControlEngineDeps } from './engine.js';
import type { PersistedControl } from './core.js';
import { MemoryControlStore } from './store.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** Where each weather quantity is in a WeatherSample (read once per sample, not once per sensor). */
const WEATHER_KEYS: Partial<Record<Quantity, keyof WeatherSample>> = {
  'air-temperature': 'airTemperatureC',
  'relative-humidity': 'relativeHumidity',
  'air-pressure': 'pressureHPa',
  'wind-speed': 'windSpeed',
  'wind-direction': 'windDirection',
  'solar-radiation': 'solarWm2',
  illuminance: 'illuminanceLx',
};

/** A ManualClock that can tell when its next timer is due (the rig jumps straight to it). */
export class SteppedClock extends ManualClock {
  private readonly due = new Map<number, number>();

  override setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = super.setTimeout(() => {
      this.due.delete(handle.id);
      fn();
    }, ms);
    this.due.set(handle.id, this.monotonic() + Math.max(0, ms));
    return handle;
  }

  override clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.due.delete(handle.id);
    super.clearTimeout(handle);
  }

  /** Monotonic ms of the earliest pending timer, or Infinity. */
  nextDue(): number {
    let t = Infinity;
    for (const d of this.due.values()) if (d < t) t = d;
    return t;
  }
}

/**
 * SiteCalendar with its per-date answers remembered. A control pass asks for the same few
 * dates' sun times and wall-clock instants ~100 times (program starts, the next wake, lights),
 * each through Intl, which makes a pass cost ~1 ms: 30 days would take minutes. `at`, `sun`
 * and `addDays` are functions of their arguments and are remembered as such; a local date
 * holds from its midnight to the next (both from `at`), and on a day 24 h long (no change of
 * clocks) the wall-clock minute is the time since that midnight. The test checks it against
 * SiteCalendar.
 */
export class RememberingCalendar extends SiteCalendar {
  private readonly instants = new Map<string, number>();
  private readonly suns = new Map<string, { sunrise: number; sunset: number } | undefined>();
  private readonly shifted = new Map<string, string>();
  private readonly days: { date: string; from: number; to: number }[] = [];

  override at(localDate: string, minutes: number): number {
    const key = `${localDate} ${minutes}`;
    let t = this.instants.get(key);
    if (t === undefined) this.instants.set(key, (t = super.at(localDate, minutes)));
    return t;
  }

  override sun(localDate: string): { sunrise: number; sunset: number } | undefined {
    if (!this.suns.has(localDate)) this.suns.set(localDate, super.sun(localDate));
    return this.suns.get(localDate);
  }

  override addDays(localDate: string, n: number): string {
    const key = `${localDate} ${n}`;
    let d = this.shifted.get(key);
    if (d === undefined) this.shifted.set(key, (d = super.addDays(localDate, n)));
    return d;
  }

  override localDate(ms: number): string {
    return this.dayOf(ms).date;
  }

  override localParts(ms: number): ReturnType<SiteCalendar['localParts']> {
    const day = this.dayOf(ms);
    if (day.to - day.from !== DAY_MS) return super.localParts(ms);
    const [year, month, date] = day.date.split('-').map(Number) as [number, number, number];
    const weekday = new Date(Date.UTC(year, month - 1, date)).getUTCDay();
    return { year, month, day: date, weekday, minutes: Math.floor((ms - day.from) / MINUTE_MS) };
  }

  private dayOf(ms: number): { date: string; from: number; to: number } {
    const known = this.days.find((d) => ms >= d.from && ms < d.to);
    if (known) return known;
    const date = super.localDate(ms);
    const day = { date, from: this.at(date, 0), to: this.at(this.addDays(date, 1), 0) };
    this.days.unshift(day);
    this.days.length = Math.min(this.days.length, 8);
    return day;
  }
}

/** The engine as the service runs it, on a remembering calendar (see above). */
class RigEngine extends ControlEngine {
  override readonly calendar: SiteCalendar;

  constructor(deps: ControlEngineDeps) {
    super(deps);
    const s = deps.config.site;
    this.calendar = new RememberingCalendar({ timezone: s.timezone, lat: s.lat, lon: s.lon });
  }
}

export interface ClosedLoopOptions {
  config: EdgeConfig;
  /** Epoch ms the run starts at (the village starts there too). */
  start: number;
  /** How often control gets a reading of every sensor it uses (default 60 s). */
  sampleMs?: number;
  /** false: no control engine, the outputs stay in their safe state (the uncontrolled baseline). */
  control?: boolean;
  /** Sensor ids sampled besides those control uses (to watch fields control does not read). */
  watch?: readonly string[];
  log?: Logger;
}

/** One lease an ON output held, and when control set it. */
export interface LeaseRecord {
  at: number;
  end: number;
}

/** One ON period of an output: when it went on and off, and every lease it held meanwhile. */
export interface OnPeriod {
  id: string;
  kind: ActuatorConfig['kind'];
  from: number;
  /** Undefined while still on. */
  to?: number;
  /** The first is the lease in force when it went on; later ones are renewals. */
  leases: LeaseRecord[];
  maxRuntime: number;
}

/** What control was fed at one sample, and what was on once it had acted on it. */
export interface LoopSample {
  ts: number;
  /** By sensor id. */
  values: Record<string, number>;
  /** Output ids on after the engine handled this sample. */
  on: string[];
}

/** The in-memory control store, counting its writes (control must not write on every pass). */
export class CountingControlStore extends MemoryControlStore {
  writes = 0;

  override save(state: PersistedControl): void {
    this.writes++;
    super.save(state);
  }
}

interface Probe {
  sensor: string;
  unit: Unit;
  read(): number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export class ClosedLoop {
  readonly clock: SteppedClock;
  readonly field: SimulatedField;
  readonly village: Village;
  readonly config: EdgeConfig;
  readonly outputs: Map<string, SimulatedOutput>;
  readonly store = new CountingControlStore();
  readonly engine: ControlEngine | undefined;
  readonly events: EventInput[] = [];
  readonly periods: OnPeriod[] = [];
  readonly samples: LoopSample[] = [];
  private readonly open = new Map<string, OnPeriod>();
  private readonly probes: Probe[];
  private readonly sampleMs: number;
  private nextSample: number;
  private unbind: (() => void) | undefined;
  private unwatch: (() => void)[] = [];
  private started = false;
  private weather: { ts: number; sample: WeatherSample } | undefined;

  constructor(opts: ClosedLoopOptions) {
    const log = opts.log ?? createLogger({ level: 'silent' });
    // Every actuator becomes a simulated output, which records each state it takes.
    const actuators = opts.config.site.actuators.map((a) => ({ ...a, output: { driver: 'simulated' as const } }));
    this.config = { ...opts.config, site: { ...opts.config.site, actuators } };
    this.sampleMs = opts.sampleMs ?? 60_000;
    this.clock = new SteppedClock(opts.start);
    this.field = new SimulatedField(this.config, this.clock, log.child({ module: 'sim' }));
    this.village = this.field.village;
    this.outputs = createOutputs(actuators, { busQueues: new Map(), clock: this.clock, log: log.child({ module: 'outputs' }) }) as Map<string, SimulatedOutput>;
    this.probes = this.buildProbes(opts.watch ?? []);
    this.nextSample = opts.start;
    this.engine =
      opts.control === false
        ? undefined
        : new RigEngine({
            config: this.config.site,
            clock: this.clock,
            log: log.child({ module: 'control' }),
            outputs: this.outputs,
            store: this.store,
            record: (events) => this.events.push(...events),
            clockSynced: () => true,
          });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const failed = await openOutputs(this.outputs, createLogger({ level: 'silent' }));
    if (failed.size > 0) throw new Error(`closed loop: outputs failed to open: ${[...failed.keys()].join(', ')}`);
    const { zones, actuators } = this.config.site;
    if (zones.length > 0) this.unbind = bindSimulatedIrrigation(this.field, zones, actuators, this.outputs);
    for (const a of actuators) {
      const output = this.outputs.get(a.id) as SimulatedOutput;
      this.unwatch.push(output.onChange((c) => this.switched(a, c.on, c.at)));
    }
    await this.engine?.start();
    await this.settle();
  }

  /** Runs the loop until `until` (epoch ms), sampling and firing timers on the way. */
  async runUntil(until: number): Promise<void> {
    while (this.clock.now() < until) {
      const next = Math.min(this.nextSample, this.clock.nextDue(), until);
      this.clock.advance(Math.max(0, next - this.clock.now()));
      let sample: LoopSample | undefined;
      if (this.clock.now() >= this.nextSample) {
        sample = this.sample();
        this.nextSample += this.sampleMs;
      }
      await this.settle();
      if (sample) sample.on = [...this.outputs.values()].filter((o) => o.on).map((o) => o.id);
    }
  }

  async runFor(ms: number): Promise<void> {
    await this.runUntil(this.clock.now() + ms);
  }

  async stop(): Promise<void> {
    await this.engine?.stop();
    this.unwatch.splice(0).forEach((u) => u());
    this.unbind?.();
    this.unbind = undefined;
  }

  /** Reads every sensor control uses from the model at now and hands the readings to control. */
  sample(): LoopSample {
    const ts = this.clock.now();
    this.village.advanceTo(ts);
    const values: Record<string, number> = {};
    const readings: Reading[] = this.probes.map((p) => {
      const value = p.read();
      values[p.sensor] = value;
      return { sensor: p.sensor, ts, value, unit: p.unit, quality: 'good', clockSynced: true };
    });
    const s: LoopSample = { ts, values, on: [] };
    this.samples.push(s);
    this.engine?.onReadings(readings);
    return s;
  }

  private weatherNow(): WeatherSample {
    const ts = this.village.now;
    if (this.weather?.ts !== ts) this.weather = { ts, sample: this.village.weatherNow() };
    return this.weather.sample;
  }

  /** Lets every promise callback run: the engine finishes its passes and applies its outputs. */
  private async settle(): Promise<void> {
    await nextTurn();
    // A lease renewal changes no output: note it after each pass.
    const leases = this.engine?.leases;
    if (!leases) return;
    for (const p of this.open.values()) {
      const end = leases.leaseEndOf(p.id);
      const last = p.leases[p.leases.length - 1];
      if (end !== undefined && end !== last?.end) p.leases.push({ at: this.clock.now(), end });
    }
  }

  private switched(a: ActuatorConfig, on: boolean, at: number): void {
    const current = this.open.get(a.id);
    if (on && !current) {
      // The keeper arms the lease before it drives the output on.
      const end = this.engine?.leases.leaseEndOf(a.id);
      const p: OnPeriod = { id: a.id, kind: a.kind, from: at, leases: end === undefined ? [] : [{ at, end }], maxRuntime: maxRuntimeOf(a) };
      this.open.set(a.id, p);
      this.periods.push(p);
    } else if (!on && current) {
      current.to = at;
      this.open.delete(a.id);
    }
  }

  /** The sensors sampled, each read from the model the way its simulated device reads it. */
  private buildProbes(watch: readonly string[]): Probe[] {
    const { site, modbus, gpio } = this.config;
    const used = new Set([...controlSensors(site), ...watch]);
    const probes: Probe[] = [];
    const v = this.village;
    for (const dev of modbus) {
      for (const p of dev.points) {
        const sensor = dev.sensorOf[p.name];
        if (sensor === undefined || !used.has(sensor)) continue;
        used.delete(sensor);
        const thing = this.field.thingOfSensor(sensor) ?? dev.config.id;
        const q: Quantity = p.quantity;
        const key = WEATHER_KEYS[q];
        let read: () => number;
        // Gauges keep a 16-bit counter of 0.1 mm that wraps, as the simulated slave does.
        if (q === 'rain') read = () => v.value(thing, 'rain') % 6553.6;
        else if (key !== undefined) read = () => clamp(this.weatherNow()[key] as number, p.min, p.max);
        else read = () => clamp(v.value(thing, q), p.min, p.max);
        probes.push({ sensor, unit: p.unit, read });
      }
    }
    const declared = (dev: string, point: string): string => site.sensors.find((s) => s.source === `${dev}/${point}`)?.id ?? sensorIdOf(dev, point);
    const fieldOf = (zoneId: string): string | undefined => {
      const z = site.zones.find((x) => x.id === zoneId);
      const fields = v.things().fields;
      return [z?.field, z?.moisture && this.field.thingOfSensor(z.moisture.sensor)].find((f) => f !== undefined && fields.includes(f));
    };
    for (const g of gpio) {
      if (g.mode === 'flow-meter') {
        const sensor = declared(g.id, 'flow');
        if (!used.delete(sensor)) continue;
        // Like bindSimulatedIrrigation: the zones naming it, else every pumped zone.
        const named = site.zones.filter((z) => z.flowSensor === sensor);
        const through = named.length > 0 ? named : site.zones.filter((z) => z.pump !== undefined);
        const fields = [...new Set(through.map((z) => fieldOf(z.id)).filter((f): f is string => f !== undefined))];
        probes.push({ sensor, unit: 'L/min', read: () => fields.reduce((sum, f) => sum + v.value(f, 'flow'), 0) });
      } else if (g.mode === 'rain-gauge') {
        const sensor = declared(g.id, 'rain-total');
        if (used.delete(sensor)) probes.push({ sensor, unit: 'mm', read: () => v.value('', 'rain') });
      }
    }
    if (used.size > 0) throw new Error(`closed loop: cannot read ${[...used].join(', ')} from the model (only Modbus points, GPIO flow meters and rain gauges)`);
    return probes;
  }
}
