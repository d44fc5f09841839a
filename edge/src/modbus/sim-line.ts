/**
 * A simulated RS-485 line with slaves on it, shaped as the port object modbus-serial accepts in
 * `new ModbusRTU(port)`: `open(cb)`, `close(cb)`, `write(buf)`, `isOpen`, and 'data' / 'close'
 * events. Requests are real RTU frames (CRC checked), served by the units' register banks;
 * responses come back as real RTU frames after the time they would take on the wire, measured
 * on an injected clock so the simulated village can run days in seconds.
 *
 * modbus-serial facts this relies on (index.js 8.0.25): `open()` sets `_transactionIdRead` and
 * `_transactionIdWrite` on the port to 1 and, for a serial-style port, never changes them, so
 * one request is outstanding at a time; `_onReceive` expects each 'data' event to carry one
 * whole response frame (no buffering), which is how we emit it.
 */
import { EventEmitter } from 'node:events';
import { VillageError } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import { corruptCrc, encodeRtu, RtuRequestSplitter } from './rtu-frame.js';
import { SlaveUnits, type RegisterBank, type SlaveFault } from './slave.js';

export interface SimulatedLineOptions {
  units: ReadonlyMap<number, RegisterBank>;
  clock: Clock;
  /** Default 9600. */
  baudRate?: number;
  /**
   * Bits on the wire per character: start + 8 data + parity + stop. Default 10 (8N1, what most
   * field sensors ship with); 11 for 8E1 / 8N2, the spec's default (Modbus over serial line v1.02 §2.5.1).
   */
  bitsPerChar?: number;
}

type Callback = (err?: Error | null) => void;

/** Time one character takes on the wire, ms. */
export function charTimeMs(baud: number, bitsPerChar = 10): number {
  return (bitsPerChar * 1000) / baud;
}

/**
 * Modbus over serial line v1.02 §2.5.1.1: frames are separated by a silence of 3.5 character
 * times; above 19200 baud a fixed 1.75 ms is recommended.
 */
export function interFrameMs(baud: number, bitsPerChar = 10): number {
  return baud > 19200 ? 1.75 : 3.5 * charTimeMs(baud, bitsPerChar);
}

/**
 * From the master's last request byte written to the last response byte received: the request
 * on the wire, the t3.5 silence that ends it, the response on the wire, the t3.5 that ends it.
 */
export function exchangeTimeMs(requestBytes: number, responseBytes: number, baud: number, bitsPerChar = 10): number {
  return (requestBytes + responseBytes) * charTimeMs(baud, bitsPerChar) + 2 * interFrameMs(baud, bitsPerChar);
}

export class SimulatedLinePort extends EventEmitter {
  /** Written by modbus-serial's `open()`; see the file comment. */
  _transactionIdRead = 1;
  _transactionIdWrite = 1;

  private open_ = false;
  private unplugged = false;
  private splitter = new RtuRequestSplitter();
  private readonly slaves: SlaveUnits;
  private readonly pending = new Set<TimerHandle>();

  constructor(private readonly options: SimulatedLineOptions) {
    super();
    this.slaves = new SlaveUnits(options.units);
  }

  get isOpen(): boolean {
    return this.open_;
  }

  open(callback?: Callback): void {
    // serialport calls back asynchronously; so do we, off the clock (opening takes no wire time).
    process.nextTick(() => {
      if (this.unplugged) {
        callback?.(new VillageError('PORT_UNAVAILABLE', 'simulated line: adapter unplugged'));
        return;
      }
      this.open_ = true;
      this.splitter = new RtuRequestSplitter();
      callback?.(null);
    });
  }

  close(callback?: Callback): void {
    const wasOpen = this.open_;
    this.shut();
    process.nextTick(() => {
      callback?.(null);
      if (wasOpen) this.emit('close');
    });
  }

  /** Bytes from the master. Ignored while closed, as a port that is not open writes nothing. */
  write(data: Uint8Array): boolean {
    if (!this.open_) return false;
    const baud = this.options.baudRate ?? 9600;
    const bits = this.options.bitsPerChar ?? 10;
    for (const adu of this.splitter.push(data)) {
      const reply = this.slaves.serve(adu.unit, adu.pdu);
      if (!reply) continue;
      const frame = encodeRtu(reply.unit, reply.pdu);
      const bytes = reply.corrupt ? corruptCrc(frame) : frame;
      const requestBytes = adu.pdu.length + 3;
      const delay = exchangeTimeMs(requestBytes, bytes.length, baud, bits) + reply.delayMs;
      const handle = this.options.clock.setTimeout(() => {
        this.pending.delete(handle);
        if (this.open_) this.emit('data', bytes);
      }, delay);
      this.pending.add(handle);
    }
    return true;
  }

  /** The USB adapter is pulled: the port closes ('close' event) and cannot be opened until `replug()`. */
  unplug(): void {
    this.unplugged = true;
    if (!this.open_) return;
    this.shut();
    this.emit('close');
  }

  replug(): void {
    this.unplugged = false;
  }

  setFault(unit: number, fault: SlaveFault): void {
    this.slaves.setFault(unit, fault);
  }

  requestsServed(unit: number): number {
    return this.slaves.requestsServed(unit);
  }

  /** Responses scheduled on the clock but not yet delivered. */
  get inFlight(): number {
    return this.pending.size;
  }

  private shut(): void {
    this.open_ = false;
    for (const h of this.pending) this.options.clock.clearTimeout(h);
    this.pending.clear();
  }
}
