import { describe, expect, it } from 'vitest';
import { BYTE_ORDERS, VALUE_TYPES, registerPointSchema, type ByteOrder, type ValueType } from '@smart-village/shared';
import { decodePoint, decodeResponse, decodeWords, encodePoint, encodeWords, planReads, resolvePoint, wordCount } from '../../src/modbus/registers.js';

describe('decodeWords: byte and word orders', () => {
  // The value 0x11223344 (32-bit) and 0x1122334455667788 (64-bit) as each order puts them on the wire.
  const cases32: [ByteOrder, number[]][] = [
    ['ABCD', [0x1122, 0x3344]],
    ['CDAB', [0x3344, 0x1122]],
    ['BADC', [0x2211, 0x4433]],
    ['DCBA', [0x4433, 0x2211]],
  ];
  it.each(cases32)('uint32 %s', (order, words) => {
    expect(decodeWords(words, 'uint32', order)).toBe(0x11223344);
    expect(encodeWords(0x11223344, 'uint32', order)).toEqual(words);
  });

  const cases64: [ByteOrder, number[]][] = [
    ['ABCD', [0x0011, 0x2233, 0x4455, 0x6677]],
    ['CDAB', [0x6677, 0x4455, 0x2233, 0x0011]],
    ['BADC', [0x1100, 0x3322, 0x5544, 0x7766]],
    ['DCBA', [0x7766, 0x5544, 0x3322, 0x1100]],
  ];
  it.each(cases64)('uint64 %s', (order, words) => {
    expect(decodeWords(words, 'uint64', order)).toBe(0x0011223344556677);
    expect(encodeWords(0x0011223344556677, 'uint64', order)).toEqual(words);
  });

  const samples: [ValueType, number][] = [
    ['int16', -1234],
    ['uint16', 65535],
    ['int32', -123456789],
    ['uint32', 4000000000],
    ['int64', -9007199254740991],
    ['uint64', 9007199254740991],
    ['float32', 23.5],
    ['float64', -1234.5678901234],
  ];
  for (const order of BYTE_ORDERS) {
    it.each(samples)(`%s round-trips in ${order}`, (type, value) => {
      const words = encodeWords(value, type, order);
      expect(words).toHaveLength(wordCount(type));
      expect(decodeWords(words, type, order)).toBe(value);
    });
  }

  it('reads IEEE-754 float32 with words swapped (CDAB), as many meters send it', () => {
    // 230.5 = 0x43668000 big-endian
    expect(decodeWords([0x8000, 0x4366], 'float32', 'CDAB')).toBeCloseTo(230.5);
  });

  it('rejects the wrong number of registers', () => {
    expect(() => decodeWords([1], 'float32')).toThrow(/needs 2 registers/);
  });

  it('covers every value type', () => {
    expect(new Set(samples.map(([t]) => t))).toEqual(new Set(VALUE_TYPES.filter((t) => t !== 'bool')));
  });
});

const point = (p: Record<string, unknown>) => resolvePoint(registerPointSchema.parse({ name: 'x', table: 'holding', address: 0, quantity: 'soil-moisture', ...p }));

describe('decodePoint', () => {
  it.each([
    [{ scale: 0.1 }, [253], 25.3, 'good'],
    [{ type: 'int16', scale: 0.1, quantity: 'soil-temperature' }, [0xff9c], -10, 'good'],
    [{ scale: 0.1 }, [1200], 120, 'out-of-range'],
    [{ scale: 0.1, min: 5 }, [40], 4, 'out-of-range'],
    [{ scale: -0.1, offset: 200, quantity: 'water-level' }, [850], 115, 'good'],
    [{ bit: 3, quantity: 'switch' }, [0b1000], 1, 'good'],
    [{ bit: 2, quantity: 'switch' }, [0b1000], 0, 'good'],
    [{ table: 'coil', quantity: 'switch' }, [1], 1, 'good'],
  ] as const)('%j of %j -> %d %s', (p, raw, value, quality) => {
    const d = decodePoint(point(p), raw);
    expect(d.value).toBe(value);
    expect(d.quality).toBe(quality);
    expect(d.raw).toEqual(raw);
  });

  it('keeps an out-of-range value instead of dropping it', () => {
    expect(decodePoint(point({ scale: 1 }), [65535])).toMatchObject({ value: 65535, quality: 'out-of-range' });
  });

  it('marks a NaN float as an error with no value', () => {
    expect(decodePoint(point({ type: 'float32' }), [0x7fc0, 0x0000])).toMatchObject({ value: null, quality: 'error' });
  });

  it('encodePoint inverts decodePoint', () => {
    const p = point({ scale: -0.1, offset: 200, quantity: 'water-level' });
    expect(decodePoint(p, encodePoint(p, 123.4)).value).toBe(123.4);
  });
});

describe('planReads: coalescing neighbouring registers', () => {
  const pts = (addrs: [number, string?][]) => addrs.map(([address, type], i) => point({ name: `p${i}`, address, type: type ?? 'uint16' }));

  it('reads contiguous registers in one request', () => {
    const plan = planReads(pts([[0], [1], [2]]), 0);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ table: 'holding', address: 0, length: 3 });
  });

  it('bridges a gap up to the configured size, no further', () => {
    expect(planReads(pts([[0], [5]]), 4)).toHaveLength(1);
    expect(planReads(pts([[0], [6]]), 4)).toHaveLength(2);
  });

  it('counts multi-register values in the span', () => {
    const plan = planReads(pts([[0, 'float32'], [2, 'float64']]), 0);
    expect(plan).toEqual([expect.objectContaining({ address: 0, length: 6 })]);
  });

  it('never mixes tables and never exceeds 125 registers', () => {
    const many = Array.from({ length: 200 }, (_, i) => point({ name: `p${i}`, address: i }));
    const coil = point({ name: 'c', table: 'coil', address: 0, quantity: 'switch' });
    const plan = planReads([...many, coil], 4);
    expect(plan.map((r) => [r.table, r.length])).toEqual([
      ['holding', 125],
      ['holding', 75],
      ['coil', 1],
    ]);
  });

  it('decodeResponse slices each point out of the block', () => {
    const [req] = planReads(pts([[10], [12, 'int32']]), 4);
    expect(req).toBeDefined();
    const values = decodeResponse(req!, [7, 0xdead, 0xffff, 0xfffe]);
    expect(values.map((v) => [v.point, v.value])).toEqual([
      ['p0', 7],
      ['p1', -2],
    ]);
  });
});
