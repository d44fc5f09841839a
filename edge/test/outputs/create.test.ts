/**
 * createOutputs from a parsed site config: one driver per actuator, opened into the safe state;
 * a failing output is reported alone while the others open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { ManualClock, systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { SimulatedPinBackend } from '../../src/gpio/simulated.js';
import { RateLimitedLog } from '../../src/log.js';
import { ModbusSerialLink } from '../../src/modbus/link.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { TcpSlaveServer } from '../../src/modbus/tcp-slave.js';
import { closeOutputs, createOutputs, openOutputs } from '../../src/outputs/create.js';
import { GpioOutput } from '../../src/outputs/gpio.js';
import { ModbusCoilOutput } from '../../src/outputs/modbus.js';
import { SimulatedOutput } from '../../src/outputs/simulated.js';
import { BusQueue } from '../../src/poller.js';
import { capturingLog } from './helpers.js';

const HEADER = `
version: 1
site: { id: it, name: Outputs, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi-it, gpio: { driver: simulated } }
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('createOutputs', () => {
  it('builds each driver, opens all into their safe state, isolates the one that fails, closes all', async () => {
    const bank = new MemoryBank().define('coil', 0, 2).setBit('coil', 0, true);
    const server = new TcpSlaveServer({ units: new Map([[3, bank]]) });
    await server.start();
    cleanups.push(() => server.stop());
    const config = parseConfigText(`${HEADER}
buses:
  - { id: gw-1, type: tcp, host: 127.0.0.1, port: ${server.port}, timeout: 300ms, retries: 0 }
actuators:
  - { id: valve-1, kind: valve, output: { driver: gpio, pin: 17 }, activeLow: true }
  - { id: pump-1, kind: pump, output: { driver: modbus, bus: gw-1, slave: 3, coil: 0 } }
  - { id: light-1, kind: light, output: { driver: simulated }, safeState: on }
  - { id: valve-2, kind: valve, output: { driver: gpio, pin: 27 } }
`);
    const { log, lines } = capturingLog();
    const bus = config.site.buses[0];
    if (!bus) throw new Error('no bus');
    const queue = new BusQueue(bus, new ModbusSerialLink(bus), systemClock, log, new RateLimitedLog(log, () => systemClock.now()));
    cleanups.push(() => queue.stop());
    const pins = new SimulatedPinBackend();
    pins.fail(512 + 27, new VillageError('GPIO_UNAVAILABLE', 'GPIO sysfs 539 is used by w1-gpio'));
    const outputs = createOutputs(config.site.actuators, { pins, chipBase: 512, busQueues: new Map([['gw-1', queue]]), clock: new ManualClock(0), log });

    expect([...outputs.keys()]).toEqual(['valve-1', 'pump-1', 'light-1', 'valve-2']);
    expect(outputs.get('valve-1')).toBeInstanceOf(GpioOutput);
    expect(outputs.get('pump-1')).toBeInstanceOf(ModbusCoilOutput);
    expect(outputs.get('light-1')).toBeInstanceOf(SimulatedOutput);
    // Constructors only assign.
    expect(pins.openPins()).toEqual([]);
    expect(bank.get('coil', 0)).toBe(1);

    const failed = await openOutputs(outputs, log);
    expect([...failed.keys()]).toEqual(['valve-2']);
    expect(failed.get('valve-2')?.message).toContain('w1-gpio');
    expect(lines.some((l) => l.output === 'valve-2' && l.level === 50)).toBe(true);
    expect([pins.level(529), pins.history(529).length]).toEqual([1, 1]);
    expect(bank.get('coil', 0)).toBe(0);
    expect(outputs.get('light-1')?.on).toBe(true);

    await outputs.get('valve-1')?.set(true);
    await outputs.get('pump-1')?.set(true);
    expect([pins.level(529), bank.get('coil', 0)]).toEqual([0, 1]);

    await closeOutputs(outputs);
    expect([pins.level(529), bank.get('coil', 0)]).toEqual([1, 0]);
    expect(pins.openPins()).toEqual([]);
    expect([...outputs.values()].map((o) => o.on)).toEqual([false, false, true, false]);
  });

  it('a modbus actuator whose bus has no queue fails at open, not at construction', async () => {
    const config = parseConfigText(`${HEADER}
buses:
  - { id: line-9, type: rtu, port: /dev/ttyUSB9 }
actuators:
  - { id: pump-9, kind: pump, output: { driver: modbus, bus: line-9, slave: 1, coil: 0 } }
`);
    const { log } = capturingLog();
    const outputs = createOutputs(config.site.actuators, { busQueues: new Map(), clock: systemClock, log });
    const failed = await openOutputs(outputs, log);
    expect(failed.get('pump-9')).toMatchObject({ code: 'PORT_UNAVAILABLE' });
  });
});
