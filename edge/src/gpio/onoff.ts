import type { Gpio as OnoffGpio } from 'onoff';
import { VillageError } from '@smart-village/shared';
import { gpioUnavailable } from './chip.js';
import type { Level } from './inputs.js';
import type { OutputPin, OutputPinBackend, Pin, PinBackend, PinOpenOptions } from './backend.js';

/** The constructor and static members of onoff's Gpio that this adapter uses. */
export type OnoffGpioClass = typeof OnoffGpio;

/**
 * Pins through the onoff package (sysfs export + epoll). Kept thin on purpose: it opens a line
 * as an input or an output, passes levels through, and unexports on close; all logic is in
 * inputs.ts and outputs/gpio.ts.
 */
export class OnoffBackend implements PinBackend, OutputPinBackend {
  constructor(private readonly Gpio: OnoffGpioClass) {}

  /**
   * Loads onoff lazily: it is an optional dependency with a native part (epoll), so a machine
   * without it still starts and only GPIO reports GPIO_UNAVAILABLE.
   */
  static async load(): Promise<OnoffBackend> {
    let Gpio: OnoffGpioClass | undefined;
    try {
      const mod = (await import('onoff')) as { Gpio?: OnoffGpioClass; default?: { Gpio?: OnoffGpioClass } };
      Gpio = mod.Gpio ?? mod.default?.Gpio;
    } catch (err) {
      throw gpioUnavailable('the onoff package (optional dependency of the edge, with the native epoll module) could not be loaded', {}, err);
    }
    if (!Gpio) throw gpioUnavailable('the onoff package does not export Gpio');
    // onoff's own check: can this user open /sys/class/gpio/export for writing?
    if (!Gpio.accessible) throw gpioUnavailable('/sys/class/gpio/export cannot be opened for writing');
    return new OnoffBackend(Gpio);
  }

  open(sysfsPin: number, opts: PinOpenOptions): Pin {
    let gpio: OnoffGpio;
    try {
      // debounceTimeout 0: onoff's debounce is a trailing lodash.debounce that reports only the
      // level after the line went quiet, which merges a flow meter's pulse train into one
      // event; we debounce in inputs.ts instead, identically for the simulated twin.
      // activeLow false: written explicitly so a stale active_low left by another program
      // cannot invert the line twice; the driver applies the configured activeLow itself.
      gpio = new this.Gpio(sysfsPin, 'in', opts.edge, { debounceTimeout: 0, activeLow: false });
    } catch (err) {
      throw exportFailed(sysfsPin, 'input', err);
    }
    let released = false;
    return {
      read: (): Level => gpio.readSync(),
      watch: (cb, onError) => {
        gpio.watch((err, value) => {
          if (err) onError?.(err);
          else cb(value);
        });
      },
      close: () => {
        // A second unexport would close the value fd twice (EBADF).
        if (released) return;
        released = true;
        gpio.unexport();
      },
    };
  }

  openOutput(sysfsPin: number, initial: Level): OutputPin {
    let gpio: OnoffGpio;
    try {
      // 'high'/'low' writes the direction with the level in one sysfs write (the kernel's
      // gpiod_direction_output_raw), so the line never shows another level first; 'out' would
      // start low. Edge 'none': outputs raise no interrupts. activeLow false, as for inputs:
      // the raw level is what we mean.
      gpio = new this.Gpio(sysfsPin, initial === 1 ? 'high' : 'low', 'none', { activeLow: false });
    } catch (err) {
      throw exportFailed(sysfsPin, 'output', err);
    }
    // On a line someone else exported first onoff ignores a failed direction write (it may
    // lack access to that file), so check the outcome rather than trust it.
    try {
      if (gpio.direction() !== 'out') {
        gpio.unexport();
        throw new VillageError('GPIO_UNAVAILABLE', `cannot open GPIO sysfs ${sysfsPin} as output: it stays an input (exported by another program?)`, { sysfsPin });
      }
      if (gpio.readSync() !== initial) gpio.writeSync(initial);
    } catch (err) {
      if (err instanceof VillageError) throw err;
      throw exportFailed(sysfsPin, 'output', err);
    }
    let level: Level = initial;
    let released = false;
    return {
      write: (value: Level) => {
        if (released) throw new VillageError('GPIO_UNAVAILABLE', `GPIO sysfs ${sysfsPin} is closed`, { sysfsPin });
        try {
          gpio.writeSync(value);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new VillageError('GPIO_UNAVAILABLE', `cannot write GPIO sysfs ${sysfsPin}: ${(err as Error).message}`, { sysfsPin, code }, { cause: err });
        }
        level = value;
      },
      read: () => level,
      close: () => {
        if (released) return;
        released = true;
        gpio.unexport();
      },
    };
  }
}

function exportFailed(sysfsPin: number, as: 'input' | 'output', err: unknown): VillageError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === 'EBUSY'
      ? 'the line is used by another program or kernel driver (1-wire, I2C, SPI overlay?)'
      : code === 'EINVAL'
        ? 'the kernel does not know this number: check edge.gpio.chipBase (kernels ≥ 6.6 start at 512)'
        : code === 'EACCES'
          ? 'permission denied: add the service user to the gpio group'
          : (err as Error).message;
  return new VillageError('GPIO_UNAVAILABLE', `cannot open GPIO sysfs ${sysfsPin} as ${as}: ${hint}`, { sysfsPin, code }, { cause: err });
}
