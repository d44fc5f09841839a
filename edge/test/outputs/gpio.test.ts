/**
 * GPIO outputs: the output-pin contract both backends pass (simulated twin; onoff over a
 * stand-in for the kernel's sysfs semantics), and GpioOutput on each: every wiring
 * (activeLow × safe state) comes up in its safe level with exactly one level recorded.
 */
import { describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import type { OutputPinBackend } from '../../src/gpio/backend.js';
import type { Level } from '../../src/gpio/inputs.js';
import { OnoffBackend, type OnoffGpioClass } from '../../src/gpio/onoff.js';
import { SimulatedPinBackend } from '../../src/gpio/simulated.js';
import { GpioOutput } from '../../src/outputs/gpio.js';
import { actuator, capturingLog, WIRINGS } from './helpers.js';

const T0 = Date.UTC(2025, 5, 1, 5, 30);

/**
 * The kernel side of sysfs as onoff drives it: a direction of "high"/"low" sets the level with
 * the direction, "out" starts low, "in" lets the line float (read 0 here). Every level a line
 * drives is recorded, so a glitch through another level shows up.
 */
class KernelGpio {
  static lines = new Map<number, { exported: boolean; direction: 'in' | 'out'; level: Level; history: Level[]; ignoreDirection: boolean }>();
  static constructed: { gpio: number; direction: string; edge: unknown; options: unknown }[] = [];
  static accessible = true;
  private released = false;

  static line(gpio: number) {
    let l = KernelGpio.lines.get(gpio);
    if (!l) {
      l = { exported: false, direction: 'in', level: 0, history: [], ignoreDirection: false };
      KernelGpio.lines.set(gpio, l);
    }
    return l;
  }

  constructor(
    readonly gpio: number,
    direction: string,
    edge?: unknown,
    options?: unknown,
  ) {
    KernelGpio.constructed.push({ gpio, direction, edge, options });
    const l = KernelGpio.line(gpio);
    l.exported = true;
    // onoff swallows a failed direction write on a line exported before it came.
    if (l.ignoreDirection) return;
    if (direction === 'in') {
      l.direction = 'in';
      return;
    }
    l.direction = 'out';
    this.drive(direction === 'high' ? 1 : 0);
  }

  direction(): 'in' | 'out' {
    return KernelGpio.line(this.gpio).direction;
  }

  readSync(): Level {
    return KernelGpio.line(this.gpio).level;
  }

  writeSync(value: Level): void {
    if (this.released) throw Object.assign(new Error('EBADF: bad file descriptor, write'), { code: 'EBADF' });
    this.drive(value);
  }

  unexport(): void {
    this.released = true;
    KernelGpio.line(this.gpio).exported = false;
  }

  private drive(level: Level): void {
    const l = KernelGpio.line(this.gpio);
    if (l.level !== level || l.history.length === 0) l.history.push(level);
    l.level = level;
  }
}

interface Rig {
  backend: OutputPinBackend;
  /** Puts the line at a level before the test opens it (what a previous program left). */
  preset(sysfsPin: number, level: Level): void;
  level(sysfsPin: number): Level;
  /** Levels driven since the output was opened. */
  history(sysfsPin: number): Level[];
}

const rigs: { name: string; make: () => Rig }[] = [
  {
    name: 'simulated',
    make: () => {
      const sim = new SimulatedPinBackend(new ManualClock(T0));
      return {
        backend: sim,
        preset: (p, l) => sim.set(p, l),
        level: (p) => sim.level(p),
        history: (p) => sim.history(p).map((c) => c.level),
      };
    },
  },
  {
    name: 'onoff',
    make: () => {
      KernelGpio.lines.clear();
      KernelGpio.constructed = [];
      return {
        backend: new OnoffBackend(KernelGpio as unknown as OnoffGpioClass),
        preset: (p, l) => {
          KernelGpio.line(p).level = l;
        },
        level: (p) => KernelGpio.line(p).level,
        history: (p) => KernelGpio.line(p).history,
      };
    },
  },
];

describe.each(rigs)('output pins: $name', ({ make }) => {
  it.each([0, 1] as const)('opens at level %i in one step, whatever the line held before', (initial) => {
    const rig = make();
    rig.preset(529, initial === 1 ? 0 : 1);
    const pin = rig.backend.openOutput(529, initial);
    expect(rig.level(529)).toBe(initial);
    expect(pin.read()).toBe(initial);
    expect(rig.history(529)).toEqual([initial]);
    pin.close();
  });

  it('writes levels, records each change, refuses writes after close, closes twice harmlessly', () => {
    const rig = make();
    const pin = rig.backend.openOutput(530, 0);
    pin.write(1);
    pin.write(1);
    pin.write(0);
    expect(rig.history(530)).toEqual([0, 1, 0]);
    pin.close();
    pin.close();
    expect(() => pin.write(1)).toThrowError(VillageError);
    expect(rig.level(530)).toBe(0);
  });

  it('can open a line again after close', () => {
    const rig = make();
    rig.backend.openOutput(531, 1).close();
    const again = rig.backend.openOutput(531, 1);
    expect(again.read()).toBe(1);
    again.close();
  });
});

describe('OnoffBackend outputs', () => {
  it('asks onoff for direction "high"/"low", never "out", with activeLow written false', () => {
    make();
    const backend = new OnoffBackend(KernelGpio as unknown as OnoffGpioClass);
    backend.openOutput(529, 1);
    backend.openOutput(530, 0);
    expect(KernelGpio.constructed).toEqual([
      { gpio: 529, direction: 'high', edge: 'none', options: { activeLow: false } },
      { gpio: 530, direction: 'low', edge: 'none', options: { activeLow: false } },
    ]);
  });

  it('refuses a line left an input by a direction write onoff ignored', () => {
    make();
    KernelGpio.line(532).ignoreDirection = true;
    const backend = new OnoffBackend(KernelGpio as unknown as OnoffGpioClass);
    expect(() => backend.openOutput(532, 1)).toThrowError(/sysfs 532 as output: it stays an input/);
    expect(KernelGpio.line(532).exported).toBe(false);
  });

  it('explains an export that fails', () => {
    class Busy {
      constructor() {
        throw Object.assign(new Error('EBUSY: resource busy, write'), { code: 'EBUSY' });
      }
    }
    const backend = new OnoffBackend(Busy as unknown as OnoffGpioClass);
    expect(() => backend.openOutput(4, 0)).toThrowError(/cannot open GPIO sysfs 4 as output: the line is used by another program/);
  });

  function make(): void {
    KernelGpio.lines.clear();
    KernelGpio.constructed = [];
  }
});

describe.each(rigs)('GpioOutput on $name pins', ({ make }) => {
  const setup = (input: Record<string, unknown>, chipBase = 512) => {
    const rig = make();
    const clock = new ManualClock(T0);
    const { log, lines } = capturingLog();
    const config = actuator({ id: 'valve-1', output: { driver: 'gpio', pin: 17 }, ...input });
    const output = new GpioOutput(config, { pins: rig.backend, chipBase, clock, log });
    return { rig, clock, output, lines, sysfs: chipBase + 17 };
  };

  it.each(WIRINGS)('activeLow $activeLow, safe $safeState: open drives level $safeLevel with one recorded level, set and close follow', async ({ activeLow, safeState, safeLevel, onLevel }) => {
    const { rig, output, sysfs } = setup({ activeLow, safeState });
    // The line held the other level before (a previous program, or the pull at boot).
    rig.preset(sysfs, safeLevel === 1 ? 0 : 1);
    await output.open();
    expect(rig.level(sysfs)).toBe(safeLevel);
    expect(rig.history(sysfs)).toEqual([safeLevel]);
    expect(output.on).toBe(safeState === 'on');

    await output.set(true);
    expect([output.on, rig.level(sysfs)]).toEqual([true, onLevel]);
    await output.set(false);
    expect([output.on, rig.level(sysfs)]).toEqual([false, onLevel === 1 ? 0 : 1]);

    await output.set(safeState !== 'on');
    await output.close();
    expect(rig.level(sysfs)).toBe(safeLevel);
    expect(output.on).toBe(safeState === 'on');
    const after = rig.history(sysfs).length;
    await output.close();
    expect(rig.history(sysfs)).toHaveLength(after);
    await expect(output.set(true)).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE', message: expect.stringMatching(/valve-1 \(GPIO17\) is not open/) });
  });

  it('opens twice without a second write, and reopens after close in the safe state', async () => {
    const { rig, output, sysfs } = setup({ activeLow: true });
    await output.open();
    await output.open();
    expect(rig.history(sysfs)).toEqual([1]);
    await output.set(true);
    await output.close();
    await output.open();
    expect([output.on, rig.level(sysfs)]).toEqual([false, 1]);
    await output.close();
  });
});

describe('GpioOutput failures and listeners (simulated pins)', () => {
  const setup = () => {
    const sim = new SimulatedPinBackend();
    const clock = new ManualClock(T0);
    const { log, lines } = capturingLog();
    const output = new GpioOutput(actuator({ id: 'pump-1', kind: 'pump', output: { driver: 'gpio', pin: 22 }, activeLow: true }), { pins: sim, chipBase: 0, clock, log });
    return { sim, clock, log, lines, output };
  };

  it('a line that cannot be claimed rejects open with GPIO_UNAVAILABLE, and set says it is not open', async () => {
    const { sim, output } = setup();
    sim.fail(22, new VillageError('GPIO_UNAVAILABLE', 'GPIO sysfs 22 is busy'));
    await expect(output.open()).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE', message: 'GPIO sysfs 22 is busy' });
    await expect(output.set(true)).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE' });
    await output.close();
    expect(sim.history(22)).toEqual([]);
  });

  it('without a GPIO backend open rejects with GPIO_UNAVAILABLE', async () => {
    const { log } = capturingLog();
    const output = new GpioOutput(actuator({ id: 'light-1', kind: 'light', output: { driver: 'gpio', pin: 5 } }), { pins: undefined, chipBase: 0, clock: new ManualClock(T0), log });
    await expect(output.open()).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE', message: expect.stringContaining('light-1 (GPIO5)') });
  });

  it('a failing write rejects and keeps the last confirmed state; close still releases and logs', async () => {
    const { sim, output, lines } = setup();
    await output.open();
    await output.set(true);
    sim.failWrites(22, new VillageError('GPIO_UNAVAILABLE', 'write EIO'));
    await expect(output.set(false)).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE', message: 'write EIO' });
    expect(output.on).toBe(true);
    await output.close();
    expect(sim.isOpen(22)).toBe(false);
    expect(lines.some((l) => l.level === 50 && String(l.msg).includes('cannot write its safe state on close'))).toBe(true);
  });

  it('tells listeners each confirmed change with its time; a throwing listener does not stop the others', async () => {
    const { clock, output, lines } = setup();
    const heard: [boolean, number][] = [];
    output.onChange(() => {
      throw new Error('listener bug');
    });
    const off = output.onChange((c) => heard.push([c.on, c.at - T0]));
    await output.open();
    clock.advance(1000);
    await output.set(true);
    await output.set(true);
    clock.advance(500);
    await output.set(false);
    off();
    await output.set(true);
    expect(heard).toEqual([
      [true, 1000],
      [false, 1500],
    ]);
    expect(lines.filter((l) => String(l.msg).includes('a change listener failed'))).toHaveLength(3);
  });
});
