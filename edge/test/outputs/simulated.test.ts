import { describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import { SimulatedOutput } from '../../src/outputs/simulated.js';
import { actuator, capturingLog, WIRINGS } from './helpers.js';

const T0 = Date.UTC(2025, 5, 1, 5, 30);

function setup(input: Record<string, unknown> = {}) {
  const clock = new ManualClock(T0);
  const { log, lines } = capturingLog();
  const output = new SimulatedOutput(actuator({ id: 'light-1', kind: 'light', output: { driver: 'simulated' }, ...input }), { clock, log });
  return { clock, output, lines };
}

describe('SimulatedOutput', () => {
  it.each(WIRINGS)('safe $safeState (activeLow $activeLow changes nothing logical): open records exactly the safe state', async ({ activeLow, safeState }) => {
    const { output } = setup({ activeLow, safeState });
    expect(output.kind).toBe('light');
    await output.open();
    await output.open();
    expect(output.on).toBe(safeState === 'on');
    expect(output.history()).toEqual([{ at: T0, on: safeState === 'on' }]);
  });

  it('records every change with its time, not repeated writes; close returns to safe, twice harmlessly', async () => {
    const { clock, output } = setup();
    const heard: [boolean, number][] = [];
    output.onChange((c) => heard.push([c.on, c.at - T0]));
    await output.open();
    clock.advance(60_000);
    await output.set(true);
    await output.set(true);
    clock.advance(60_000);
    await output.close();
    await output.close();
    expect(output.history().map((c) => [c.on, c.at - T0])).toEqual([
      [false, 0],
      [true, 60_000],
      [false, 120_000],
    ]);
    expect(heard).toEqual([
      [true, 60_000],
      [false, 120_000],
    ]);
    expect(output.isOpen).toBe(false);
    await expect(output.set(true)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('not open') });
  });

  it('fails like a driver when told to: rejects, keeps its state, heals', async () => {
    const { output } = setup();
    const broken = new VillageError('MODBUS_TIMEOUT', 'relay board does not answer');
    output.fail(broken);
    await expect(output.open()).rejects.toBe(broken);
    output.fail(undefined);
    await output.open();
    await output.set(true);
    output.fail(broken);
    await expect(output.set(false)).rejects.toBe(broken);
    expect(output.on).toBe(true);
    output.fail(undefined);
    await output.set(false);
    expect(output.history().map((c) => c.on)).toEqual([false, true, false]);
  });
});
