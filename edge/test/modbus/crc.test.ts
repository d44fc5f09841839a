import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { appendCrc, crc16Modbus, crc16Update, hasValidCrc } from '../../src/modbus/crc.js';

// The client's own CRC (modbus-serial/utils/crc16), used only as an independent oracle.
const clientCrc = createRequire(import.meta.url)('modbus-serial/utils/crc16') as (b: Buffer) => number;

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('crc16Modbus (Modbus over serial line v1.02 §2.5.1.2, Appendix B)', () => {
  it.each([
    // The CRC catalogue check value for CRC-16/MODBUS.
    ['ascii 123456789', Buffer.from('123456789', 'ascii'), 0x4b37],
    ['empty input is the preset', Buffer.alloc(0), 0xffff],
    // Read holding registers: unit 1, address 0, quantity 1 -> frame ends 84 0A.
    ['01 03 00 00 00 01', hex('010300000001'), 0x0a84],
    // The spec's example request: unit 0x11, FC 3, address 0x006B, quantity 3 -> 76 87.
    ['11 03 00 6B 00 03', hex('1103006B0003'), 0x8776],
  ])('%s', (_name, data, crc) => {
    expect(crc16Modbus(data)).toBe(crc);
  });

  it('appends the CRC low byte first', () => {
    expect(appendCrc(hex('010300000001')).toString('hex')).toBe('010300000001840a');
    expect(appendCrc(hex('1103006B0003')).toString('hex')).toBe('1103006b00037687');
  });

  it('agrees with the modbus-serial client on random frames', () => {
    let seed = 7;
    for (let n = 0; n < 200; n++) {
      const len = 1 + (n % 60);
      const buf = Buffer.alloc(len);
      for (let i = 0; i < len; i++) buf[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
      expect(crc16Modbus(buf)).toBe(clientCrc(buf));
    }
  });

  it('crc16Update over bytes equals the whole-buffer CRC', () => {
    const data = Buffer.from('smart-village');
    expect(data.reduce((c, b) => crc16Update(c, b), 0xffff)).toBe(crc16Modbus(data));
  });

  it.each([
    ['valid frame', '010300000001840a', true],
    ['CRC bytes swapped', '0103000000010a84', false],
    ['one data bit flipped', '010300000003840a', false],
    ['too short to carry a CRC', '0a84', false],
  ])('hasValidCrc: %s', (_name, frame, ok) => {
    expect(hasValidCrc(hex(frame))).toBe(ok);
  });
});
