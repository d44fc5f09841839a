import { VillageError } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { Level } from './inputs.js';
import type { OutputPin, OutputPinBackend, Pin, PinBackend, PinOpenOptions } from './backend.js';

interface SimLine {
  level: Level;
  open: boolean;
  watchers: ((value: Level) => void)[];
  errorWatchers: ((err: Error) => void)[];
  failure: Error | undefined;
  /** Every level an output drove, from its export on. */
  history: LevelChange[];
  writeFailure: Error | undefined;
}

/** A level an output line took, and when (the backend's clock, wall ms). */
export interface LevelChange {
  readonly at: number;
  readonly level: Level;
}

export interface SimulatedPulseOptions {
  /** One full pulse (active half + idle half); default 100 ms. */
  periodMs?: number;
}

/**
 * The simulated twin of the GPIO lines: tests and the demo set levels and send pulse trains;
 * pins opened through it see them like the edges of a real line. Levels are electrical
 * (activeLow is applied by the driver, as on the real pin). Output lines record every level
 * they take with its time, so a test can prove a relay never pulsed.
 */
export class SimulatedPinBackend implements PinBackend, OutputPinBackend {
  private readonly lines = new Map<number, SimLine>();

  /** @param clock times pulse trains and output history (without one, history uses Date.now). */
  constructor(private readonly clock?: Clock) {}

  open(sysfsPin: number, _opts: PinOpenOptions): Pin {
    const line = this.line(sysfsPin);
    if (line.failure) throw line.failure;
    // The kernel refuses a second export of a line (EBUSY); so does the twin.
    if (line.open) throw new VillageError('GPIO_UNAVAILABLE', `GPIO sysfs ${sysfsPin} is already open`, { sysfsPin });
    line.open = true;
    line.watchers = [];
    line.errorWatchers = [];
    const closed = (): VillageError => new VillageError('GPIO_UNAVAILABLE', `GPIO sysfs ${sysfsPin} is closed`, { sysfsPin });
    let released = false;
    return {
      read: () => {
        if (released) throw closed();
        return line.level;
      },
      watch: (cb, onError) => {
        if (released) throw closed();
        line.watchers.push(cb);
        if (onError) line.errorWatchers.push(onError);
      },
      close: () => {
        if (released) return;
        released = true;
        line.open = false;
        line.watchers = [];
        line.errorWatchers = [];
      },
    };
  }

  openOutput(sysfsPin: number, initial: Level): OutputPin {
    const line = this.line(sysfsPin);
    if (line.failure) throw line.failure;
    if (line.open) throw new VillageError('GPIO_UNAVAILABLE', `GPIO sysfs ${sysfsPin} is already open`, { sysfsPin });
    line.open = true;
    line.watchers = [];
    line.errorWatchers = [];
    // Direction and level in one step, as sysfs "high"/"low": one entry, whatever was there.
    line.level = initial;
    line.history.push({ at: this.now(), level: initial });
    let released = false;
    const closed = (): VillageError => new VillageError('GPIO_UNAVAILABLE', `GPIO sysfs ${sysfsPin} is closed`, { sysfsPin });
    return {
      write: (level) => {
        if (released) throw closed();
        if (line.writeFailure) throw line.writeFailure;
        if (line.level === level) return;
        line.level = level;
        line.history.push({ at: this.now(), level });
      },
      read: () => {
        if (released) throw closed();
        return line.level;
      },
      close: () => {
        if (released) return;
        released = true;
        // Like the Pi's kernel, the line keeps the level it was driven to.
        line.open = false;
      },
    };
  }

  /** Every level output line `sysfsPin` took, oldest first (a copy). */
  history(sysfsPin: number): LevelChange[] {
    return [...(this.lines.get(sysfsPin)?.history ?? [])];
  }

  /** Makes writes to this output line throw (a failing kernel write); `undefined` heals it. */
  failWrites(sysfsPin: number, error: Error | undefined): void {
    this.line(sysfsPin).writeFailure = error;
  }

  /** Drives the electrical level of a line; watchers hear it only when it changes. */
  set(sysfsPin: number, level: Level): void {
    const line = this.line(sysfsPin);
    if (line.level === level) return;
    line.level = level;
    for (const cb of line.watchers.slice()) cb(level);
  }

  level(sysfsPin: number): Level {
    return this.line(sysfsPin).level;
  }

  /**
   * Sends `count` clean pulses from the current level (away and back) on the clock, one every
   * `periodMs`, the first starting now. Returns how long the train lasts.
   */
  pulse(sysfsPin: number, count: number, opts: SimulatedPulseOptions = {}): number {
    const clock = this.clock;
    if (!clock) throw new VillageError('INTERNAL', 'SimulatedPinBackend.pulse needs a clock: new SimulatedPinBackend(clock)');
    const period = opts.periodMs ?? 100;
    const idle = this.level(sysfsPin);
    const active = (1 - idle) as Level;
    for (let i = 0; i < count; i++) {
      clock.setTimeout(() => this.set(sysfsPin, active), i * period);
      clock.setTimeout(() => this.set(sysfsPin, idle), i * period + period / 2);
    }
    return count * period;
  }

  /** The kernel's interrupt poller fails on this line (as onoff reports through watch's callback). */
  breakInterrupts(sysfsPin: number, error: Error): void {
    for (const cb of this.line(sysfsPin).errorWatchers.slice()) cb(error);
  }

  /** Makes `open` of this line throw (a line claimed by another driver); `undefined` heals it. */
  fail(sysfsPin: number, error: Error | undefined): void {
    this.line(sysfsPin).failure = error;
  }

  isOpen(sysfsPin: number): boolean {
    return this.lines.get(sysfsPin)?.open ?? false;
  }

  openPins(): number[] {
    return [...this.lines].filter(([, l]) => l.open).map(([n]) => n);
  }

  private line(sysfsPin: number): SimLine {
    let line = this.lines.get(sysfsPin);
    if (!line) {
      line = { level: 0, open: false, watchers: [], errorWatchers: [], failure: undefined, history: [], writeFailure: undefined };
      this.lines.set(sysfsPin, line);
    }
    return line;
  }

  private now(): number {
    return this.clock?.now() ?? Date.now();
  }
}
