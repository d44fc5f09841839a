/**
 * A Modbus RTU slave on a real serial port (through the `serialport` package): the far end of
 * a socat pty pair in tests, or of a USB RS-485 adapter on a bench. Serves several unit ids,
 * as several devices sharing one RS-485 line do, each with a fault that tests set at runtime.
 */
import { SerialPort } from 'serialport';
import { VillageError } from '@smart-village/shared';
import { corruptCrc, encodeRtu, RtuRequestSplitter, type RtuAdu } from './rtu-frame.js';
import { SlaveUnits, type RegisterBank, type SlaveFault } from './slave.js';

export interface RtuSlaveServerOptions {
  path: string;
  /** Default 9600; meaningless on a pty, but set on a real adapter. */
  baudRate?: number;
  units: ReadonlyMap<number, RegisterBank>;
}

export class RtuSlaveServer {
  private port: SerialPort | undefined;
  private opening: Promise<void> | undefined;
  private splitter = new RtuRequestSplitter();
  private readonly slaves: SlaveUnits;
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastError: Error | undefined;

  constructor(private readonly options: RtuSlaveServerOptions) {
    this.slaves = new SlaveUnits(options.units);
  }

  /** Opens the port and starts answering. Idempotent; rejects with PORT_UNAVAILABLE. */
  start(): Promise<void> {
    if (this.port?.isOpen) return Promise.resolve();
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** Stops answering and closes the port. Idempotent; safe after the port vanished. */
  async stop(): Promise<void> {
    await this.opening?.catch(() => undefined);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const port = this.port;
    this.port = undefined;
    if (!port) return;
    port.removeAllListeners('data');
    if (port.isOpen) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    port.removeAllListeners();
    // Keep a listener so a late error from the closed handle cannot crash the process.
    port.on('error', () => undefined);
  }

  /** Whether the port is open (false after stop() or when the pty/adapter went away). */
  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  setFault(unit: number, fault: SlaveFault): void {
    this.slaves.setFault(unit, fault);
  }

  /** Valid request frames addressed to `unit` that arrived, whatever its fault did with them. */
  requestsServed(unit: number): number {
    return this.slaves.requestsServed(unit);
  }

  /** Bytes dropped as noise or bad-CRC frames since construction. */
  get droppedBytes(): number {
    return this.splitter.droppedBytes;
  }

  /** The last error the port reported (for tests diagnosing a vanished pty). */
  get portError(): Error | undefined {
    return this.lastError;
  }

  private async open(): Promise<void> {
    const port = new SerialPort({ path: this.options.path, baudRate: this.options.baudRate ?? 9600, autoOpen: false });
    port.on('error', (err: Error) => {
      this.lastError = err;
    });
    try {
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw new VillageError('PORT_UNAVAILABLE', `cannot open ${this.options.path}: ${err instanceof Error ? err.message : String(err)}`, { path: this.options.path }, { cause: err });
    }
    // A fresh splitter: bytes from before a restart belong to no frame.
    const dropped = this.splitter.droppedBytes;
    this.splitter = new RtuRequestSplitter();
    this.splitter.droppedBytes = dropped;
    port.on('data', (chunk: Buffer) => {
      for (const adu of this.splitter.push(chunk)) this.answer(port, adu);
    });
    this.port = port;
  }

  private answer(port: SerialPort, adu: RtuAdu): void {
    const reply = this.slaves.serve(adu.unit, adu.pdu);
    if (!reply) return;
    const frame = encodeRtu(reply.unit, reply.pdu);
    const send = (): void => {
      if (this.port === port && port.isOpen) port.write(reply.corrupt ? corruptCrc(frame) : frame);
    };
    if (reply.delayMs <= 0) return send();
    const t = setTimeout(() => {
      this.timers.delete(t);
      send();
    }, reply.delayMs);
    this.timers.add(t);
  }
}
