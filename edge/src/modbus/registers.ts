import { QUANTITIES, type ByteOrder, type Quality, type RegisterPoint, type RegisterTable, type Unit, type ValueType } from '@smart-village/shared';

/** Registers (16-bit words) a value of this type occupies; bits occupy one coil/input. */
export function wordCount(type: ValueType): number {
  switch (type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
  }
}

/**
 * Byte orders are named after where the bytes of the big-endian value A B C D (E F G H) land
 * on the wire. Both steps are their own inverse, so the same transform encodes and decodes.
 */
function reorder(words: readonly number[], order: ByteOrder): number[] {
  const reverseWords = order === 'CDAB' || order === 'DCBA';
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const out = reverseWords ? [...words].reverse() : [...words];
  return swapBytes ? out.map((w) => ((w & 0xff) << 8) | ((w >> 8) & 0xff)) : out;
}

function toBuffer(words: readonly number[]): Buffer {
  const buf = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => buf.writeUInt16BE(w & 0xffff, i * 2));
  return buf;
}

/** Decodes the raw register words of one value (in wire order) to a number. */
export function decodeWords(words: readonly number[], type: ValueType, order: ByteOrder = 'ABCD'): number {
  const n = wordCount(type);
  if (words.length !== n) throw new RangeError(`${type} needs ${n} registers, got ${words.length}`);
  const buf = toBuffer(reorder(words, order));
  switch (type) {
    case 'bool':
      return buf.readUInt16BE(0) !== 0 ? 1 : 0;
    case 'uint16':
      return buf.readUInt16BE(0);
    case 'int16':
      return buf.readInt16BE(0);
    case 'uint32':
      return buf.readUInt32BE(0);
    case 'int32':
      return buf.readInt32BE(0);
    case 'float32':
      return buf.readFloatBE(0);
    // 64-bit integers beyond 2^53 lose precision as JS numbers; meter totals stay far below.
    case 'uint64':
      return Number(buf.readBigUInt64BE(0));
    case 'int64':
      return Number(buf.readBigInt64BE(0));
    case 'float64':
      return buf.readDoubleBE(0);
  }
}

/** Encodes a number as register words in wire order (used by the simulated slaves and tests). */
export function encodeWords(value: number, type: ValueType, order: ByteOrder = 'ABCD'): number[] {
  const buf = Buffer.alloc(wordCount(type) * 2);
  switch (type) {
    case 'bool':
      buf.writeUInt16BE(value ? 1 : 0, 0);
      break;
    case 'uint16':
      buf.writeUInt16BE(clampInt(value, 0, 0xffff), 0);
      break;
    case 'int16':
      buf.writeInt16BE(clampInt(value, -0x8000, 0x7fff), 0);
      break;
    case 'uint32':
      buf.writeUInt32BE(clampInt(value, 0, 0xffffffff), 0);
      break;
    case 'int32':
      buf.writeInt32BE(clampInt(value, -0x80000000, 0x7fffffff), 0);
      break;
    case 'float32':
      buf.writeFloatBE(value, 0);
      break;
    case 'uint64':
      buf.writeBigUInt64BE(BigInt(Math.max(0, Math.round(value))), 0);
      break;
    case 'int64':
      buf.writeBigInt64BE(BigInt(Math.round(value)), 0);
      break;
    case 'float64':
      buf.writeDoubleBE(value, 0);
      break;
  }
  const words: number[] = [];
  for (let i = 0; i < buf.length; i += 2) words.push(buf.readUInt16BE(i));
  return reorder(words, order);
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(v)));
}

/** A point after defaults are filled from its quantity. */
export interface ResolvedPoint extends RegisterPoint {
  unit: Unit;
  min: number;
  max: number;
}

export function resolvePoint(p: RegisterPoint): ResolvedPoint {
  const q = QUANTITIES[p.quantity];
  return { ...p, unit: p.unit ?? q.unit, min: p.min ?? q.min, max: p.max ?? q.max };
}

/** Registers (or bits) a point spans at its address. */
export function span(p: RegisterPoint): number {
  if (p.table === 'coil' || p.table === 'discrete') return 1;
  if (p.bit !== undefined) return 1;
  return wordCount(p.type);
}

export interface DecodedValue {
  point: string;
  value: number | null;
  quality: Quality;
  unit: Unit;
  /** The raw words (or bits) it was decoded from, for commissioning. */
  raw: number[];
}

/** Raw words/bits of one point -> engineering value with quality. */
export function decodePoint(p: ResolvedPoint, raw: readonly number[]): DecodedValue {
  let x: number;
  if (p.table === 'coil' || p.table === 'discrete') x = raw[0] ? 1 : 0;
  else if (p.bit !== undefined) x = ((raw[0] ?? 0) >> p.bit) & 1;
  else x = decodeWords(raw, p.type, p.order);
  if (!Number.isFinite(x)) return { point: p.name, value: null, quality: 'error', unit: p.unit, raw: [...raw] };
  // Round away float noise from the scale (0.1 * 253 = 25.300000000000004).
  const value = Math.round((x * p.scale + p.offset) * 1e9) / 1e9;
  const quality: Quality = value < p.min || value > p.max ? 'out-of-range' : 'good';
  return { point: p.name, value, quality, unit: p.unit, raw: [...raw] };
}

/** Inverse of decodePoint for the simulated slaves: engineering value -> raw words. */
export function encodePoint(p: ResolvedPoint, value: number): number[] {
  const x = (value - p.offset) / p.scale;
  if (p.table === 'coil' || p.table === 'discrete') return [x ? 1 : 0];
  if (p.bit !== undefined) return [x ? 1 << p.bit : 0];
  return encodeWords(x, p.type, p.order);
}

/** One Modbus read request covering one or more points of a slave. */
export interface ReadRequest {
  table: RegisterTable;
  address: number;
  length: number;
  points: ResolvedPoint[];
}

/** Modbus Application Protocol v1.1b3 §6.1-6.4: at most 125 registers or 2000 bits per read. */
export const MAX_REGISTERS = 125;
export const MAX_BITS = 2000;

/**
 * Plans the reads of one slave: points of the same table whose addresses are at most `gap`
 * registers apart are read in one request (reading a few unused registers costs ~2 bytes each on
 * the wire; a request costs ~8 bytes plus two silent intervals and the slave's turnaround).
 */
export function planReads(points: readonly ResolvedPoint[], gap: number): ReadRequest[] {
  const out: ReadRequest[] = [];
  const tables: RegisterTable[] = ['holding', 'input', 'coil', 'discrete'];
  for (const table of tables) {
    const limit = table === 'coil' || table === 'discrete' ? MAX_BITS : MAX_REGISTERS;
    const sorted = points.filter((p) => p.table === table).sort((a, b) => a.address - b.address || span(b) - span(a));
    let cur: ReadRequest | undefined;
    for (const p of sorted) {
      const end = p.address + span(p);
      if (cur && p.address - (cur.address + cur.length) <= gap && end - cur.address <= limit) {
        cur.length = Math.max(cur.length, end - cur.address);
        cur.points.push(p);
      } else {
        cur = { table, address: p.address, length: span(p), points: [p] };
        out.push(cur);
      }
    }
  }
  return out;
}

/** Slices a request's response into each point's raw words and decodes them. */
export function decodeResponse(req: ReadRequest, data: readonly number[]): DecodedValue[] {
  return req.points.map((p) => decodePoint(p, data.slice(p.address - req.address, p.address - req.address + span(p))));
}
