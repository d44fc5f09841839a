import type { Command, CommandResult, ControlState, EventInput, Reading, SiteConfig } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import type { Output } from '../outputs/types.js';
import { SiteCalendar } from './calendar.js';
import { Controller, type ControlOutput } from './core.js';
import { ReadingHistory } from './inputs.js';
import { LeaseKeeper } from './leases.js';
import type { ControlStore } from './store.js';

/** How much recent history control keeps (rain windows, ET since the last watering). */
const HISTORY_MS = 8 * 86_400_000;
/** At start, history is reloaded from the outbox this far back. */
const PRELOAD_MS = 48 * 3_600_000;

export interface ControlEngineDeps {
  config: SiteConfig;
  clock: Clock;
  log: Logger;
  /** Opened outputs (already in their safe state), by actuator id. */
  outputs: ReadonlyMap<string, Output>;
  store: ControlStore;
  /** Records events (the outbox). */
  record: (events: EventInput[]) => void;
  clockSynced: () => boolean;
  /** Command results for …/cmd-result and the local page. */
  onResult?: (result: CommandResult) => void;
  /** Told when outputs or zones changed (the sync sends a fresh …/state). */
  onChange?: () => void;
  /** Readings to start the history with (from the outbox). */
  preload?: (sensors: readonly string[], from: number) => Reading[];
}

/** The sensor ids control reads, so only those are kept in its history. */
export function controlSensors(config: Pick<SiteConfig, 'zones' | 'irrigation' | 'lighting'>): string[] {
  const ids = new Set<string>();
  for (const z of config.zones) {
    if (z.moisture) ids.add(z.moisture.sensor);
    if (z.flowSensor !== undefined) ids.add(z.flowSensor);
    if (z.tank !== undefined) ids.add(z.tank);
  }
  const { rain, et } = config.irrigation;
  if (rain.switchSensor !== undefined) ids.add(rain.switchSensor);
  if (rain.gaugeSensor !== undefined) ids.add(rain.gaugeSensor);
  for (const id of Object.values(et.sensors ?? {})) if (id !== undefined) ids.add(id);
  for (const g of config.lighting) if (g.lux) ids.add(g.lux.sensor);
  return [...ids];
}

/**
 * Runs the control core against the live edge: feeds it readings as they arrive and commands
 * as they come, applies what it wants through leased outputs, records its decisions, and
 * keeps its state across restarts. The only place control touches timers and I/O.
 */
export class ControlEngine {
  readonly history = new ReadingHistory(HISTORY_MS);
  private controller!: Controller;
  private keeper!: LeaseKeeper;
  private readonly used: Set<string>;
  private timer: TimerHandle | undefined;
  private wakeAt = Infinity;
  private stepping: Promise<void> | undefined;
  private again = false;
  private running = false;
  private lastSaved = '';
  private lastState = '';
  readonly calendar: SiteCalendar;

  constructor(private readonly deps: ControlEngineDeps) {
    this.used = new Set(controlSensors(deps.config));
    const s = deps.config.site;
    this.calendar = new SiteCalendar({ timezone: s.timezone, lat: s.lat, lon: s.lon });
  }

  /** Whether the config asks for any control at all. */
  static wanted(config: SiteConfig): boolean {
    return config.actuators.length > 0;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { config, clock, log, store } = this.deps;
    const now = clock.now();
    if (this.deps.preload && this.used.size > 0) {
      for (const r of this.deps.preload([...this.used], now - PRELOAD_MS)) this.addReading(r);
    }
    const s = config.site;
    this.controller = new Controller({ config, calendar: this.calendar, site: { timezone: s.timezone, lat: s.lat, lon: s.lon } }, store.load());
    this.keeper = new LeaseKeeper(this.deps.outputs, config.actuators, clock, log.child({ module: 'leases' }), {
      fault: (id, message) => this.handle(this.controller.outputFault(id, message, clock.now())),
      ok: (id) => this.handle(this.controller.outputOk(id, clock.now())),
      expired: (id, heldMs) =>
        this.record([{ ts: clock.now(), kind: 'output.lease-expired', severity: 'warning', source: id, message: `output ${id} turned off by its lease after ${Math.round(heldMs / 1000)} s`, data: { heldMs } }]),
    });
    this.handle(this.controller.recover(now));
    this.kick();
    await this.stepping;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.deps.clock.clearTimeout(this.timer);
    await this.stepping?.catch(() => undefined);
    this.save(true);
    await this.keeper.stop();
  }

  /** New readings from the poller, GPIO or firmware nodes. */
  onReadings(readings: readonly Reading[]): void {
    let relevant = false;
    for (const r of readings) {
      if (!this.used.has(r.sensor)) continue;
      this.addReading(r);
      relevant = true;
    }
    if (relevant && this.running) this.kick();
  }

  private addReading(r: Reading): void {
    if (this.used.has(r.sensor)) this.history.add(r.sensor, { value: r.value, ts: r.ts, quality: r.quality, unit: r.unit });
  }

  /** A command from the cloud, the CLI, a button or the local page; resolves with its first result. */
  async command(cmd: Command): Promise<CommandResult> {
    if (!this.running) return { id: cmd.id, status: 'rejected', reason: 'control is not running', ts: this.deps.clock.now() };
    await this.stepping?.catch(() => undefined);
    const out = this.controller.command(cmd, this.history, this.deps.clock.now());
    const first = out.results.find((r) => r.id === cmd.id) ?? { id: cmd.id, status: 'rejected' as const, reason: 'no result', ts: this.deps.clock.now() };
    this.handle(out);
    this.kick();
    await this.stepping;
    return first;
  }

  state(): ControlState {
    return this.controller.state(this.deps.clock.now(), this.keeper.state());
  }

  get core(): Controller {
    return this.controller;
  }

  get leases(): LeaseKeeper {
    return this.keeper;
  }

  /** Runs a control pass soon (coalesced: one pass at a time, one more if asked meanwhile). */
  kick(): void {
    if (!this.running) return;
    if (this.stepping) {
      this.again = true;
      return;
    }
    this.stepping = this.loop().finally(() => {
      this.stepping = undefined;
    });
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const { clock, log } = this.deps;
      try {
        const now = clock.now();
        const out = this.controller.step(this.history, now, this.deps.clockSynced());
        this.handle(out);
        await this.keeper.apply(this.controller.desired(clock.now()));
        // A program start always explains itself with an event: save then, so no start runs twice.
        this.save(out.events.length > 0);
        this.schedule(this.controller.nextWakeAt(clock.now()));
      } catch (err) {
        // A bug in one pass must not leave outputs unattended: leases still run, retry soon.
        log.error({ err }, 'control pass failed');
        this.schedule(clock.now() + 5000);
      }
      this.notify();
    } while (this.again && this.running);
  }

  private schedule(at: number): void {
    if (!this.running) return;
    const { clock } = this.deps;
    if (this.timer && at >= this.wakeAt) return;
    clock.clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.wakeAt = Infinity;
      this.kick();
    }, Math.max(0, at - clock.now()));
  }

  private handle(out: ControlOutput): void {
    if (out.events.length > 0) this.record(out.events);
    if (out.runs.length > 0) this.deps.store.addRuns(out.runs);
    for (const r of out.results) this.deps.onResult?.(r);
    if (out.runs.length > 0 || out.results.length > 0) this.save();
  }

  private record(events: ControlOutput['events']): void {
    const synced = this.deps.clockSynced();
    this.deps.record(events.map((e) => ({ ...e, clockSynced: synced })));
    for (const e of events) this.deps.log.info({ kind: e.kind, source: e.source }, e.message);
  }

  /**
   * Writes the state when it changed. programsCheckedUntil moves on every pass; alone it is not
   * worth a write (a full-sync SQLite transaction per pass): it is saved with the next change,
   * the next pass with events, and at stop.
   */
  private save(force = false): void {
    const state = this.controller.persisted;
    const { programsCheckedUntil: _moving, ...rest } = state;
    const text = JSON.stringify(rest);
    if (!force && text === this.lastSaved) return;
    this.deps.store.save(state);
    this.lastSaved = text;
  }

  private notify(): void {
    if (!this.deps.onChange) return;
    const s = this.state();
    // Lease ends move with light renewals; what dashboards show is on/off, state and reasons.
    const key = JSON.stringify([s.outputs.map((o) => [o.id, o.on, o.fault]), s.zones.map((z) => [z.id, z.state, z.reason]), s.lights, s.pausedUntil, s.rainDelayUntil]);
    if (key === this.lastState) return;
    this.lastState = key;
    this.deps.onChange();
  }
}
