/**
 * RtuSlaveServer on a real pty pair (socat), checked by two independent masters: the mbpoll
 * program (libmodbus) and the modbus-serial client the edge uses.
 */
import { execFile } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import ModbusSerial from 'modbus-serial';
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import { SerialPort } from 'serialport';
import { corruptCrc, encodeRtu } from '../../src/modbus/rtu-frame.js';
import { RtuSlaveServer } from '../../src/modbus/rtu-slave.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';

// modbus-serial is CommonJS whose module.exports is the class; its typings declare it as
// `export default`, which NodeNext reads as a property of the module, hence the cast.
const ModbusRTU = ModbusSerial as unknown as typeof Client;
interface ClientError {
  name?: string;
  message?: string;
  errno?: string;
  modbusCode?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(done: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done() && Date.now() < deadline) await sleep(10);
}

/**
 * Runs mbpoll once (-1) with zero-based addresses (-0) at 9600 8N1, writing `writes` if given
 * (they must follow the device); never rejects.
 */
function mbpoll(device: string, args: string[], writes: number[] = []): Promise<{ code: number; out: string }> {
  const tail = writes.length ? [device, '--', ...writes.map(String)] : [device];
  return new Promise((resolve) => {
    execFile('mbpoll', ['-m', 'rtu', '-b', '9600', '-P', 'none', '-o', '0.5', '-1', '-0', ...args, ...tail], { timeout: 5000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** The "[addr]: value" lines mbpoll prints. */
function values(out: string): Record<number, number> {
  const found: Record<number, number> = {};
  for (const m of out.matchAll(/^\[(\d+)\]:\s+(-?\d+)/gm)) found[Number(m[1])] = Number(m[2]);
  return found;
}

function closeClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 1000);
    try {
      client.close(() => {
        clearTimeout(t);
        resolve();
      });
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

async function failure(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected the request to fail');
}

describe('RtuSlaveServer over a socat pty pair', () => {
  let pair: PtyPair;
  let slave: RtuSlaveServer;
  let soil: MemoryBank;
  let tank: MemoryBank;

  beforeAll(async () => {
    pair = await openPtyPair();
  });

  beforeEach(async () => {
    // Unit 1: a soil probe (input registers: moisture, temperature); unit 2: a tank controller.
    soil = new MemoryBank().setWords('input', 0, [412, 0xff9c]).setWords('holding', 0, [1, 2, 3, 4]).setBits('discrete', 0, [1, 0, 1]);
    tank = new MemoryBank().setWords('holding', 0, [1500, 0]).setBits('coil', 0, [0, 0, 0, 0]);
    slave = new RtuSlaveServer({ path: pair.b, baudRate: 9600, units: new Map([[1, soil], [2, tank]]) });
    await slave.start();
  });

  afterEach(async () => {
    await slave.stop();
  });

  afterAll(async () => {
    await pair?.close();
  });

  describe('read and written by mbpoll', () => {
    it('reads holding registers (FC03)', async () => {
      const r = await mbpoll(pair.a, ['-a', '1', '-t', '4', '-r', '0', '-c', '4']);
      expect(r.code).toBe(0);
      expect(values(r.out)).toEqual({ 0: 1, 1: 2, 2: 3, 3: 4 });
      expect(slave.requestsServed(1)).toBe(1);
    });

    it('reads input registers (FC04), signed value included', async () => {
      const r = await mbpoll(pair.a, ['-a', '1', '-t', '3', '-r', '0', '-c', '2']);
      expect(values(r.out)).toEqual({ 0: 412, 1: 65436 });
    });

    it('reads discrete inputs (FC02) and coils (FC01)', async () => {
      expect(values((await mbpoll(pair.a, ['-a', '1', '-t', '1', '-r', '0', '-c', '3'])).out)).toEqual({ 0: 1, 1: 0, 2: 1 });
      tank.setBit('coil', 2, true);
      expect(values((await mbpoll(pair.a, ['-a', '2', '-t', '0', '-r', '0', '-c', '4'])).out)).toEqual({ 0: 0, 1: 0, 2: 1, 3: 0 });
    });

    it('writes registers and a coil', async () => {
      expect((await mbpoll(pair.a, ['-a', '2', '-t', '4', '-r', '0'], [1750, 9])).code).toBe(0);
      expect([tank.get('holding', 0), tank.get('holding', 1)]).toEqual([1750, 9]);
      expect((await mbpoll(pair.a, ['-a', '2', '-t', '0', '-r', '3'], [1])).code).toBe(0);
      expect(tank.get('coil', 3)).toBe(1);
    });

    it('gets exception 02 for an address outside the map', async () => {
      const r = await mbpoll(pair.a, ['-a', '1', '-t', '4', '-r', '10', '-c', '1']);
      expect(r.out).toMatch(/illegal data address/i);
    });

    it('times out on a silent slave', async () => {
      slave.setFault(1, { kind: 'silent' });
      const r = await mbpoll(pair.a, ['-a', '1', '-t', '4', '-r', '0', '-c', '1']);
      expect(r.out).toMatch(/timed out/i);
      expect(values(r.out)).toEqual({});
      expect(slave.requestsServed(1)).toBe(1);
    });

    it('rejects a reply with a bad CRC', async () => {
      slave.setFault(1, { kind: 'bad-crc' });
      const r = await mbpoll(pair.a, ['-a', '1', '-t', '4', '-r', '0', '-c', '1']);
      expect(values(r.out)).toEqual({});
      expect(r.out).toMatch(/crc|invalid/i);
    });
  });

  describe('read and written by the modbus-serial client', () => {
    let client: Client;

    beforeEach(async () => {
      client = new ModbusRTU();
      await client.connectRTUBuffered(pair.a, { baudRate: 9600 });
      client.setTimeout(400);
      client.setID(1);
    });

    afterEach(async () => {
      await closeClient(client);
    });

    it('reads each table', async () => {
      expect((await client.readHoldingRegisters(0, 4)).data).toEqual([1, 2, 3, 4]);
      expect((await client.readInputRegisters(0, 2)).data).toEqual([412, 65436]);
      expect((await client.readDiscreteInputs(0, 3)).data.slice(0, 3)).toEqual([true, false, true]);
      client.setID(2);
      tank.setBit('coil', 1, true);
      expect((await client.readCoils(0, 4)).data.slice(0, 4)).toEqual([false, true, false, false]);
      expect([slave.requestsServed(1), slave.requestsServed(2)]).toEqual([3, 1]);
    });

    it('writes with FC05, FC06, FC15 and FC16', async () => {
      client.setID(2);
      await client.writeCoil(0, true);
      await client.writeRegister(1, 77);
      await client.writeCoils(1, [true, false, true]);
      await client.writeRegisters(0, [1800, 5]);
      expect([0, 1, 2, 3].map((a) => tank.get('coil', a))).toEqual([1, 1, 0, 1]);
      expect([tank.get('holding', 0), tank.get('holding', 1)]).toEqual([1800, 5]);
    });

    it('reports a real exception from the bank as modbusCode 2', async () => {
      expect((await failure(client.readHoldingRegisters(100, 1))).modbusCode).toBe(2);
    });

    it('fault silent: the client times out', async () => {
      slave.setFault(1, { kind: 'silent' });
      const err = await failure(client.readHoldingRegisters(0, 1));
      expect(err.errno).toBe('ETIMEDOUT');
      expect(err.name).toBe('TransactionTimedOutError');
      // The other unit on the line is unaffected.
      client.setID(2);
      expect((await client.readHoldingRegisters(0, 1)).data).toEqual([1500]);
    });

    it("fault bad-crc: the client reports 'CRC error'", async () => {
      slave.setFault(1, { kind: 'bad-crc' });
      expect((await failure(client.readHoldingRegisters(0, 2))).message).toBe('CRC error');
      slave.setFault(1, { kind: 'none' });
      expect((await client.readHoldingRegisters(0, 2)).data).toEqual([1, 2]);
    });

    it.each([1, 4, 6, 11])('fault exception %i: err.modbusCode', async (code) => {
      slave.setFault(1, { kind: 'exception', code });
      const err = await failure(client.readInputRegisters(0, 1));
      expect(err.modbusCode).toBe(code);
      expect(err.message).toMatch(new RegExp(`^Modbus exception ${code}`));
    });

    it('fault delay: answers late but within the timeout', async () => {
      slave.setFault(1, { kind: 'delay', ms: 150 });
      const t0 = Date.now();
      expect((await client.readHoldingRegisters(0, 1)).data).toEqual([1]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    });

    it('fault delay beyond the client timeout: the client times out', async () => {
      slave.setFault(1, { kind: 'delay', ms: 600 });
      expect((await failure(client.readHoldingRegisters(0, 1))).errno).toBe('ETIMEDOUT');
      // Let the late reply pass so it cannot be mistaken for the answer to a later request.
      await sleep(300);
    });

    it('fault wrong-unit: the buffered client ignores the reply and times out', async () => {
      // modbus-serial's RTU buffered port only accepts bytes starting with the unit id it
      // asked, so a reply from another unit never reaches the client: a timeout, not an error.
      slave.setFault(1, { kind: 'wrong-unit' });
      expect((await failure(client.readHoldingRegisters(0, 1))).errno).toBe('ETIMEDOUT');
      expect(slave.requestsServed(1)).toBe(1);
    });
  });

  describe('line noise, split frames and restarts', () => {
    let raw: SerialPort;
    let received: Buffer;

    beforeEach(async () => {
      received = Buffer.alloc(0);
      raw = new SerialPort({ path: pair.a, baudRate: 9600, autoOpen: false });
      await new Promise<void>((resolve, reject) => raw.open((err) => (err ? reject(err) : resolve())));
      raw.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    });

    afterEach(async () => {
      if (raw.isOpen) await new Promise<void>((r) => raw.close(() => r()));
    });

    const waitFor = async (bytes: number): Promise<Buffer> => {
      await until(() => received.length >= bytes, 2000);
      return received;
    };

    it('answers a request that follows noise and a corrupted frame', async () => {
      const request = encodeRtu(1, Buffer.from('0300000002', 'hex'));
      raw.write(Buffer.concat([Buffer.from([0xff, 0x00, 0x42]), corruptCrc(request), request]));
      expect((await waitFor(9)).toString('hex')).toBe(encodeRtu(1, Buffer.from('030400010002', 'hex')).toString('hex'));
      expect(slave.requestsServed(1)).toBe(1);
      expect(slave.droppedBytes).toBeGreaterThanOrEqual(3 + 8);
    });

    it('answers a request written in pieces with pauses', async () => {
      // FC16: one register at 0, byte count 2, value 0x05DC.
      const request = encodeRtu(2, Buffer.from('10000000010205dc', 'hex'));
      const pieces = [request.subarray(0, 3), request.subarray(3, 7), request.subarray(7)];
      for (const p of pieces) {
        raw.write(p);
        await new Promise<void>((r) => raw.drain(() => r()));
        await sleep(30);
      }
      await waitFor(8);
      expect(received.subarray(0, 2).toString('hex')).toBe('0210');
      expect(tank.get('holding', 0)).toBe(0x05dc);
    });

    it('start() and stop() are idempotent and a stopped slave is silent', async () => {
      await Promise.all([slave.start(), slave.start()]);
      expect(slave.isOpen).toBe(true);
      await slave.stop();
      await slave.stop();
      expect(slave.isOpen).toBe(false);
      raw.write(encodeRtu(1, Buffer.from('0300000001', 'hex')));
      await sleep(150);
      expect(received.length).toBe(0);
      await slave.start();
      raw.write(encodeRtu(1, Buffer.from('0300000001', 'hex')));
      expect((await waitFor(7)).length).toBe(7);
    });
  });

  it('survives the adapter being unplugged and replugged on the same path', async () => {
    const client = new ModbusRTU();
    await client.connectRTUBuffered(pair.a, { baudRate: 9600 });
    client.setID(1);
    client.setTimeout(400);
    let closed = false;
    client.on('close', () => (closed = true));
    client.on('error', () => undefined);
    expect((await client.readHoldingRegisters(0, 1)).data).toEqual([1]);

    await pair.unplug();
    // The slave's end always sees the hangup. The master's end sees it only sometimes (a
    // libuv/pty race: its poller may never fire); then its next write fails with EIO, the
    // client emits 'error' and 'close', and that request still waits for its timeout.
    await until(() => !slave.isOpen && closed, 500);
    if (!closed) {
      const first = await failure(client.readHoldingRegisters(0, 1));
      expect(['TransactionTimedOutError', 'PortNotOpenError']).toContain(first.name);
      await until(() => closed, 1000);
    }
    expect(closed).toBe(true);
    expect(slave.isOpen).toBe(false);
    const err = await failure(client.readHoldingRegisters(0, 1));
    expect(err.name).toBe('PortNotOpenError');
    await expect(slave.start()).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE' });

    await pair.replug();
    await slave.stop();
    await slave.start();
    const again = new ModbusRTU();
    await again.connectRTUBuffered(pair.a, { baudRate: 9600 });
    again.setID(1);
    again.setTimeout(400);
    expect((await again.readHoldingRegisters(0, 2)).data).toEqual([1, 2]);
    await closeClient(again);
    await closeClient(client);
  });
});
