/**
 * ModbusCoilOutput against real slaves: an RtuSlaveServer behind a socat pty pair (the real
 * serialport path) and a TcpSlaveServer on loopback, through the BusQueue the poller uses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { busSchema, type BusConfig } from '@smart-village/shared';
import { systemClock } from '../../src/clock.js';
import { RateLimitedLog } from '../../src/log.js';
import { ModbusSerialLink } from '../../src/modbus/link.js';
import { RtuSlaveServer } from '../../src/modbus/rtu-slave.js';
import { MemoryBank, type RegisterBank } from '../../src/modbus/slave.js';
import { TcpSlaveServer } from '../../src/modbus/tcp-slave.js';
import { ModbusCoilOutput } from '../../src/outputs/modbus.js';
import { BusQueue } from '../../src/poller.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { actuator, capturingLog, WIRINGS } from './helpers.js';

/** A 4-relay board (coils 0-3) that also reports its supply voltage in holding register 0. */
function relayBoard(onWrite?: (address: number, values: readonly number[]) => void): MemoryBank {
  return new MemoryBank({ onWrite: (table, address, values) => table === 'coil' && onWrite?.(address, values) }).define('coil', 0, 4).setWord('holding', 0, 240);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function queueFor(bus: BusConfig): BusQueue {
  const { log } = capturingLog();
  const queue = new BusQueue(bus, new ModbusSerialLink(bus), systemClock, log, new RateLimitedLog(log, () => systemClock.now()));
  cleanups.push(() => queue.stop());
  return queue;
}

async function rtuLine(units: [number, RegisterBank][], timeout = 150): Promise<{ slave: RtuSlaveServer; queue: BusQueue }> {
  const pair: PtyPair = await openPtyPair();
  cleanups.push(() => pair.close());
  const slave = new RtuSlaveServer({ path: pair.b, units: new Map(units) });
  await slave.start();
  cleanups.push(() => slave.stop());
  const bus = busSchema.parse({ id: 'line-1', type: 'rtu', port: pair.a, baud: 9600, timeout, retries: 1 });
  return { slave, queue: queueFor(bus) };
}

function coilOutput(queue: BusQueue, input: Record<string, unknown> = {}) {
  const { log, lines } = capturingLog();
  const config = actuator({ id: 'valve-1', output: { driver: 'modbus', bus: queue.bus.id, slave: 1, coil: 2 }, ...input });
  const output = new ModbusCoilOutput(config, { queue, clock: systemClock, log });
  cleanups.push(() => output.close());
  return { output, lines };
}

describe('ModbusCoilOutput over Modbus RTU (socat pty pair)', () => {
  it.each(WIRINGS)('activeLow $activeLow, safe $safeState: open writes coil $safeLevel once; set and close follow', async ({ activeLow, safeState, safeLevel, onLevel }) => {
    const writes: number[] = [];
    const bank = relayBoard((address, values) => address === 2 && writes.push(...values));
    // The coil holds the other state before (the board kept it through our restart).
    bank.setBit('coil', 2, safeLevel === 0);
    const { queue } = await rtuLine([[1, bank]]);
    const { output } = coilOutput(queue, { activeLow, safeState });

    await output.open();
    expect(bank.get('coil', 2)).toBe(safeLevel);
    expect(writes).toEqual([safeLevel]);
    expect(output.on).toBe(safeState === 'on');

    await output.set(true);
    expect([output.on, bank.get('coil', 2)]).toEqual([true, onLevel]);
    await output.set(false);
    expect([output.on, bank.get('coil', 2)]).toEqual([false, 1 - onLevel]);
    await output.set(safeState !== 'on');
    await output.close();
    expect(bank.get('coil', 2)).toBe(safeLevel);
    expect(output.on).toBe(safeState === 'on');
    const count = writes.length;
    await output.close();
    expect(writes).toHaveLength(count);
    await expect(output.set(true)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('not open') });
  });

  it('an exception answer rejects at once with MODBUS_EXCEPTION and keeps the last confirmed state', async () => {
    const bank = relayBoard();
    const { slave, queue } = await rtuLine([[1, bank]]);
    const { output } = coilOutput(queue);
    await output.open();
    await output.set(true);
    slave.setFault(1, { kind: 'exception', code: 4 });
    const before = slave.requestsServed(1);
    await expect(output.set(false)).rejects.toMatchObject({
      code: 'MODBUS_EXCEPTION',
      message: expect.stringMatching(/valve-1 \(bus line-1 slave 1 coil 2\): cannot switch off: slave 1 answered exception 4/),
    });
    // The slave's deliberate answer is not retried.
    expect(slave.requestsServed(1) - before).toBe(1);
    expect(output.on).toBe(true);
    expect(bank.get('coil', 2)).toBe(1);
    slave.setFault(1, { kind: 'none' });
    await output.set(false);
    expect([output.on, bank.get('coil', 2)]).toEqual([false, 0]);
  });

  it('a coil the board does not have rejects open with exception 2', async () => {
    const { queue } = await rtuLine([[1, relayBoard()]]);
    const { output } = coilOutput(queue, { output: { driver: 'modbus', bus: 'line-1', slave: 1, coil: 9 } });
    await expect(output.open()).rejects.toMatchObject({ code: 'MODBUS_EXCEPTION', details: { exception: 2, output: 'valve-1' } });
    expect(output.on).toBe(false);
  });

  it('a slave that was down at open gets its safe state when open() is tried again', async () => {
    const bank = relayBoard().setBit('coil', 2, true);
    const { slave, queue } = await rtuLine([[1, bank]]);
    const { output } = coilOutput(queue);
    slave.setFault(1, { kind: 'silent' });
    await expect(output.open()).rejects.toMatchObject({ code: 'MODBUS_TIMEOUT' });
    expect(bank.get('coil', 2)).toBe(1);
    slave.setFault(1, { kind: 'none' });
    await output.open();
    expect(bank.get('coil', 2)).toBe(0);
    const served = slave.requestsServed(1);
    await output.open();
    expect(slave.requestsServed(1)).toBe(served);
  });

  it('a dead slave rejects with MODBUS_TIMEOUT after the retries and keeps the last confirmed state', async () => {
    const bank = relayBoard();
    const { slave, queue } = await rtuLine([[1, bank]]);
    const { output } = coilOutput(queue);
    await output.open();
    await output.set(true);
    slave.setFault(1, { kind: 'silent' });
    const before = slave.requestsServed(1);
    const started = Date.now();
    await expect(output.set(false)).rejects.toMatchObject({ code: 'MODBUS_TIMEOUT', message: expect.stringContaining('slave 1 did not answer') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(slave.requestsServed(1) - before).toBe(2);
    expect(output.on).toBe(true);
    expect(bank.get('coil', 2)).toBe(1);
  });

  it('a board that keeps its relay (manual override) rejects MODBUS_FRAME and reports the state it holds', async () => {
    // Answers FC05 with the echo but ignores it, as a board switched to manual does.
    const board = relayBoard();
    const stubborn: RegisterBank = {
      readWords: (t, a, q) => board.readWords(t, a, q),
      readBits: (t, a, q) => board.readBits(t, a, q),
      writeRegisters: () => undefined,
      writeCoils: () => undefined,
    };
    const { queue } = await rtuLine([[1, stubborn]]);
    const { output } = coilOutput(queue, { safeState: 'on' });
    await expect(output.open()).rejects.toMatchObject({ code: 'MODBUS_FRAME', message: expect.stringContaining('coil 2 of slave 1 reads off after writing on'), details: { actual: false } });
    expect(output.on).toBe(false);
  });

  it('a write asked for while polls are queued goes on the wire right after the request in flight', async () => {
    const order: string[] = [];
    const bank = relayBoard((address) => address === 2 && order.push('write'));
    const { queue } = await rtuLine([[1, bank]]);
    const { output } = coilOutput(queue);
    await output.open();
    order.length = 0;
    let switched: Promise<void> | undefined;
    for (let i = 0; i < 4; i++) {
      queue.enqueue(`poll-${i}`, async () => {
        order.push(`poll-${i}`);
        // The control engine switches the valve while the first poll is on the wire.
        if (i === 0) switched = output.set(true);
        await queue.ensureOpen();
        await queue.link.read(1, 'holding', 0, 1, 150);
      });
    }
    await queue.whenIdle();
    await switched;
    expect(order).toEqual(['poll-0', 'write', 'poll-1', 'poll-2', 'poll-3']);
    expect(output.on).toBe(true);
  });

  it('a safe-state write queued when the bus stops still goes out; later writes are refused', async () => {
    const bank = relayBoard();
    const { queue } = await rtuLine([[1, bank]]);
    const { output } = coilOutput(queue);
    await output.open();
    await output.set(true);
    const closing = output.close();
    await queue.stop();
    await closing;
    expect(bank.get('coil', 2)).toBe(0);
    expect(output.on).toBe(false);
    await output.open().catch(() => undefined);
    await expect(output.set(true)).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE', message: expect.stringContaining('bus line-1 is stopped') });
  });

  it('without a queue for its bus, open rejects with PORT_UNAVAILABLE naming the bus', async () => {
    const { log } = capturingLog();
    const output = new ModbusCoilOutput(actuator({ id: 'pump-1', kind: 'pump', output: { driver: 'modbus', bus: 'nowhere', slave: 1, coil: 0 } }), { queue: undefined, clock: systemClock, log });
    await expect(output.open()).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE', message: expect.stringContaining('no bus "nowhere"') });
  });
});

describe('ModbusCoilOutput over Modbus TCP (loopback)', () => {
  async function gateway(units: [number, RegisterBank][]): Promise<BusQueue> {
    const server = new TcpSlaveServer({ units: new Map(units) });
    await server.start();
    cleanups.push(() => server.stop());
    return queueFor(busSchema.parse({ id: 'gw-1', type: 'tcp', host: '127.0.0.1', port: server.port, timeout: 300, retries: 1 }));
  }

  it('switches a relay behind a Modbus TCP device and reads it back', async () => {
    const bank = relayBoard();
    const queue = await gateway([[1, bank]]);
    const { output } = coilOutput(queue, { kind: 'light', activeLow: true });
    await output.open();
    expect(bank.get('coil', 2)).toBe(1);
    await output.set(true);
    expect([output.on, bank.get('coil', 2)]).toEqual([true, 0]);
    await output.close();
    expect([output.on, bank.get('coil', 2)]).toEqual([false, 1]);
  });

  it('a unit the gateway cannot reach rejects with its exception 0x0B', async () => {
    const queue = await gateway([[1, relayBoard()]]);
    const { output } = coilOutput(queue, { output: { driver: 'modbus', bus: 'gw-1', slave: 7, coil: 0 } });
    await expect(output.open()).rejects.toMatchObject({ code: 'MODBUS_EXCEPTION', details: { exception: 11 } });
    expect(output.on).toBe(false);
  });
});
