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
