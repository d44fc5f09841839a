/**
 * Every value type and byte order, end to end: an RtuSlaveServer on one end of a socat pty
 * pair holds values encoded with encodeWords; the edge's real stack (ModbusSerialLink over
 * serialport, BusQueue, Poller on the system clock) reads them on the other end and must
 * report the same engineering values.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ByteOrder, ValueType } from '@smart-village/shared';
import { encodeWords, wordCount } from '../../src/modbus/registers.js';
import { RtuSlaveServer } from '../../src/modbus/rtu-slave.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { startStack, until, type Stack } from './harness.js';

const ORDERS: ByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

/** Values chosen so that a wrong byte order or signedness gives a different number. */
const WIDE: { type: ValueType; value: number }[] = [
  { type: 'int32', value: -123_456_789 },
  { type: 'uint32', value: 3_456_789_012 },
  { type: 'float32', value: -273.25 },
  { type: 'int64', value: -1_234_567_890_123 },
  { type: 'uint64', value: 123_456_789_012_345 },
  // Needs 64 bits (float32 would give -98765.4296875); decodePoint rounds to 1e-9 anyway.
  { type: 'float64', value: -98_765.4321 },
];

interface Expected {
  name: string;
  yaml: string;
  value: number;
}

/** Lays the holding registers out back to back so the poller reads them in one request. */
function layout(bank: MemoryBank): Expected[] {
  const out: Expected[] = [];
  let address = 0;
  const add = (name: string, type: ValueType, value: number, order: ByteOrder = 'ABCD'): void => {
    bank.setWords('holding', address, encodeWords(value, type, order));
    out.push({ name, value, yaml: `{ name: ${name}, table: holding, address: ${address}, type: ${type}, order: ${order}, quantity: pulses, min: -1e18, max: 1e18 }` });
    address += wordCount(type);
  };
  add('i16', 'int16', -1234);
  add('u16', 'uint16', 54_321);
  for (const { type, value } of WIDE) for (const order of ORDERS) add(`${type.replace(/\d+/, '')}-${type.match(/\d+/)?.[0]}-${order.toLowerCase()}`, type, value, order);
  add('flag', 'bool', 1);
  // One status register with bit 5 set and bit 6 clear (0x0020 | 0x0101 noise in other bits).
  bank.setWord('holding', address, 0x0121);
  out.push({ name: 'bit-5', value: 1, yaml: `{ name: bit-5, table: holding, address: ${address}, bit: 5, quantity: switch }` });
  out.push({ name: 'bit-6', value: 0, yaml: `{ name: bit-6, table: holding, address: ${address}, bit: 6, quantity: switch }` });
  address++;
  // An input register with a scale and offset, as most probes report (253 -> 25.3 - 0.5).
  bank.setWord('input', 7, 253);
  out.push({ name: 'scaled', value: 24.8, yaml: '{ name: scaled, table: input, address: 7, type: uint16, scale: 0.1, offset: -0.5, quantity: soil-temperature }' });
  bank.setBits('coil', 0, [1, 0]);
  out.push({ name: 'coil-on', value: 1, yaml: '{ name: coil-on, table: coil, address: 0, quantity: switch }' });
  out.push({ name: 'coil-off', value: 0, yaml: '{ name: coil-off, table: coil, address: 1, quantity: switch }' });
  bank.setBits('discrete', 3, [0, 1]);
  out.push({ name: 'input-off', value: 0, yaml: '{ name: input-off, table: discrete, address: 3, quantity: switch }' });
  out.push({ name: 'input-on', value: 1, yaml: '{ name: input-on, table: discrete, address: 4, quantity: switch }' });
  return out;
}

describe('Modbus RTU over a pty pair: value types and byte orders', () => {
  let pair: PtyPair | undefined;
  let slave: RtuSlaveServer | undefined;
  let stack: Stack | undefined;

  afterEach(async () => {
    await stack?.stop();
    await slave?.stop();
    await pair?.close();
    stack = slave = pair = undefined;
  });

  it('decodes every type in every byte order to the value the slave holds', async () => {
    pair = await openPtyPair();
    const bank = new MemoryBank();
    const expected = layout(bank);
    slave = new RtuSlaveServer({ path: pair.b, units: new Map([[5, bank]]) });
    await slave.start();
    stack = startStack(`
buses:
  - { id: line-1, type: rtu, port: ${pair.a}, baud: 9600, timeout: 500ms, retries: 1 }
devices:
  - id: meter
    bus: line-1
    slave: 5
    interval: 300ms
    stagger: 0
    registers:
${expected.map((e) => `      - ${e.yaml}`).join('\n')}
`);
    const s = stack;
    await until('a reading of every point', () => expected.every((e) => s.of(`meter-${e.name}`).length > 0));

    const got = Object.fromEntries(expected.map((e) => [e.name, s.of(`meter-${e.name}`)[0]]));
    for (const e of expected) {
      expect(got[e.name], e.name).toMatchObject({ value: e.value, quality: 'good' });
    }
    expect(got['scaled']?.unit).toBe('°C');
    // Holding block, input, coil and discrete: four requests per cycle, all answered.
    expect(s.device('meter').plan).toHaveLength(4);
    expect(s.device('meter')).toMatchObject({ health: 'online', failures: 0 });
    expect(s.health('meter')).toEqual(['online']);
  });
});
