import { describe, expect, it } from 'vitest';
import { QUANTITIES, QUANTITY_NAMES, UNITS, VillageError } from '@smart-village/shared';
import { cobsDecode, cobsEncode } from '../src/cobs.js';
import { QUANTITY_CODES, UNIT_CODES } from '../src/codes.js';
import { crc16 } from '../src/crc.js';
import { Deframer } from '../src/deframer.js';
import { decodeBody, decodeFrame, encodeBody, encodeFrame, fromHex, MAX_BODY, readingValue, toHex, type Frame } from '../src/frame.js';
import { cobsVectors, crcVectors, frameVectors, invalidVectors, streamVectors } from './vectors.js';

describe('CRC-16/CCITT-FALSE', () => {
  it.each(crcVectors)('$crc', (v) => {
    const bytes = 'ascii' in v ? new TextEncoder().encode(v.ascii) : fromHex(v.hex);
    expect(crc16(bytes).toString(16).padStart(4, '0')).toBe(v.crc);
  });
  it('has the catalogue check value 0x29B1', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x29b1);
  });
});

describe('COBS', () => {
  it.each(cobsVectors)('$name', (v) => {
    expect(toHex(cobsEncode(fromHex(v.raw)))).toBe(v.encoded);
    expect(toHex(cobsDecode(fromHex(v.encoded)) as Uint8Array)).toBe(v.raw);
  });
  it('rejects a zero inside a block and a code past the end', () => {
    expect(cobsDecode(fromHex('03110022'))).toBeUndefined();
    expect(cobsDecode(fromHex('051122'))).toBeUndefined();
  });
});

describe('frames (test-vectors/frames.json)', () => {
  it.each(frameVectors)('encodes $name', (v) => {
    expect(toHex(encodeBody(v.frame))).toBe(v.body);
    expect(toHex(encodeFrame(v.frame))).toBe(v.wire);
  });
  it.each(frameVectors)('decodes $name', (v) => {
    expect(decodeFrame(fromHex(v.wire))).toEqual({ ok: true, frame: v.frame });
    expect(decodeBody(fromHex(v.body))).toEqual({ ok: true, frame: v.frame });
  });
  it('never puts a zero between the delimiters', () => {
    for (const v of frameVectors) expect([...fromHex(v.wire).subarray(1, -1)]).not.toContain(0);
  });
  it('reads values as the exact decimal', () => {
    expect(readingValue({ sensor: 0, unit: '%VWC', mantissa: 231, exp: -1 })).toBe(23.1);
    expect(readingValue({ sensor: 0, unit: 'V', mantissa: 392, exp: -2 })).toBe(3.92);
    expect(readingValue({ sensor: 0, unit: 'lx', mantissa: 12, exp: 3 })).toBe(12000);
    expect(readingValue({ sensor: 0, unit: 'V', mantissa: 0, exp: -128 })).toBeNull();
  });
});

describe('invalid frames (test-vectors/invalid.json)', () => {
  it.each(invalidVectors)('$name: $error', (v) => {
    const result = decodeFrame(fromHex(v.wire));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBe(v.error);
  });
  it('keeps unknown unit and quantity codes as null instead of failing the frame', () => {
    const body = fromHex(frameVectors[1]!.body);
    body[10] = 200; // unit code of the first value (header 6, age 2, count 1, sensor 1)
    const crc = crc16(body, 0, body.length - 2);
    body[body.length - 2] = crc & 0xff;
    body[body.length - 1] = crc >> 8;
    const r = decodeBody(body);
    expect(r.ok && r.frame.message.type === 'readings' && r.frame.message.readings[0]?.unit).toBeNull();
  });
});

describe('Deframer (test-vectors/streams.json)', () => {
  it.each(streamVectors)('$name', (s) => {
    const d = new Deframer();
    const results: string[] = [];
    for (const chunk of s.chunks) {
      for (const r of d.push(fromHex(chunk))) {
        results.push(r.ok ? `frame:${frameVectors.findIndex((f) => JSON.stringify(f.frame) === JSON.stringify(r.frame))}` : `error:${r.error}`);
      }
    }
    expect(results).toEqual(s.results);
    expect(d.stats()).toMatchObject(s.stats);
  });

  it('counts each kind of bad segment', () => {
    const d = new Deframer();
    for (const v of invalidVectors) d.push(fromHex(v.wire));
    const stats = d.stats();
    expect(stats.errors).toBe(invalidVectors.length);
    for (const kind of ['crc', 'version', 'type', 'short', 'cobs', 'oversize'] as const) expect(stats[kind]).toBe(invalidVectors.filter((v) => v.error === kind).length);
    expect(stats.payload).toBe(invalidVectors.filter((v) => v.error === 'payload').length);
  });

  it('holds at most one frame of memory however long the noise', () => {
    const d = new Deframer();
    const noise = new Uint8Array(100_000).fill(0x55);
    expect(d.push(noise)).toEqual([]);
    const out = d.push(fromHex(frameVectors[1]!.wire));
    expect(out.map((r) => (r.ok ? 'ok' : r.error))).toEqual(['oversize', 'ok']);
    expect(d.stats().garbageBytes).toBe(100_000);
  });

  it('survives every split of a frame across reads', () => {
    const wire = fromHex(frameVectors[0]!.wire);
    for (let at = 1; at < wire.length; at++) {
      const d = new Deframer();
      const out = [...d.push(wire.subarray(0, at)), ...d.push(wire.subarray(at))];
      expect(out).toEqual([{ ok: true, frame: frameVectors[0]!.frame }]);
    }
  });
});

describe('encoder', () => {
  const hello = frameVectors[0]!.frame as Frame;
  it.each([
    ['a node id above 255', { ...hello, node: 256 }],
    ['a seq above 65535', { ...hello, seq: 70000 }],
    ['a sensor name too long', { ...hello, message: { type: 'hello', heartbeatS: 1, firmware: 'x', sensors: [{ index: 0, quantity: 'rain', unit: 'mm', name: 'a'.repeat(17) }], actuators: [] } }],
    ['a non-ASCII firmware string', { ...hello, message: { type: 'hello', heartbeatS: 1, firmware: 'nút', sensors: [], actuators: [] } }],
    ['an exponent of 10', { ...hello, message: { type: 'readings', ageDs: 0, readings: [{ sensor: 0, unit: 'mm', mantissa: 1, exp: 10 }] } }],
    ['no readings', { ...hello, message: { type: 'readings', ageDs: 0, readings: [] } }],
    ['a value beyond 32 bits', { ...hello, message: { type: 'readings', ageDs: 0, readings: [{ sensor: 0, unit: 'mm', mantissa: 2 ** 31, exp: 0 }] } }],
  ] as [string, Frame][])('refuses %s', (_name, frame) => {
    expect(() => encodeBody(frame)).toThrow(VillageError);
  });
  it('fills a body up to the limit and not beyond', () => {
    const big = frameVectors.find((v) => v.name.includes('largest'))!;
    expect(fromHex(big.body).length).toBeLessThanOrEqual(MAX_BODY);
    const m = big.frame.message as Extract<Frame['message'], { type: 'readings' }>;
    expect(() => encodeBody({ ...big.frame, message: { ...m, readings: [...m.readings, m.readings[0]!] } })).toThrow(/readings count 35/);
  });
});

describe('code tables', () => {
  it('give every unit and quantity of the edge a code, each code once', () => {
    expect(UNIT_CODES.map(([, u]) => u).sort()).toEqual([...UNITS].sort());
    expect(QUANTITY_CODES.map(([, q]) => q).sort()).toEqual([...QUANTITY_NAMES].sort());
    for (const table of [UNIT_CODES, QUANTITY_CODES]) expect(new Set(table.map(([c]) => c)).size).toBe(table.length);
  });
  it('match the quantity/unit pairs of shared/src/units.ts used in the vectors', () => {
    for (const v of frameVectors) {
      if (v.frame.message.type !== 'hello') continue;
      for (const s of v.frame.message.sensors) expect(QUANTITIES[s.quantity!].unit).toBe(s.unit);
    }
  });
});
