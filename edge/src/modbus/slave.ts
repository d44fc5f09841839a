/**
 * The slave (server) side of Modbus as a pure core: a register bank and a PDU handler. The
 * transports (serial pty, TCP, simulated line) wrap it; nothing here touches I/O or time.
 *
 * References: Modbus Application Protocol Specification v1.1b3 (MBAP v1.1b3 below):
 * §4.1 PDU, §6 function codes, §7 exception responses.
 */
import type { RegisterTable } from '@smart-village/shared';

/** MBAP v1.1b3 §7: the exception codes a slave answers with. */
export const EXCEPTION = {
  ILLEGAL_FUNCTION: 0x01,
  ILLEGAL_DATA_ADDRESS: 0x02,
  ILLEGAL_DATA_VALUE: 0x03,
  SERVER_DEVICE_FAILURE: 0x04,
  GATEWAY_PATH_UNAVAILABLE: 0x0a,
  GATEWAY_TARGET_FAILED: 0x0b,
} as const;
export type ExceptionCode = number;

export type WordTable = Extract<RegisterTable, 'holding' | 'input'>;
export type BitTable = Extract<RegisterTable, 'coil' | 'discrete'>;

/** MBAP v1.1b3 §6: quantity limits per request. */
export const LIMITS = {
  /** §6.1, §6.2: 1..2000 (0x07D0) coils or discrete inputs per read. */
  readBits: 2000,
  /** §6.3, §6.4: 1..125 (0x007D) registers per read. */
  readWords: 125,
  /** §6.11: 1..1968 (0x07B0) coils per write. */
  writeBits: 1968,
  /** §6.12: 1..123 (0x007B) registers per write. */
  writeWords: 123,
} as const;

/**
 * What a slave device holds. Reads return the values (words 0..0xFFFF, bits 0/1) or the
 * exception code to answer with; writes return an exception code or undefined on success.
 * Quantity limits are checked by `handlePdu` before the bank is asked.
 */
export interface RegisterBank {
  readWords(table: WordTable, address: number, quantity: number): number[] | ExceptionCode;
  readBits(table: BitTable, address: number, quantity: number): number[] | ExceptionCode;
  /** Holding registers (FC 6 and 16). */
  writeRegisters(address: number, values: readonly number[]): ExceptionCode | undefined;
  /** Coils (FC 5 and 15); values are 0/1. */
  writeCoils(address: number, values: readonly number[]): ExceptionCode | undefined;
}

export interface MemoryBankOptions {
  /**
   * When true (the default) only addresses that were set exist; any other address in a request
   * answers exception 02, as a real device does outside its register map. When false every
   * address reads 0 until set.
   */
  strict?: boolean;
  /** Told after each successful write by a master (the simulator drives valves from this). */
  onWrite?: (table: 'holding' | 'coil', address: number, values: readonly number[]) => void;
}

const ADDRESS_SPACE = 0x10000;

/** An in-memory bank over sparse maps, for tests and the simulated village. */
export class MemoryBank implements RegisterBank {
  private readonly tables: Record<RegisterTable, Map<number, number>> = {
    holding: new Map(),
    input: new Map(),
    coil: new Map(),
    discrete: new Map(),
  };

  constructor(private readonly options: MemoryBankOptions = {}) {}

  setWord(table: WordTable, address: number, value: number): this {
    checkAddress(address, 1);
    this.tables[table].set(address, value & 0xffff);
    return this;
  }

  setWords(table: WordTable, address: number, values: readonly number[]): this {
    checkAddress(address, values.length);
    values.forEach((v, i) => this.tables[table].set(address + i, v & 0xffff));
    return this;
  }

  setBit(table: BitTable, address: number, on: boolean | number): this {
    checkAddress(address, 1);
    this.tables[table].set(address, on ? 1 : 0);
    return this;
  }

  setBits(table: BitTable, address: number, values: readonly (boolean | number)[]): this {
    checkAddress(address, values.length);
    values.forEach((v, i) => this.tables[table].set(address + i, v ? 1 : 0));
    return this;
  }

  /** Makes `count` addresses from `address` exist (value 0) where not already set. */
  define(table: RegisterTable, address: number, count: number): this {
    checkAddress(address, count);
    const map = this.tables[table];
    for (let a = address; a < address + count; a++) if (!map.has(a)) map.set(a, 0);
    return this;
  }

  /** The stored value, or undefined when the address does not exist. */
  get(table: RegisterTable, address: number): number | undefined {
    return this.tables[table].get(address);
  }

  readWords(table: WordTable, address: number, quantity: number): number[] | ExceptionCode {
    return this.read(table, address, quantity);
  }

  readBits(table: BitTable, address: number, quantity: number): number[] | ExceptionCode {
    return this.read(table, address, quantity);
  }

  writeRegisters(address: number, values: readonly number[]): ExceptionCode | undefined {
    return this.write('holding', address, values.map((v) => v & 0xffff));
  }

  writeCoils(address: number, values: readonly number[]): ExceptionCode | undefined {
    return this.write('coil', address, values.map((v) => (v ? 1 : 0)));
  }

  private read(table: RegisterTable, address: number, quantity: number): number[] | ExceptionCode {
    if (address + quantity > ADDRESS_SPACE) return EXCEPTION.ILLEGAL_DATA_ADDRESS;
    const map = this.tables[table];
    const strict = this.options.strict ?? true;
    const out: number[] = [];
    for (let a = address; a < address + quantity; a++) {
      const v = map.get(a);
      if (v === undefined && strict) return EXCEPTION.ILLEGAL_DATA_ADDRESS;
      out.push(v ?? 0);
    }
    return out;
  }

  private write(table: 'holding' | 'coil', address: number, values: readonly number[]): ExceptionCode | undefined {
    if (address + values.length > ADDRESS_SPACE) return EXCEPTION.ILLEGAL_DATA_ADDRESS;
    const map = this.tables[table];
    // All or nothing: check the whole range before changing anything.
    if (this.options.strict ?? true) {
      for (let a = address; a < address + values.length; a++) if (!map.has(a)) return EXCEPTION.ILLEGAL_DATA_ADDRESS;
    }
    values.forEach((v, i) => map.set(address + i, v));
    this.options.onWrite?.(table, address, values);
    return undefined;
  }
}

function checkAddress(address: number, count: number): void {
  if (!Number.isInteger(address) || address < 0 || !Number.isInteger(count) || address + count > ADDRESS_SPACE) {
    throw new RangeError(`Modbus address range ${address}+${count} is outside 0..65535`);
  }
}

/** MBAP v1.1b3 §7: an exception response is the function code with its high bit set, then the code. */
export function exceptionPdu(functionCode: number, code: ExceptionCode): Buffer {
  return Buffer.from([(functionCode | 0x80) & 0xff, code & 0xff]);
}

/** If `pdu` is an exception response, its exception code. */
export function exceptionOf(pdu: Uint8Array): ExceptionCode | undefined {
  const fc = pdu[0];
  return fc !== undefined && fc & 0x80 && pdu.length === 2 ? pdu[1] : undefined;
}

/**
 * Serves one request PDU (function code + data, MBAP v1.1b3 §4.1) from `bank` and returns the
 * response PDU, an exception response where the request cannot be served. Never throws.
 *
 * Checks follow the order of the per-function state diagrams in §6: function code (01), then
 * quantity and request structure (03), then address range (02), then the bank itself.
 * §7 allows 03 for "the implied length is incorrect", used for truncated or padded PDUs.
 */
export function handlePdu(bank: RegisterBank, pdu: Uint8Array): Buffer {
  const fc = pdu[0];
  if (fc === undefined) return exceptionPdu(0, EXCEPTION.ILLEGAL_FUNCTION);
  const data = Buffer.from(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  try {
    switch (fc) {
      case 0x01:
        return readBits(bank, 'coil', data);
      case 0x02:
        return readBits(bank, 'discrete', data);
      case 0x03:
        return readWords(bank, 'holding', data);
      case 0x04:
        return readWords(bank, 'input', data);
      case 0x05:
        return writeSingleCoil(bank, data);
      case 0x06:
        return writeSingleRegister(bank, data);
      case 0x0f:
        return writeMultipleCoils(bank, data);
      case 0x10:
        return writeMultipleRegisters(bank, data);
      default:
        return exceptionPdu(fc, EXCEPTION.ILLEGAL_FUNCTION);
    }
  } catch {
    // A bank that throws is a device that failed while serving (§7 code 04).
    return exceptionPdu(fc, EXCEPTION.SERVER_DEVICE_FAILURE);
  }
}

/** §6.1 Read Coils / §6.2 Read Discrete Inputs: request fc, start(2), quantity(2). */
function readBits(bank: RegisterBank, table: BitTable, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const quantity = pdu.readUInt16BE(3);
  if (quantity < 1 || quantity > LIMITS.readBits) return exceptionPdu(fc, EXCEPTION.ILLEGAL_DATA_VALUE);
  if (address + quantity > ADDRESS_SPACE) return exceptionPdu(fc, EXCEPTION.ILLEGAL_DATA_ADDRESS);
  const bits = bank.readBits(table, address, quantity);
  if (typeof bits === 'number') return exceptionPdu(fc, bits);
  // Response: fc, byte count, then bits packed LSB-first, last byte zero-padded.
  const packed = packBits(bits);
  return Buffer.concat([Buffer.from([fc, packed.length]), packed]);
}

/** §6.3 Read Holding Registers / §6.4 Read Input Registers: request fc, start(2), quantity(2). */
function readWords(bank: RegisterBank, table: WordTable, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const quantity = pdu.readUInt16BE(3);
  if (quantity < 1 || quantity > LIMITS.readWords) return exceptionPdu(fc, EXCEPTION.ILLEGAL_DATA_VALUE);
  if (address + quantity > ADDRESS_SPACE) return exceptionPdu(fc, EXCEPTION.ILLEGAL_DATA_ADDRESS);
  const words = bank.readWords(table, address, quantity);
  if (typeof words === 'number') return exceptionPdu(fc, words);
  // Response: fc, byte count (2 × quantity), then the registers big-endian.
  const out = Buffer.alloc(2 + words.length * 2);
  out[0] = fc;
  out[1] = words.length * 2;
  words.forEach((w, i) => out.writeUInt16BE(w & 0xffff, 2 + i * 2));
  return out;
}

/** §6.5 Write Single Coil: value must be 0xFF00 (on) or 0x0000 (off), else 03; answer echoes the request. */
function writeSingleCoil(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(0x05, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const value = pdu.readUInt16BE(3);
  if (value !== 0xff00 && value !== 0x0000) return exceptionPdu(0x05, EXCEPTION.ILLEGAL_DATA_VALUE);
  const err = bank.writeCoils(address, [value === 0xff00 ? 1 : 0]);
  if (err !== undefined) return exceptionPdu(0x05, err);
  return Buffer.from(pdu);
}

/** §6.6 Write Single Register: any 16-bit value; the answer echoes the request. */
function writeSingleRegister(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(0x06, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const err = bank.writeRegisters(address, [pdu.readUInt16BE(3)]);
  if (err !== undefined) return exceptionPdu(0x06, err);
  return Buffer.from(pdu);
}

/** §6.11 Write Multiple Coils: fc, start(2), quantity(2), byte count = ceil(quantity/8), bits. */
function writeMultipleCoils(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length < 6) return exceptionPdu(0x0f, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const quantity = pdu.readUInt16BE(3);
  const byteCount = pdu[5] ?? 0;
  if (quantity < 1 || quantity > LIMITS.writeBits || byteCount !== Math.ceil(quantity / 8) || pdu.length !== 6 + byteCount) {
    return exceptionPdu(0x0f, EXCEPTION.ILLEGAL_DATA_VALUE);
  }
  if (address + quantity > ADDRESS_SPACE) return exceptionPdu(0x0f, EXCEPTION.ILLEGAL_DATA_ADDRESS);
  const err = bank.writeCoils(address, unpackBits(pdu.subarray(6), quantity));
  if (err !== undefined) return exceptionPdu(0x0f, err);
  return Buffer.from(pdu.subarray(0, 5));
}

/** §6.12 Write Multiple Registers: fc, start(2), quantity(2), byte count = 2 × quantity, words. */
function writeMultipleRegisters(bank: RegisterBank, pdu: Buffer): Buffer {
  if (pdu.length < 6) return exceptionPdu(0x10, EXCEPTION.ILLEGAL_DATA_VALUE);
  const address = pdu.readUInt16BE(1);
  const quantity = pdu.readUInt16BE(3);
  const byteCount = pdu[5] ?? 0;
  if (quantity < 1 || quantity > LIMITS.writeWords || byteCount !== quantity * 2 || pdu.length !== 6 + byteCount) {
    return exceptionPdu(0x10, EXCEPTION.ILLEGAL_DATA_VALUE);
  }
  if (address + quantity > ADDRESS_SPACE) return exceptionPdu(0x10, EXCEPTION.ILLEGAL_DATA_ADDRESS);
  const values: number[] = [];
  for (let i = 0; i < quantity; i++) values.push(pdu.readUInt16BE(6 + i * 2));
  const err = bank.writeRegisters(address, values);
  if (err !== undefined) return exceptionPdu(0x10, err);
  return Buffer.from(pdu.subarray(0, 5));
}

/** §6.1: the first bit goes to the LSB of the first byte. */
export function packBits(bits: readonly number[]): Buffer {
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
  });
  return out;
}

export function unpackBits(bytes: Uint8Array, quantity: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < quantity; i++) out.push(((bytes[i >> 3] ?? 0) >> (i & 7)) & 1);
  return out;
}

/** Functions that change state; the only ones allowed as a broadcast (Modbus over serial line v1.02 §2.1). */
export function isWriteFunction(fc: number): boolean {
  return fc === 0x05 || fc === 0x06 || fc === 0x0f || fc === 0x10;
}

/**
 * How a slave misbehaves, set at runtime per unit:
 * - none: answers correctly
 * - silent: a dead slave, never answers
 * - bad-crc: answers with a corrupted CRC (over Modbus TCP, where there is no CRC, a gateway
 *   that got a corrupted frame from its serial side answers 0x0B instead)
 * - delay: answers after `ms` more
 * - exception: answers every request with exception `code`
 * - wrong-unit: answers with another unit id
 */
export type SlaveFault =
  | { kind: 'none' }
  | { kind: 'silent' }
  | { kind: 'bad-crc' }
  | { kind: 'delay'; ms: number }
  | { kind: 'exception'; code: ExceptionCode }
  | { kind: 'wrong-unit' };

/** What a transport should send back for one request; undefined means stay silent. */
export interface SlaveReply {
  /** Unit id to put in the response (differs from the request under a wrong-unit fault). */
  unit: number;
  pdu: Buffer;
  /** The transport must corrupt the frame's error check (bad-crc fault). */
  corrupt: boolean;
  /** Extra time before answering, on top of any wire time (delay fault). */
  delayMs: number;
}

/**
 * The units a transport serves, their faults and request counts: the part of a slave server
 * that does not depend on the transport. Pure; the servers and the simulated line share it.
 */
export class SlaveUnits {
  private readonly faults = new Map<number, SlaveFault>();
  private readonly counts = new Map<number, number>();

  constructor(private readonly units: ReadonlyMap<number, RegisterBank>) {}

  has(unit: number): boolean {
    return this.units.has(unit);
  }

  setFault(unit: number, fault: SlaveFault): void {
    if (fault.kind === 'none') this.faults.delete(unit);
    else this.faults.set(unit, fault);
  }

  fault(unit: number): SlaveFault {
    return this.faults.get(unit) ?? { kind: 'none' };
  }

  /** Requests addressed to `unit` that reached it, whatever its fault made of them. */
  requestsServed(unit: number): number {
    return this.counts.get(unit) ?? 0;
  }

  /**
   * Serves a request for `unit`. Unit 0 is a broadcast: writes go to every unit and nobody
   * answers (Modbus over serial line v1.02 §2.1); an unknown unit does not answer either.
   */
  serve(unit: number, pdu: Uint8Array): SlaveReply | undefined {
    if (unit === 0) {
      const fc = pdu[0] ?? 0;
      if (!isWriteFunction(fc)) return undefined;
      for (const [id, bank] of this.units) {
        if (this.fault(id).kind === 'silent') continue;
        this.count(id);
        handlePdu(bank, pdu);
      }
      return undefined;
    }
    const bank = this.units.get(unit);
    if (!bank) return undefined;
    this.count(unit);
    const fault = this.fault(unit);
    const reply = { unit, corrupt: false, delayMs: 0 };
    switch (fault.kind) {
      case 'silent':
        return undefined;
      case 'exception':
        return { ...reply, pdu: exceptionPdu(pdu[0] ?? 0, fault.code) };
      case 'bad-crc':
        return { ...reply, pdu: handlePdu(bank, pdu), corrupt: true };
      case 'delay':
        return { ...reply, pdu: handlePdu(bank, pdu), delayMs: Math.max(0, fault.ms) };
      case 'wrong-unit':
        return { ...reply, pdu: handlePdu(bank, pdu), unit: otherUnit(unit) };
      case 'none':
        return { ...reply, pdu: handlePdu(bank, pdu) };
    }
  }

  private count(unit: number): void {
    this.counts.set(unit, this.requestsServed(unit) + 1);
  }
}

/** Another valid unit id (1..247, Modbus over serial line v1.02 §2.2). */
function otherUnit(unit: number): number {
  return (unit % 247) + 1;
}
