import { createRequire } from 'node:module';
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import { VillageError, type BusConfig, type RegisterTable } from '@smart-village/shared';

/**
 * One physical bus as the poller sees it: a serial line, a Modbus TCP gateway, an RTU-over-TCP
 * gateway or the simulated line. Requests are serialised by the caller (the bus queue).
 */
export interface ModbusLink {
  readonly isOpen: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  /** Registers as 16-bit words; coils and discrete inputs as 0/1. */
  read(slave: number, table: RegisterTable, address: number, length: number, timeoutMs: number): Promise<number[]>;
  writeCoil(slave: number, address: number, on: boolean, timeoutMs: number): Promise<void>;
}

/** Something modbus-serial accepts as a port: the simulated line implements it. */
export type PortFactory = () => unknown;

// modbus-serial is CommonJS whose module.exports is the class itself.
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof Client;

/** The real client (modbus-serial) for every bus type; the simulated bus hands it a port object. */
export class ModbusSerialLink implements ModbusLink {
  private client: Client | undefined;
  private closed = true;
  /** After a timeout on an RTU-framed line: no request before this time (epoch ms). */
  private quietUntil = 0;

  constructor(
    private readonly bus: BusConfig,
    private readonly simulatedPort?: PortFactory,
  ) {}

  get isOpen(): boolean {
    return !this.closed && this.client?.isOpen === true;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    await this.close();
    const bus = this.bus;
    let client: Client;
    try {
      switch (bus.type) {
        case 'rtu':
          client = new ModbusRTU();
          await client.connectRTUBuffered(bus.port, { baudRate: bus.baud, parity: bus.parity, dataBits: bus.dataBits, stopBits: bus.stopBits });
          break;
        case 'tcp':
          client = new ModbusRTU();
          await client.connectTCP(bus.host, { port: bus.port, timeout: bus.timeout });
          break;
        case 'rtu-over-tcp':
          // Raw RTU frames (with CRC) over a TCP stream, as transparent RS-485-to-Ethernet
          // gateways (USR-TCP232, Waveshare) pass them. In modbus-serial that is the "telnet"
          // port; its "TcpRTUBuffered" port speaks MBAP framing despite the name.
          client = new ModbusRTU();
          await client.connectTelnet(bus.host, { port: bus.port, timeout: bus.timeout });
          break;
        case 'simulated': {
          if (!this.simulatedPort) throw new Error('no simulated line attached to this bus');
          client = new ModbusRTU(this.simulatedPort());
          await new Promise<void>((resolve, reject) => client.open((err: unknown) => (err ? reject(err) : resolve())));
          break;
        }
      }
    } catch (err) {
      throw new VillageError('PORT_UNAVAILABLE', `bus ${bus.id}: cannot open ${describe(bus)}: ${messageOf(err)}`, { bus: bus.id }, { cause: err });
    }
    // A late event from a client this link already replaced must not close the new one.
    client.on('close', () => {
      if (this.client === client) this.closed = true;
    });
    client.on('error', () => {
      if (this.client === client) this.closed = true;
    });
    this.client = client;
    this.closed = false;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.closed = true;
    if (!client) return;
    await new Promise<void>((resolve) => {
      try {
        client.close(() => resolve());
      } catch {
        resolve();
      }
      // A serial port that vanished may never call back.
      setTimeout(resolve, 500).unref();
    });
  }

  async read(slave: number, table: RegisterTable, address: number, length: number, timeoutMs: number): Promise<number[]> {
    await this.quiet();
    const client = this.ready(slave, timeoutMs);
    try {
      switch (table) {
        case 'holding':
          return (await client.readHoldingRegisters(address, length)).data;
        case 'input':
          return (await client.readInputRegisters(address, length)).data;
        case 'coil':
          return (await client.readCoils(address, length)).data.slice(0, length).map((b: boolean) => (b ? 1 : 0));
        case 'discrete':
          return (await client.readDiscreteInputs(address, length)).data.slice(0, length).map((b: boolean) => (b ? 1 : 0));
      }
    } catch (err) {
      throw this.normalise(err, slave);
    }
  }

  async writeCoil(slave: number, address: number, on: boolean, timeoutMs: number): Promise<void> {
    await this.quiet();
    const client = this.ready(slave, timeoutMs);
    try {
      await client.writeCoil(address, on);
    } catch (err) {
      throw this.normalise(err, slave);
    }
  }

  private ready(slave: number, timeoutMs: number): Client {
    const client = this.client;
    if (!client || !this.isOpen) throw new VillageError('PORT_UNAVAILABLE', `bus ${this.bus.id}: ${describe(this.bus)} is not open`, { bus: this.bus.id });
    client.setID(slave);
    client.setTimeout(timeoutMs);
    return client;
  }

  /**
   * An RTU frame carries no transaction id: a slave answering after our timeout would have its
   * answer taken for the reply to the next request of the same shape (another block of the
   * same slave, or its retry), i.e. a wrong value. So after a timeout the line must be quiet for
   * one more response timeout before the next request; a late answer arriving meanwhile goes
   * to the request that already timed out and is dropped (libmodbus does the same in its
   * protocol error recovery). MBAP (tcp) matches answers by transaction id and needs none.
   */
  private async quiet(): Promise<void> {
    const wait = this.quietUntil - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** modbus-serial reports errors in several shapes; map them onto our closed set of codes. */
  private normalise(err: unknown, slave: number): VillageError {
    const e = err as { name?: string; message?: string; errno?: string; modbusCode?: number };
    const where = { bus: this.bus.id, slave };
    if (typeof e.modbusCode === 'number') return new VillageError('MODBUS_EXCEPTION', `slave ${slave} answered exception ${e.modbusCode}: ${e.message ?? ''}`, { ...where, exception: e.modbusCode });
    if (e.errno === 'ETIMEDOUT' || e.name === 'TransactionTimedOutError') {
      if (this.bus.type !== 'tcp') this.quietUntil = performance.now() + (this.client?.getTimeout() ?? this.bus.timeout);
      return new VillageError('MODBUS_TIMEOUT', `slave ${slave} did not answer`, where);
    }
    if (e.message === 'CRC error') return new VillageError('MODBUS_CRC', `slave ${slave}: response with bad CRC`, where);
    if (e.name === 'PortNotOpenError' || e.errno === 'ECONNREFUSED' || e.errno === 'EPIPE' || e.errno === 'ECONNRESET') {
      this.closed = true;
      return new VillageError('PORT_UNAVAILABLE', `bus ${this.bus.id}: ${e.message ?? 'port closed'}`, where);
    }
    if (e.message?.startsWith('Data length error')) return new VillageError('MODBUS_FRAME', `slave ${slave}: ${e.message}`, where);
    if (!this.isOpen) return new VillageError('PORT_UNAVAILABLE', `bus ${this.bus.id}: ${messageOf(err)}`, where);
    return new VillageError('MODBUS_FRAME', `slave ${slave}: ${messageOf(err)}`, where);
  }
}

export function describe(bus: BusConfig): string {
  switch (bus.type) {
    case 'rtu':
      return `${bus.port} @ ${bus.baud} ${bus.dataBits}${bus.parity[0]?.toUpperCase()}${bus.stopBits}`;
    case 'tcp':
      return `modbus-tcp ${bus.host}:${bus.port}`;
    case 'rtu-over-tcp':
      return `rtu-over-tcp ${bus.host}:${bus.port}`;
    case 'simulated':
      return `simulated line @ ${bus.baud}`;
  }
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

/**
 * Modbus over serial line v1.02 §2.5.1.1: frames are separated by 3.5 character times; above
 * 19200 baud a fixed 1.75 ms is recommended. A character is 11 bits (start, 8 data, parity or
 * second stop, stop).
 */
export function t35Ms(baud: number): number {
  return baud > 19200 ? 1.75 : (3.5 * 11 * 1000) / baud;
}

/** Time a frame of `bytes` occupies the wire, in ms (11 bits per character, as above). */
export function frameMs(bytes: number, baud: number): number {
  return (bytes * 11 * 1000) / baud;
}
