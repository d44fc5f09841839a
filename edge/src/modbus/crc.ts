/**
 * CRC-16/MODBUS, the error check of an RTU frame.
 *
 * Modbus over serial line v1.02 §2.5.1.2 and Appendix B: generator polynomial 0x8005 processed
 * LSB first (so the reflected constant 0xA001), register preset to 0xFFFF, no final XOR; the
 * CRC is appended to the frame low-order byte first.
 */

/** The CRC of `data` (the whole frame before its two CRC bytes). */
export function crc16Modbus(data: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of data) crc = crc16Update(crc, byte);
  return crc;
}

/** One byte into a running CRC (Appendix B, the bit-wise procedure). */
export function crc16Update(crc: number, byte: number): number {
  let c = (crc ^ byte) & 0xffff;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  return c;
}

/** `body` followed by its CRC, low byte first (§2.5.1.2). */
export function appendCrc(body: Uint8Array): Buffer {
  const out = Buffer.alloc(body.length + 2);
  out.set(body, 0);
  out.writeUInt16LE(crc16Modbus(body), body.length);
  return out;
}

/** Whether the last two bytes of `frame` are the CRC of the bytes before them. */
export function hasValidCrc(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const end = frame.length - 2;
  const carried = (frame[end] ?? 0) | ((frame[end + 1] ?? 0) << 8);
  return carried === crc16Modbus(frame.subarray(0, end));
}
