import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import type { PinBackend } from '../../src/gpio/backend.js';
import type { Level } from '../../src/gpio/inputs.js';
import { OnoffBackend, type OnoffGpioClass } from '../../src/gpio/onoff.js';
import { SimulatedPinBackend } from '../../src/gpio/simulated.js';

type Callback = (err: Error | null | undefined, value: Level) => void;

/** Stands in for onoff's Gpio: records how it was built, lets the test drive the line. */
class FakeGpio {
  static lines = new Map<number, Level>();
  static instances: FakeGpio[] = [];
  static failWith: NodeJS.ErrnoException | undefined;
  static accessible = true;
  listeners: Callback[] = [];
  unexported = 0;
  constructor(
    readonly gpio: number,
    readonly direction: string,
    readonly edge?: string,
    readonly options?: Record<string, unknown>,
  ) {
    if (FakeGpio.failWith) throw FakeGpio.failWith;
    FakeGpio.instances.push(this);
  }
  readSync(): Level {
    return FakeGpio.lines.get(this.gpio) ?? 0;
  }
  watch(cb: Callback): void {
    this.listeners.push(cb);
  }
  unexport(): void {
    this.unexported++;
    this.listeners = [];
  }
  static drive(gpio: number, level: Level, err?: Error): void {
    FakeGpio.lines.set(gpio, level);
    for (const i of FakeGpio.instances) if (i.gpio === gpio) for (const cb of i.listeners) cb(err ?? null, level);
  }
}
const fakeOnoff = (): OnoffBackend => new OnoffBackend(FakeGpio as unknown as OnoffGpioClass);

/** The contract every PinBackend passes; `drive` moves the electrical level of a line. */
function pinBackendContract(name: string, make: () => { backend: PinBackend; drive: (sysfsPin: number, level: Level) => void }): void {
  describe(`PinBackend contract: ${name}`, () => {
    it('reads the level and hears changes', () => {
      const { backend, drive } = make();
      drive(529, 1);
      const pin = backend.open(529, { edge: 'both' });
      expect(pin.read()).toBe(1);
      const heard: Level[] = [];
      pin.watch((v) => heard.push(v));
      drive(529, 0);
      drive(529, 1);
      expect(heard).toEqual([0, 1]);
      expect(pin.read()).toBe(1);
      pin.close();
    });

    it('stops reporting after close, and close twice is harmless', () => {
      const { backend, drive } = make();
      drive(530, 0);
      const pin = backend.open(530, { edge: 'both' });
      const heard: Level[] = [];
      pin.watch((v) => heard.push(v));
      pin.close();
      pin.close();
      drive(530, 1);
      expect(heard).toEqual([]);
    });

    it('can open a line again after close', () => {
      const { backend } = make();
      backend.open(531, { edge: 'both' }).close();
      backend.open(531, { edge: 'both' }).close();
    });
  });
}

pinBackendContract('simulated', () => {
  const backend = new SimulatedPinBackend();
  return { backend, drive: (p, l) => backend.set(p, l) };
});
pinBackendContract('onoff (fake Gpio)', () => {
  FakeGpio.instances = [];
  FakeGpio.lines.clear();
  FakeGpio.failWith = undefined;
  return { backend: fakeOnoff(), drive: (p, l) => FakeGpio.drive(p, l) };
});

describe('OnoffBackend', () => {
  it('opens an input on both edges with onoff debounce off and activeLow written false', () => {
    FakeGpio.instances = [];
    FakeGpio.failWith = undefined;
    fakeOnoff().open(529, { edge: 'both' });
    const g = FakeGpio.instances[0];
    expect([g?.gpio, g?.direction, g?.edge, g?.options]).toEqual([529, 'in', 'both', { debounceTimeout: 0, activeLow: false }]);
  });

  it('routes poller errors to onError, unexports once', () => {
    FakeGpio.instances = [];
    FakeGpio.failWith = undefined;
    const pin = fakeOnoff().open(540, { edge: 'both' });
    const values: Level[] = [];
    const errors: Error[] = [];
    pin.watch(
      (v) => values.push(v),
      (e) => errors.push(e),
    );
    FakeGpio.drive(540, 1, new Error('epoll failed'));
    FakeGpio.drive(540, 0);
    expect(values).toEqual([0]);
    expect(errors.map((e) => e.message)).toEqual(['epoll failed']);
    pin.close();
    pin.close();
    expect(FakeGpio.instances[0]?.unexported).toBe(1);
  });

  it.each([
    { code: 'EBUSY', text: 'used by another program' },
    { code: 'EINVAL', text: 'edge.gpio.chipBase' },
    { code: 'EACCES', text: 'gpio group' },
  ])('explains $code from export', ({ code, text }) => {
    FakeGpio.failWith = Object.assign(new Error(`${code}: write /sys/class/gpio/export`), { code });
    try {
      const err = (() => {
        try {
          fakeOnoff().open(17, { edge: 'both' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(VillageError);
      expect(err).toMatchObject({ code: 'GPIO_UNAVAILABLE', message: expect.stringContaining(text) });
      expect((err as VillageError).message).toContain('sysfs 17');
    } finally {
      FakeGpio.failWith = undefined;
    }
  });

  it.skipIf(existsSync('/sys/class/gpio'))('load() reports GPIO_UNAVAILABLE on a machine without GPIO', async () => {
    await expect(OnoffBackend.load()).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE', message: expect.stringContaining('edge.gpio.driver: simulated') });
  });
});

describe('SimulatedPinBackend', () => {
  it('refuses a second open of a line and a line set to fail', () => {
    const sim = new SimulatedPinBackend();
    sim.open(5, { edge: 'both' });
    expect(() => sim.open(5, { edge: 'both' })).toThrowError(/already open/);
    sim.fail(6, new Error('EBUSY'));
    expect(() => sim.open(6, { edge: 'both' })).toThrowError('EBUSY');
    sim.fail(6, undefined);
    expect(sim.open(6, { edge: 'both' }).read()).toBe(0);
    expect(sim.openPins().sort()).toEqual([5, 6]);
  });

  it('sends pulse trains on the clock', () => {
    const clock = new ManualClock(0);
    const sim = new SimulatedPinBackend(clock);
    const pin = sim.open(7, { edge: 'both' });
    const seen: [number, Level][] = [];
    pin.watch((v) => seen.push([clock.now(), v]));
    expect(sim.pulse(7, 2, { periodMs: 20 })).toBe(40);
    clock.advance(100);
    expect(seen).toEqual([
      [0, 1],
      [10, 0],
      [20, 1],
      [30, 0],
    ]);
  });

  it('pulse needs a clock', () => {
    expect(() => new SimulatedPinBackend().pulse(1, 1)).toThrowError(/needs a clock/);
  });
});
