/**
 * The simulated village follows the outputs: a zone waters its field from its tank only while
 * its valve and pump are on, the pump's flow meter pulses with that flow, and a Modbus relay on
 * a simulated bus answers like a real board.
 */
import { describe, expect, it } from 'vitest';
import { zoneSchema, type Reading } from '@smart-village/shared';
import { ManualClock, systemClock } from '../../src/clock.js';
import { parseConfigText, type EdgeConfig } from '../../src/config.js';
import { GpioInputDriver } from '../../src/gpio/driver.js';
import { createLogger, RateLimitedLog } from '../../src/log.js';
import { ModbusSerialLink } from '../../src/modbus/link.js';
import { createOutputs, openOutputs } from '../../src/outputs/create.js';
import { BusQueue } from '../../src/poller.js';
import { SimulatedField } from '../../src/sim/devices.js';
import { bindSimulatedIrrigation } from '../../src/sim/irrigation.js';

const MIN = 60_000;
/** 05:00 in Can Tho (UTC+7). */
const T0 = Date.UTC(2025, 2, 20, 5) - 7 * 3_600_000;
const log = createLogger({ level: 'silent' });

const VILLAGE = `
version: 1
site: { id: my-hoa, name: My Hoa, timezone: Asia/Ho_Chi_Minh, lat: 10.03, lon: 105.78 }
edge: { id: pi-1, gpio: { driver: simulated } }
buses:
  - { id: rs485-1, type: simulated, timeout: 500ms }
devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1 }
  - { id: soil-2, bus: rs485-1, profile: soil-th-ec-rs485, slave: 2 }
  - { id: tank, bus: rs485-1, profile: level-ultrasonic-dyp-a02, slave: 5, overrides: { level: { quantity: water-fill, scale: -0.0454545, offset: 100, max: 100 } } }
  - { id: pump-flow, driver: gpio, pin: 27, mode: flow-meter, interval: 10s }
sensors:
  - { id: ruong-1-do-am, source: soil-1/moisture, field: ruong-1 }
  - { id: ruong-2-do-am, source: soil-2/moisture, field: ruong-2 }
  - { id: bon-nuoc-muc, source: tank/level, field: bon-nuoc }
actuators:
  - { id: valve-1, kind: valve, output: { driver: gpio, pin: 5 }, activeLow: true }
  - { id: valve-2, kind: valve, output: { driver: simulated } }
  - { id: pump-1, kind: pump, output: { driver: simulated } }
  - { id: light-1, kind: light, output: { driver: simulated } }
  - { id: relay-1, kind: master-valve, output: { driver: modbus, bus: rs485-1, slave: 20, coil: 3 } }
zones:
  - { id: zone-1, field: ruong-1, valve: valve-1, pump: pump-1, tank: bon-nuoc-muc, flowLpm: 30 }
  - { id: zone-2, valve: valve-2, moisture: { sensor: ruong-2-do-am, start: 20, target: 30 } }
`;

/** The village with its outputs open and bound (the modbus relay left out: no bus queue here). */
async function village(config: EdgeConfig, bind: boolean) {
  const clock = new ManualClock(T0);
  const field = new SimulatedField(config, clock, log);
  const actuators = config.site.actuators.filter((a) => a.output.driver !== 'modbus');
  const outputs = createOutputs(actuators, { pins: field.pins, chipBase: 0, busQueues: new Map(), clock, log });
  expect([...(await openOutputs(outputs, log)).keys()]).toEqual([]);
  const unbind = bind ? bindSimulatedIrrigation(field, config.site.zones, actuators, outputs) : () => undefined;
  const at = (id: string) => {
    const o = outputs.get(id);
    if (!o) throw new Error(id);
    return o;
  };
  /** Runs the model `ms` further on the manual clock. */
  const run = (ms: number): void => {
    clock.advance(ms);
    field.village.advanceTo(clock.now());
  };
  return { clock, field, outputs, at, run, unbind, v: field.village };
}

describe('bindSimulatedIrrigation', () => {
  it('waters the zone from its tank only while valve and pump are on; soil rises, the tank falls', async () => {
    const config = parseConfigText(VILLAGE);
    const watered = await village(config, true);
    const control = await village(config, false);
    const both = (fn: (x: typeof watered) => void): void => [watered, control].forEach(fn);

    // The valve alone delivers nothing: the zone has a pump.
    await watered.at('valve-1').set(true);
    both((x) => x.run(10 * MIN));
    expect(watered.v.value('ruong-1', 'volume')).toBe(0);
    expect(watered.v.value('bon-nuoc', 'volume')).toBe(control.v.value('bon-nuoc', 'volume'));

    await watered.at('pump-1').set(true);
    expect(watered.v.value('bon-nuoc', 'flow')).toBe(30);
    both((x) => x.run(40 * MIN));
    await watered.at('pump-1').set(false);
    both((x) => x.run(20 * MIN));
    await watered.at('valve-1').set(false);
    both((x) => x.run(30 * MIN));

    // 40 min at 30 L/min, from the tank, into ruong-1 only.
    expect(watered.v.value('ruong-1', 'volume')).toBeCloseTo(1200, 6);
    expect(control.v.value('bon-nuoc', 'volume') - watered.v.value('bon-nuoc', 'volume')).toBeCloseTo(1200, 6);
    // 1200 L on a field of 800-1600 m² is about 1 mm: +0.25 to +0.5 %VWC in a 300 mm root zone.
    expect(watered.v.value('ruong-1', 'soil-moisture') - control.v.value('ruong-1', 'soil-moisture')).toBeGreaterThan(0.2);
    expect(watered.v.value('ruong-2', 'soil-moisture')).toBe(control.v.value('ruong-2', 'soil-moisture'));
    expect(watered.v.value('bon-nuoc', 'flow')).toBe(0);

    // zone-2 has no pump and no tank: its valve waters ruong-2 (found by its moisture sensor) from the canal at 20 L/min.
    await watered.at('valve-2').set(true);
    watered.run(15 * MIN);
    await watered.at('valve-2').set(false);
    expect(watered.v.value('ruong-2', 'volume')).toBeCloseTo(300, 6);
    // Lights change nothing in the fields.
    await watered.at('light-1').set(true);
    watered.run(MIN);
    expect(watered.v.value('ruong-1', 'flow') + watered.v.value('ruong-2', 'flow')).toBe(0);
  });

  it.each([
    { source: 'the tank', yaml: VILLAGE },
    // Before the binding the meter followed the first tank's draw and read 0 here.
    { source: 'the canal (no tank)', yaml: VILLAGE.replace(' tank: bon-nuoc-muc,', '') },
  ])('the pump flow meter pulses with the flow through the pump from $source, and stops with it', async ({ yaml }) => {
    const config = parseConfigText(yaml);
    const { clock, field, at } = await village(config, true);
    const readings: Reading[] = [];
    const meter = new GpioInputDriver({ devices: config.gpio, clock, log, onReadings: (r) => readings.push(...r), backend: field.pins, chipBase: 0 });
    await meter.start();
    field.start();
    const flow = (): (number | null)[] => readings.filter((r) => r.sensor === 'pump-flow-flow').map((r) => r.value);

    clock.advance(10_000);
    await at('valve-1').set(true);
    clock.advance(10_000);
    await at('pump-1').set(true);
    clock.advance(40_000);
    await at('pump-1').set(false);
    clock.advance(20_000);
    field.stop();
    await meter.stop();

    // 10 s windows: idle, valve only, then the pump's (the first one partly), then off again.
    const values = flow();
    expect(values.slice(0, 2)).toEqual([0, 0]);
    const pumping = values.slice(2, 6) as number[];
    expect(pumping.filter((v) => Math.abs(v - 30) < 0.5).length).toBeGreaterThanOrEqual(3);
    for (const v of pumping) expect(v).toBeGreaterThan(25);
    for (const v of pumping) expect(v).toBeLessThan(30.5);
    expect(values.slice(-1)).toEqual([0]);
  });

  it('a pump whose tank ran dry delivers nothing and its meter says so', async () => {
    const config = parseConfigText(VILLAGE);
    const { field, at, run, v } = await village(config, true);
    await at('valve-1').set(true);
    await at('pump-1').set(true);
    // 3500 L at 30 L/min against 2 L/min inflow: dry after about two hours.
    run(3 * 60 * MIN);
    expect(v.dryRun('bon-nuoc')).toBe(true);
    const edges: number[] = [];
    field.pins.open(27, { edge: 'both' }).watch((level) => edges.push(level));
    field.refresh();
    run(2000);
    expect(edges).toEqual([]);
  });

  it('unbinding stops the water it started', async () => {
    const config = parseConfigText(VILLAGE);
    const { at, run, unbind, v } = await village(config, true);
    await at('valve-2').set(true);
    run(MIN);
    unbind();
    run(10 * MIN);
    expect(v.value('ruong-2', 'flow')).toBe(0);
    expect(v.value('ruong-2', 'volume')).toBeCloseTo(20, 6);
    await at('valve-2').set(false);
    await at('valve-2').set(true);
    expect(v.value('ruong-2', 'flow')).toBe(0);
  });

  it.each([
    { name: 'a field the village does not have', zone: { field: 'nowhere', valve: 'valve-2' }, message: /zone "z": the simulated village has no field "nowhere".*ruong-1, ruong-2/ },
    { name: 'a tank sensor that measures no tank', zone: { field: 'ruong-1', valve: 'valve-2', tank: 'ruong-1-do-am' }, message: /zone "z": tank sensor "ruong-1-do-am" measures no simulated tank \(tanks: bon-nuoc\)/ },
    { name: 'a valve that is no actuator', zone: { field: 'ruong-1', valve: 'relay-x' }, message: /zone "z": its valve "relay-x" is not among the actuators/ },
    { name: 'an actuator without an output', zone: { field: 'ruong-1', valve: 'valve-2', pump: 'relay-1' }, message: /zone "z": no output for its pump "relay-1"/ },
  ])('refuses $name, naming the zone', async ({ zone, message }) => {
    const config = parseConfigText(VILLAGE);
    const { field, outputs } = await village(config, false);
    expect(() => bindSimulatedIrrigation(field, [zoneSchema.parse({ id: 'z', ...zone })], config.site.actuators, outputs)).toThrowError(message);
  });
});

describe('a Modbus relay on a simulated bus', () => {
  it('has its coil on the simulated line and switches like a real board', async () => {
    const config = parseConfigText(VILLAGE);
    const field = new SimulatedField(config, systemClock, log);
    const bus = config.site.buses[0]!;
    const queue = new BusQueue(bus, new ModbusSerialLink(bus, () => field.portFor(bus.id)), systemClock, log, new RateLimitedLog(log, () => Date.now()));
    try {
      const relay = config.site.actuators.filter((a) => a.id === 'relay-1');
      const outputs = createOutputs(relay, { busQueues: new Map([[bus.id, queue]]), clock: systemClock, log });
      expect([...(await openOutputs(outputs, log)).keys()]).toEqual([]);
      await outputs.get('relay-1')?.set(true);
      expect(outputs.get('relay-1')?.on).toBe(true);
      await outputs.get('relay-1')?.close();
      expect(outputs.get('relay-1')?.on).toBe(false);
    } finally {
      await queue.stop();
    }
  });
});
