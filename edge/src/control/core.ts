/**
 * The control core: irrigation zones, programs, soil-moisture control, interlocks, commands
 * and lighting, as a state machine over (state, sensor values, now). No timers, no I/O: the
 * engine (engine.ts) calls it, applies the outputs it wants through leases, and records the
 * events it explains itself with [DESIGN principles 1, 5, 6].
 */
import {
  maxRuntimeOf,
  type ActuatorConfig,
  type Command,
  type CommandResult,
  type ControlState,
  type EventInput,
  type OutputState,
  type ProgramConfig,
  type SiteConfig,
  type ZoneConfig,
  type ZoneState,
} from '@smart-village/shared';
import { nextProgramStart, nominalIntervalDays, programStarts, type SiteCalendar } from './calendar.js';
import { accumulateEt0, etScalePercent, type WeatherSample } from './et.js';
import { freshValue, rainFromTotals, type SensorValue, type SensorView } from './inputs.js';
import { decideLight, type LightOverride } from './lighting.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A rain switch reading older than this is not trusted. */
const RAIN_SWITCH_MAX_AGE = 30 * MINUTE;
/** How far back ET is accumulated at most, whatever the last watering. */
const ET_MAX_LOOKBACK = 7 * DAY;
/** Wake up at least this often even when nothing is due (lights, expiries, stale inputs). */
const MAX_SLEEP = 30_000;
/** A program run shorter than this after ET scaling or a resume is not worth opening a valve for. */
const MIN_RUN_MS = 30_000;
/**
 * Missed starts are listed (each skipped with an event) at most this far back. A Pi's first
 * synced pass may move the clock by months (no RTC, an old image), which would otherwise flood
 * the outbox with one "missed" event per start per zone for every day of the jump.
 */
const MISSED_STARTS_LOOKBACK = 7 * DAY;

export type RunSource = 'program' | 'moisture' | 'manual';

export interface PendingRun {
  key: string;
  zone: string;
  source: RunSource;
  program?: string;
  durationMs: number;
  litres?: number;
  reason: string;
  queuedAt: number;
  /** Not before this (a program's next step waits for the previous one + station delay). */
  notBefore: number;
  /** Abandoned if not started by then (a program's window). */
  notAfter?: number;
  chain?: string;
  chainIndex?: number;
  stationDelay?: number;
  /** The program start instant it belongs to. */
  scheduledAt?: number;
  commandId?: string;
  by?: string;
}

export interface ActiveRun extends PendingRun {
  start: number;
  /** The lease end: the valve closes at the latest then. */
  end: number;
}

export type RunOutcome = 'completed' | 'stopped' | 'interrupted';

/** One line of the irrigation log. */
export interface ZoneRunRecord {
  zone: string;
  start: number;
  end: number;
  litres?: number;
  metered: boolean;
  source: RunSource;
  program?: string;
  reason: string;
  outcome: RunOutcome;
  /** Why it ended, when it did not simply run its time. */
  endReason?: string;
  by?: string;
}

/** What survives a restart (the engine stores it after every change). */
export interface PersistedControl {
  version: 1;
  programsCheckedUntil?: number;
  active: ActiveRun[];
  queue: PendingRun[];
  lastRun: Record<string, { start: number; end: number; reason: string; litres?: number }>;
  pausedUntil?: number;
  rainDelayUntil?: number;
  tankLocked: Record<string, boolean>;
  lightOverrides: Record<string, LightOverride>;
  luxOn: Record<string, boolean>;
  commandIds: string[];
}

export function emptyPersisted(): PersistedControl {
  return { version: 1, active: [], queue: [], lastRun: {}, tankLocked: {}, lightOverrides: {}, luxOn: {}, commandIds: [] };
}

export type ControlEvent = Omit<EventInput, 'clockSynced'>;

export interface DesiredOutput {
  on: boolean;
  /** Lease end while on. */
  until?: number;
  reason: string;
}

/** What one call produced; the engine records events and runs and publishes results. */
export interface ControlOutput {
  events: ControlEvent[];
  results: CommandResult[];
  runs: ZoneRunRecord[];
}

export interface ControllerOptions {
  config: Pick<SiteConfig, 'zones' | 'programs' | 'irrigation' | 'lighting' | 'actuators'>;
  calendar: SiteCalendar;
  site: { lat: number; lon: number; timezone: string };
  /** Site altitude for ET (m); default 2. */
  altitudeM?: number;
}

const NO_SENSORS: SensorView = { latest: () => undefined, history: () => [] };

const pct = (v: number): string => `${Math.round(v * 10) / 10} %`;
const mins = (ms: number): string => `${Math.round(ms / MINUTE)} min`;

export class Controller {
  private readonly zones: ReadonlyMap<string, ZoneConfig>;
  private readonly actuators: ReadonlyMap<string, ActuatorConfig>;
  private readonly programs: ReadonlyMap<string, ProgramConfig>;
  private s: PersistedControl;
  private out: ControlOutput = { events: [], results: [], runs: [] };
  private readonly faults = new Map<string, string>();
  private readonly lights = new Map<string, { on: boolean; reason: string; until?: number }>();
  /** Zones whose moisture said "no" were told once; cleared when it changes (no event spam). */
  private readonly noted = new Map<string, string>();
  private readonly flowWhenOff = new Set<string>();
  /** The sensors of the call in progress (stopRun meters litres with it). */
  private view: SensorView = NO_SENSORS;

  constructor(
    private readonly opts: ControllerOptions,
    persisted?: PersistedControl,
  ) {
    const c = opts.config;
    this.zones = new Map(c.zones.map((z) => [z.id, z]));
    this.actuators = new Map(c.actuators.map((a) => [a.id, a]));
    this.programs = new Map(c.programs.map((p) => [p.id, p]));
    this.s = persisted ? structuredClone(persisted) : emptyPersisted();
  }

  get persisted(): PersistedControl {
    return structuredClone(this.s);
  }

  private take(): ControlOutput {
    this.view = NO_SENSORS;
    const o = this.out;
    this.out = { events: [], results: [], runs: [] };
    return o;
  }

  private event(now: number, kind: string, severity: EventInput['severity'], source: string, message: string, data: Record<string, unknown> = {}): void {
    this.out.events.push({ ts: now, kind, severity, source, message, data });
  }

  /**
   * After a start: runs that were active when the edge died are logged as interrupted (their
   * valves are already closed: outputs start in their safe state). A program run resumes for
   * what is left of it, counted as if it had run until now (never more water than planned),
   * if its program allows it and its window is still open.
   */
  recover(now: number): ControlOutput {
    const active = this.s.active;
    this.s.active = [];
    for (const run of active) {
      const program = run.program !== undefined ? this.programs.get(run.program) : undefined;
      const record: ZoneRunRecord = {
        zone: run.zone,
        start: run.start,
        end: Math.min(now, run.end),
        metered: false,
        source: run.source,
        reason: run.reason,
        outcome: 'interrupted',
        endReason: 'the edge stopped (crash or power loss) during the run',
        ...(run.program !== undefined && { program: run.program }),
        ...(run.by !== undefined && { by: run.by }),
      };
      this.out.runs.push(record);
      this.setLastRun(record);
      const left = run.end - now;
      const windowOpen = run.notAfter === undefined || now < run.notAfter;
      const resume = run.source === 'program' && program?.resumeAfterCrash === true && windowOpen && left >= MIN_RUN_MS;
      this.event(now, 'zone.interrupted', 'warning', run.zone, `zone ${run.zone} was interrupted by a restart (${run.reason})${resume ? `; resuming for the ${mins(left)} left` : ''}`, {
        start: run.start,
        plannedEnd: run.end,
        resumed: resume,
        ...(run.program !== undefined && { program: run.program }),
      });
      if (resume) this.s.queue.unshift({ ...run, key: `${run.key}:resume`, durationMs: left, notBefore: now, reason: `${run.reason} (resumed after restart)` });
      // Not resumed: the program's next zone must not wait for a run that will never end
      // (it would sit in the queue until its window closed and then be skipped).
      else this.releaseChain(run, now);
      if (run.commandId !== undefined) this.result(run.commandId, 'failed', 'the edge restarted during the run', now);
    }
    if (this.s.programsCheckedUntil === undefined) this.s.programsCheckedUntil = now;
    return this.take();
  }

  /** An output could not be driven: stop what uses it and block it until it works again. */
  outputFault(id: string, message: string, now: number): ControlOutput {
    if (this.faults.get(id) !== message) this.event(now, 'output.fault', 'alarm', id, `output ${id} cannot be driven: ${message}`, { output: id });
    this.faults.set(id, message);
    for (const run of [...this.s.active]) {
      const z = this.zones.get(run.zone);
      if (z && [z.valve, z.pump, z.masterValve].includes(id)) this.stopRun(run, now, 'stopped', `output ${id} failed: ${message}`);
    }
    return this.take();
  }

  outputOk(id: string, now: number): ControlOutput {
    if (this.faults.delete(id)) this.event(now, 'output.ok', 'info', id, `output ${id} works again`, { output: id });
    return this.take();
  }

  command(cmd: Command, sensors: SensorView, now: number): ControlOutput {
    this.view = sensors;
    if (this.s.commandIds.includes(cmd.id)) {
      this.result(cmd.id, 'rejected', 'this command id was already received', now);
      return this.take();
    }
    this.s.commandIds.push(cmd.id);
    if (this.s.commandIds.length > 200) this.s.commandIds.splice(0, this.s.commandIds.length - 200);
    if (now > cmd.ts + cmd.ttl) {
      // reject() hands back the output with the rejection; a second take() would return an
      // empty one and the sender would never hear why its command was not carried out.
      return this.reject(cmd, `expired: issued ${Math.round((now - cmd.ts) / 1000)} s ago, valid for ${Math.round(cmd.ttl / 1000)} s`, now);
    }
    const a = cmd.action;
    switch (a.type) {
      case 'water': {
        const zone = this.zones.get(a.zone);
        if (!zone) return this.reject(cmd, `unknown zone "${a.zone}" (zones: ${[...this.zones.keys()].join(', ')})`, now);
        const limit = maxRuntimeOf(this.actuator(zone.valve));
        if (a.duration > limit) return this.reject(cmd, `at most ${mins(limit)} (maxRuntime of ${zone.valve})`, now);
        const blocked = this.blockedReason(zone, sensors, now);
        if (blocked) return this.reject(cmd, blocked, now);
        const running = this.s.active.find((r) => r.zone === zone.id);
        if (running) return this.reject(cmd, `zone ${zone.id} is already watering (${running.reason}) until ${this.hhmm(running.end)}: stop it first`, now);
        this.s.queue = this.s.queue.filter((q) => q.zone !== zone.id || q.source !== 'manual');
        this.s.queue.unshift({
          key: `manual:${cmd.id}`,
          zone: zone.id,
          source: 'manual',
          durationMs: a.duration,
          reason: `manual ${mins(a.duration)} by ${cmd.by}`,
          queuedAt: now,
          notBefore: now,
          // A manual run waiting for capacity longer than its own length is not what was asked.
          notAfter: now + Math.max(a.duration, 10 * MINUTE),
          commandId: cmd.id,
          by: cmd.by,
        });
        this.event(now, 'command.accepted', 'info', zone.id, `water zone ${zone.id} for ${mins(a.duration)}, asked by ${cmd.by}`, { command: cmd.id, by: cmd.by, durationMs: a.duration });
        this.startQueued(sensors, now);
        const started = this.s.active.some((r) => r.commandId === cmd.id);
        this.result(cmd.id, 'accepted', started ? `zone ${zone.id} on until ${this.hhmm(now + a.duration)}` : `queued: ${this.capacityReason()}`, now);
        return this.take();
      }
      case 'stop': {
        const runs = this.s.active.filter((r) => a.zone === undefined || r.zone === a.zone);
        if (a.zone !== undefined && !this.zones.has(a.zone)) return this.reject(cmd, `unknown zone "${a.zone}"`, now);
        for (const run of runs) this.stopRun(run, now, 'stopped', `stopped by ${cmd.by}`);
        const dropped = this.s.queue.filter((q) => a.zone === undefined || q.zone === a.zone);
        this.s.queue = this.s.queue.filter((q) => !dropped.includes(q));
        for (const q of dropped) this.skip(q, now, `cancelled by ${cmd.by}`);
        this.result(cmd.id, 'done', runs.length + dropped.length > 0 ? `stopped ${runs.length} running, cancelled ${dropped.length} queued` : 'nothing was running', now);
        return this.take();
      }
      case 'pause': {
        this.s.pausedUntil = now + a.duration;
        this.event(now, 'control.paused', 'info', 'irrigation', `irrigation paused by ${cmd.by} until ${this.hhmm(this.s.pausedUntil)}`, { until: this.s.pausedUntil, by: cmd.by });
        for (const run of [...this.s.active]) this.stopRun(run, now, 'stopped', `paused by ${cmd.by}`);
        for (const q of this.s.queue) this.skip(q, now, `paused by ${cmd.by}`);
        this.s.queue = [];
        this.result(cmd.id, 'done', `paused until ${this.hhmm(this.s.pausedUntil)}`, now);
        return this.take();
      }
      case 'resume': {
        const was = this.s.pausedUntil;
        delete this.s.pausedUntil;
        if (was !== undefined) this.event(now, 'control.resumed', 'info', 'irrigation', `irrigation resumed by ${cmd.by}`, { by: cmd.by });
        this.result(cmd.id, 'done', was !== undefined ? 'resumed' : 'was not paused', now);
        return this.take();
      }
      case 'rain-delay': {
        this.s.rainDelayUntil = now + a.duration;
        this.event(now, 'control.rain-delay', 'info', 'irrigation', `rain delay by ${cmd.by} until ${this.dateTime(this.s.rainDelayUntil)}`, { until: this.s.rainDelayUntil, by: cmd.by });
        this.result(cmd.id, 'done', `no watering until ${this.dateTime(this.s.rainDelayUntil)}`, now);
        return this.take();
      }
      case 'rain-delay-clear': {
        const was = this.s.rainDelayUntil;
        delete this.s.rainDelayUntil;
        if (was !== undefined) this.event(now, 'control.rain-delay-cleared', 'info', 'irrigation', `rain delay cleared by ${cmd.by}`, { by: cmd.by });
        this.result(cmd.id, 'done', was !== undefined ? 'rain delay cleared' : 'there was no rain delay', now);
        return this.take();
      }
      case 'light': {
        const group = this.opts.config.lighting.find((g) => g.id === a.group);
        if (!group) return this.reject(cmd, `unknown lighting group "${a.group}"`, now);
        const limit = Math.min(...group.lights.map((l) => maxRuntimeOf(this.actuator(l))));
        if (a.on && a.duration > limit) return this.reject(cmd, `at most ${mins(limit)} (maxRuntime of the lights)`, now);
        this.s.lightOverrides[group.id] = { on: a.on, until: now + a.duration, by: cmd.by };
        this.result(cmd.id, 'done', `${group.id} ${a.on ? 'on' : 'off'} until ${this.hhmm(now + a.duration)}`, now);
        this.stepLights(sensors, now);
        return this.take();
      }
    }
  }

  private reject(cmd: Command, reason: string, now: number): ControlOutput {
    const source = 'zone' in cmd.action && cmd.action.zone !== undefined ? cmd.action.zone : 'irrigation';
    this.event(now, 'command.rejected', 'warning', source, `command ${cmd.action.type} by ${cmd.by} refused: ${reason}`, { command: cmd.id, by: cmd.by, action: cmd.action });
    this.result(cmd.id, 'rejected', reason, now);
    return this.take();
  }

  private result(id: string, status: CommandResult['status'], reason: string, now: number): void {
    this.out.results.push({ id, status, reason, ts: now });
  }

  /** One control pass: expiries, interlocks, running zones, program starts, moisture, the queue, lights. */
  /**
   * `clockSynced` false: the wall clock is not known to be right (a Pi has no RTC until NTP),
   * so no program starts on it; moisture control, interlocks and commands work as usual.
   */
  step(sensors: SensorView, now: number, clockSynced = true): ControlOutput {
    this.view = sensors;
    if (this.s.pausedUntil !== undefined && now >= this.s.pausedUntil) {
      delete this.s.pausedUntil;
      this.event(now, 'control.resumed', 'info', 'irrigation', 'irrigation pause ended', {});
    }
    if (this.s.rainDelayUntil !== undefined && now >= this.s.rainDelayUntil) {
      delete this.s.rainDelayUntil;
      this.event(now, 'control.rain-delay-ended', 'info', 'irrigation', 'rain delay ended', {});
    }
    for (const [id, o] of Object.entries(this.s.lightOverrides)) if (now >= o.until) delete this.s.lightOverrides[id];
    this.updateTanks(sensors, now);
    this.checkRunning(sensors, now);
    this.checkFlowWhenOff(sensors, now);
    if (clockSynced) this.startPrograms(sensors, now);
    this.moistureControl(sensors, now);
    this.startQueued(sensors, now);
    this.stepLights(sensors, now);
    return this.take();
  }

  // ---- interlocks ----------------------------------------------------------------------

  private tankSensors(): Set<string> {
    return new Set([...this.zones.values()].filter((z) => z.tank !== undefined && z.pump !== undefined).map((z) => z.tank as string));
  }

  private updateTanks(sensors: SensorView, now: number): void {
    const t = this.opts.config.irrigation.tank;
    for (const sensor of this.tankSensors()) {
      const v = freshValue(sensors.latest(sensor), now, t.maxAge);
      if (v === undefined) continue;
      const locked = this.s.tankLocked[sensor] === true;
      if (!locked && v < t.minPercent) {
        this.s.tankLocked[sensor] = true;
        this.event(now, 'tank.low', 'alarm', sensor, `tank ${sensor} at ${pct(v)} < ${t.minPercent} %: pumps stopped until it is above ${t.restartPercent} %`, { value: v, min: t.minPercent, restart: t.restartPercent });
      } else if (locked && v >= t.restartPercent) {
        delete this.s.tankLocked[sensor];
        this.event(now, 'tank.ok', 'info', sensor, `tank ${sensor} at ${pct(v)} >= ${t.restartPercent} %: pumps allowed again`, { value: v, restart: t.restartPercent });
      }
    }
  }

  /** Why this zone may not run now (an interlock), or undefined. */
  private blockedReason(zone: ZoneConfig, sensors: SensorView, now: number): string | undefined {
    for (const id of [zone.valve, zone.pump, zone.masterValve]) {
      if (id !== undefined && this.faults.has(id)) return `output ${id} is faulty: ${this.faults.get(id)}`;
    }
    if (zone.pump === undefined || zone.tank === undefined) return undefined;
    const t = this.opts.config.irrigation.tank;
    const latest = sensors.latest(zone.tank);
    const v = freshValue(latest, now, t.maxAge);
    if (v === undefined) {
      return latest ? `tank level ${zone.tank} unknown (last reading ${mins(now - latest.ts)} ago): the pump stays off` : `tank level ${zone.tank} not read yet: the pump stays off`;
    }
    if (this.s.tankLocked[zone.tank] === true) return `tank ${zone.tank} at ${pct(v)}, below ${t.minPercent} % until it refills above ${t.restartPercent} %`;
    if (v < t.minPercent) return `tank ${zone.tank} at ${pct(v)} < ${t.minPercent} %`;
    return undefined;
  }

  // ---- running zones -------------------------------------------------------------------

  private litres(zone: ZoneConfig, run: ActiveRun, sensors: SensorView, now: number): { litres?: number; metered: boolean } {
    if (zone.flowSensor !== undefined) {
      const series = sensors.history(zone.flowSensor, run.start, now);
      if (series.length > 0) return { litres: integrateLpm(series, run.start, now), metered: true };
    }
    if (zone.flowLpm !== undefined) {
      const pumpFrom = zone.pump !== undefined ? run.start + zone.pumpDelay : run.start;
      return { litres: (zone.flowLpm * Math.max(0, Math.min(now, run.end) - pumpFrom)) / MINUTE, metered: false };
    }
    return { metered: false };
  }

  private checkRunning(sensors: SensorView, now: number): void {
    const irr = this.opts.config.irrigation;
    for (const run of [...this.s.active]) {
      const zone = this.zones.get(run.zone);
      if (!zone) {
        this.stopRun(run, now, 'stopped', 'zone no longer configured');
        continue;
      }
      if (now >= run.end) {
        this.stopRun(run, now, 'completed');
        continue;
      }
      if (zone.pump !== undefined) {
        const blocked = this.blockedReason(zone, sensors, now);
        if (blocked) {
          this.stopRun(run, now, 'stopped', blocked);
          continue;
        }
      }
      if (run.source === 'moisture' && zone.moisture) {
        const m = freshValue(sensors.latest(zone.moisture.sensor), now, zone.moisture.maxAge);
        if (m !== undefined && m >= zone.moisture.target) {
          this.stopRun(run, now, 'completed', `soil moisture ${pct(m)} reached the target ${zone.moisture.target} %`);
          continue;
        }
      }
      if (run.litres !== undefined && zone.flowSensor !== undefined) {
        const { litres } = this.litres(zone, run, sensors, now);
        if (litres !== undefined && litres >= run.litres) {
          this.stopRun(run, now, 'completed', `${Math.round(litres)} L of ${run.litres} L delivered`);
          continue;
        }
      }
      if (zone.flowSensor !== undefined) {
        const flowFrom = run.start + (zone.pump !== undefined ? zone.pumpDelay : 0);
        if (now - flowFrom >= irr.flowCheckAfter) {
          // Judge the flow only by readings taken after it had time to build up.
          const series = sensors.history(zone.flowSensor, flowFrom + irr.flowCheckAfter / 2, now).filter((v) => v.value !== null);
          if (series.length > 0 && series.every((v) => (v.value as number) < irr.noFlowBelowLpm)) {
            const last = (series[series.length - 1] as SensorValue).value as number;
            this.event(now, 'zone.no-flow', 'alarm', zone.id, `zone ${zone.id}: no flow (${Math.round(last * 10) / 10} L/min < ${irr.noFlowBelowLpm}) ${Math.round((now - flowFrom) / 1000)} s after opening: zone stopped (dry pump, closed valve or broken pipe?)`, {
              flow: last,
              threshold: irr.noFlowBelowLpm,
              sensor: zone.flowSensor,
            });
            this.stopRun(run, now, 'stopped', 'no flow');
            continue;
          }
        }
      }
    }
  }

  private checkFlowWhenOff(sensors: SensorView, now: number): void {
    const irr = this.opts.config.irrigation;
    const bySensor = new Map<string, ZoneConfig[]>();
    for (const z of this.zones.values()) if (z.flowSensor !== undefined) bySensor.set(z.flowSensor, [...(bySensor.get(z.flowSensor) ?? []), z]);
    for (const [sensor, zones] of bySensor) {
      const busy = this.s.active.some((r) => zones.some((z) => z.id === r.zone));
      const lastEnd = Math.max(0, ...zones.map((z) => this.s.lastRun[z.id]?.end ?? 0));
      const latest = sensors.latest(sensor);
      const v = freshValue(latest, now, irr.flowCheckAfter);
      const flowing = !busy && now - lastEnd >= irr.flowCheckAfter && v !== undefined && v >= irr.noFlowBelowLpm && (latest as SensorValue).ts - lastEnd >= irr.flowCheckAfter;
      if (flowing && !this.flowWhenOff.has(sensor)) {
        this.flowWhenOff.add(sensor);
        this.event(now, 'zone.flow-when-off', 'alarm', sensor, `flow ${Math.round((v as number) * 10) / 10} L/min on ${sensor} while every valve is closed: a valve is stuck open or a pipe leaks`, { flow: v, zones: zones.map((z) => z.id) });
      } else if (!flowing && this.flowWhenOff.has(sensor) && (busy || (v !== undefined && v < irr.noFlowBelowLpm))) {
        this.flowWhenOff.delete(sensor);
      }
    }
  }

  private stopRun(run: ActiveRun, now: number, outcome: RunOutcome, endReason?: string): void {
    this.s.active = this.s.active.filter((r) => r !== run);
    const zone = this.zones.get(run.zone);
    const end = Math.min(now, run.end);
    const flow = zone ? this.litres(zone, run, this.view, end) : { metered: false };
    const record: ZoneRunRecord = {
      zone: run.zone,
      start: run.start,
      end,
      metered: flow.metered,
      source: run.source,
      reason: run.reason,
      outcome,
      ...(flow.litres !== undefined && { litres: Math.round(flow.litres * 10) / 10 }),
      ...(run.program !== undefined && { program: run.program }),
      ...(endReason !== undefined && { endReason }),
      ...(run.by !== undefined && { by: run.by }),
    };
    this.out.runs.push(record);
    this.setLastRun(record);
    const litres = record.litres !== undefined ? `, ${record.litres} L${record.metered ? '' : ' (estimated)'}` : '';
    const text =
      outcome === 'completed'
        ? `zone ${run.zone} finished after ${mins(end - run.start)}${litres}${endReason ? `: ${endReason}` : ''}`
        : `zone ${run.zone} stopped after ${mins(end - run.start)}${litres}: ${endReason ?? 'stopped'}`;
    this.event(now, outcome === 'completed' ? 'zone.finished' : 'zone.stopped', outcome === 'completed' ? 'info' : 'warning', run.zone, text, {
      start: run.start,
      end,
      reason: run.reason,
      ...(endReason !== undefined && { endReason }),
      ...(record.litres !== undefined && { litres: record.litres, metered: record.metered }),
    });
    if (run.commandId !== undefined) this.result(run.commandId, outcome === 'completed' ? 'done' : 'failed', text, now);
    this.releaseChain(run, end);
  }

  private setLastRun(r: ZoneRunRecord): void {
    this.s.lastRun[r.zone] = { start: r.start, end: r.end, reason: r.reason, ...(r.litres !== undefined && { litres: r.litres }) };
  }

  /** The next step of the same program instance may start after the station delay. */
  private releaseChain(run: PendingRun, at: number): void {
    if (run.chain === undefined || run.chainIndex === undefined) return;
    const next = this.s.queue.find((q) => q.chain === run.chain && q.chainIndex === (run.chainIndex as number) + 1);
    if (next) next.notBefore = at + (run.stationDelay ?? 0);
  }

  private skip(q: PendingRun, now: number, reason: string): void {
    this.event(now, 'zone.skipped', 'info', q.zone, `zone ${q.zone} skipped: ${reason}`, { reason: q.reason, ...(q.program !== undefined && { program: q.program }) });
    if (q.commandId !== undefined) this.result(q.commandId, 'failed', reason, now);
    this.releaseChain(q, now);
  }

  // ---- programs ------------------------------------------------------------------------

  private rainSkipReason(sensors: SensorView, now: number): string | undefined {
    const rain = this.opts.config.irrigation.rain;
    if (rain.switchSensor !== undefined) {
      const wet = freshValue(sensors.latest(rain.switchSensor), now, RAIN_SWITCH_MAX_AGE);
      if (wet !== undefined && wet >= 1) return `rain sensor ${rain.switchSensor} is wet`;
    }
    if (rain.gaugeSensor !== undefined) {
      const mm = this.rainMm(sensors, now - rain.hours * HOUR, now);
      if (mm !== undefined && mm >= rain.mm) return `${Math.round(mm * 10) / 10} mm rain in the last ${rain.hours} h >= ${rain.mm} mm`;
    }
    return undefined;
  }

  private rainMm(sensors: SensorView, from: number, to: number): number | undefined {
    const gauge = this.opts.config.irrigation.rain.gaugeSensor;
    if (gauge === undefined) return undefined;
    // The reading just before the window is the baseline of the running total.
    const series = sensors.history(gauge, from - HOUR, to);
    const before = series.filter((v) => v.ts < from);
    const inside = series.filter((v) => v.ts >= from);
    if (inside.length === 0) return undefined;
    return rainFromTotals([...before.slice(-1), ...inside]);
  }

  private weatherSamples(sensors: SensorView, from: number, to: number): WeatherSample[] {
    const ids = this.opts.config.irrigation.et.sensors;
    if (!ids) return [];
    // The newest value of a sensor in [ts - 15 min, ts + 1 min], asked for ascending ts: one
    // walk along its history (a search of the whole history per sample was quadratic: ~0.1 s
    // of blocked event loop per program start on a PC for 12 h of 1-minute readings).
    const near = (id: string | undefined): ((ts: number) => number | undefined) => {
      if (id === undefined) return () => undefined;
      const series = sensors.history(id, from - 15 * MINUTE, to + MINUTE).filter((v) => v.value !== null);
      let i = -1;
      return (ts) => {
        while (i + 1 < series.length && (series[i + 1] as SensorValue).ts <= ts + MINUTE) i++;
        const v = series[i];
        return v !== undefined && v.ts >= ts - 15 * MINUTE ? (v.value as number) : undefined;
      };
    };
    const rhAt = near(ids.relativeHumidity);
    const windAt = near(ids.windSpeed);
    const solarAt = near(ids.solarRadiation);
    const pressureAt = near(ids.airPressure);
    return sensors
      .history(ids.airTemperature, from, to)
      .filter((v) => v.value !== null)
      .map((t) => {
        const sample: WeatherSample = { ts: t.ts, airTemperatureC: t.value as number };
        const rh = rhAt(t.ts);
        const wind = windAt(t.ts);
        const solar = solarAt(t.ts);
        const pressure = pressureAt(t.ts);
        if (rh !== undefined) sample.relativeHumidity = rh;
        if (wind !== undefined) sample.windSpeed = wind;
        if (solar !== undefined) sample.solarWm2 = solar;
        if (pressure !== undefined) sample.pressureHPa = pressure;
        return sample;
      });
  }

  /** The ET scaling of a program start: water what evaporated since the zones were last watered. */
  etPercent(program: ProgramConfig, sensors: SensorView, now: number): { percent: number; reason: string; data: Record<string, unknown> } {
    const et = this.opts.config.irrigation.et;
    if (!et.sensors) return { percent: 100, reason: 'ET scaling: no weather station configured (irrigation.et.sensors), 100 %', data: {} };
    const intervalDays = nominalIntervalDays(program.days);
    const lasts = program.zones.map((st) => this.s.lastRun[st.zone]?.end).filter((v): v is number => v !== undefined);
    const since = Math.max(now - ET_MAX_LOOKBACK, lasts.length > 0 ? Math.min(...lasts) : now - intervalDays * DAY);
    const samples = this.weatherSamples(sensors, since, now);
    const site = { ...this.opts.site, altitudeM: this.opts.altitudeM ?? 2 };
    const acc = accumulateEt0(samples, since, now, site);
    const rainMm = this.rainMm(sensors, since, now) ?? 0;
    const r = etScalePercent({
      et0Mm: acc.mm,
      rainMm,
      coveredMs: acc.coveredMs,
      periodMs: now - since,
      intervalDays,
      baseMmPerDay: et.baseMmPerDay,
      minPercent: et.minPercent,
      maxPercent: et.maxPercent,
      newestSampleTs: samples[samples.length - 1]?.ts,
      nowMs: now,
      maxAgeMs: et.maxAge,
    });
    return { percent: r.percent, reason: r.reason, data: { et0Mm: Math.round(acc.mm * 100) / 100, rainMm: Math.round(rainMm * 10) / 10, since, method: acc.method, percent: r.percent } };
  }

  private startPrograms(sensors: SensorView, now: number): void {
    const from = this.s.programsCheckedUntil ?? now;
    if (now < from) {
      // The wall clock went back (a bad time saved before NTP): start over from now.
      if (from - now > HOUR) this.s.programsCheckedUntil = now;
      return;
    }
    this.s.programsCheckedUntil = now + 1;
    for (const program of this.programs.values()) {
      // A start still inside its window is always found, however long the window.
      const since = Math.max(from, now - Math.max(MISSED_STARTS_LOOKBACK, program.window));
      for (const start of programStarts(program, this.opts.calendar, since, now + 1)) this.programStart(program, start.at, sensors, now);
    }
  }

  private programStart(program: ProgramConfig, at: number, sensors: SensorView, now: number): void {
    const label = `program ${program.id} (${program.starts.join(', ')})`;
    const skipAll = (kind: string, reason: string, data: Record<string, unknown> = {}): void => {
      for (const st of program.zones) {
        this.event(now, kind, 'info', st.zone, `zone ${st.zone} skipped: ${reason}`, { program: program.id, scheduledAt: at, ...data });
      }
    };
    if (now - at > program.window) return skipAll('zone.skipped', `${label} start at ${this.hhmm(at)} missed (the edge was off)`);
    if (this.s.pausedUntil !== undefined) return skipAll('zone.skipped', `irrigation paused until ${this.hhmm(this.s.pausedUntil)}`);
    if (this.s.rainDelayUntil !== undefined) return skipAll('zone.skipped', `rain delay until ${this.dateTime(this.s.rainDelayUntil)}`);
    if (program.rainSkip) {
      const rain = this.rainSkipReason(sensors, now);
      if (rain) return skipAll('zone.skipped', rain, { rule: 'rain' });
    }
    const scale = program.etScaling ? this.etPercent(program, sensors, now) : undefined;
    const chain = `${program.id}@${at}`;
    let index = 0;
    for (const step of program.zones) {
      const zone = this.zones.get(step.zone);
      if (!zone) continue;
      if (zone.moisture) {
        const m = freshValue(sensors.latest(zone.moisture.sensor), now, zone.moisture.maxAge);
        if (m !== undefined) {
          this.event(now, 'zone.skipped', 'info', zone.id, `zone ${zone.id} skipped by ${label}: soil moisture control decides (${pct(m)}, waters below ${zone.moisture.start} %)`, { program: program.id, moisture: m });
          continue;
        }
        if (zone.moisture.whenStale === 'skip') {
          this.event(now, 'zone.skipped', 'warning', zone.id, `zone ${zone.id} skipped: soil moisture ${zone.moisture.sensor} has no reading newer than ${mins(zone.moisture.maxAge)} (whenStale: skip)`, { program: program.id });
          continue;
        }
      }
      const factor = (scale?.percent ?? 100) / 100;
      let durationMs: number;
      let litres: number | undefined;
      if ('litres' in step) {
        litres = step.litres * factor;
        const lpm = zone.flowLpm;
        // Metered volume runs stop on the meter; the lease allows half again as long as planned.
        durationMs = lpm !== undefined ? (litres / lpm) * MINUTE * (zone.flowSensor !== undefined ? 1.5 : 1) : maxRuntimeOf(this.actuator(zone.valve));
      } else {
        durationMs = step.duration * factor;
      }
      durationMs = Math.min(Math.round(durationMs), maxRuntimeOf(this.actuator(zone.valve)));
      // Whole percent in the text: the reason goes into events and the run log (CSV), and
      // "141.4781878436081 % by ET" explains nothing more than "141 %" (data keeps the exact value).
      const why = `${label}${scale ? `, ${Math.round(scale.percent)} % by ET` : ''}`;
      if (durationMs < MIN_RUN_MS) {
        this.event(now, 'zone.skipped', 'info', zone.id, `zone ${zone.id} skipped: ${why} leaves ${Math.round(durationMs / 1000)} s, less than ${MIN_RUN_MS / 1000} s`, { program: program.id, ...(scale?.data ?? {}) });
        continue;
      }
      this.s.queue.push({
        key: `${chain}#${index}`,
        zone: zone.id,
        source: 'program',
        program: program.id,
        durationMs,
        ...(litres !== undefined && { litres: Math.round(litres * 10) / 10 }),
        reason: why,
        queuedAt: now,
        notBefore: index === 0 ? now : Number.MAX_SAFE_INTEGER,
        notAfter: at + program.window,
        chain,
        chainIndex: index,
        stationDelay: program.stationDelay,
        scheduledAt: at,
      });
      if (scale) this.event(now, 'zone.scaled', 'info', zone.id, `zone ${zone.id}: ${scale.reason}`, { program: program.id, ...scale.data });
      index++;
    }
  }

  // ---- soil moisture -------------------------------------------------------------------

  private moistureControl(sensors: SensorView, now: number): void {
    if (this.s.pausedUntil !== undefined || this.s.rainDelayUntil !== undefined) return;
    for (const zone of this.zones.values()) {
      const m = zone.moisture;
      if (!m) continue;
      if (this.s.active.some((r) => r.zone === zone.id) || this.s.queue.some((q) => q.zone === zone.id)) continue;
      const v = freshValue(sensors.latest(m.sensor), now, m.maxAge);
      if (v === undefined || v >= m.start) {
        this.noted.delete(zone.id);
        continue;
      }
      const last = this.s.lastRun[zone.id]?.end;
      if (last !== undefined && now - last < m.minOff) {
        const note = `minOff:${last}`;
        if (this.noted.get(zone.id) !== note) {
          this.noted.set(zone.id, note);
          this.event(now, 'zone.waiting', 'info', zone.id, `zone ${zone.id}: soil ${pct(v)} < ${m.start} %, but it was watered ${mins(now - last)} ago (minimum off ${mins(m.minOff)})`, { moisture: v, lastEnd: last });
        }
        continue;
      }
      this.noted.delete(zone.id);
      const durationMs = Math.min(m.maxRun, maxRuntimeOf(this.actuator(zone.valve)));
      this.s.queue.push({
        key: `moisture:${zone.id}@${now}`,
        zone: zone.id,
        source: 'moisture',
        durationMs,
        reason: `soil moisture ${pct(v)} < ${m.start} % (water to ${m.target} %)`,
        queuedAt: now,
        notBefore: now,
        notAfter: now + 6 * HOUR,
      });
    }
  }

  // ---- the queue -----------------------------------------------------------------------

  private capacityReason(): string {
    const c = this.opts.config.irrigation.capacity;
    const running = this.s.active.map((r) => r.zone).join(', ');
    return `capacity ${c.zones} zone${c.zones > 1 ? 's' : ''}${c.lpm !== undefined ? ` / ${c.lpm} L/min` : ''} in use (${running || 'none'})`;
  }

  private fits(zone: ZoneConfig): boolean {
    const c = this.opts.config.irrigation.capacity;
    if (this.s.active.length >= c.zones) return false;
    if (c.lpm === undefined) return true;
    const used = this.s.active.reduce((s, r) => s + (this.zones.get(r.zone)?.flowLpm ?? 0), 0);
    return used + (zone.flowLpm ?? 0) <= c.lpm || this.s.active.length === 0;
  }

  private startQueued(sensors: SensorView, now: number): void {
    for (const q of [...this.s.queue]) {
      if (q.notAfter !== undefined && now > q.notAfter) {
        this.s.queue = this.s.queue.filter((x) => x !== q);
        this.skip(q, now, `${q.reason}: not started before ${this.hhmm(q.notAfter)} (window passed)`);
      }
    }
    const waiting = [...this.s.queue].sort((a, b) => (a.source === 'manual' ? 0 : 1) - (b.source === 'manual' ? 0 : 1) || a.queuedAt - b.queuedAt);
    for (const q of waiting) {
      if (q.notBefore > now) continue;
      const zone = this.zones.get(q.zone);
      if (!zone || this.s.active.some((r) => r.zone === q.zone)) continue;
      if (this.s.pausedUntil !== undefined && q.source !== 'manual') continue;
      const blocked = this.blockedReason(zone, sensors, now);
      if (blocked) {
        if (this.noted.get(`block:${q.key}`) !== blocked) {
          this.noted.set(`block:${q.key}`, blocked);
          this.event(now, 'zone.blocked', 'warning', zone.id, `zone ${zone.id} waits: ${blocked}`, { reason: q.reason });
        }
        continue;
      }
      if (!this.fits(zone)) continue;
      this.s.queue = this.s.queue.filter((x) => x !== q);
      this.noted.delete(`block:${q.key}`);
      const run: ActiveRun = { ...q, start: now, end: now + q.durationMs };
      this.s.active.push(run);
      this.event(now, 'zone.started', 'info', zone.id, `zone ${zone.id} watering for ${mins(q.durationMs)}${q.litres !== undefined ? ` (${q.litres} L)` : ''}: ${q.reason}`, {
        durationMs: q.durationMs,
        source: q.source,
        until: run.end,
        ...(q.program !== undefined && { program: q.program }),
        ...(q.litres !== undefined && { litres: q.litres }),
        ...(q.by !== undefined && { by: q.by }),
      });
    }
  }

  // ---- lighting ------------------------------------------------------------------------

  private stepLights(sensors: SensorView, now: number): void {
    for (const group of this.opts.config.lighting) {
      const prevLux = this.s.luxOn[group.id];
      const d = decideLight(group, prevLux !== undefined ? { luxOn: prevLux } : undefined, this.s.lightOverrides[group.id], this.opts.calendar, sensors, now);
      if (d.luxOn !== undefined) this.s.luxOn[group.id] = d.luxOn;
      const prev = this.lights.get(group.id);
      this.lights.set(group.id, { on: d.on, reason: d.reason, ...(d.until !== undefined && { until: d.until }) });
      if (!prev || prev.on !== d.on) {
        this.event(now, d.on ? 'light.on' : 'light.off', 'info', group.id, `lights ${group.id} ${d.on ? 'on' : 'off'}: ${d.reason}`, { lights: group.lights });
      }
    }
  }

  // ---- what the engine applies ---------------------------------------------------------

  /** The state every output should be in now, with its lease. Outputs not listed are off. */
  desired(now: number): Map<string, DesiredOutput> {
    const want = new Map<string, DesiredOutput>();
    const on = (id: string, until: number, reason: string): void => {
      const prev = want.get(id);
      if (!prev?.on || (prev.until ?? 0) < until) want.set(id, { on: true, until, reason });
    };
    const tankOk = new Set<string>();
    for (const run of this.s.active) {
      const zone = this.zones.get(run.zone);
      if (!zone || now >= run.end) continue;
      on(zone.valve, run.end, `zone ${zone.id}: ${run.reason}`);
      if (zone.masterValve !== undefined) on(zone.masterValve, run.end, `zone ${zone.id}`);
      if (zone.pump !== undefined) {
        const pumpOn = run.start + zone.pumpDelay;
        const pumpOff = run.end - zone.pumpLead;
        if (now >= pumpOn && now < pumpOff) on(zone.pump, pumpOff, `zone ${zone.id}`);
      }
      tankOk.add(zone.id);
    }
    for (const group of this.opts.config.lighting) {
      const l = this.lights.get(group.id);
      if (l?.on && l.until !== undefined) for (const id of group.lights) on(id, l.until, `lights ${group.id}: ${l.reason}`);
    }
    for (const a of this.opts.config.actuators) if (!want.has(a.id)) want.set(a.id, { on: false, reason: 'idle' });
    return want;
  }

  /** When the core next needs to run even if no reading arrives. */
  nextWakeAt(now: number): number {
    let t = now + MAX_SLEEP;
    const at = (v: number | undefined): void => {
      if (v !== undefined && v > now && v < t) t = v;
    };
    for (const run of this.s.active) {
      const zone = this.zones.get(run.zone);
      at(run.end);
      if (zone?.pump !== undefined) {
        at(run.start + zone.pumpDelay);
        at(run.end - zone.pumpLead);
      }
    }
    for (const q of this.s.queue) at(q.notBefore);
    at(this.s.pausedUntil);
    at(this.s.rainDelayUntil);
    for (const o of Object.values(this.s.lightOverrides)) at(o.until);
    for (const l of this.lights.values()) at(l.until);
    for (const p of this.programs.values()) at(nextProgramStart(p, this.opts.calendar, now, 2)?.at);
    return t;
  }

  /** For …/state, the local page and `village-edge status`. */
  state(now: number, outputs: OutputState[]): ControlState {
    const zones: ZoneState[] = [...this.zones.values()].map((z) => {
      const run = this.s.active.find((r) => r.zone === z.id);
      const queued = this.s.queue.find((q) => q.zone === z.id);
      const fault = [z.valve, z.pump, z.masterValve].find((id) => id !== undefined && this.faults.has(id));
      const tankLocked = z.pump !== undefined && z.tank !== undefined && this.s.tankLocked[z.tank] === true;
      const last = this.s.lastRun[z.id];
      let next: ZoneState['next'];
      for (const p of this.programs.values()) {
        if (!p.zones.some((st) => st.zone === z.id)) continue;
        const n = nextProgramStart(p, this.opts.calendar, now);
        if (n && (next === undefined || n.at < next.at)) next = { at: n.at, program: p.id };
      }
      const base = {
        id: z.id,
        manualAllowed: z.manualAllowed,
        ...(z.moisture && { moisture: { sensor: z.moisture.sensor, start: z.moisture.start, target: z.moisture.target } }),
        ...(z.name !== undefined && { name: z.name }),
        ...(z.field !== undefined && { field: z.field }),
        ...(last && { lastRun: last }),
        ...(next && { next }),
      };
      if (run) return { ...base, state: 'running', reason: run.reason, until: run.end };
      if (fault !== undefined) return { ...base, state: 'blocked', reason: `output ${fault} is faulty` };
      if (tankLocked) return { ...base, state: 'blocked', reason: `tank ${z.tank} low` };
      if (this.s.pausedUntil !== undefined) return { ...base, state: 'paused', until: this.s.pausedUntil };
      if (queued) return { ...base, state: 'queued', reason: queued.reason };
      return { ...base, state: 'idle' };
    });
    return {
      outputs,
      zones,
      lights: this.opts.config.lighting.map((g) => {
        const l = this.lights.get(g.id);
        const o = this.s.lightOverrides[g.id];
        return { id: g.id, on: l?.on ?? false, reason: l?.reason ?? 'not decided yet', ...(o && { overrideUntil: o.until }) };
      }),
      ...(this.s.pausedUntil !== undefined && { pausedUntil: this.s.pausedUntil }),
      ...(this.s.rainDelayUntil !== undefined && { rainDelayUntil: this.s.rainDelayUntil }),
    };
  }

  /** Runs in progress (tests and status). */
  get active(): readonly ActiveRun[] {
    return this.s.active;
  }

  get queued(): readonly PendingRun[] {
    return this.s.queue;
  }

  private actuator(id: string): ActuatorConfig {
    const a = this.actuators.get(id);
    if (!a) throw new Error(`control: unknown actuator "${id}" (config cross-check should have caught it)`);
    return a;
  }

  private hhmm(ms: number): string {
    const m = this.opts.calendar.localParts(ms).minutes;
    return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  }

  private dateTime(ms: number): string {
    return `${this.opts.calendar.localDate(ms)} ${this.hhmm(ms)}`;
  }
}

/** Litres from flow readings (L/min) over [from, to]: each reading holds until the next. */
export function integrateLpm(series: readonly SensorValue[], from: number, to: number): number {
  let litres = 0;
  for (let i = 0; i < series.length; i++) {
    const v = series[i] as SensorValue;
    if (v.value === null) continue;
    const a = Math.max(from, v.ts);
    const b = Math.min(to, (series[i + 1] as SensorValue | undefined)?.ts ?? to);
    if (b > a) litres += (v.value * (b - a)) / MINUTE;
  }
  return litres;
}
