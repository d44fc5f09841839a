/**
 * TcpSlaveServer on loopback, read by the modbus-serial client in each of its TCP framings:
 * connectTCP and connectTcpRTUBuffered (both MBAP), connectTelnet (raw RTU over TCP).
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import ModbusSerial from 'modbus-serial';
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import { encodeRtu } from '../../src/modbus/rtu-frame.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { TcpSlaveServer, type TcpSlaveMode } from '../../src/modbus/tcp-slave.js';

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
  while (!done() && Date.now() < deadline) await sleep(5);
}

async function failure(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected the request to fail');
}

function closeClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 500);
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

type Connect = 'connectTCP' | 'connectTcpRTUBuffered' | 'connectTelnet';

describe('TcpSlaveServer', () => {
  let server: TcpSlaveServer;
  let weather: MemoryBank;
  let pump: MemoryBank;
  const clients: Client[] = [];

  const serve = async (mode: TcpSlaveMode): Promise<TcpSlaveServer> => {
    server = new TcpSlaveServer({ mode, units: new Map([[1, weather], [2, pump]]) });
    await server.start();
    return server;
  };

  const connect = async (how: Connect, unit = 1): Promise<Client> => {
    const client = new ModbusRTU();
    clients.push(client);
    client.on('error', () => undefined);
    client.setTimeout(300);
    await client[how]('127.0.0.1', { port: server.port });
    client.setID(unit);
    return client;
  };

  beforeEach(() => {
    // Unit 1: a weather station (input registers: wind, rain); unit 2: a pump controller.
    weather = new MemoryBank().setWords('input', 0, [35, 120]).setWords('holding', 0, [10, 20, 30]);
    pump = new MemoryBank().setBits('coil', 0, [0, 0]).setWords('holding', 0, [0]).setBits('discrete', 0, [1]);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map(closeClient));
    await server?.stop();
  });

  describe.each([
    ['tcp', 'connectTCP'],
    ['tcp', 'connectTcpRTUBuffered'],
    ['rtu-over-tcp', 'connectTelnet'],
  ] as const)('mode %s read by modbus-serial %s', (mode, how) => {
    it('reads and writes every table', async () => {
      await serve(mode);
      const client = await connect(how);
      expect((await client.readInputRegisters(0, 2)).data).toEqual([35, 120]);
      expect((await client.readHoldingRegisters(0, 3)).data).toEqual([10, 20, 30]);
      await client.writeRegisters(1, [21, 31]);
      await client.writeRegister(0, 11);
      expect([0, 1, 2].map((a) => weather.get('holding', a))).toEqual([11, 21, 31]);
      client.setID(2);
      await client.writeCoil(1, true);
      await client.writeCoils(0, [true]);
      expect((await client.readCoils(0, 2)).data.slice(0, 2)).toEqual([true, true]);
      expect((await client.readDiscreteInputs(0, 1)).data[0]).toBe(true);
      expect([server.requestsServed(1), server.requestsServed(2)]).toEqual([4, 4]);
    });

    it('fault exception: err.modbusCode', async () => {
      await serve(mode);
      server.setFault(1, { kind: 'exception', code: 6 });
      const client = await connect(how);
      expect((await failure(client.readInputRegisters(0, 1))).modbusCode).toBe(6);
      expect((await failure(client.readHoldingRegisters(99, 1))).modbusCode).toBe(6);
      server.setFault(1, { kind: 'none' });
      expect((await failure(client.readHoldingRegisters(99, 1))).modbusCode).toBe(2);
    });

    it('fault silent: the client times out', async () => {
      await serve(mode);
      server.setFault(1, { kind: 'silent' });
      const client = await connect(how);
      expect((await failure(client.readInputRegisters(0, 1))).errno).toBe('ETIMEDOUT');
      expect(server.requestsServed(1)).toBe(1);
    });

    it('fault delay: late but in time', async () => {
      await serve(mode);
      server.setFault(1, { kind: 'delay', ms: 120 });
      const client = await connect(how);
      const t0 = Date.now();
      expect((await client.readInputRegisters(1, 1)).data).toEqual([120]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
    });
  });

  describe('Modbus TCP (MBAP) specifics', () => {
    it('bad-crc has no CRC to corrupt: the gateway answers exception 0x0B', async () => {
      await serve('tcp');
      server.setFault(1, { kind: 'bad-crc' });
      const client = await connect('connectTCP');
      expect((await failure(client.readInputRegisters(0, 1))).modbusCode).toBe(0x0b);
    });

    it('an unknown unit behind the gateway answers exception 0x0B', async () => {
      await serve('tcp');
      const client = await connect('connectTCP', 9);
      expect((await failure(client.readInputRegisters(0, 1))).modbusCode).toBe(0x0b);
    });

    it('wrong-unit: modbus-serial reports the unexpected address', async () => {
      await serve('tcp');
      server.setFault(1, { kind: 'wrong-unit' });
      const client = await connect('connectTCP');
      expect((await failure(client.readInputRegisters(0, 1))).message).toBe('Unexpected data error, expected address 1 got 2');
    });

    it('answers pipelined and split requests with their own transaction ids', async () => {
      await serve('tcp');
      const socket = net.connect(server.port, '127.0.0.1');
      let got = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      await new Promise((r) => socket.once('connect', r));
      // Two requests (tid 0x0102 and 0x0103) in one buffer, written in three uneven pieces.
      const req = Buffer.from('0102 0000 0006 01 04 0000 0001 0103 0000 0006 01 04 0001 0001'.replace(/ /g, ''), 'hex');
      for (const piece of [req.subarray(0, 5), req.subarray(5, 15), req.subarray(15)]) {
        socket.write(piece);
        await sleep(20);
      }
      await until(() => got.length >= 22, 1000);
      // Each answer: tid, protocol 0, length 5, unit 1, FC 04, 2 bytes, the register (35, then 120).
      expect(got.toString('hex')).toBe('0102 0000 0005 01 04 02 0023'.replace(/ /g, '') + '0103 0000 0005 01 04 02 0078'.replace(/ /g, ''));
      socket.destroy();
    });

    it('hangs up on bytes that are not Modbus TCP (protocol id must be 0, §3.1.3)', async () => {
      await serve('tcp');
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const closed = new Promise((r) => socket.once('close', r));
      socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
      await closed;
      expect(server.framingErrors).toBe(1);
    });
  });

  describe('RTU over TCP specifics', () => {
    it("bad-crc: the client reports 'CRC error'", async () => {
      await serve('rtu-over-tcp');
      server.setFault(1, { kind: 'bad-crc' });
      const client = await connect('connectTelnet');
      expect((await failure(client.readInputRegisters(0, 1))).message).toBe('CRC error');
    });

    it('wrong-unit: the telnet port filters on unit id, so the client times out', async () => {
      await serve('rtu-over-tcp');
      server.setFault(1, { kind: 'wrong-unit' });
      const client = await connect('connectTelnet');
      expect((await failure(client.readInputRegisters(0, 1))).errno).toBe('ETIMEDOUT');
    });

    it('answers raw RTU frames after noise on the stream', async () => {
      await serve('rtu-over-tcp');
      const socket = net.connect(server.port, '127.0.0.1');
      let got = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      await new Promise((r) => socket.once('connect', r));
      socket.write(Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), encodeRtu(2, Buffer.from('0300000001', 'hex'))]));
      await until(() => got.length >= 7, 1000);
      expect(got.toString('hex')).toBe(encodeRtu(2, Buffer.from('03020000', 'hex')).toString('hex'));
      socket.destroy();
    });

    it('connectTcpRTUBuffered speaks MBAP, not raw RTU: against a transparent gateway it times out', async () => {
      // A modbus-serial naming trap: its "TcpRTUBuffered" port wraps requests in an MBAP header
      // (ports/tcprtubufferedport.js); raw RTU over TCP is its connectTelnet.
      await serve('rtu-over-tcp');
      const client = await connect('connectTcpRTUBuffered');
      expect((await failure(client.readInputRegisters(0, 1))).errno).toBe('ETIMEDOUT');
      expect(server.requestsServed(1)).toBe(0);
    });
  });

  describe('lifecycle', () => {
    it('listens on 127.0.0.1 on a free port, start() and stop() idempotent', async () => {
      server = new TcpSlaveServer({ units: new Map([[1, weather]]) });
      expect(() => server.port).toThrow(/not been started/);
      await Promise.all([server.start(), server.start()]);
      expect(server.port).toBeGreaterThan(0);
      expect(server.host).toBe('127.0.0.1');
      await server.stop();
      await server.stop();
      await expect(connect('connectTCP')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('dropConnections(): clients see the close and can reconnect', async () => {
      await serve('tcp');
      const client = await connect('connectTCP');
      let closed = false;
      client.on('close', () => (closed = true));
      expect((await client.readInputRegisters(0, 1)).data).toEqual([35]);
      await until(() => server.connections === 1, 500);
      server.dropConnections();
      await until(() => closed, 1000);
      expect(closed).toBe(true);
      expect(server.connections).toBe(0);
      expect((await failure(client.readInputRegisters(0, 1))).name).toBe('PortNotOpenError');
      const again = await connect('connectTCP');
      expect((await again.readInputRegisters(1, 1)).data).toEqual([120]);
    });

    it('stop() closes open connections; start() again rebinds the same port', async () => {
      await serve('tcp');
      const port = server.port;
      const client = await connect('connectTCP');
      let closed = false;
      client.on('close', () => (closed = true));
      await server.stop();
      await until(() => closed, 1000);
      expect(closed).toBe(true);
      await server.start();
      expect(server.port).toBe(port);
      const again = await connect('connectTCP');
      expect((await again.readInputRegisters(0, 1)).data).toEqual([35]);
    });
  });
});
