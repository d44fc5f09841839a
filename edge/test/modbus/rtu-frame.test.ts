import { describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { corruptCrc, decodeRtu, encodeRtu, requestAduLength, RtuRequestSplitter, type RtuAdu } from '../../src/modbus/rtu-frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const show = (adus: RtuAdu[]): string[] => adus.map((a) => `${a.unit}:${a.pdu.toString('hex')}`);

const readHolding = encodeRtu(1, hex('03 0000 000A'));
const writeMany = encodeRtu(2, hex('10 0001 0002 04 000A 0102'));
const writeCoils = encodeRtu(17, hex('0F 0013 000A 02 CD 01'));
const unknownFc = encodeRtu(3, hex('2B 0E 01 00'));

describe('encodeRtu / decodeRtu (Modbus over serial line v1.02 §2.5.1)', () => {
  it('encodes unit + PDU + CRC low byte first', () => {
    expect(encodeRtu(1, hex('03 0000 0001')).toString('hex')).toBe('010300000001840a');
  });

  it('decodes what it encodes', () => {
    expect(decodeRtu(writeMany)).toEqual({ unit: 2, pdu: hex('10 0001 0002 04 000A 0102') });
  });

  it.each([
    ['bad CRC', corruptCrc(readHolding), 'MODBUS_CRC'],
    ['too short', hex('01 03 84'), 'MODBUS_FRAME'],
    ['too long', Buffer.alloc(257, 1), 'MODBUS_FRAME'],
  ])('rejects %s with a VillageError', (_name, frame, code) => {
    expect(() => decodeRtu(frame)).toThrow(VillageError);
    try {
      decodeRtu(frame);
    } catch (err) {
      expect((err as VillageError).code).toBe(code);
    }
  });

  it('refuses to encode what cannot be a frame', () => {
    expect(() => encodeRtu(256, hex('03'))).toThrow(RangeError);
    expect(() => encodeRtu(1, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeRtu(1, Buffer.alloc(254))).toThrow(RangeError);
  });
});

describe('requestAduLength (by function code, MBAP v1.1b3 §6)', () => {
  it.each([
    ['FC01', hex('01 01'), 8],
    ['FC03', hex('01 03 00'), 8],
    ['FC06', hex('01 06'), 8],
    ['FC16 with its byte count', hex('01 10 0000 0002 04'), 13],
    ['FC15 before the byte count', hex('01 0F 0000 00'), 'need-more'],
    ['nothing but the unit', hex('01'), 'need-more'],
    ['FC43', hex('01 2B'), 'unknown'],
  ])('%s', (_name, buf, length) => {
    expect(requestAduLength(buf)).toBe(length);
  });
});

describe('RtuRequestSplitter', () => {
  it('splits back-to-back frames of each kind', () => {
    const s = new RtuRequestSplitter();
    expect(show(s.push(Buffer.concat([readHolding, writeMany, writeCoils, unknownFc])))).toEqual([
      '1:030000000a',
      '2:100001000204000a0102',
      '17:0f0013000a02cd01',
      '3:2b0e0100',
    ]);
    expect(s.pending).toBe(0);
    expect(s.droppedBytes).toBe(0);
  });

  it.each([1, 2, 3, 5, 7])('reassembles frames cut into %i-byte chunks', (size) => {
    const s = new RtuRequestSplitter();
    const stream = Buffer.concat([readHolding, writeMany, writeCoils]);
    const out: RtuAdu[] = [];
    for (let i = 0; i < stream.length; i += size) out.push(...s.push(stream.subarray(i, i + size)));
    expect(show(out)).toEqual(['1:030000000a', '2:100001000204000a0102', '17:0f0013000a02cd01']);
  });

  it.each([
    ['noise before a frame', hex('00 FF 13 37'), readHolding],
    ['a reserved unit id (248..255)', hex('F8 03'), readHolding],
    ['an exception-style function code', hex('01 83 02'), readHolding],
    // Looks like the start of an FC16 request with byte count 0x20, which would need 41 bytes.
    ['a partial FC16 header that never completes', hex('01 10 0000 0010 20'), writeMany],
    ['a frame with a bad CRC', corruptCrc(readHolding), writeCoils],
  ])('resynchronises after %s', (_name, garbage, frame) => {
    const s = new RtuRequestSplitter();
    const out = s.push(Buffer.concat([garbage, frame]));
    expect(out.map((a) => a.pdu.toString('hex'))).toEqual([decodeRtu(frame).pdu.toString('hex')]);
    expect(s.droppedBytes).toBe(garbage.length);
    expect(s.pending).toBe(0);
  });

  it('resynchronises when the garbage and the frame arrive in separate chunks', () => {
    const s = new RtuRequestSplitter();
    expect(s.push(hex('01 10 0000 0010'))).toEqual([]);
    expect(s.push(hex('20'))).toEqual([]);
    expect(show(s.push(readHolding.subarray(0, 4)))).toEqual([]);
    expect(show(s.push(readHolding.subarray(4)))).toEqual(['1:030000000a']);
    expect(s.pending).toBe(0);
  });

  it('never holds more than one maximal frame of undecided bytes', () => {
    const s = new RtuRequestSplitter();
    // Unit 1, an unknown function code and bytes whose CRC never matches.
    const noise = Buffer.alloc(600, 0x41);
    noise[0] = 1;
    s.push(noise);
    expect(s.pending).toBeLessThanOrEqual(256);
    expect(show(s.push(readHolding))).toEqual(['1:030000000a']);
  });

  it('reset() forgets a partial frame', () => {
    const s = new RtuRequestSplitter();
    s.push(readHolding.subarray(0, 5));
    s.reset();
    expect(s.pending).toBe(0);
    expect(s.droppedBytes).toBe(5);
    expect(show(s.push(readHolding))).toEqual(['1:030000000a']);
  });
});
