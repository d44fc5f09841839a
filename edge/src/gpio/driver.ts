import type { GpioDeviceConfig, Reading } from '@smart-village/shared';
import { ID_PATTERN, toVillageError } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { Pin, PinBackend } from './backend.js';
import { DEFAULT_SYSFS_ROOT, detectChipBase, sysfsPinOf } from './chip.js';
import { errorReadings, GPIO_POINTS, InputChannel, sensorIdOf, type Level } from './inputs.js';
import { OnoffBackend } from './onoff.js';

export interface GpioInputDriverOptions {
  /** The gpio devices of the site config (already validated, defaults filled). */
  readonly devices: readonly GpioDeviceConfig[];
  readonly clock: Clock;
  readonly log: Logger;
  /** Gets the readings of one device at the end of each of its intervals. */
  readonly onReadings: (readings: Reading[]) => void;
  /**
   * Where pins come from. Default: onoff, loaded at start (with `chipBase` 'auto' read from
   * sysfs); when that fails the devices report quality "error" and it is retried each interval.
   */
  readonly backend?: PinBackend;
  /**
   * sysfs number of BCM 0 (chip.ts). 'auto' or absent: detected from sysfs for the default
   * onoff backend, 0 for an injected backend.
   */
  readonly chipBase?: number | 'auto';
  /** Root of the sysfs GPIO interface, for detection; default /sys/class/gpio. */
  readonly sysfsRoot?: string;
  /** Whether the wall clock is NTP-synced, stamped on every reading; default: always true. */
  readonly clockSynced?: () => boolean;
}

interface PinRun {
  readonly device: GpioDeviceConfig;
  /** Known once the backend and chip base are. */
  sysfsPin: number | undefined;
  pin: Pin | undefined;
  channel: InputChannel | undefined;
  timer: TimerHandle | undefined;
  /** When the running interval ends (wall ms) and how long it is. */
  due: number;
  windowMs: number;
}

/**
 * GPIO inputs: digital contacts, tipping-bucket rain gauges and Hall flow meters. Opens each
 * device's pin at start, feeds its edges to an InputChannel and hands readings to
 * `onReadings` every `device.interval`. A pin that cannot be opened or that fails is logged
 * (rate-limited), reports quality "error" and is retried each interval; the other pins go on.
 */
export class GpioInputDriver {
  private runs: PinRun[] = [];
  private running = false;
  private log: Logger | undefined;
  private problems: RateLimitedLog | undefined;
  private pending: Promise<void> = Promise.resolve();
  private backend: PinBackend | undefined;
  private chipBase: number | undefined;
  /** Bumped by start and stop, so a start still loading onoff knows it was overtaken. */
  private generation = 0;

  constructor(private readonly opts: GpioInputDriverOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    const { clock, devices } = this.opts;
    // The caller names the module (app.ts passes log.child({ module: 'gpio' })).
    const log = this.opts.log;
    this.log = log;
    this.problems = new RateLimitedLog(log, () => clock.now());
    const now = clock.now();
    this.runs = devices.map((device) => {
      // GPIO has no shared bus to spread load over, so devices start counting together; an
      // explicit stagger still delays the first reading.
      const windowMs = device.stagger ?? device.interval;
      return { device, sysfsPin: undefined, pin: undefined, channel: undefined, timer: undefined, due: now + windowMs, windowMs };
    });
    for (const device of devices) {
      for (const { point } of GPIO_POINTS[device.mode]) {
        const sensor = sensorIdOf(device.id, point);
        // Readings with such a sensor id would be refused by readingSchema downstream.
        if (!ID_PATTERN.test(sensor)) log.warn({ device: device.id, sensor }, 'GPIO sensor id is longer than 64 characters: shorten the device id');
      }
    }
    await this.connect();
    if (generation !== this.generation) return; // stopped (or restarted) while loading onoff
    for (const run of this.runs) {
      this.open(run);
      this.schedule(run);
    }
    log.info({ devices: this.runs.length, open: this.runs.filter((r) => r.pin).length, chipBase: this.chipBase }, 'GPIO inputs started');
  }

  /** Resolves backend and chip base; on failure logs why (GPIO_UNAVAILABLE says the fix). */
  private async connect(): Promise<boolean> {
    if (!this.backend || this.chipBase === undefined) {
      const { backend, chipBase } = this.opts;
      try {
        if (backend) {
          this.chipBase = typeof chipBase === 'number' ? chipBase : 0;
          this.backend = backend;
        } else {
          this.chipBase = typeof chipBase === 'number' ? chipBase : await detectChipBase(this.opts.sysfsRoot ?? DEFAULT_SYSFS_ROOT);
          this.backend = await OnoffBackend.load();
        }
      } catch (err) {
        this.backend = undefined;
        const e = toVillageError(err);
        this.problems?.error('backend', { code: e.code, err: e.message }, 'GPIO inputs unavailable; their readings report quality "error"');
        return false;
      }
    }
    const base = this.chipBase;
    for (const run of this.runs) run.sysfsPin = sysfsPinOf(base, run.device.pin);
    return true;
  }

  /**
   * Hands the last, partial interval of rain gauges and flow meters to `onReadings` (tips
   * since the last reading are data too), then releases every pin. Stop this driver before
   * whatever consumes the readings.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    const now = this.opts.clock.now();
    for (const run of this.runs) {
      this.opts.clock.clearTimeout(run.timer);
      run.timer = undefined;
      const elapsed = now - (run.due - run.windowMs);
      if (run.pin && run.channel && run.device.mode !== 'digital' && elapsed > 0) {
        this.emit(run, run.channel.sample(now, this.synced(), elapsed));
      }
      this.release(run);
    }
    this.runs = [];
    this.log?.info('GPIO inputs stopped');
  }

  private open(run: PinRun): boolean {
    const { clock } = this.opts;
    const { backend } = this;
    const { device, sysfsPin } = run;
    if (!backend || sysfsPin === undefined) return false;
    let pin: Pin | undefined;
    try {
      pin = backend.open(sysfsPin, { edge: 'both' });
      const opened = pin;
      const level = pin.read();
      const now = clock.now();
      if (run.channel) run.channel.resume(now, level);
      else run.channel = new InputChannel(device, level, now);
      pin.watch(
        (value) => this.onEdge(run, opened, value),
        (err) => {
          this.problem(run, 'watch', err, 'GPIO interrupt failed');
          // Without interrupts a counter would report "good" zeros: release the pin so this
          // interval reads as an error and the next tick opens it again.
          if (run.pin === opened) this.release(run);
        },
      );
      run.pin = pin;
      return true;
    } catch (err) {
      if (pin) {
        try {
          pin.close();
        } catch {
          // Already failing; the open error below is the one worth reporting.
        }
      }
      this.problem(run, 'open', err, 'cannot open GPIO pin');
      return false;
    }
  }

  private onEdge(run: PinRun, pin: Pin, value: Level): void {
    // An interrupt queued before stop() or before a reopen belongs to a released pin.
    if (!this.running || run.pin !== pin) return;
    try {
      run.channel?.edge(this.opts.clock.now(), value);
    } catch (err) {
      this.problem(run, 'edge', err, 'GPIO edge handling failed');
    }
  }

  private schedule(run: PinRun): void {
    const now = this.opts.clock.now();
    run.timer = this.opts.clock.setTimeout(() => void this.tick(run), Math.max(0, run.due - now));
  }

  private tick(run: PinRun): void {
    if (!this.running) return;
    const now = this.opts.clock.now();
    const windowMs = run.windowMs;
    // Next interval from the planned end, so timer lateness does not drift the schedule; after
    // a long stall (or a wall-clock step) start afresh from now. Scheduled before any await so
    // a slow backend load cannot shift the cadence.
    const interval = run.device.interval;
    run.windowMs = interval;
    run.due += interval;
    if (run.due <= now || run.due > now + 2 * interval) run.due = now + interval;
    this.schedule(run);

    if (this.backend) this.sample(run, now, windowMs);
    else
      // Chained, so intervals are reported in order even when a look-up takes longer than a tick.
      this.pending = this.pending
        .then(() => this.connect())
        .then(() => {
          if (this.running) this.sample(run, now, windowMs);
        })
        .catch((err: unknown) => this.problem(run, 'connect', err, 'GPIO backend failed'));
  }

  private sample(run: PinRun, now: number, windowMs: number): void {
    const synced = this.synced();
    let readings: Reading[];
    if (run.pin && run.channel) {
      try {
        // A switch's level is read, not only inferred from interrupts: a missed edge heals here.
        if (run.device.mode === 'digital') run.channel.edge(now, run.pin.read());
        readings = run.channel.sample(now, synced, windowMs);
      } catch (err) {
        this.problem(run, 'sample', err, 'GPIO reading failed');
        readings = errorReadings(run.device, now, synced);
      }
    } else {
      // The pin (or the backend) is not open: this interval has no data. Retry now so the next one may.
      readings = errorReadings(run.device, now, synced);
      if (this.open(run)) this.log?.info({ device: run.device.id, pin: run.device.pin, sysfsPin: run.sysfsPin }, 'GPIO pin opened after earlier failure');
    }
    this.emit(run, readings);
  }

  private emit(run: PinRun, readings: Reading[]): void {
    try {
      this.opts.onReadings(readings);
    } catch (err) {
      this.problem(run, 'deliver', err, 'GPIO readings could not be delivered');
    }
  }

  private release(run: PinRun): void {
    const pin = run.pin;
    run.pin = undefined;
    if (!pin) return;
    try {
      pin.close();
    } catch (err) {
      this.problem(run, 'close', err, 'GPIO pin could not be released');
    }
  }

  private problem(run: PinRun, what: string, err: unknown, msg: string): void {
    const e = toVillageError(err);
    this.problems?.error(
      `${what}:${run.device.id}`,
      { device: run.device.id, pin: run.device.pin, sysfsPin: run.sysfsPin, code: e.code, err: e.message },
      msg,
    );
  }

  private synced(): boolean {
    return this.opts.clockSynced?.() ?? true;
  }
}
