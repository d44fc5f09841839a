import { describe, expect, it } from 'vitest';
import {
  EXCEPTION,
  LIMITS,
  MemoryBank,
  SlaveUnits,
  exceptionOf,
  handlePdu,
  packBits,
  unpackBits,
  type RegisterBank,
} from '../../src/modbus/slave.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u16 = (n: number): string => n.toString(16).padStart(4, '0');

/** A small device: holding 0..9 = 100+i, input 0..4 = 200+i, coils 0..19 = (i%3==0), discrete 0..9 = i%2. */
function device(): MemoryBank {
  const bank = new MemoryBank();
  for (let i = 0; i < 10; i++) bank.setWord('holding', i, 100 + i);
  bank.setWords('input', 0, [200, 201, 202, 203, 204]);
  for (let i = 0; i < 20; i++) bank.setBit('coil', i, i % 3 === 0);
  for (let i = 0; i < 10; i++) bank.setBit('discrete', i, i % 2);
  return bank;
}

describe('handlePdu: each function code (Modbus Application Protocol v1.1b3 §6)', () => {
  it.each([
    // §6.1: coils 0..9 = 1001001001 -> LSB first: 0x49, then bit 9 -> 0x02.
    ['FC01 read coils', '01 0000 000A', '01 02 49 02'],
    // §6.2: discrete 0..9 = 0101010101 -> 0xAA, 0x02.
    ['FC02 read discrete inputs', '02 0000 000A', '02 02 AA 02'],
    ['FC02 a single input', '02 0001 0001', '02 01 01'],
    // §6.3: holding 2..4 = 102..104.
    ['FC03 read holding registers', '03 0002 0003', '03 06 0066 0067 0068'],
    // §6.4: input 0..1 = 200, 201.
    ['FC04 read input registers', '04 0000 0002', '04 04 00C8 00C9'],
    // §6.5 and §6.6: the normal response echoes the request.
    ['FC05 write single coil on', '05 0005 FF00', '05 0005 FF00'],
    ['FC05 write single coil off', '05 0003 0000', '05 0003 0000'],
    ['FC06 write single register', '06 0001 ABCD', '06 0001 ABCD'],
    // §6.11 and §6.12: the response is fc, start, quantity.
    ['FC15 write multiple coils', '0F 0000 000A 02 CD 01', '0F 0000 000A'],
    ['FC16 write multiple registers', '10 0001 0002 04 000A 0102', '10 0001 0002'],
  ])('%s', (_name, request, response) => {
    expect(handlePdu(device(), hex(request)).toString('hex')).toBe(hex(response).toString('hex'));
  });

  it('writes land in the bank', () => {
    const bank = device();
    handlePdu(bank, hex('05 0005 FF00'));
    handlePdu(bank, hex('06 0001 ABCD'));
    handlePdu(bank, hex('10 0007 0002 04 1234 5678'));
    // 0xCD = 1100 1101: coils 10..17 = 1,0,1,1,0,0,1,1; 0x01: coil 18 = 1, 19 = 0.
    handlePdu(bank, hex('0F 000A 000A 02 CD 01'));
    expect(bank.get('coil', 5)).toBe(1);
    expect(bank.get('holding', 1)).toBe(0xabcd);
    expect([bank.get('holding', 7), bank.get('holding', 8)]).toEqual([0x1234, 0x5678]);
    expect(Array.from({ length: 10 }, (_, i) => bank.get('coil', 10 + i))).toEqual([1, 0, 1, 1, 0, 0, 1, 1, 1, 0]);
  });

  it('reads back what was written', () => {
    const bank = device();
    handlePdu(bank, hex('10 0000 0003 06 FFFF 8000 0001'));
    expect(handlePdu(bank, hex('03 0000 0003')).toString('hex')).toBe('0306ffff80000001');
  });
});

describe('handlePdu: exception responses (§7)', () => {
  const { ILLEGAL_FUNCTION: F, ILLEGAL_DATA_ADDRESS: A, ILLEGAL_DATA_VALUE: V } = EXCEPTION;
  it.each([
    // 01 illegal function
    ['FC07 read exception status is not supported', '07', 0x87, F],
    ['FC17 report server id is not supported', '11', 0x91, F],
    ['FC43 device identification is not supported', '2B 0E 01 00', 0xab, F],
    ['FC22 mask write is not supported', '16 0000 FFFF 0000', 0x96, F],
    // 03 illegal data value: quantities (§6.1–6.4, §6.11, §6.12)
    ['FC03 quantity 0', '03 0000 0000', 0x83, V],
    ['FC03 quantity 126 > 125', `03 0000 ${u16(LIMITS.readWords + 1)}`, 0x83, V],
    ['FC04 quantity 126 > 125', '04 0000 007E', 0x84, V],
    ['FC01 quantity 0', '01 0000 0000', 0x81, V],
    ['FC01 quantity 2001 > 2000', `01 0000 ${u16(LIMITS.readBits + 1)}`, 0x81, V],
    ['FC02 quantity 2001 > 2000', '02 0000 07D1', 0x82, V],
    ['FC15 quantity 1969 > 1968', '0F 0000 07B1 F7 00', 0x8f, V],
    ['FC15 byte count does not match quantity', '0F 0000 000A 01 CD', 0x8f, V],
    ['FC15 fewer data bytes than byte count', '0F 0000 000A 02 CD', 0x8f, V],
    ['FC16 quantity 124 > 123', '10 0000 007C F8 0000', 0x90, V],
    ['FC16 byte count is not 2 x quantity', '10 0000 0002 03 0001 00', 0x90, V],
    ['FC16 quantity 0', '10 0000 0000 00', 0x90, V],
    ['FC05 value neither FF00 nor 0000', '05 0000 1234', 0x85, V],
    ['FC03 truncated request', '03 0000 00', 0x83, V],
    ['FC06 padded request', '06 0000 0001 00', 0x86, V],
    // 02 illegal data address
    ['FC03 register outside the map', '03 000A 0001', 0x83, A],
    ['FC03 range running past the map', '03 0008 0003', 0x83, A],
    ['FC03 range past 0xFFFF', '03 FFFF 0002', 0x83, A],
    ['FC04 input register outside the map', '04 0005 0001', 0x84, A],
    ['FC01 coil outside the map', '01 0013 0002', 0x81, A],
    ['FC02 discrete input outside the map', '02 0000 000B', 0x82, A],
    ['FC05 coil outside the map', '05 0064 FF00', 0x85, A],
    ['FC06 register outside the map', '06 0032 0001', 0x86, A],
    ['FC15 coils past the map', '0F 0012 0004 01 0F', 0x8f, A],
    ['FC16 registers past the map', '10 0009 0002 04 0001 0002', 0x90, A],
  ])('%s', (_name, request, fc, code) => {
    const res = handlePdu(device(), hex(request));
    expect([...res]).toEqual([fc, code]);
    expect(exceptionOf(res)).toBe(code);
  });

  it('a write that fails changes nothing (all or nothing)', () => {
    const bank = device();
    handlePdu(bank, hex('10 0009 0002 04 0001 0002'));
    expect(bank.get('holding', 9)).toBe(109);
  });

  it('an empty PDU answers illegal function', () => {
    expect([...handlePdu(device(), Buffer.alloc(0))]).toEqual([0x80, EXCEPTION.ILLEGAL_FUNCTION]);
  });

  it('a bank that throws answers 04 server device failure', () => {
    const broken: RegisterBank = {
      readWords: () => {
        throw new Error('sensor bus fault');
      },
      readBits: () => [],
      writeRegisters: () => undefined,
      writeCoils: () => undefined,
    };
    expect([...handlePdu(broken, hex('03 0000 0001'))]).toEqual([0x83, EXCEPTION.SERVER_DEVICE_FAILURE]);
  });
});

describe('handlePdu: quantity limits at the edge', () => {
  const open = (): MemoryBank => new MemoryBank({ strict: false });
  it.each([
    ['FC03 125 registers', `03 0000 ${u16(125)}`, 2 + 250],
    ['FC04 125 registers', `04 FF83 ${u16(125)}`, 2 + 250],
    ['FC01 2000 coils', `01 0000 ${u16(2000)}`, 2 + 250],
    ['FC02 2000 inputs ending at 0xFFFF', `02 F830 ${u16(2000)}`, 2 + 250],
    ['FC16 123 registers', `10 0000 007B F6 ${'0001'.repeat(123)}`, 5],
    ['FC15 1968 coils', `0F 0000 07B0 F6 ${'FF'.repeat(246)}`, 5],
  ])('%s is served', (_name, request, length) => {
    const res = handlePdu(open(), hex(request));
    expect(exceptionOf(res)).toBeUndefined();
    expect(res.length).toBe(length);
  });

  it('a non-strict bank reads unset addresses as 0', () => {
    expect(handlePdu(open(), hex('03 1000 0002')).toString('hex')).toBe('030400000000');
  });
});

describe('MemoryBank', () => {
  it('masks words to 16 bits (negative int16 as two’s complement)', () => {
    const bank = new MemoryBank().setWord('holding', 0, -2).setWord('input', 0, 0x12345);
    expect(bank.get('holding', 0)).toBe(0xfffe);
    expect(bank.get('input', 0)).toBe(0x2345);
  });

  it('define() makes a range exist without overwriting', () => {
    const bank = new MemoryBank().setWord('holding', 3, 7).define('holding', 0, 5);
    expect(bank.readWords('holding', 0, 5)).toEqual([0, 0, 0, 7, 0]);
    expect(bank.readWords('holding', 0, 6)).toBe(EXCEPTION.ILLEGAL_DATA_ADDRESS);
  });

  it('rejects setter addresses outside 0..65535', () => {
    expect(() => new MemoryBank().setWord('holding', 65536, 1)).toThrow(RangeError);
    expect(() => new MemoryBank().setWords('holding', 65535, [1, 2])).toThrow(RangeError);
  });

  it('tells onWrite about master writes only', () => {
    const seen: unknown[] = [];
    const bank = new MemoryBank({ onWrite: (...args) => seen.push(args) }).define('coil', 0, 4).define('holding', 0, 2);
    bank.setBit('coil', 0, true);
    handlePdu(bank, hex('05 0002 FF00'));
    handlePdu(bank, hex('10 0000 0002 04 0001 0002'));
    handlePdu(bank, hex('05 0009 FF00'));
    expect(seen).toEqual([
      ['coil', 2, [1]],
      ['holding', 0, [1, 2]],
    ]);
  });

  it('packBits / unpackBits round-trip LSB first', () => {
    const bits = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0];
    expect(packBits(bits).toString('hex')).toBe('cd01');
    expect(unpackBits(packBits(bits), bits.length)).toEqual(bits);
  });
});

describe('SlaveUnits: faults, broadcast and counts', () => {
  const units = (): SlaveUnits => new SlaveUnits(new Map([[1, device()], [2, device()]]));
  const read = hex('03 0000 0001');

  it('serves the addressed unit and counts it', () => {
    const s = units();
    expect(s.serve(1, read)).toEqual({ unit: 1, pdu: hex('03 02 0064'), corrupt: false, delayMs: 0 });
    expect([s.requestsServed(1), s.requestsServed(2)]).toEqual([1, 0]);
  });

  it('an unknown unit stays silent and is not counted', () => {
    const s = units();
    expect(s.serve(9, read)).toBeUndefined();
    expect(s.requestsServed(9)).toBe(0);
  });

  it.each([
    ['silent', { kind: 'silent' } as const, undefined],
    ['bad-crc', { kind: 'bad-crc' } as const, { unit: 1, pdu: hex('03 02 0064'), corrupt: true, delayMs: 0 }],
    ['delay', { kind: 'delay', ms: 250 } as const, { unit: 1, pdu: hex('03 02 0064'), corrupt: false, delayMs: 250 }],
    ['exception', { kind: 'exception', code: 6 } as const, { unit: 1, pdu: hex('83 06'), corrupt: false, delayMs: 0 }],
    ['wrong-unit', { kind: 'wrong-unit' } as const, { unit: 2, pdu: hex('03 02 0064'), corrupt: false, delayMs: 0 }],
  ])('fault %s', (_name, fault, reply) => {
    const s = units();
    s.setFault(1, fault);
    expect(s.fault(1)).toEqual(fault);
    expect(s.serve(1, read)).toEqual(reply);
    expect(s.requestsServed(1)).toBe(1);
    s.setFault(1, { kind: 'none' });
    expect(s.serve(1, read)?.pdu.toString('hex')).toBe('03020064');
  });

  it('wrong-unit from unit 247 answers as unit 1', () => {
    const s = new SlaveUnits(new Map([[247, device()]]));
    s.setFault(247, { kind: 'wrong-unit' });
    expect(s.serve(247, read)?.unit).toBe(1);
  });

  it('broadcast (unit 0) writes reach every unit and nobody answers; reads are ignored', () => {
    const a = device();
    const b = device();
    const s = new SlaveUnits(new Map([[1, a], [2, b]]));
    expect(s.serve(0, hex('06 0000 0007'))).toBeUndefined();
    expect([a.get('holding', 0), b.get('holding', 0)]).toEqual([7, 7]);
    expect(s.serve(0, read)).toBeUndefined();
    expect([s.requestsServed(1), s.requestsServed(2)]).toEqual([1, 1]);
  });
});
