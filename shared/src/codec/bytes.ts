import { VillageError } from '../errors.js';

/** Largest integer a varint may carry: every value on the wire must survive a JS number exactly. */
const MAX_UINT = Number.MAX_SAFE_INTEGER;

/** What a payload is, for error messages ("telemetry payload: …"). */
export type PayloadKind = 'telemetry' | 'events';

export function payloadError(kind: PayloadKind, problem: string, details: Record<string, unknown> = {}, cause?: unknown): VillageError {
  return new VillageError('PAYLOAD_INVALID', `${kind} payload: ${problem}`, { kind, ...details }, cause === undefined ? undefined : { cause });
}

const encoder = new TextEncoder();

/** Growable byte buffer for building a body; grows by doubling so a 1-hour backlog costs few copies. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128, 0 ≤ n ≤ 2^53-1. Arithmetic, not bit ops: those truncate to 32 bits. */
  uvarint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /**
   * Sign-magnitude varint: first byte = continue bit, sign bit, low 6 bits of |n|; then |n|/64
   * as uvarint. Same size as zigzag (|n| < 64 in one byte) but exact over the whole safe-integer
   * range, where zigzag's 2|n|+1 would exceed 2^53 and lose its low bit.
   */
  svarint(n: number): void {
    const negative = n < 0;
    let m = negative ? -n : n;
    const low = m % 0x40;
    m = Math.floor(m / 0x40);
    this.u8(low | (negative ? 0x40 : 0) | (m > 0 ? 0x80 : 0));
    if (m > 0) this.uvarint(m);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** uvarint byte length, then the UTF-8 bytes. */
  string(text: string): void {
    const b = encoder.encode(text);
    this.uvarint(b.length);
    this.bytes(b);
  }

  f64(x: number): void {
    this.room(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).setFloat64(0, x, true);
    this.pos += 8;
  }

  get length(): number {
    return this.pos;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Cursor over an untrusted body. Every read checks bounds and canonical form and throws
 * PAYLOAD_INVALID naming the field (`what`) and the byte offset, so a bad payload says what
 * was wrong instead of yielding garbage.
 */
export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly kind: PayloadKind,
    /** Added to offsets in messages: the body starts after the envelope header. */
    private readonly where: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(problem: string): never {
    throw payloadError(this.kind, `${problem} (at byte ${this.pos} of the ${this.where})`, { offset: this.pos });
  }

  u8(what: string): number {
    const b = this.buf[this.pos];
    if (b === undefined) this.fail(`truncated while reading ${what}`);
    this.pos++;
    return b;
  }

  uvarint(what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.u8(what);
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        // A zero last byte means padding (e.g. 0x80 0x00): one value, one encoding.
        if (b === 0 && i > 0) this.fail(`${what} is a non-minimal varint`);
        break;
      }
      scale *= 0x80;
      if (i === 7) this.fail(`${what} is a varint longer than 8 bytes`);
    }
    if (result > MAX_UINT) this.fail(`${what} (${result}) exceeds 2^53-1`);
    return result;
  }

  svarint(what: string): number {
    const first = this.u8(what);
    let m = first & 0x3f;
    if (first & 0x80) {
      const high = this.uvarint(what);
      if (high === 0) this.fail(`${what} is a non-minimal varint`);
      m += high * 0x40;
      if (m > MAX_UINT) this.fail(`${what} exceeds ±(2^53-1)`);
    }
    if (first & 0x40) {
      if (m === 0) this.fail(`${what} is a negative zero`);
      return -m;
    }
    return m;
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.remaining) this.fail(`truncated: ${what} needs ${n} bytes, ${this.remaining} left`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(what: string): string {
    const n = this.uvarint(`${what} length`);
    const raw = this.bytes(n, what);
    try {
      return utf8.decode(raw);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }

  f64(what: string): number {
    if (this.remaining < 8) this.fail(`truncated while reading ${what}`);
    const x = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }

  /** A count of items that each take at least `minBytes`: rejects counts the body cannot hold before anything is allocated for them. */
  count(what: string, minBytes: number): number {
    const n = this.uvarint(what);
    if (n * minBytes > this.remaining) this.fail(`${what} ${n} does not fit in the ${this.remaining} bytes left`);
    return n;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes after the last column`);
  }
}

/** CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, as in zlib, PNG, Ethernet). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

// Our own table rather than zlib.crc32, which only exists from Node 20.15 / 22.2 and engines says >=20.
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
