/**
 * RTU framing: unit id + PDU + CRC (Modbus over serial line v1.02 §2.5.1), and a splitter
 * that finds request frames in a byte stream on the slave side.
 *
 * A real slave delimits frames by silence (t3.5, §2.5.1.1). Over a pty or a TCP gateway the
 * silence is not preserved, so the splitter works from the request lengths each function
 * code implies and the CRC, and resynchronises byte by byte when they do not fit.
 */
import { VillageError } from '@smart-village/shared';
import { appendCrc, crc16Update, hasValidCrc } from './crc.js';

export interface RtuAdu {
  unit: number;
  pdu: Buffer;
}

/** §2.5.1: an RTU frame is at most 256 bytes (address 1 + PDU 253 + CRC 2). */
export const RTU_MAX_ADU = 256;
/** Unit id + function code + CRC. */
const RTU_MIN_ADU = 4;
/** §2.2: 0 is broadcast, 1..247 are slaves, 248..255 reserved. */
const MAX_UNIT = 247;

export function encodeRtu(unit: number, pdu: Uint8Array): Buffer {
  if (!Number.isInteger(unit) || unit < 0 || unit > 255) throw new RangeError(`unit id ${unit} is not a byte`);
  if (pdu.length < 1 || pdu.length > RTU_MAX_ADU - 3) throw new RangeError(`PDU of ${pdu.length} bytes does not fit an RTU frame`);
  const body = Buffer.alloc(1 + pdu.length);
  body[0] = unit;
  body.set(pdu, 1);
  return appendCrc(body);
}

/** The same frame with its CRC inverted, so it is certain to fail the check. */
export function corruptCrc(frame: Uint8Array): Buffer {
  const out = Buffer.from(frame);
  const i = out.length - 2;
  out[i] = (out[i] ?? 0) ^ 0xff;
  out[i + 1] = (out[i + 1] ?? 0) ^ 0xff;
  return out;
}

/** Decodes one complete RTU frame; throws VillageError MODBUS_FRAME or MODBUS_CRC. */
export function decodeRtu(frame: Uint8Array): RtuAdu {
  if (frame.length < RTU_MIN_ADU || frame.length > RTU_MAX_ADU) {
    throw new VillageError('MODBUS_FRAME', `RTU frame of ${frame.length} bytes (expected ${RTU_MIN_ADU}..${RTU_MAX_ADU})`, { length: frame.length });
  }
  if (!hasValidCrc(frame)) {
    throw new VillageError('MODBUS_CRC', 'RTU frame with bad CRC', { frame: Buffer.from(frame).toString('hex') });
  }
  return { unit: frame[0] ?? 0, pdu: Buffer.from(frame.subarray(1, frame.length - 2)) };
}

/**
 * The ADU length of the request starting at `buf[offset]`, as far as the bytes so far tell:
 * a number, 'unknown' for function codes whose length is not fixed by their header, or
 * 'need-more' when the header is not complete yet. MBAP v1.1b3 §6: FC 1–6 requests are
 * fc + 4 bytes; FC 15/16 carry a byte count at PDU offset 5.
 */
export function requestAduLength(buf: Uint8Array, offset = 0): number | 'unknown' | 'need-more' {
  const fc = buf[offset + 1];
  if (fc === undefined) return 'need-more';
  switch (fc) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
      return 8;
    case 0x0f:
    case 0x10: {
      const byteCount = buf[offset + 6];
      return byteCount === undefined ? 'need-more' : 9 + byteCount;
    }
    default:
      return 'unknown';
  }
}

type Probe = { kind: 'frame'; length: number } | { kind: 'incomplete' } | { kind: 'invalid' };

/** Whether a valid request frame starts at `offset`. */
function probe(buf: Uint8Array, offset: number): Probe {
  const available = buf.length - offset;
  if (available < 2) return { kind: 'incomplete' };
  const unit = buf[offset] ?? 0;
  const fc = buf[offset + 1] ?? 0;
  if (unit > MAX_UNIT || fc === 0 || fc >= 0x80) return { kind: 'invalid' };
  const length = requestAduLength(buf, offset);
  if (length === 'need-more') return { kind: 'incomplete' };
  if (length === 'unknown') return scanForCrc(buf, offset);
  if (length > RTU_MAX_ADU) return { kind: 'invalid' };
  if (available < length) return { kind: 'incomplete' };
  return hasValidCrc(buf.subarray(offset, offset + length)) ? { kind: 'frame', length } : { kind: 'invalid' };
}

/**
 * For a function code we do not know the length of (we still answer it, with exception 01):
 * the shortest prefix whose last two bytes are its CRC, computed incrementally in one pass.
 */
function scanForCrc(buf: Uint8Array, offset: number): Probe {
  const end = Math.min(buf.length, offset + RTU_MAX_ADU);
  let crc = 0xffff;
  // At each i, `crc` covers buf[offset, i); bytes i and i+1 may be its CRC, low byte first.
  for (let i = offset; i + 2 <= end; i++) {
    if (i - offset >= 2 && ((buf[i] ?? 0) | ((buf[i + 1] ?? 0) << 8)) === crc) return { kind: 'frame', length: i + 2 - offset };
    crc = crc16Update(crc, buf[i] ?? 0);
  }
  return buf.length - offset >= RTU_MAX_ADU ? { kind: 'invalid' } : { kind: 'incomplete' };
}

/**
 * Finds request frames in the byte stream a slave receives: split across chunks, preceded or
 * interleaved with line noise. A candidate whose CRC fails is dropped one byte at a time; while
 * a candidate is incomplete, a complete valid frame further on wins (the partial one was noise).
 */
export class RtuRequestSplitter {
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes discarded as noise or as frames with a bad CRC. */
  droppedBytes = 0;

  push(chunk: Uint8Array): RtuAdu[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : Buffer.from(chunk);
    const frames: RtuAdu[] = [];
    for (;;) {
      const at0 = probe(this.buffer, 0);
      if (at0.kind === 'frame') {
        frames.push(this.take(at0.length));
        continue;
      }
      if (at0.kind === 'invalid') {
        this.drop(1);
        continue;
      }
      const later = this.findLaterFrame();
      if (later === undefined) break;
      this.drop(later);
    }
    return frames;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Forgets a partial frame (after an idle gap, §2.5.1.1: an interrupted frame is discarded). */
  reset(): void {
    this.droppedBytes += this.buffer.length;
    this.buffer = Buffer.alloc(0);
  }

  private findLaterFrame(): number | undefined {
    for (let k = 1; k + RTU_MIN_ADU <= this.buffer.length; k++) {
      if (probe(this.buffer, k).kind === 'frame') return k;
    }
    // Never hold more than one maximal frame of undecided bytes.
    if (this.buffer.length > RTU_MAX_ADU) return this.buffer.length - RTU_MAX_ADU;
    return undefined;
  }

  private take(length: number): RtuAdu {
    const frame = this.buffer.subarray(0, length);
    this.buffer = Buffer.from(this.buffer.subarray(length));
    return { unit: frame[0] ?? 0, pdu: Buffer.from(frame.subarray(1, length - 2)) };
  }

  private drop(n: number): void {
    this.droppedBytes += n;
    this.buffer = Buffer.from(this.buffer.subarray(n));
  }
}
