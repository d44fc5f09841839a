/**
 * LeaseKeeper: every ON is a lease the keeper ends with its own timer, capped by maxRuntime,
 * applied in a safe order, with driver failures reported and retried [DESIGN principle 5].
 * Outputs are small recorders on a ManualClock, so each switch is seen with its instant.
 */
import { describe, expect, it } from 'vitest';
import { actuatorSchema, VillageError, type ActuatorConfig } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import type { DesiredOutput } from '../../src/control/core.js';
import { LeaseKeeper } from '../../src/control/leases.js';
import { createLogger } from '../../src/log.js';
import type { Output } from '../../src/outputs/types.js';

const SEC = 1000;
const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 2, 0, 0);

type Switch = { id: string; on: boolean; at: number };

/** An output that records every set() (and its clock time) in a log shared by all outputs. */
class RecordingOutput implements Output {
  on = false;
  closed = 0;
  /** While set, set() rejects with this message and the state stays. */
  failWith: string | undefined;

  constructor(
    readonly id: string,
    readonly kind: ActuatorConfig['kind'],
    private readonly clock: ManualClock,
    private readonly log: Switch[],
  ) {}

  async open(): Promise<void> {}

  async set(on: boolean): Promise<void> {
    this.log.push({ id: this.id, on, at: this.clock.now() });
    if (this.failWith !== undefined) throw new VillageError('MODBUS_TIMEOUT', this.failWith);
    this.on = on;
  }

  async close(): Promise<void> {
    this.closed++;
    this.on = false;
  }
}

function rig(actuators: { id: string; kind: ActuatorConfig['kind']; maxRuntime?: string }[]) {
  const clock = new ManualClock(T0);
  const switches: Switch[] = [];
  const told: string[] = [];
  const configs = actuators.map((a) => actuatorSchema.parse({ ...a, output: { driver: 'simulated' } }));
  const outputs = new Map(configs.map((a) => [a.id, new RecordingOutput(a.id, a.kind, clock, switches)]));
  const keeper = new LeaseKeeper(outputs, configs, clock, createLogger({ level: 'silent' }), {
    fault: (id, message) => told.push(`fault ${id}: ${message}`),
    ok: (id) => told.push(`ok ${id}`),
    expired: (id, heldMs) => told.push(`expired ${id} after ${heldMs} ms`),
  });
  const apply = (want: Record<string, { on: boolean; until?: number }>): Promise<void> =>
    keeper.apply(new Map(Object.entries(want).map(([id, w]): [string, DesiredOutput] => [id, { ...w, reason: w.on ? 'test' : 'idle' }])));
  const out = (id: string): RecordingOutput => outputs.get(id) as RecordingOutput;
  return { clock, switches, told, keeper, apply, out };
}

const PUMPED = [
  { id: 'van-chinh', kind: 'master-valve' as const },
  { id: 'van-1', kind: 'valve' as const },
  { id: 'bom-1', kind: 'pump' as const },
];

describe('LeaseKeeper', () => {
  it('turns an ON off with its own timer at the lease end, with nobody calling apply again', async () => {
    const { clock, switches, told, keeper, apply, out } = rig([{ id: 'van-1', kind: 'valve' }]);
    await apply({ 'van-1': { on: true, until: T0 + 10 * MIN } });
    expect(keeper.leaseEndOf('van-1')).toBe(T0 + 10 * MIN);
    expect(keeper.state()).toEqual([{ id: 'van-1', kind: 'valve', on: true, until: T0 + 10 * MIN, reason: 'test' }]);
    await clock.advanceAsync(10 * MIN - SEC, 10 * MIN);
    expect(out('van-1').on).toBe(true);
    await clock.advanceAsync(SEC, SEC);
    expect(switches).toEqual([
      { id: 'van-1', on: true, at: T0 },
      { id: 'van-1', on: false, at: T0 + 10 * MIN },
    ]);
    expect(out('van-1').on).toBe(false);
    expect(keeper.leaseEndOf('van-1')).toBeUndefined();
    // The end control planned is no expiry to warn about once control lets go.
    await apply({ 'van-1': { on: false } });
    expect(told).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it.each([
    { kind: 'valve', maxRuntime: undefined, cap: HOUR },
    { kind: 'pump', maxRuntime: undefined, cap: HOUR },
    { kind: 'master-valve', maxRuntime: undefined, cap: HOUR },
    { kind: 'light', maxRuntime: undefined, cap: 14 * HOUR },
    { kind: 'valve', maxRuntime: '30m', cap: 30 * MIN },
    { kind: 'light', maxRuntime: '6h', cap: 6 * HOUR },
  ] as const)('a $kind (maxRuntime $maxRuntime) is never on longer than $cap ms, whatever control asks', async ({ kind, maxRuntime, cap }) => {
    const { clock, switches, told, keeper, apply } = rig([{ id: 'ra', kind, ...(maxRuntime !== undefined && { maxRuntime }) }]);
    const want = { ra: { on: true, until: T0 + 20 * HOUR } };
    await apply(want);
    expect(keeper.leaseEndOf('ra')).toBe(T0 + cap);
    await clock.advanceAsync(cap, cap);
    expect(switches).toEqual([
      { id: 'ra', on: true, at: T0 },
      { id: 'ra', on: false, at: T0 + cap },
    ]);
    expect(told).toEqual([`expired ra after ${cap} ms`]);
    // Control still wants it on: it stays off until control lets go and asks again.
    await apply(want);
    expect(switches.length).toBe(2);
    await apply({ ra: { on: false } });
    await apply(want);
    expect(switches.at(-1)).toEqual({ id: 'ra', on: true, at: T0 + cap });
  });

  it('renewing a lease keeps the time it went on: the cap counts from then', async () => {
    const { clock, keeper, apply, switches } = rig([{ id: 'van-1', kind: 'valve' }]);
    await apply({ 'van-1': { on: true, until: T0 + 50 * MIN } });
    await clock.advanceAsync(40 * MIN, 40 * MIN);
    await apply({ 'van-1': { on: true, until: T0 + 100 * MIN } });
    expect(keeper.leaseEndOf('van-1')).toBe(T0 + HOUR);
    // A shorter lease is taken too.
    await apply({ 'van-1': { on: true, until: T0 + 45 * MIN } });
    expect(keeper.leaseEndOf('van-1')).toBe(T0 + 45 * MIN);
    await clock.advanceAsync(5 * MIN, 5 * MIN);
    expect(switches.map((s) => [s.on, s.at])).toEqual([
      [true, T0],
      [false, T0 + 45 * MIN],
    ]);
  });

  it('switches on master valve → valve → pump and off pump → valve → master valve', async () => {
    const { switches, apply } = rig(PUMPED);
    const until = T0 + 10 * MIN;
    await apply({ 'bom-1': { on: true, until }, 'van-1': { on: true, until }, 'van-chinh': { on: true, until } });
    await apply({ 'bom-1': { on: false }, 'van-1': { on: false }, 'van-chinh': { on: false } });
    expect(switches.map((s) => `${s.id} ${s.on ? 'on' : 'off'}`)).toEqual(['van-chinh on', 'van-1 on', 'bom-1 on', 'bom-1 off', 'van-1 off', 'van-chinh off']);
  });

  it('an output missing from what control wants is turned off', async () => {
    const { switches, apply } = rig(PUMPED);
    await apply({ 'van-1': { on: true, until: T0 + MIN } });
    await apply({});
    expect(switches.map((s) => `${s.id} ${s.on ? 'on' : 'off'}`)).toEqual(['van-1 on', 'van-1 off']);
  });

  it('a failing set() is reported as a fault, retried on the next pass, then reported ok', async () => {
    const { switches, told, keeper, apply, out } = rig([{ id: 'van-1', kind: 'valve' }]);
    const want = { 'van-1': { on: true, until: T0 + 10 * MIN } };
    out('van-1').failWith = 'no answer from relay board slave 3';
    await apply(want);
    expect(told).toEqual(['fault van-1: no answer from relay board slave 3']);
    expect(keeper.state()).toEqual([{ id: 'van-1', kind: 'valve', on: false, reason: 'test', fault: 'no answer from relay board slave 3' }]);
    out('van-1').failWith = undefined;
    await apply(want);
    expect(told).toEqual(['fault van-1: no answer from relay board slave 3', 'ok van-1']);
    expect(out('van-1').on).toBe(true);
    expect(keeper.state()[0]).toEqual({ id: 'van-1', kind: 'valve', on: true, until: T0 + 10 * MIN, reason: 'test' });

    // An output that cannot be turned OFF stays on record as on, and the off is retried.
    out('van-1').failWith = 'no answer from relay board slave 3';
    await apply({ 'van-1': { on: false } });
    expect(keeper.state()[0]).toMatchObject({ on: true, fault: 'no answer from relay board slave 3' });
    out('van-1').failWith = undefined;
    await apply({ 'van-1': { on: false } });
    expect(keeper.state()[0]).toEqual({ id: 'van-1', kind: 'valve', on: false, reason: 'idle' });
    expect(switches.map((s) => s.on)).toEqual([true, true, false, false]);
    expect(told.slice(2)).toEqual(['fault van-1: no answer from relay board slave 3', 'ok van-1']);
  });

  it('an output its lease could not turn off is turned off on the next pass, even while control still wants it on', async () => {
    const { clock, told, apply, out } = rig([{ id: 'van-1', kind: 'valve', maxRuntime: '30m' }]);
    const want = { 'van-1': { on: true, until: T0 + 2 * HOUR } };
    await apply(want);
    out('van-1').failWith = 'no answer from relay board slave 3';
    await clock.advanceAsync(30 * MIN, 30 * MIN);
    expect(out('van-1').on).toBe(true);
    expect(told).toEqual([`expired van-1 after ${30 * MIN} ms`, 'fault van-1: no answer from relay board slave 3']);
    out('van-1').failWith = undefined;
    await clock.advanceAsync(30 * SEC, 30 * SEC);
    await apply(want);
    expect(out('van-1').on).toBe(false);
    expect(told.at(-1)).toBe('ok van-1');
  });

  it('stop() closes every output, clears its timers and applies nothing after', async () => {
    const { clock, switches, keeper, apply, out } = rig(PUMPED);
    const until = T0 + 10 * MIN;
    await apply({ 'van-1': { on: true, until }, 'van-chinh': { on: true, until } });
    expect(clock.pending()).toBe(2);
    await keeper.stop();
    expect(PUMPED.map((a) => [a.id, out(a.id).closed, out(a.id).on])).toEqual([
      ['van-chinh', 1, false],
      ['van-1', 1, false],
      ['bom-1', 1, false],
    ]);
    expect(clock.pending()).toBe(0);
    const before = switches.length;
    await apply({ 'bom-1': { on: true, until } });
    expect(switches.length).toBe(before);
    expect(keeper.state().every((o) => !o.on)).toBe(true);
  });
  it('grants a new lease after a stall to a light whose control renews it, but never re-opens a valve past its run', async () => {
    const { clock, apply, out } = rig([
      { id: 'den-1', kind: 'light' },
      { id: 'van-1', kind: 'valve' },
    ]);
    await apply({ 'den-1': { on: true, until: T0 + 15 * MIN }, 'van-1': { on: true, until: T0 + 15 * MIN } });
    // Control stalls: both leases run out by the keeper's own timers.
    await clock.advanceAsync(15 * MIN, 15 * MIN);
    expect(out('den-1').on).toBe(false);
    expect(out('van-1').on).toBe(false);
    // Control comes back: the light's lux decision renews it 15 min from now; the valve's run
    // still ends when it ended.
    await clock.advanceAsync(5 * MIN, 5 * MIN);
    await apply({ 'den-1': { on: true, until: clock.now() + 15 * MIN }, 'van-1': { on: true, until: T0 + 15 * MIN } });
    expect(out('den-1').on).toBe(true);
    expect(out('van-1').on).toBe(false);
  });
});
