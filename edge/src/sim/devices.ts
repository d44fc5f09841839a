import type { Quantity } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import type { EdgeConfig, ResolvedModbusDevice } from '../config.js';
import { SimulatedPinBackend } from '../gpio/simulated.js';
import type { Logger } from '../log.js';
import { encodePoint, span, type ResolvedPoint } from '../modbus/registers.js';
import { SimulatedLinePort } from '../modbus/sim-line.js';
import { MemoryBank } from '../modbus/slave.js';
import { Random, hashString } from './random.js';
import { FIELD_QUANTITIES, TANK_QUANTITIES, Village } from './village.js';

/** How often the model is advanced and the slaves' registers refreshed. */
const REFRESH_MS = 1000;

interface SimDevice {
  dev: ResolvedModbusDevice;
  bank: MemoryBank;
  /** The field or tank it measures (weather quantities ignore it). */
  thing: string;
  stuck: boolean;
  noise: number;
}

/**
 * The simulated village behind `type: simulated` buses and the simulated GPIO twin: a physical
 * model (edge/src/sim/village.ts) whose values are written, encoded by each device's own
 * register map, into Modbus slaves that answer real RTU frames on a simulated line.
 */
export class SimulatedField {
  readonly village: Village;
  readonly pins: SimulatedPinBackend;
  private readonly lines = new Map<string, SimulatedLinePort>();
  private readonly devices: SimDevice[] = [];
  private readonly random: Random;
  private timer: TimerHandle | undefined;
  private lastRainMm = 0;
  private rainRemainderTips = 0;
  /** GPIO flow meters whose flow the outputs decide (sim/irrigation.ts): device id → L/min now. */
  private readonly meters = new Map<string, () => number>();

  constructor(
    readonly config: EdgeConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const site = config.site;
    const seed = site.simulation?.seed ?? 1;
    this.random = new Random(seed);
    this.village = new Village({ seed, start: clock.now(), lat: site.site.lat, lon: site.site.lon, timezone: site.site.timezone });
    this.pins = new SimulatedPinBackend(clock);
    this.build();
  }

  /** The port modbus-serial talks to for a simulated bus. */
  portFor(busId: string): SimulatedLinePort {
    const line = this.lines.get(busId);
    if (!line) throw new Error(`no simulated bus "${busId}"`);
    return line;
  }

  /** The village field or tank a configured sensor id measures (Modbus devices), if any. */
  thingOfSensor(sensor: string): string | undefined {
    return this.devices.find((d) => Object.values(d.dev.sensorOf).includes(sensor))?.thing;
  }

  /**
   * Makes the GPIO flow meter `deviceId` pulse at `lpm()` L/min instead of following the first
   * tank's draw; `undefined` restores that default.
   */
  meterFlow(deviceId: string, lpm: (() => number) | undefined): void {
    if (lpm) this.meters.set(deviceId, lpm);
    else this.meters.delete(deviceId);
  }

  start(): void {
    if (this.timer) return;
    this.refresh();
    this.schedule();
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Advances the model to now and writes every device's registers and pins. */
  refresh(): void {
    this.village.advanceTo(this.clock.now());
    for (const d of this.devices) {
      if (d.stuck) continue;
      for (const p of d.dev.points) {
        const v = this.valueOf(d, p);
        if (v === undefined) continue;
        const noisy = d.noise > 0 ? v + this.random.normal() * d.noise : v;
        this.write(d.bank, p, noisy);
      }
    }
    this.refreshPins();
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      try {
        this.refresh();
      } catch (err) {
        this.log.error({ err }, 'simulated village refresh failed');
      }
      this.schedule();
    }, REFRESH_MS);
  }

  private build(): void {
    const site = this.config.site;
    const fieldOf = (dev: string): string | undefined => site.sensors.find((s) => s.source.startsWith(`${dev}/`) && s.field)?.field;
    const units = new Map<string, Map<number, MemoryBank>>();
    for (const bus of site.buses) {
      if (bus.type !== 'simulated') continue;
      const map = new Map<number, MemoryBank>();
      units.set(bus.id, map);
      this.lines.set(bus.id, new SimulatedLinePort({ units: map, clock: this.clock, baudRate: bus.baud }));
    }
    for (const dev of this.config.modbus) {
      const map = units.get(dev.bus.id);
      if (!map) continue;
      const bank = new MemoryBank();
      // Real probes answer every address of their register block, unused ones as 0.
      for (const table of ['holding', 'input', 'coil', 'discrete'] as const) {
        const pts = dev.points.filter((p) => p.table === table);
        if (pts.length === 0) continue;
        const lo = Math.min(...pts.map((p) => p.address));
        const hi = Math.max(...pts.map((p) => p.address + span(p)));
        bank.define(table, lo, hi - lo);
      }
      map.set(dev.config.slave, bank);
      const thing = fieldOf(dev.config.id) ?? dev.config.id;
      const quantities = new Set(dev.points.map((p) => p.quantity));
      const things = this.village.things();
      if ([...quantities].some((q) => (FIELD_QUANTITIES as readonly string[]).includes(q)) && !things.fields.includes(thing)) {
        // Each field starts a little differently, so the demo's fields do not move in lockstep.
        const r = (hashString(thing) % 1000) / 1000;
        this.village.addField(thing, { initialMoisture: 24 + 10 * r, areaM2: 800 + 800 * r });
      }
      // A tank sensor reports its level in cm or, scaled by the tank's height, its fill in %.
      if ((quantities.has('water-level') || quantities.has('water-fill')) && !things.tanks.includes(thing)) {
        const level = dev.points.find((p) => p.quantity === 'water-level');
        const heightCm = level && level.max < 1000 ? level.max : 200;
        this.village.addTank(thing, { capacityL: 5000, heightCm, initialFill: 0.7, inflowLpm: 2 });
      }
      this.devices.push({ dev, bank, thing, stuck: false, noise: 0 });
    }
    // Relay boards of modbus actuators on a simulated line: their coils exist, start off and
    // keep what the outputs write (a unit may also be a sensor device above).
    for (const a of site.actuators) {
      if (a.output.driver !== 'modbus') continue;
      const map = units.get(a.output.bus);
      if (!map) continue;
      const bank = map.get(a.output.slave) ?? new MemoryBank();
      map.set(a.output.slave, bank);
      bank.define('coil', a.output.coil, 1);
    }
    for (const f of site.simulation?.faults ?? []) {
      const d = this.devices.find((x) => x.dev.config.id === f.device);
      if (!d) {
        this.log.warn({ device: f.device }, 'simulation fault for a device that is not on a simulated bus');
        continue;
      }
      const line = this.lines.get(d.dev.bus.id);
      if (f.kind === 'stuck') d.stuck = true;
      if (f.kind === 'noise') d.noise = f.amount ?? 1;
      if (f.kind === 'dead') line?.setFault(d.dev.config.slave, { kind: 'silent' });
      if (f.kind === 'slow') line?.setFault(d.dev.config.slave, { kind: 'delay', ms: f.amount ?? 2000 });
    }
  }

  private valueOf(d: SimDevice, p: ResolvedPoint): number | undefined {
    const q: Quantity = p.quantity;
    try {
      if (q === 'rain') {
        // Gauges count in 0.1 mm steps in a 16-bit register and wrap, as the real counter does.
        return (this.village.value(d.thing, 'rain') % 6553.6) + 0;
      }
      if ((TANK_QUANTITIES as readonly string[]).includes(q)) return this.village.value(d.thing, q);
      return this.village.value(d.thing, q);
    } catch {
      // A point the model has no physics for (e.g. the ultrasonic sensor's own temperature).
      if (q === 'air-temperature') return this.village.value(d.thing, 'air-temperature');
      return undefined;
    }
  }

  private write(bank: MemoryBank, p: ResolvedPoint, value: number): void {
    const clamped = Math.min(p.max, Math.max(p.min, value));
    const words = encodePoint(p, clamped);
    if (p.table === 'holding' || p.table === 'input') {
      if (p.bit !== undefined) {
        const cur = bank.get(p.table, p.address) ?? 0;
        bank.setWord(p.table, p.address, (cur & ~(1 << p.bit)) | (words[0] ?? 0));
      } else {
        bank.setWords(p.table, p.address, words);
      }
    } else {
      bank.setBit(p.table, p.address, words[0] ?? 0);
    }
  }

  /**
   * Float switches follow the first tank; rain gauges tip with the rain; flow meters pulse with
   * the flow through them (meterFlow), else with what the first tank gives.
   */
  private refreshPins(): void {
    const tanks = this.village.things().tanks;
    const rain = this.village.value('', 'rain');
    const newRain = Math.max(0, rain - this.lastRainMm);
    this.lastRainMm = rain;
    for (const g of this.config.gpio) {
      const sysfs = g.pin; // the twin numbers lines from 0
      if (g.mode === 'digital') {
        const fill = tanks[0] ? this.village.value(tanks[0], 'water-fill') : 100;
        // A float switch mounted at 20 % closes (pulls the line low) while water is above it.
        const closed = fill > 20;
        this.pins.set(sysfs, (closed ? 1 : 0) ^ (g.activeLow ? 1 : 0) ? 1 : 0);
      } else if (g.mode === 'rain-gauge') {
        const tips = newRain / g.mmPerTip + this.rainRemainderTips;
        const whole = Math.floor(tips);
        this.rainRemainderTips = tips - whole;
        if (whole > 0) this.pins.pulse(sysfs, whole, { periodMs: Math.max(2, Math.floor(REFRESH_MS / (whole + 1))) });
      } else if (g.mode === 'flow-meter') {
        const metered = this.meters.get(g.id);
        const lpm = metered ? metered() : tanks[0] ? this.village.value(tanks[0], 'flow') : 0;
        const pulses = Math.round(((lpm * g.pulsesPerLitre) / 60_000) * REFRESH_MS);
        if (pulses > 0) this.pins.pulse(sysfs, pulses, { periodMs: Math.max(1, Math.floor(REFRESH_MS / (pulses + 1))) });
      }
    }
  }
}

export function createSimulatedField(config: EdgeConfig, clock: Clock, log: Logger): SimulatedField {
  return new SimulatedField(config, clock, log);
}
