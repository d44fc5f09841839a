/**
 * CRC-16/CCITT-FALSE (RevEng catalogue name CRC-16/IBM-3740): width 16, poly 0x1021,
 * init 0xFFFF, no reflection, xorout 0x0000, check 0x29B1 over the ASCII bytes "123456789".
 * See PROTOCOL.md §3. The C++ side computes it bitwise (no table on a 2 KB AVR); here a
 * 256-entry table makes the host decoder cheap.
 */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

export const CRC16_INIT = 0xffff;

/** CRC of bytes[start, end), continuing from `crc` (default: the initial value). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length, crc = CRC16_INIT): number {
  let c = crc;
  for (let i = start; i < end; i++) c = ((c << 8) & 0xffff) ^ (TABLE[((c >> 8) ^ (bytes[i] as number)) & 0xff] as number);
  return c;
}
