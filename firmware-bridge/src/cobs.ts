/**
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM Trans. Networking 7(2), 1999):
 * removes every 0x00 from a body so 0x00 can delimit frames on the wire. A code byte n (1-255)
 * says "n-1 data bytes follow, then a zero" — except after 255 (254 bytes, no zero) and at the
 * end of the block, where the final zero is implied and dropped. Overhead: 1 byte per 254.
 */

/** Encoded length of `n` bytes (worst case: no zero in them). */
export function cobsMaxLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** Encodes `data` (which may hold zeros) into `out` at `offset`; returns the end offset. */
export function cobsEncodeInto(data: Uint8Array, out: Uint8Array, offset = 0): number {
  let codeAt = offset;
  let o = offset + 1;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const b = data[i] as number;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      continue;
    }
    out[o++] = b;
    code++;
    if (code === 0xff) {
      out[codeAt] = code;
      code = 1;
      // A full block that ends the data needs no further code byte (the canonical encoding).
      if (i === data.length - 1) return o;
      codeAt = o++;
    }
  }
  out[codeAt] = code;
  return o;
}

export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxLength(data.length));
  return out.subarray(0, cobsEncodeInto(data, out));
}

/**
 * Decodes one COBS block (without delimiters) into `out`; returns the decoded length, or -1
 * when the block is not valid COBS (a zero inside it, or a code pointing past its end).
 */
export function cobsDecodeInto(data: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let o = 0;
  let i = start;
  while (i < end) {
    const code = data[i++] as number;
    if (code === 0 || i + code - 1 > end) return -1;
    for (let k = 1; k < code; k++) {
      const b = data[i++] as number;
      if (b === 0) return -1;
      out[o++] = b;
    }
    if (code !== 0xff && i < end) out[o++] = 0;
  }
  return o;
}

export function cobsDecode(data: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(data.length);
  const n = cobsDecodeInto(data, 0, data.length, out);
  return n < 0 ? undefined : out.subarray(0, n);
}
