import { VillageError, toVillageError, type BusConfig, type EventInput, type Reading } from '@smart-village/shared';
import { sleep, type Clock, type TimerHandle } from './clock.js';
import type { ResolvedModbusDevice } from './config.js';
import { RateLimitedLog, type Logger } from './log.js';
import { describe, t35Ms, type ModbusLink } from './modbus/link.js';
import { decodeResponse, planReads, type ReadRequest } from './modbus/registers.js';

export type Health = 'unknown' | 'online' | 'offline' | 'stale';

export interface DeviceStats {
  id: string;
  bus: string;
  slave: number;
  health: Health;
  requests: number;
  failures: number;
  /** Cycles not run: the slave was backing off, or its previous cycle was still waiting. */
  skipped: number;
  consecutiveFailures: number;
  /** Monotonic ms (Clock.monotonic), not wall time. */
  backoffUntil: number;
  /** Monotonic ms of the last good reading, 0 if none. */
  lastGoodAt: number;
  lastError?: string;
  plan: { table: string; address: number; length: number }[];
}

export interface BusStats {
  id: string;
  describe: string;
  open: boolean;
  depth: number;
  dropped: number;
  served: number;
  reconnects: number;
}

/**
 * One queue per physical bus: RS-485 is half-duplex, so exactly one request is in flight per
 * bus; a silent interval separates frames. A bounded queue drops (and counts) what does not
 * fit instead of growing without limit when slaves are slow.
 */
export class BusQueue {
  private readonly jobs: { label: string; run: () => Promise<void> }[] = [];
  /** Jobs queued with `first` (output writes): run before any queued poll, in their own order. */
  private readonly urgent: { label: string; run: () => Promise<void> }[] = [];
  private running = false;
  private stopped = false;
  private dropped = 0;
  private served = 0;
  private reconnects = 0;
  private openFailures = 0;
  private nextOpenAt = 0;
  private idle: (() => void)[] = [];

  constructor(
    readonly bus: BusConfig,
    readonly link: ModbusLink,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly limited: RateLimitedLog,
  ) {}

  /**
   * Queues a job; returns false (and counts a drop) when the queue is full. With `first` (a
   * valve or pump write) it goes ahead of every queued poll, right after the request on the
   * wire; such jobs are few, so they are never dropped for a queue full of polls, and stop()
   * lets them finish.
   */
  enqueue(label: string, run: () => Promise<void>, opts: { first?: boolean } = {}): boolean {
    if (this.stopped) return false;
    if (opts.first) {
      this.urgent.push({ label, run });
      if (!this.running) void this.drain();
      return true;
    }
    if (this.jobs.length >= this.bus.queueLimit) {
      this.dropped++;
      this.limited.warn(`queue-full:${this.bus.id}`, { bus: this.bus.id, dropped: this.dropped }, `bus ${this.bus.id}: queue full, request dropped`);
      return false;
    }
    this.jobs.push({ label, run });
    if (!this.running) void this.drain();
    return true;
  }

  /** Resolves when the queue is empty and nothing runs. */
  whenIdle(): Promise<void> {
    if (!this.running && this.jobs.length === 0 && this.urgent.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** Makes sure the link is open, reconnecting with backoff after an unplug or a dropped gateway. */
  async ensureOpen(): Promise<void> {
    if (this.link.isOpen) return;
    const now = this.clock.monotonic();
    if (now < this.nextOpenAt) {
      throw new VillageError('PORT_UNAVAILABLE', `bus ${this.bus.id}: ${describe(this.bus)} unavailable, next try in ${Math.ceil((this.nextOpenAt - now) / 1000)} s`, { bus: this.bus.id });
    }
    try {
      await this.link.open();
      if (this.openFailures > 0 || this.served > 0) {
        this.reconnects++;
        this.log.info({ bus: this.bus.id, after: this.openFailures }, `bus ${this.bus.id}: reconnected to ${describe(this.bus)}`);
      }
      this.openFailures = 0;
    } catch (err) {
      this.openFailures++;
      // 1 s, 2 s, 4 s ... 30 s: a replugged USB adapter is found again within 30 s.
      this.nextOpenAt = now + Math.min(30_000, 1000 * 2 ** (this.openFailures - 1));
      throw toVillageError(err);
    }
  }

  stats(): BusStats {
    return { id: this.bus.id, describe: describe(this.bus), open: this.link.isOpen, depth: this.jobs.length + this.urgent.length, dropped: this.dropped, served: this.served, reconnects: this.reconnects };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Queued polls are dropped; queued output writes (a safe state on shutdown) still go out.
    this.jobs.length = 0;
    await this.whenIdle();
    await this.link.close();
  }

  private async drain(): Promise<void> {
    this.running = true;
    const gap = this.bus.interFrameGap ?? t35Ms('baud' in this.bus ? this.bus.baud : 115200);
    try {
      for (let job = this.urgent.shift() ?? this.jobs.shift(); job; job = this.urgent.shift() ?? this.jobs.shift()) {
        try {
          await job.run();
        } catch (err) {
          // A job handles its own errors; anything escaping is a bug, isolated here.
          this.log.error({ err: toVillageError(err), job: job.label }, 'poll job failed');
        }
        this.served++;
        if (gap > 0 && !this.stopped) await sleep(this.clock, gap);
      }
    } finally {
      this.running = false;
      const waiters = this.idle.splice(0);
      waiters.forEach((r) => r());
    }
  }
}

export interface PollerDeps {
  clock: Clock;
  log: Logger;
  devices: readonly ResolvedModbusDevice[];
  queues: ReadonlyMap<string, BusQueue>;
  onReadings(readings: Reading[]): void;
  onEvent(event: EventInput): void;
  clockSynced(): boolean;
}

interface DeviceState {
  dev: ResolvedModbusDevice;
  /** Replaced (never mutated) when a slave turns out to refuse reads across unused registers. */
  plan: ReadRequest[];
  stats: DeviceStats;
  timer?: TimerHandle;
  inFlight: boolean;
  firstAt: number;
  cycle: number;
}

/**
 * Schedules each device's reads on its bus queue: per-device interval with a start stagger,
 * retries, per-slave backoff (a dead slave is skipped while it backs off so it never stalls the
 * live ones on the same bus), and health events.
 */
export class Poller {
  private readonly states: DeviceState[] = [];
  private readonly limited: RateLimitedLog;
  private started = false;

  constructor(private readonly deps: PollerDeps) {
    this.limited = new RateLimitedLog(deps.log, () => deps.clock.monotonic());
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.deps.clock.monotonic();
    const perBus = new Map<string, number>();
    const countOnBus = (bus: string): number => this.deps.devices.filter((d) => d.bus.id === bus).length;
    for (const dev of this.deps.devices) {
      const index = perBus.get(dev.bus.id) ?? 0;
      perBus.set(dev.bus.id, index + 1);
      // Spread the devices of a bus over the shortest interval so they do not all ask at once.
      const stagger = dev.config.stagger ?? Math.floor((index * Math.min(dev.interval, 10_000)) / Math.max(1, countOnBus(dev.bus.id)));
      const plan = planReads(dev.points, dev.bus.coalesceGap);
      const state: DeviceState = {
        dev,
        plan,
        inFlight: false,
        firstAt: now + stagger,
        cycle: 0,
        stats: {
          id: dev.config.id,
          bus: dev.bus.id,
          slave: dev.config.slave,
          health: 'unknown',
          requests: 0,
          failures: 0,
          skipped: 0,
          consecutiveFailures: 0,
          backoffUntil: 0,
          lastGoodAt: 0,
          plan: plan.map((r) => ({ table: r.table, address: r.address, length: r.length })),
        },
      };
      this.states.push(state);
      state.timer = this.deps.clock.setTimeout(() => this.tick(state), stagger);
    }
  }

  stop(): void {
    this.started = false;
    for (const s of this.states) this.deps.clock.clearTimeout(s.timer);
  }

  stats(): DeviceStats[] {
    return this.states.map((s) => ({ ...s.stats }));
  }

  private tick(state: DeviceState): void {
    if (!this.started) return;
    const { clock } = this.deps;
    const now = clock.monotonic();
    state.cycle++;
    // Drift-free schedule: the n-th cycle is due at first + n * interval.
    const next = state.firstAt + state.cycle * state.dev.interval;
    state.timer = clock.setTimeout(() => this.tick(state), Math.max(0, next - now));

    this.checkStale(state, now);
    if (state.inFlight || now < state.stats.backoffUntil) {
      state.stats.skipped++;
      return;
    }
    const queue = this.deps.queues.get(state.dev.bus.id);
    if (!queue) return;
    state.inFlight = true;
    const ok = queue.enqueue(state.dev.config.id, async () => {
      try {
        await this.cycle(state, queue);
      } finally {
        state.inFlight = false;
      }
    });
    if (!ok) {
      state.inFlight = false;
      state.stats.skipped++;
    }
  }

  /** One poll of one device, run by its bus queue. */
  async cycle(state: DeviceState, queue: BusQueue): Promise<void> {
    const { dev, stats } = state;
    const { clock } = this.deps;
    const readings: Reading[] = [];
    let answered = false;
    let lastError: VillageError | undefined;
    const gap = dev.bus.interFrameGap ?? t35Ms('baud' in dev.bus ? dev.bus.baud : 115200);
    const plan = state.plan;
    for (const [i, req] of plan.entries()) {
      if (i > 0 && gap > 0) await sleep(clock, gap);
      const result = await this.readWithRetries(state, queue, req);
      const ts = clock.now();
      const synced = this.deps.clockSynced();
      if (result.ok) {
        answered = true;
        for (const v of decodeResponse(req, result.data)) {
          readings.push({ sensor: dev.sensorOf[v.point] as string, ts, value: v.value, unit: v.unit, quality: v.quality, clockSynced: synced });
        }
        continue;
      }
      lastError = result.error;
      if (result.error.code === 'MODBUS_EXCEPTION') answered = true;
      if (this.splitOnIllegalAddress(state, req, result.error)) {
        // Read again right away with the split plan rather than losing this cycle's values.
        const split = planReads(req.points, 0);
        state.plan = state.plan.flatMap((r) => (r === req ? split : [r]));
        stats.plan = state.plan.map((r) => ({ table: r.table, address: r.address, length: r.length }));
        for (const r of split) {
          if (gap > 0) await sleep(clock, gap);
          const retry = await this.readWithRetries(state, queue, r);
          const at = clock.now();
          if (retry.ok) {
            for (const v of decodeResponse(r, retry.data)) readings.push({ sensor: dev.sensorOf[v.point] as string, ts: at, value: v.value, unit: v.unit, quality: v.quality, clockSynced: synced });
          } else {
            for (const p of r.points) readings.push({ sensor: dev.sensorOf[p.name] as string, ts: at, value: null, unit: p.unit, quality: 'error', clockSynced: synced });
          }
        }
        lastError = undefined;
        continue;
      }
      for (const p of req.points) {
        readings.push({ sensor: dev.sensorOf[p.name] as string, ts, value: null, unit: p.unit, quality: 'error', clockSynced: synced });
      }
      // A slave that does not answer one request will not answer the next: save the bus time.
      if (result.error.code !== 'MODBUS_EXCEPTION') {
        for (const rest of plan.slice(i + 1)) {
          for (const p of rest.points) readings.push({ sensor: dev.sensorOf[p.name] as string, ts, value: null, unit: p.unit, quality: 'error', clockSynced: synced });
        }
        break;
      }
    }
    if (readings.length > 0) this.deps.onReadings(readings);
    const now = clock.monotonic();
    if (lastError) stats.lastError = `${lastError.code}: ${lastError.message}`;
    if (answered) {
      stats.consecutiveFailures = 0;
      stats.backoffUntil = 0;
      if (readings.some((r) => r.quality !== 'error')) stats.lastGoodAt = now;
      this.setHealth(state, readings.some((r) => r.quality !== 'error') ? 'online' : 'stale', lastError?.message);
      return;
    }
    stats.failures++;
    if (lastError?.code !== 'PORT_UNAVAILABLE') {
      // The slave itself is silent: back off 2 s, 4 s, 8 s ... up to backoffMax.
      stats.consecutiveFailures++;
      const wait = Math.min(dev.bus.backoffMax, dev.bus.backoffMin * 2 ** (stats.consecutiveFailures - 1));
      stats.backoffUntil = now + wait;
    }
    this.limited.warn(`poll:${dev.config.id}:${lastError?.code}`, { device: dev.config.id, bus: dev.bus.id, slave: dev.config.slave, code: lastError?.code }, `device ${dev.config.id}: ${lastError?.message ?? 'no answer'}`);
    this.setHealth(state, 'offline', lastError?.message);
  }

  /**
   * Some slaves refuse a read that spans registers outside their map (exception 02, illegal
   * data address) even when every point asked for exists. When a request that bridged a gap
   * gets that answer, the slave's plan is split into gap-free reads for good, and said once.
   */
  private splitOnIllegalAddress(state: DeviceState, req: ReadRequest, error: VillageError): boolean {
    if (error.code !== 'MODBUS_EXCEPTION' || error.details.exception !== 2) return false;
    const split = planReads(req.points, 0);
    if (split.length < 2) return false;
    this.deps.log.warn(
      { device: state.dev.config.id, address: req.address, length: req.length, reads: split.length },
      `device ${state.dev.config.id}: slave refuses reads across unused registers; reading its points in ${split.length} requests from now on`,
    );
    return true;
  }

  private async readWithRetries(state: DeviceState, queue: BusQueue, req: ReadRequest): Promise<{ ok: true; data: number[] } | { ok: false; error: VillageError }> {
    const { dev, stats } = state;
    let error: VillageError | undefined;
    // A slave that already failed gets one probe per cycle, not the full retries: a dead slave
    // must not hold the half-duplex bus for (retries + 1) timeouts every time it is due.
    const retries = stats.consecutiveFailures > 0 ? 0 : dev.bus.retries;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(this.deps.clock, dev.bus.interFrameGap ?? t35Ms('baud' in dev.bus ? dev.bus.baud : 115200));
      stats.requests++;
      try {
        await queue.ensureOpen();
        const data = await queue.link.read(dev.config.slave, req.table, req.address, req.length, dev.bus.timeout);
        return { ok: true, data };
      } catch (err) {
        error = toVillageError(err);
        // Exceptions are the slave's deliberate answer and a closed port will not heal in a retry.
        if (error.code === 'MODBUS_EXCEPTION' || error.code === 'PORT_UNAVAILABLE') break;
      }
    }
    return { ok: false, error: error as VillageError };
  }

  private checkStale(state: DeviceState, now: number): void {
    const { stats, dev } = state;
    if (stats.health === 'online' && stats.lastGoodAt > 0 && now - stats.lastGoodAt > dev.staleAfter) {
      this.setHealth(state, 'stale', `no good reading for ${Math.round((now - stats.lastGoodAt) / 1000)} s`);
    }
  }

  private setHealth(state: DeviceState, health: Health, reason?: string): void {
    const { stats, dev } = state;
    if (stats.health === health) return;
    const previous = stats.health;
    stats.health = health;
    const severity = health === 'online' ? 'info' : 'warning';
    const message =
      health === 'online'
        ? `device ${dev.config.id} online (slave ${dev.config.slave} on ${dev.bus.id})`
        : `device ${dev.config.id} ${health}${reason ? `: ${reason}` : ''}`;
    if (health === 'online') this.deps.log.info({ device: dev.config.id, previous }, message);
    else this.deps.log.warn({ device: dev.config.id, previous }, message);
    this.deps.onEvent({
      ts: this.deps.clock.now(),
      clockSynced: this.deps.clockSynced(),
      kind: `device.${health}`,
      severity,
      source: dev.config.id,
      message,
      data: { previous, bus: dev.bus.id, slave: dev.config.slave, ...(reason ? { reason } : {}) },
    });
  }
}
