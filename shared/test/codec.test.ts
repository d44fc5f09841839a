import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, decodeEvents, decodeTelemetry, encodeEvents, encodeTelemetry, UNITS, VillageError } from '../src/index.js';
import type { Event, EventBatch, Reading, TelemetryBatch, Unit } from '../src/index.js';
import { crc32 } from '../src/codec/bytes.js';

// ---------------------------------------------------------------------------------------------
// Helpers: a seeded PRNG, and a second, independent writer of the v1 format (from the spec in
// codec.ts) so tests can hand-craft payloads the encoder would never produce.
// ---------------------------------------------------------------------------------------------

/** mulberry32: tiny, seedable, good enough to vary test data reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uv(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function sv(n: number): number[] {
  const m = Math.abs(n);
  const high = Math.floor(m / 64);
  return [(m % 64) | (n < 0 ? 0x40 : 0) | (high > 0 ? 0x80 : 0), ...(high > 0 ? uv(high) : [])];
}

function str(s: string): number[] {
  const b = Buffer.from(s, 'utf8');
  return [...uv(b.length), ...b];
}

interface EnvelopeOptions {
  kind?: number;
  version?: number;
  flags?: number;
  deflate?: boolean;
  rawLength?: number;
  sentLength?: number;
  crc?: number;
  compressed?: Uint8Array;
}

/** Wraps `body` per the v1 envelope; every field can be overridden to make it wrong. */
function envelope(body: Uint8Array | number[], o: EnvelopeOptions = {}): Buffer {
  const raw = Buffer.from(body);
  const deflate = o.deflate ?? false;
  const sent = o.compressed ?? (deflate ? deflateRawSync(raw) : raw);
  const crc = o.crc ?? crc32(sent);
  const head = [0x53, 0x56, o.version ?? 1, o.kind ?? 0x54, o.flags ?? (deflate ? 1 : 0), ...uv(o.rawLength ?? raw.length), ...uv(o.sentLength ?? sent.length), crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff];
  return Buffer.concat([Buffer.from(head), sent]);
}

function reading(sensor: string, ts: number, value: number | null, extra: Partial<Reading> = {}): Reading {
  return { sensor, ts, value, unit: '%VWC', quality: value === null ? 'error' : 'good', clockSynced: true, ...extra };
}

function batchOf(readings: Reading[], firstSeq = 1): TelemetryBatch {
  return { seqs: readings.map((_, i) => firstSeq + i), readings };
}

/** Asserts a PAYLOAD_INVALID whose message matches `message`. */
function expectInvalid(run: () => unknown, message?: RegExp): VillageError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(VillageError);
    const e = err as VillageError;
    expect(e.code).toBe('PAYLOAD_INVALID');
    if (message) expect(e.message).toMatch(message);
    return e;
  }
  throw new Error('expected PAYLOAD_INVALID, nothing was thrown');
}

const T0 = Date.UTC(2025, 5, 1, 6, 0, 0);

// ---------------------------------------------------------------------------------------------
// The demo-like field data the size contract is stated for.
// ---------------------------------------------------------------------------------------------

interface FieldSensor {
  device: string;
  id: string;
  unit: Unit;
  decimals: number;
  step: number;
  value: number;
}

/**
 * 50 sensors of the demo's kinds: 10 soil probes (moisture %VWC, temperature °C, EC µS/cm),
 * 2 NPK probes (pH, N, P, K), the tank (level cm, temperature), float switch, pump flow, and
 * a weather station. Each device is read once per cycle (its points share a ts) at a staggered
 * offset with ±10 ms bus jitter; each value moves by one sensor step with probability 0.3.
 */
function fieldSensors(): FieldSensor[] {
  const out: FieldSensor[] = [];
  const add = (device: string, point: string, unit: Unit, decimals: number, value: number, step = 1 / 10 ** decimals) =>
    out.push({ device, id: `${device}-${point}`, unit, decimals, step, value });
  for (let i = 1; i <= 10; i++) {
    add(`soil-${i}`, 'moisture', '%VWC', 1, 30 + i / 10);
    add(`soil-${i}`, 'temperature', '°C', 1, 27.5);
    add(`soil-${i}`, 'ec', 'µS/cm', 0, 850 + i * 7);
  }
  for (let i = 11; i <= 12; i++) {
    add(`soil-${i}`, 'ph', 'pH', 1, 6.5);
    add(`soil-${i}`, 'nitrogen', 'mg/kg', 0, 40);
    add(`soil-${i}`, 'phosphorus', 'mg/kg', 0, 20);
    add(`soil-${i}`, 'potassium', 'mg/kg', 0, 90);
  }
  add('tank', 'level', 'cm', 1, 152.3);
  add('tank', 'temperature', '°C', 1, 29.1);
  add('tank-float', 'state', 'state', 0, 1, 0);
  add('pump-flow', 'flow', 'L/min', 1, 0);
  add('weather', 'wind-speed', 'm/s', 1, 2.4);
  add('weather', 'wind-direction', '°', 0, 180);
  add('weather', 'humidity', '%RH', 1, 81.2);
  add('weather', 'temperature', '°C', 1, 31.4);
  add('weather', 'pressure', 'hPa', 0, 1008);
  add('weather', 'illuminance', 'lx', 0, 52_000, 100);
  add('weather', 'rain', 'mm', 1, 0, 0);
  add('weather', 'solar', 'W/m²', 0, 640, 5);
  return out;
}

function fieldBatch(minutes: number, everyMs: number, seed = 7): TelemetryBatch {
  const rand = prng(seed);
  const sensors = fieldSensors();
  const devices = [...new Set(sensors.map((s) => s.device))];
  const seqs: number[] = [];
  const readings: Reading[] = [];
  let seq = 1000;
  for (let t = 0; t < minutes * 60_000; t += everyMs) {
    devices.forEach((device, d) => {
      const ts = T0 + t + d * 120 + Math.round(rand() * 20 - 10);
      for (const s of sensors) {
        if (s.device !== device) continue;
        if (rand() < 0.3) s.value += rand() < 0.5 ? -s.step : s.step;
        const p = 10 ** s.decimals;
        seqs.push(seq++);
        readings.push({ sensor: s.id, ts, value: Math.round(s.value * p) / p, unit: s.unit, quality: 'good', clockSynced: true });
      }
    });
  }
  return { seqs, readings };
}

// ---------------------------------------------------------------------------------------------
// Telemetry round trips
// ---------------------------------------------------------------------------------------------

describe('telemetry round trip', () => {
  const cases: Array<[string, TelemetryBatch]> = [
    ['empty batch', { seqs: [], readings: [] }],
    ['one reading', batchOf([reading('soil-1', T0, 30.1)])],
    ['one error reading', batchOf([reading('soil-1', T0, null)])],
    ['ts 0 and seq 0', { seqs: [0], readings: [reading('soil-1', 0, 0)] }],
    ['negative values', batchOf([reading('t', T0, -3.7, { unit: '°C' }), reading('t', T0 + 1, -40, { unit: '°C' }), reading('t', T0 + 2, -0.001, { unit: '°C' })])],
    ['large values', batchOf([reading('v', T0, 1e12, { unit: 'L' }), reading('v', T0, Number.MAX_SAFE_INTEGER, { unit: 'count' }), reading('v', T0, 1e300, { unit: 'L' })])],
    ['scaled ints at the ±2^52 edge', batchOf([reading('e', T0, -(2 ** 52 - 1)), reading('e', T0, 2 ** 52 - 1), reading('e', T0, -(2 ** 52 - 1)), reading('e', T0, 2 ** 52), reading('e', T0, 0.5 - 2 ** 51)])],
    ['values that are not short decimals', batchOf([reading('f', T0, 0.1 + 0.2), reading('f', T0, Math.PI), reading('f', T0, 1 / 3), reading('f', T0, 30.1)])],
    ['negative zero and tiny values', batchOf([reading('z', T0, -0), reading('z', T0, 0), reading('z', T0, 5e-324), reading('z', T0, 1e-7), reading('z', T0, Number.MAX_VALUE)])],
    ['six decimals', batchOf([reading('d', T0, 0.000001), reading('d', T0, 123.456789), reading('d', T0, -0.5)])],
    ['sensors appearing once', batchOf(['a', 'b', 'c', 'd'].map((s, i) => reading(`soil-${s}`, T0 + i, i * 1.5)))],
    ['ts going backwards a little (clock correction)', batchOf([reading('s', T0, 1), reading('s', T0 - 350, 1.1), reading('s', T0 + 10_000, 1.2), reading('s', T0 + 9_990, 1.2)])],
    ['ts from max to 0', batchOf([reading('s', Number.MAX_SAFE_INTEGER, 1), reading('s', 0, 1)])],
    ['unsynced rows then synced', batchOf([reading('s', 1000, 1, { clockSynced: false }), reading('s', 2000, 1, { clockSynced: false }), reading('s', T0, 1)])],
    [
      'every quality',
      batchOf([
        reading('q', T0, 5, { quality: 'good' }),
        reading('q', T0, 250, { quality: 'out-of-range' }),
        reading('q', T0, 5, { quality: 'stale', clockSynced: false }),
        reading('q', T0, null),
        reading('q', T0, 6),
      ]),
    ],
    ['one sensor, two units', batchOf([reading('tank', T0, 150, { unit: 'cm' }), reading('tank', T0, 68.2, { unit: '%' }), reading('tank', T0 + 10, 151, { unit: 'cm' })])],
    ['every unit', batchOf(UNITS.map((unit, i) => reading(`u-${i}`, T0, i / 4, { unit })))],
    ['non-contiguous seqs', { seqs: [5, 6, 9, 1000, Number.MAX_SAFE_INTEGER], readings: [1, 2, 3, 4, 5].map((v) => reading('s', T0, v)) }],
    ['64-character sensor id', batchOf([reading('a'.repeat(64), T0, 1)])],
  ];
  it.each(cases)('%s', (_name, batch) => {
    const payload = encodeTelemetry(batch);
    expect(payload).toBeInstanceOf(Buffer);
    expect(decodeTelemetry(payload)).toStrictEqual(batch);
  });

  it('accepts any Uint8Array view, not only a Buffer', () => {
    const batch = fieldBatch(1, 10_000);
    const payload = encodeTelemetry(batch);
    const padded = new Uint8Array(payload.length + 10);
    padded.set(payload, 5);
    expect(decodeTelemetry(padded.subarray(5, 5 + payload.length))).toStrictEqual(batch);
  });

  it('round-trips 3000 seeded random batches exactly', () => {
    const rand = prng(20250601);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const specials = [0, -0, 0.1 + 0.2, 2 ** 52, -(2 ** 52), 2 ** 53, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e300, -1e-300, Number.MIN_VALUE, Number.MAX_VALUE, 1e21, 123456.7890123];
    const value = (style: number, decimals: number): number => {
      switch (style) {
        case 0:
          return int(-1_000_000, 1_000_000);
        case 1: {
          const p = 10 ** decimals;
          return Math.round((rand() - 0.5) * 20_000 * p) / p;
        }
        case 2:
          return (rand() - 0.5) * 10 ** int(-12, 20);
        default:
          return specials[int(0, specials.length - 1)] as number;
      }
    };
    for (let b = 0; b < 3000; b++) {
      const n = rand() < 0.05 ? int(200, 400) : int(0, 40);
      const pool = Array.from({ length: int(1, 8) }, (_, i) => ({
        sensor: `s${i}-${int(0, 999)}`,
        unit: UNITS[int(0, UNITS.length - 1)] as Unit,
        style: int(0, 3),
        decimals: int(0, 8),
      }));
      const seqs: number[] = [];
      const readings: Reading[] = [];
      let seq = rand() < 0.02 ? Number.MAX_SAFE_INTEGER - 2_100_000 : int(0, 1_000_000);
      let ts = rand() < 0.02 ? int(0, 1000) : int(1_500_000_000_000, 1_800_000_000_000);
      for (let i = 0; i < n; i++) {
        const s = pool[int(0, pool.length - 1)] as (typeof pool)[number];
        const r = rand();
        const quality = r < 0.85 ? 'good' : r < 0.9 ? 'out-of-range' : r < 0.95 ? 'stale' : 'error';
        seqs.push(seq);
        readings.push({ sensor: s.sensor, ts, value: quality === 'error' ? null : value(s.style, s.decimals), unit: s.unit, quality, clockSynced: rand() < 0.9 });
        seq += rand() < 0.8 ? 1 : int(2, 5000);
        ts = Math.max(0, ts + (rand() < 0.1 ? -int(0, 2000) : int(0, 20_000)));
      }
      const batch = { seqs, readings };
      expect(decodeTelemetry(encodeTelemetry(batch)), `batch ${b}`).toStrictEqual(batch);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Size: the behavioural contract of the format
// ---------------------------------------------------------------------------------------------

describe('telemetry size', () => {
  it('a 1-minute batch of 50 sensors read every 10 s takes ≤ 8 bytes a reading', () => {
    const batch = fieldBatch(1, 10_000);
    expect(new Set(batch.readings.map((r) => r.sensor)).size).toBe(50);
    expect(batch.readings).toHaveLength(300);
    const payload = encodeTelemetry(batch);
    expect(payload.length / batch.readings.length).toBeLessThanOrEqual(8);
    // The same readings as JSON messages, for scale: well over 100 bytes each.
    const json = batch.readings.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)), 0);
    expect(json / batch.readings.length).toBeGreaterThanOrEqual(100);
  });

  it('a 1-hour backlog batch takes ≤ 2 bytes a reading', () => {
    const batch = fieldBatch(60, 10_000);
    expect(encodeTelemetry(batch).length / batch.readings.length).toBeLessThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------------------------
// The spec, pinned by a hand-assembled payload (decoding is independent of the zlib version)
// ---------------------------------------------------------------------------------------------

describe('telemetry v1 layout', () => {
  // Two rows of soil-1 (%VWC, 1 decimal), seqs 7 and 9, 10 s apart, the second one unsynced
  // and stale; values 30.1 and 30.0, i.e. scaled 301 then -1.
  const body = [
    ...uv(2), // rows
    ...uv(1), // series
    ...str('soil-1'), ...str('%VWC'), 1, // series 0: sensor, unit, decimals
    ...uv(7), ...uv(9 - 7 - 1), // seq column
    ...uv(0), ...uv(0), // series column
    ...uv(T0), ...sv(10_000), // ts column
    ...uv(2), 0x04, ...uv(1), 0x02, ...uv(1), // status runs: good+synced ×1, stale+unsynced ×1
    ...uv(0), // no raw values
    ...sv(301), ...sv(-1), // values
  ];
  const expected: TelemetryBatch = {
    seqs: [7, 9],
    readings: [
      { sensor: 'soil-1', ts: T0, value: 30.1, unit: '%VWC', quality: 'good', clockSynced: true },
      { sensor: 'soil-1', ts: T0 + 10_000, value: 30, unit: '%VWC', quality: 'stale', clockSynced: false },
    ],
  };

  it('decodes the stored form', () => {
    expect(decodeTelemetry(envelope(body))).toStrictEqual(expected);
  });

  it('decodes the deflated form', () => {
    expect(decodeTelemetry(envelope(body, { deflate: true }))).toStrictEqual(expected);
  });

  it('is what the encoder writes (before compression)', () => {
    const payload = encodeTelemetry(expected);
    expect(payload.subarray(0, 5)).toStrictEqual(Buffer.from([0x53, 0x56, CODEC_VERSION, 0x54, payload[4] as number]));
    expect(decodeTelemetry(payload)).toStrictEqual(expected);
    if (payload[4] === 0) expect(payload.subarray(payload.length - body.length)).toStrictEqual(Buffer.from(body));
  });

  it('uses the CRC-32 of zlib (check value of "123456789")', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed telemetry
// ---------------------------------------------------------------------------------------------

describe('telemetry decode rejects malformed payloads', () => {
  const small = batchOf([reading('soil-1', T0, 30.1), reading('soil-2', T0 + 5, null), reading('soil-1', T0 + 10_000, 30.2, { clockSynced: false })]);
  // One poll of the 50 field sensors: big enough that the encoder deflates it.
  const deflated = encodeTelemetry(fieldBatch(1, 60_000));
  const stored = envelope(Buffer.from(decodeBodyOf(encodeTelemetry(small))));

  /** The uncompressed body of a payload the encoder made, via the envelope spec. */
  function decodeBodyOf(payload: Buffer): Uint8Array {
    let pos = 5;
    for (let varints = 0; varints < 2; varints++) {
      while ((payload[pos] as number) & 0x80) pos++;
      pos++;
    }
    pos += 4;
    return payload[4] === 1 ? new Uint8Array(inflateRawSync(payload.subarray(pos))) : payload.subarray(pos);
  }

  it('needs both forms to start valid', () => {
    expect(deflated[4]).toBe(1);
    expect(stored[4]).toBe(0);
    expect(decodeTelemetry(stored)).toStrictEqual(small);
  });

  it.each([
    ['deflated', deflated],
    ['stored', stored],
  ])('truncated at every byte position (%s)', (_name, payload) => {
    for (let len = 0; len < payload.length; len++) {
      const e = expectInvalid(() => decodeTelemetry(payload.subarray(0, len)));
      expect(e.message, `cut at ${len}`).toMatch(/^telemetry payload: /);
    }
  });

  it.each([
    ['deflated', deflated],
    ['stored', stored],
  ])('any single byte flipped (%s)', (_name, payload) => {
    for (let pos = 0; pos < payload.length; pos++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Buffer.from(payload);
        bad[pos] = (bad[pos] as number) ^ mask;
        expectInvalid(() => decodeTelemetry(bad));
      }
    }
  });

  it.each([
    ['deflated', deflated],
    ['stored', stored],
  ])('trailing bytes (%s)', (_name, payload) => {
    expectInvalid(() => decodeTelemetry(Buffer.concat([payload, Buffer.from([0])])), /trailing bytes/);
  });

  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['empty', () => new Uint8Array(0), /empty/],
    ['bad magic', () => Buffer.from('{"sensor":"soil-1"}'), /bad magic/],
    ['wrong version', () => envelope([0, 0], { version: 2 }), /codec version 2, this build reads version 1/],
    ['version 0', () => envelope([0, 0], { version: 0 }), /codec version 0/],
    ['an events payload', () => encodeEvents({ seqs: [], events: [] }), /this is a events payload, not telemetry/],
    ['unknown kind', () => envelope([0, 0], { kind: 0x51 }), /unknown payload kind 0x51/],
    ['unknown flags', () => envelope([0, 0], { flags: 0x02 }), /unknown flags 0x2/],
    ['declared size above the cap', () => envelope([0, 0], { rawLength: 16 * 1024 * 1024 + 1 }), /more than the 16777216-byte cap/],
    ['checksum mismatch', () => envelope([0, 0], { crc: 1234 }), /checksum mismatch/],
    ['body shorter than declared', () => envelope([0, 0], { sentLength: 3 }), /truncated: body has 2 of 3 bytes/],
    ['body longer than declared', () => envelope([0, 0], { sentLength: 1 }), /1 trailing bytes after the body/],
    ['stored body of another length than declared', () => envelope([0, 0], { rawLength: 3 }), /stored body is 2 bytes, header declares 3/],
    ['bytes after the deflate stream', () => envelope([0, 0], { flags: 1, compressed: Buffer.concat([deflateRawSync(Buffer.from([0, 0])), Buffer.from([7])]) }), /1 trailing bytes after the deflate stream/],
    ['deflate stream that is garbage', () => envelope([0, 0], { flags: 1, compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]) }), /deflate body is corrupt/],
    ['deflate stream inflating to less than declared', () => envelope([0, 0], { deflate: true, rawLength: 3 }), /body inflates to 2 bytes, header declares 3/],
    ['deflate stream inflating to more than declared', () => envelope([0, 0, 0], { deflate: true, rawLength: 2 }), /inflates to more than the declared 2 bytes/],
    ['not bytes', () => 'SV' as unknown as Uint8Array, /expected bytes, got string/],
    ['non-minimal varint', () => envelope([0x80, 0x00, 0]), /row count is a non-minimal varint/],
    ['varint too long', () => envelope([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 8 bytes/],
    ['row count larger than the body', () => envelope([...uv(1000), 0]), /row count 1000 does not fit/],
    ['rows but no series', () => envelope([1, 0, 1, 0, 1, 1, 5, 1, 0, 0]), /1 rows but no series/],
    ['decimals above 6', () => envelope([0, 1, ...str('soil-1'), ...str('%VWC'), 7]), /series 0 has 7 decimals/],
    ['sensor id not UTF-8', () => envelope([0, 1, 1, 0xff, ...str('%VWC'), 0]), /sensor is not valid UTF-8/],
    ['series index out of range', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 3, ...uv(T0), 1, 0x05, 1, 0]), /row 0 refers to series 3, only 1 defined/],
    ['status runs short of the rows', () => envelope([2, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, 0, 0, ...uv(T0), 0, 1, 0x04, 1, 0, 1, 1]), /status runs cover 1 of 2 rows/],
    ['status runs beyond the rows', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 2, 0, 1]), /status runs cover more than the 1 rows/],
    ['empty status run', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 2, 0x04, 0, 0x04, 1, 0, 1]), /status run 0 is empty/],
    ['status with unknown bits', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x0c, 1, 0, 1]), /status 0xc of run 0 has unknown bits/],
    ['raw value on an error row', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x07, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /raw value 0 is for row 0, whose quality is "error"/],
    ['raw value beyond the rows', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0]), /raw value 0 is for row 4, only 1 rows/],
    ['missing value', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 0]), /truncated while reading value delta of row 0/],
    ['bytes after the last column', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 0, 2, 9]), /1 trailing bytes after the last column/],
    ['negative zero delta', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 0, 0x40]), /negative zero/],
    ['scaled value beyond 2^52', () => envelope([2, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, 0, 0, ...uv(T0), 0, 1, 0x04, 2, 0, ...sv(2 ** 52 - 1), ...sv(1)]), /scaled value of row 1 is beyond ±\(2\^52-1\)/],
    ['ts going below 0', () => envelope([2, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, 0, 0, ...uv(5), ...sv(-6), 1, 0x04, 2, 0, 2, 2]), /ts of row 1 is -1/],
    ['seq beyond 2^53-1', () => envelope([2, 1, ...str('s'), ...str('%VWC'), 0, ...uv(Number.MAX_SAFE_INTEGER), 0, 0, 0, ...uv(T0), 0, 1, 0x04, 2, 0, 2, 2]), /seq of row 1 exceeds 2\^53-1/],
    ['invalid sensor id', () => envelope([1, 1, ...str('Soil 1'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 0, 2]), /row 0 \(seq 1\) is not a valid reading: sensor: ids are lowercase/],
    ['unknown unit', () => envelope([1, 1, ...str('s'), ...str('furlong'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 0, 2]), /row 0 \(seq 1\) is not a valid reading: unit/],
    ['non-finite raw value', () => envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 1, 0, ...Buffer.from(new Float64Array([NaN]).buffer)]), /row 0 \(seq 1\) is not a valid reading: value/],
  ];
  it.each(cases)('%s', (_name, make, message) => {
    expectInvalid(() => decodeTelemetry(make()), message);
  });

  it('a zip bomb stops at the declared size', () => {
    // 64 MiB of zeros deflates to ~64 KiB; the header claims 1 KiB.
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
    expectInvalid(() => decodeTelemetry(envelope(Buffer.alloc(1024), { deflate: true, compressed: bomb })), /inflates to more than the declared 1024 bytes/);
  });

  it('a zip bomb that declares its size is refused before inflating', () => {
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
    expectInvalid(() => decodeTelemetry(envelope(Buffer.alloc(1), { flags: 1, rawLength: 64 * 1024 * 1024, compressed: bomb })), /cap/);
  });

  it('says where the problem is', () => {
    const e = expectInvalid(() => decodeTelemetry(envelope([1, 1, ...str('s'), ...str('%VWC'), 0, 1, 0, ...uv(T0), 1, 0x04, 1, 0])));
    expect(e.details).toMatchObject({ kind: 'telemetry', offset: expect.any(Number) });
    expect(e.message).toMatch(/at byte \d+ of the body/);
  });
});

describe('telemetry encode refuses what it cannot carry exactly', () => {
  const ok = reading('soil-1', T0, 30.1);
  const cases: Array<[string, TelemetryBatch, RegExp]> = [
    ['lengths differ', { seqs: [1, 2], readings: [ok] }, /2 seqs for 1 readings/],
    ['seqs not increasing', { seqs: [3, 3], readings: [ok, ok] }, /seqs\[1\] = 3 does not increase/],
    ['seqs going down', { seqs: [3, 2], readings: [ok, ok] }, /seqs\[1\] = 2 does not increase/],
    ['negative seq', { seqs: [-1], readings: [ok] }, /not a non-negative safe integer/],
    ['fractional seq', { seqs: [1.5], readings: [ok] }, /not a non-negative safe integer/],
    ['NaN value', batchOf([reading('s', T0, NaN)]), /readings\[0\] is not a valid reading: value/],
    ['null value on a good reading', batchOf([reading('s', T0, null, { quality: 'good' })]), /value is null exactly when/],
    ['bad sensor id', batchOf([reading('Soil_1', T0, 1)]), /readings\[0\] is not a valid reading: sensor/],
    ['unknown unit', batchOf([reading('s', T0, 1, { unit: 'furlong' as Unit })]), /unit/],
    ['fractional ts', batchOf([reading('s', T0 + 0.5, 1)]), /ts/],
    ['extra field', batchOf([{ ...ok, note: 'x' } as Reading]), /not a valid reading/],
  ];
  it.each(cases)('%s', (_name, batch, message) => {
    const e = expectInvalid(() => encodeTelemetry(batch), message);
    expect(e.message).toMatch(/^telemetry payload: cannot encode: /);
  });
});

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

function event(ts: number, extra: Partial<Event> = {}): Event {
  return { ts, clockSynced: true, kind: 'zone.skipped', severity: 'info', source: 'ruong-1', message: 'Rain in the last 6 h: 12.4 mm ≥ 10 mm', data: { rainMm: 12.4, thresholdMm: 10 }, ...extra };
}

describe('events round trip', () => {
  const cases: Array<[string, EventBatch]> = [
    ['empty batch', { seqs: [], events: [] }],
    ['one event', { seqs: [42], events: [event(T0)] }],
    [
      'mixed kinds, severities, sources and clocks',
      {
        seqs: [3, 4, 17, 18],
        events: [
          event(T0),
          event(T0 - 500, { kind: 'device.offline', severity: 'alarm', source: 'soil-2', clockSynced: false, data: {} }),
          event(T0 + 60_000, { kind: 'store.dropped', severity: 'warning', source: 'edge', data: { dropped: 1200, oldestSeq: 17, nested: { list: [1, 'two', null, true, { x: -1.5 }] } } }),
          event(T0 + 60_000, { message: 'Ruộng 2 — tưới 15 phút 🌾', data: { 'key with spaces': '\u0000\ud800 lone surrogate' } }),
        ],
      },
    ],
  ];
  it.each(cases)('%s', (_name, batch) => {
    expect(decodeEvents(encodeEvents(batch))).toStrictEqual(batch);
  });

  it('round-trips 500 seeded random batches exactly', () => {
    const rand = prng(99);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const kinds = ['zone.watered', 'zone.skipped', 'device.offline', 'device.online', 'store.dropped', 'clock.synced'];
    const severities = ['info', 'warning', 'alarm'] as const;
    for (let b = 0; b < 500; b++) {
      const n = int(0, 20);
      let seq = int(1, 1_000_000);
      let ts = int(0, 1_800_000_000_000);
      const seqs: number[] = [];
      const events: Event[] = [];
      for (let i = 0; i < n; i++) {
        seqs.push(seq);
        events.push({
          ts,
          clockSynced: rand() < 0.9,
          kind: kinds[int(0, kinds.length - 1)] as string,
          severity: severities[int(0, 2)] as Event['severity'],
          source: `zone-${int(1, 5)}`,
          message: `event ${b}.${i} ${'x'.repeat(int(0, 30))}`,
          data: { reading: (rand() - 0.5) * 10 ** int(-3, 8), count: int(0, 1e9), list: [int(0, 9), 'a'], ok: rand() < 0.5, none: null },
        });
        seq += int(1, 300);
        ts = Math.max(0, ts + int(-1000, 600_000));
      }
      expect(decodeEvents(encodeEvents({ seqs, events })), `batch ${b}`).toStrictEqual({ seqs, events });
    }
  });
});

describe('events decode rejects malformed payloads', () => {
  const payload = encodeEvents({ seqs: [1, 2], events: [event(T0), event(T0 + 1, { severity: 'alarm' })] });
  const columns = (over: Record<string, unknown>) =>
    Buffer.from(JSON.stringify({ seq: [1], ts: [T0], synced: [1], kinds: ['zone.skipped'], kind: [0], severity: [0], sources: ['ruong-1'], source: [0], message: ['m'], data: [{}], ...over }));

  it('truncated at every byte position', () => {
    for (let len = 0; len < payload.length; len++) expectInvalid(() => decodeEvents(payload.subarray(0, len)), /^events payload: /);
  });

  it('any single byte flipped', () => {
    for (let pos = 0; pos < payload.length; pos++) {
      const bad = Buffer.from(payload);
      bad[pos] = (bad[pos] as number) ^ 0x01;
      expectInvalid(() => decodeEvents(bad));
    }
  });

  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['a telemetry payload', () => encodeTelemetry({ seqs: [], readings: [] }), /this is a telemetry payload, not events/],
    ['wrong version', () => envelope(columns({}), { kind: 0x45, version: 9 }), /codec version 9/],
    ['trailing bytes', () => Buffer.concat([payload, Buffer.from([1, 2])]), /2 trailing bytes after the body/],
    ['not JSON', () => envelope(Buffer.from('{"seq":'), { kind: 0x45 }), /body is not UTF-8 JSON/],
    ['not UTF-8', () => envelope([0x22, 0xff, 0x22], { kind: 0x45 }), /body is not UTF-8 JSON/],
    ['missing column', () => envelope(Buffer.from('{"seq":[]}'), { kind: 0x45 }), /body does not have the events columns/],
    ['extra column', () => envelope(columns({ extra: [] }), { kind: 0x45 }), /body does not have the events columns/],
    ['columns of different lengths', () => envelope(columns({ message: [] }), { kind: 0x45 }), /column "message" has 0 entries for 1 events/],
    ['negative seq gap (seqs must increase)', () => envelope(columns({ seq: [5, -1], ts: [T0, 0], synced: [1, 1], kind: [0, 0], severity: [0, 0], source: [0, 0], message: ['m', 'm'], data: [{}, {}] }), { kind: 0x45 }), /seq\.1/],
    ['kind index out of range', () => envelope(columns({ kind: [3] }), { kind: 0x45 }), /event 0 refers to kind 3, only 1 defined/],
    ['unknown severity code', () => envelope(columns({ severity: [3] }), { kind: 0x45 }), /severity/],
    ['event failing eventSchema', () => envelope(columns({ kinds: ['Not A Kind'] }), { kind: 0x45 }), /event 0 \(seq 1\) is not a valid event: kind/],
    ['ts going below 0', () => envelope(columns({ seq: [1, 0], ts: [5, -6], synced: [1, 1], kind: [0, 0], severity: [0, 0], source: [0, 0], message: ['m', 'm'], data: [{}, {}] }), { kind: 0x45 }), /event 1 \(seq 2\) is not a valid event: ts/],
  ];
  it.each(cases)('%s', (_name, make, message) => {
    expectInvalid(() => decodeEvents(make()), message);
  });
});

describe('events encode refuses what JSON would change', () => {
  const cases: Array<[string, EventBatch, RegExp]> = [
    ['lengths differ', { seqs: [1], events: [] }, /1 seqs for 0 events/],
    ['seqs not increasing', { seqs: [2, 1], events: [event(T0), event(T0)] }, /seqs\[1\] = 1 does not increase/],
    ['invalid event', { seqs: [1], events: [event(T0, { kind: 'Bad' })] }, /events\[0\] is not a valid event: kind/],
    ['undefined in data', { seqs: [1], events: [event(T0, { data: { a: undefined } })] }, /events\[0\]\.data\.a is a undefined/],
    ['NaN in data', { seqs: [1], events: [event(T0, { data: { a: [1, NaN] } })] }, /events\[0\]\.data\.a\[1\] is NaN/],
    ['-0 in data', { seqs: [1], events: [event(T0, { data: { a: -0 } })] }, /is -0/],
    ['a Date in data', { seqs: [1], events: [event(T0, { data: { at: new Date(T0) } })] }, /is a Date, not a plain object/],
    ['a bigint in data', { seqs: [1], events: [event(T0, { data: { n: 1n } })] }, /is a bigint/],
  ];
  it.each(cases)('%s', (_name, batch, message) => {
    expectInvalid(() => encodeEvents(batch), message);
  });

  it('refuses circular data', () => {
    const data: Record<string, unknown> = {};
    data.self = data;
    expectInvalid(() => encodeEvents({ seqs: [1], events: [event(T0, { data })] }), /circular/);
  });
});
