import { Writable } from 'node:stream';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { gpioDeviceSchema, readingSchema, type GpioDeviceConfig, type Reading } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { GpioInputDriver, type GpioInputDriverOptions } from '../../src/gpio/driver.js';
import { SimulatedPinBackend } from '../../src/gpio/simulated.js';

const T0 = Date.UTC(2025, 5, 1, 6, 0, 0);

function device(input: Record<string, unknown>): GpioDeviceConfig {
  return gpioDeviceSchema.parse({ driver: 'gpio', ...input });
}

function setup(devices: GpioDeviceConfig[], extra: Partial<GpioInputDriverOptions> = {}) {
  const clock = new ManualClock(T0);
  const sim = new SimulatedPinBackend(clock);
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ destination, level: 'debug', pretty: false });
  const batches: Reading[][] = [];
  const driver = new GpioInputDriver({
    devices,
    clock,
    log,
    onReadings: (r) => {
      for (const x of r) readingSchema.parse(x);
      batches.push(r);
    },
    backend: sim,
    chipBase: 512,
    ...extra,
  });
  const values = (sensor: string): (number | null)[] => batches.flat().filter((r) => r.sensor === sensor).map((r) => r.value);
  return { clock, sim, driver, batches, lines, values };
}

describe('GpioInputDriver', () => {
  it('opens BCM pins at chip base + pin and reports a digital state every interval', async () => {
    const { clock, sim, driver, batches, values } = setup([device({ id: 'float-1', pin: 17, mode: 'digital', interval: 1000 })]);
    await driver.start();
    expect(sim.openPins()).toEqual([529]);
    clock.advance(1000);
    expect(batches).toEqual([[{ sensor: 'float-1-state', ts: T0 + 1000, value: 0, unit: 'state', quality: 'good', clockSynced: true }]]);
    clock.advance(200);
    sim.set(529, 1);
    clock.advance(800);
    sim.set(529, 0); // 30 ms glitch in the next interval: filtered by the 50 ms default
    clock.advance(30);
    sim.set(529, 1);
    clock.advance(970);
    expect(values('float-1-state')).toEqual([0, 1, 1]);
    await driver.stop();
  });

  it('inverts active-low inputs', async () => {
    const { clock, sim, driver, values } = setup([device({ id: 'rain-sensor', pin: 4, mode: 'digital', activeLow: true, interval: 1000 })], { chipBase: 0 });
    sim.set(4, 1); // pulled up, dry
    await driver.start();
    clock.advance(1000);
    sim.set(4, 0); // wet: contact pulls the line low
    clock.advance(1000);
    expect(values('rain-sensor-state')).toEqual([0, 1]);
    await driver.stop();
  });

  it('counts rain gauge tips into mm per interval and a total', async () => {
    const { clock, sim, driver, values } = setup([device({ id: 'rain-1', pin: 5, mode: 'rain-gauge', interval: 60_000 })]);
    await driver.start();
    sim.pulse(517, 3, { periodMs: 200 });
    clock.advance(60_000);
    // Bouncy tip by hand: the 5 ms filter keeps one.
    sim.set(517, 1);
    clock.advance(1);
    sim.set(517, 0);
    clock.advance(1);
    sim.set(517, 1);
    clock.advance(80);
    sim.set(517, 0);
    clock.advance(2);
    sim.set(517, 1);
    clock.advance(1);
    sim.set(517, 0);
    clock.advance(60_000 - 85);
    clock.advance(60_000);
    expect(values('rain-1-rain')).toEqual([0.8382, 0.2794, 0]);
    expect(values('rain-1-rain-total')).toEqual([0.8382, 1.1176, 1.1176]);
    await driver.stop();
  });

  it('measures a flow meter in L/min and litres', async () => {
    const { clock, sim, driver, values } = setup([device({ id: 'flow-1', pin: 6, mode: 'flow-meter', interval: 60_000 })]);
    await driver.start();
    // 900 pulses at 100 Hz: 2 L in the first minute → 2 L/min averaged over it.
    sim.pulse(518, 900, { periodMs: 10 });
    clock.advance(60_000);
    clock.advance(60_000);
    expect(values('flow-1-flow')).toEqual([2, 0]);
    expect(values('flow-1-volume')).toEqual([2, 2]);
    await driver.stop();
  });

  it('a failed interrupt turns the interval into an error, not a "good" zero, and the pin is reopened', async () => {
    const { clock, sim, driver, values, lines } = setup([device({ id: 'flow-1', pin: 6, mode: 'flow-meter', interval: 60_000 })]);
    await driver.start();
    clock.advance(60_000);
    sim.breakInterrupts(518, new Error('EPOLL failed'));
    expect(sim.isOpen(518)).toBe(false);
    clock.advance(60_000); // this interval had no interrupts: error, and the pin opens again
    expect(sim.isOpen(518)).toBe(true);
    sim.pulse(518, 450, { periodMs: 10 });
    clock.advance(60_000);
    expect(values('flow-1-flow')).toEqual([0, null, 1]);
    expect(lines.some((l) => l.msg === 'GPIO interrupt failed')).toBe(true);
    await driver.stop();
  });

  it('reads a switch\'s level at each interval, so a missed edge heals', async () => {
    const { clock, sim, driver, values } = setup([device({ id: 'float-1', pin: 17, mode: 'digital', interval: 1000, debounce: 0 })]);
    await driver.start();
    clock.advance(1000);
    // The level changes without an interrupt reaching the driver (a lost edge).
    (sim as unknown as { lines: Map<number, { level: 0 | 1 }> }).lines.get(529)!.level = 1;
    clock.advance(1000);
    clock.advance(1000);
    expect(values('float-1-state').slice(-1)).toEqual([1]);
    await driver.stop();
  });

  it('uses a configured pulses-per-litre and debounce', async () => {
    const { clock, sim, driver, values } = setup([
      device({ id: 'flow-2', pin: 7, mode: 'flow-meter', interval: 60_000, pulsesPerLitre: 100, debounce: '20ms' }),
    ]);
    await driver.start();
    sim.pulse(519, 100, { periodMs: 60 }); // 30 ms halves: kept
    clock.advance(30_000);
    sim.pulse(519, 100, { periodMs: 20 }); // 10 ms halves: filtered out
    clock.advance(30_000);
    expect(values('flow-2-flow')).toEqual([1]);
    expect(values('flow-2-volume')).toEqual([1]);
    await driver.stop();
  });

  it('keeps its schedule independent per device and stamps clockSynced', async () => {
    let synced = false;
    const { clock, driver, batches } = setup(
      [device({ id: 'a', pin: 1, mode: 'digital', interval: 1000 }), device({ id: 'b', pin: 2, mode: 'digital', interval: 3000, stagger: 500 })],
      { clockSynced: () => synced },
    );
    await driver.start();
    clock.advance(1000);
    synced = true;
    clock.advance(3000);
    const seen = batches.flat().map((r) => [r.sensor, r.ts - T0, r.clockSynced]);
    expect(seen).toEqual([
      ['b-state', 500, false],
      ['a-state', 1000, false],
      ['a-state', 2000, true],
      ['a-state', 3000, true],
      ['b-state', 3500, true],
      ['a-state', 4000, true],
    ]);
    await driver.stop();
  });

  it('stop() releases every pin, hands over the partial interval of counters, and is idempotent', async () => {
    const { clock, sim, driver, values } = setup([
      device({ id: 'float-1', pin: 17, mode: 'digital', interval: 1000 }),
      device({ id: 'rain-1', pin: 27, mode: 'rain-gauge', interval: 60_000 }),
      device({ id: 'flow-1', pin: 22, mode: 'flow-meter', interval: 60_000 }),
    ]);
    await driver.start();
    await driver.start(); // no second open (the twin would refuse it)
    expect(sim.openPins().sort()).toEqual([529, 534, 539]);
    sim.pulse(539, 2, { periodMs: 100 });
    clock.advance(30_000);
    await driver.stop();
    expect(sim.openPins()).toEqual([]);
    expect(values('rain-1-rain')).toEqual([0.5588]);
    expect(values('flow-1-flow')).toEqual([0]);
    expect(values('float-1-state')).toHaveLength(30);
    await driver.stop();
    clock.advance(120_000);
    expect(values('float-1-state')).toHaveLength(30);
    expect(clock.pending()).toBe(0);
    // And it starts again cleanly.
    await driver.start();
    expect(sim.openPins().sort()).toEqual([529, 534, 539]);
    await driver.stop();
  });

  it('a pin that cannot be opened reports errors, is logged once, retried, and does not stop the others', async () => {
    const { clock, sim, driver, values, lines } = setup([
      device({ id: 'float-1', pin: 17, mode: 'digital', interval: 1000 }),
      device({ id: 'rain-1', pin: 27, mode: 'rain-gauge', interval: 1000 }),
    ]);
    sim.fail(539, Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' }));
    await driver.start();
    expect(sim.openPins()).toEqual([529]);
    clock.advance(5000);
    expect(values('float-1-state')).toEqual([0, 0, 0, 0, 0]);
    expect(values('rain-1-rain')).toEqual([null, null, null, null, null]);
    const openErrors = lines.filter((l) => l.msg === 'cannot open GPIO pin');
    expect(openErrors).toHaveLength(1);
    expect(openErrors[0]).toMatchObject({ device: 'rain-1', pin: 27, sysfsPin: 539, level: 50 });

    sim.fail(539, undefined);
    clock.advance(1000); // reopened at this tick: its interval still had no data
    sim.pulse(539, 1);
    clock.advance(1000);
    expect(values('rain-1-rain').slice(5)).toEqual([null, 0.2794]);
    expect(lines.some((l) => l.msg === 'GPIO pin opened after earlier failure')).toBe(true);
    await driver.stop();
    expect(sim.openPins()).toEqual([]);
  });

  it('survives a consumer that throws', async () => {
    const clock = new ManualClock(T0);
    const sim = new SimulatedPinBackend(clock);
    let calls = 0;
    const driver = new GpioInputDriver({
      devices: [device({ id: 'float-1', pin: 17, mode: 'digital', interval: 1000 })],
      clock,
      log: createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), pretty: false }),
      onReadings: () => {
        calls++;
        throw new Error('store closed');
      },
      backend: sim,
    });
    await driver.start();
    clock.advance(3000);
    expect(calls).toBe(3);
    await driver.stop();
  });

  it('without a backend on a machine without GPIO: starts, logs the fix, reports errors', async () => {
    const missing = join(tmpdir(), 'sv-no-gpio-here', 'gpio');
    const { clock, driver, values, lines, batches } = setup([device({ id: 'float-1', pin: 17, mode: 'digital', interval: 1000 })], {
      backend: undefined,
      chipBase: 'auto',
      sysfsRoot: missing,
    });
    await driver.start();
    clock.advance(3000);
    // Each tick retries the backend (a real fs look-up) before reporting.
    await vi.waitFor(() => expect(values('float-1-state')).toEqual([null, null, null]), { timeout: 5000 });
    expect(batches.flat().map((r) => r.ts - T0)).toEqual([1000, 2000, 3000]);
    const unavailable = lines.filter((l) => l.code === 'GPIO_UNAVAILABLE');
    expect(unavailable).toHaveLength(1);
    expect(String(unavailable[0]?.err)).toContain('edge.gpio.driver: simulated');
    await driver.stop();
  });
});
