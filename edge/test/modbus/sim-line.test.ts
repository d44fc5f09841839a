/**
 * SimulatedLinePort driven by the real modbus-serial client (`new ModbusRTU(port)`), with wire
 * time on a manual clock.
 */
import { describe, expect, it } from 'vitest';
import ModbusSerial from 'modbus-serial';
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import { ManualClock, systemClock } from '../../src/clock.js';
import { encodeRtu } from '../../src/modbus/rtu-frame.js';
import { charTimeMs, exchangeTimeMs, interFrameMs, SimulatedLinePort } from '../../src/modbus/sim-line.js';
import { MemoryBank } from '../../src/modbus/slave.js';

// modbus-serial is CommonJS whose module.exports is the class; its typings declare it as
// `export default`, which NodeNext reads as a property of the module, hence the cast.
const ModbusRTU = ModbusSerial as unknown as typeof Client;
interface ClientError {
  name?: string;
  message?: string;
  errno?: string;
  modbusCode?: number;
}

/** A promise whose outcome can be inspected without awaiting it. */
function track<T>(p: Promise<T>): { settled: () => boolean; result: Promise<{ ok: T } | { err: ClientError }> } {
  let done = false;
  const result = p.then(
    (ok) => ((done = true), { ok }),
    (err: ClientError) => ((done = true), { err }),
  );
  return { settled: () => done, result };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

function openClient(port: SimulatedLinePort, unit = 1, timeoutMs = 2000): Promise<Client> {
  const client = new ModbusRTU(port);
  client.setID(unit);
  client.setTimeout(timeoutMs);
  client.on('error', () => undefined);
  return new Promise((resolve, reject) => client.open((err: unknown) => (err ? reject(err) : resolve(client))));
}

function line(clock = new ManualClock(0), baudRate = 9600) {
  const level = new MemoryBank().setWords('holding', 0, [250, 251, 252, 253]).setWords('input', 0, [7]);
  const valves = new MemoryBank().setBits('coil', 0, [0, 0, 0]).setBits('discrete', 0, [1, 1]);
  const port = new SimulatedLinePort({ units: new Map([[1, level], [4, valves]]), clock, baudRate });
  return { clock, port, level, valves };
}

describe('wire time (Modbus over serial line v1.02 §2.5.1.1)', () => {
  it.each([
    // 8N1: 10 bits per character.
    ['character at 9600 8N1', charTimeMs(9600), 10_000 / 9600],
    ['character at 9600 8E1', charTimeMs(9600, 11), 11_000 / 9600],
    ['t3.5 at 9600', interFrameMs(9600), 3.5 * (10_000 / 9600)],
    ['t3.5 at 19200', interFrameMs(19200), 3.5 * (10_000 / 19200)],
    ['t3.5 fixed above 19200', interFrameMs(38400), 1.75],
    ['8-byte request + 13-byte reply at 9600', exchangeTimeMs(8, 13, 9600), 21 * (10_000 / 9600) + 7 * (10_000 / 9600)],
    ['same at 115200', exchangeTimeMs(8, 13, 115200), (21 * 10_000) / 115200 + 3.5],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toBeCloseTo(expected, 9);
  });
});

describe('SimulatedLinePort with the modbus-serial client', () => {
  it('answers after the simulated wire time, not before', async () => {
    const { clock, port } = line();
    const client = await openClient(port);
    const read = track(client.readHoldingRegisters(0, 4));
    // 8-byte request + 13-byte reply + two t3.5 gaps at 9600 8N1 ≈ 29.17 ms.
    const due = exchangeTimeMs(8, 13, 9600);
    clock.advance(Math.floor(due));
    await flush();
    expect(read.settled()).toBe(false);
    expect(port.inFlight).toBe(1);
    clock.advance(1);
    expect(await read.result).toMatchObject({ ok: { data: [250, 251, 252, 253] } });
    expect(port.requestsServed(1)).toBe(1);
  });

  it('serves every function code the edge uses', async () => {
    const { clock, port, valves } = line();
    const client = await openClient(port, 4);
    const run = async <T>(p: Promise<T>): Promise<T> => {
      const t = track(p);
      await clock.advanceAsync(100, 10);
      const r = await t.result;
      if ('err' in r) throw new Error(r.err.message);
      return r.ok;
    };
    await run(client.writeCoil(2, true));
    await run(client.writeCoils(0, [true, false]));
    expect((await run(client.readCoils(0, 3))).data.slice(0, 3)).toEqual([true, false, true]);
    expect((await run(client.readDiscreteInputs(0, 2))).data.slice(0, 2)).toEqual([true, true]);
    expect([0, 1, 2].map((a) => valves.get('coil', a))).toEqual([1, 0, 1]);
    client.setID(1);
    await run(client.writeRegisters(0, [1, 2]));
    await run(client.writeRegister(3, 9));
    expect((await run(client.readHoldingRegisters(0, 4))).data).toEqual([1, 2, 252, 9]);
    expect((await run(client.readInputRegisters(0, 1))).data).toEqual([7]);
  });

  it('an exception from the bank reaches the client as modbusCode', async () => {
    const { clock, port } = line();
    const client = await openClient(port);
    const read = track(client.readInputRegisters(5, 1));
    clock.advance(50);
    expect(await read.result).toMatchObject({ err: { modbusCode: 2 } });
  });

  it.each([
    ['bad-crc', { kind: 'bad-crc' } as const, { message: 'CRC error' }],
    ['exception', { kind: 'exception', code: 4 } as const, { modbusCode: 4 }],
    // A bare custom port has no unit filter (unlike the RTU buffered port): the client sees the reply.
    ['wrong-unit', { kind: 'wrong-unit' } as const, { message: 'Unexpected data error, expected address 1 got 2' }],
  ])('fault %s', async (_name, fault, error) => {
    const { clock, port } = line();
    port.setFault(1, fault);
    const client = await openClient(port);
    const read = track(client.readHoldingRegisters(0, 1));
    clock.advance(50);
    expect(await read.result).toMatchObject({ err: error });
  });

  it('fault delay: the reply comes that much later on the clock', async () => {
    const { clock, port } = line();
    port.setFault(1, { kind: 'delay', ms: 500 });
    const client = await openClient(port);
    const read = track(client.readHoldingRegisters(0, 1));
    clock.advance(500);
    await flush();
    expect(read.settled()).toBe(false);
    clock.advance(50);
    expect(await read.result).toMatchObject({ ok: { data: [250] } });
  });

  it('fault silent: nothing is scheduled and the client times out (on its own, real timer)', async () => {
    const { clock, port } = line();
    port.setFault(1, { kind: 'silent' });
    const client = await openClient(port, 1, 50);
    const read = track(client.readHoldingRegisters(0, 1));
    expect(port.inFlight).toBe(0);
    clock.advance(1000);
    expect(await read.result).toMatchObject({ err: { errno: 'ETIMEDOUT' } });
    expect(port.requestsServed(1)).toBe(1);
  });

  it('an unknown unit is silent, and a frame with a bad CRC is ignored', async () => {
    const { port } = line();
    const client = await openClient(port, 9, 50);
    const read = track(client.readHoldingRegisters(0, 1));
    expect(port.inFlight).toBe(0);
    expect(await read.result).toMatchObject({ err: { errno: 'ETIMEDOUT' } });
    const bad = encodeRtu(1, Buffer.from('0300000001', 'hex'));
    bad[7] = (bad[7] ?? 0) ^ 1;
    expect(port.write(bad)).toBe(true);
    expect(port.inFlight).toBe(0);
    expect(port.requestsServed(1)).toBe(0);
  });

  it('unplug: the client sees close, reopening fails until replug', async () => {
    const { clock, port } = line();
    const client = await openClient(port, 1, 100);
    let closed = false;
    client.on('close', () => (closed = true));
    const read = track(client.readHoldingRegisters(0, 1));
    port.unplug();
    expect(closed).toBe(true);
    expect(client.isOpen).toBe(false);
    expect(port.inFlight).toBe(0);
    clock.advance(1000);
    // The in-flight request is not failed by the close: it runs into the client's timeout.
    expect(await read.result).toMatchObject({ err: { errno: 'ETIMEDOUT' } });
    expect(await track(client.readHoldingRegisters(0, 1)).result).toMatchObject({ err: { name: 'PortNotOpenError' } });
    await expect(openClient(port)).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE' });

    port.replug();
    const again = await openClient(port);
    const ok = track(again.readHoldingRegisters(1, 1));
    clock.advance(50);
    expect(await ok.result).toMatchObject({ ok: { data: [251] } });
  });

  it('close() stops pending replies and writes while closed go nowhere', async () => {
    const { clock, port } = line();
    const client = await openClient(port, 1, 100);
    void client.readHoldingRegisters(0, 1).catch(() => undefined);
    expect(port.inFlight).toBe(1);
    await new Promise<void>((r) => client.close(() => r()));
    expect(port.isOpen).toBe(false);
    expect(port.inFlight).toBe(0);
    expect(port.write(encodeRtu(1, Buffer.from('0300000001', 'hex')))).toBe(false);
    clock.advance(100);
    expect(port.requestsServed(1)).toBe(1);
  });

  it('runs on the system clock too', async () => {
    const fast = new SimulatedLinePort({ units: new Map([[1, new MemoryBank().setWord('input', 0, 42)]]), clock: systemClock, baudRate: 115200 });
    const client = await openClient(fast);
    expect((await client.readInputRegisters(0, 1)).data).toEqual([42]);
    expect(fast.inFlight).toBe(0);
  });
});
