import type { Level } from './inputs.js';

/** How a pin is opened. Debouncing and activeLow are done in `inputs.ts`, the same for every backend. */
export interface PinOpenOptions {
  /** Which transitions call the watcher; inputs use 'both' so the debouncer sees every level. */
  readonly edge: 'both' | 'rising' | 'falling';
}

/** One exported input line, reporting its electrical level (1 = high). */
export interface Pin {
  read(): Level;
  /** `cb` gets the level after each transition; `onError` gets failures of the interrupt poller. */
  watch(cb: (value: Level) => void, onError?: (err: Error) => void): void;
  /** Stops watching and releases the line (sysfs unexport). */
  close(): void;
}

/** Where pins come from: onoff on a Pi, the simulated twin in tests and the demo. */
export interface PinBackend {
  /** `sysfsPin` is the kernel's global number (chip base + BCM), see chip.ts. Throws VillageError. */
  open(sysfsPin: number, opts: PinOpenOptions): Pin;
}

/**
 * One exported output line. Levels are electrical (1 = high); activeLow and safe states are
 * applied by the output driver (edge/src/outputs/gpio.ts), the same for every backend.
 */
export interface OutputPin {
  /** Drives the line. Throws VillageError when the kernel refuses the write. */
  write(level: Level): void;
  /** The level last driven. */
  read(): Level;
  /**
   * Releases the line (sysfs unexport) at the level last written. On Raspberry Pi OS kernels
   * the header controller keeps driving it after unexport (pinctrl-bcm2835 persist_gpio_outputs,
   * on by default); the systemd stop hook writes the safe level again regardless.
   */
  close(): void;
}

/** Where output lines come from: onoff on a Pi, the simulated twin in tests and the demo. */
export interface OutputPinBackend {
  /**
   * Exports `sysfsPin` as an output already at `initial`: the direction is written as "high" or
   * "low", which sets the level in the same step, so the line never shows another level first
   * (direction "out" would start low and pulse an active-low relay). Throws VillageError.
   */
  openOutput(sysfsPin: number, initial: Level): OutputPin;
}

/** A backend for inputs and outputs, as both shipped backends are. */
export type GpioBackend = PinBackend & OutputPinBackend;
