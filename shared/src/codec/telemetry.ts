import { readingSchema, type Quality, type Reading } from '../reading.js';
import { ByteReader, ByteWriter, payloadError } from './bytes.js';
import { open, seal } from './envelope.js';

/** One batch of outbox rows of one edge. Seqs strictly increase within a batch but need not be contiguous (readings and events share one sequence, and telemetry and events travel on different topics). */
export interface TelemetryBatch {
  /** seqs[i] belongs to readings[i]. */
  seqs: number[];
  readings: Reading[];
}

/**
 * Wire codes of the qualities. Fixed here, not taken from QUALITIES' order, so reordering that
 * list can never silently change what old payloads mean.
 */
const QUALITY_CODES: readonly Quality[] = ['good', 'out-of-range', 'stale', 'error'];
const QUALITY_CODE = new Map<Quality, number>(QUALITY_CODES.map((q, i) => [q, i]));
const ERROR_CODE = 3;
const STATUS_SYNCED = 0x04;
const STATUS_KNOWN_BITS = 0x07;

/** Up to 6 decimals: µS/cm, lx, mm and the like never need more, and 10^6 keeps scaled ints small. */
const MAX_DECIMALS = 6;
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000] as const;
/** |scaled| < 2^52 so the difference of two of them stays within ±(2^53-1), exact in a double. */
const MAX_SCALED = 2 ** 52 - 1;

function pow10(d: number): number {
  return POW10[d] as number;
}

/** The scaled integer for `v` at `d` decimals, or undefined when `k / 10^d` would not give back exactly `v`. */
function scaled(v: number, d: number): number | undefined {
  if (Object.is(v, -0)) return undefined; // an integer column has no -0
  const p = pow10(d);
  const k = Math.round(v * p);
  return Math.abs(k) <= MAX_SCALED && k / p === v ? k : undefined;
}

/** Fewest decimals (0..6) that represent `v` exactly, or -1 (it will travel as raw float64). */
function decimalsOf(v: number): number {
  for (let d = 0; d <= MAX_DECIMALS; d++) if (scaled(v, d) !== undefined) return d;
  return -1;
}

interface Series {
  sensor: string;
  unit: Reading['unit'];
  decimals: number;
}

function checkBatch(batch: TelemetryBatch): void {
  const fail = (problem: string): never => {
    throw payloadError('telemetry', `cannot encode: ${problem}`);
  };
  if (!Array.isArray(batch?.seqs) || !Array.isArray(batch.readings)) fail('batch needs seqs and readings arrays');
  if (batch.seqs.length !== batch.readings.length) fail(`${batch.seqs.length} seqs for ${batch.readings.length} readings`);
  let prev = -1;
  for (let i = 0; i < batch.seqs.length; i++) {
    const seq = batch.seqs[i] as number;
    if (!Number.isSafeInteger(seq) || seq < 0) fail(`seqs[${i}] = ${seq} is not a non-negative safe integer`);
    if (seq <= prev) fail(`seqs[${i}] = ${seq} does not increase (previous ${prev})`);
    prev = seq;
    // Refusing here, on the edge, beats sending a payload the cloud would refuse forever.
    const checked = readingSchema.safeParse(batch.readings[i]);
    if (!checked.success) fail(`readings[${i}] is not a valid reading: ${checked.error.issues.map((x) => `${x.path.join('.') || '(root)'}: ${x.message}`).join('; ')}`);
  }
}

export function encodeTelemetry(batch: TelemetryBatch): Buffer {
  checkBatch(batch);
  const { seqs, readings } = batch;
  const n = readings.length;

  // Dictionary of (sensor, unit) in order of first appearance, with the decimals of its values.
  const index = new Map<string, number>();
  const series: Series[] = [];
  const rowSeries = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const r = readings[i] as Reading;
    const key = `${r.sensor}\u0000${r.unit}`;
    let s = index.get(key);
    if (s === undefined) {
      s = series.length;
      index.set(key, s);
      series.push({ sensor: r.sensor, unit: r.unit, decimals: 0 });
    }
    rowSeries[i] = s;
    if (r.value !== null) {
      const entry = series[s] as Series;
      const d = decimalsOf(r.value);
      if (d > entry.decimals) entry.decimals = d;
    }
  }

  const w = new ByteWriter(64 + n * 6);
  w.uvarint(n);
  w.uvarint(series.length);
  for (const s of series) {
    w.string(s.sensor);
    w.string(s.unit);
    w.u8(s.decimals);
  }
  if (n > 0) {
    w.uvarint(seqs[0] as number);
    for (let i = 1; i < n; i++) w.uvarint((seqs[i] as number) - (seqs[i - 1] as number) - 1);
  }
  for (let i = 0; i < n; i++) w.uvarint(rowSeries[i] as number);
  if (n > 0) {
    w.uvarint((readings[0] as Reading).ts);
    for (let i = 1; i < n; i++) w.svarint((readings[i] as Reading).ts - (readings[i - 1] as Reading).ts);
  }

  // Status runs: quality and clock flag change rarely, so a 1-hour batch is usually one run.
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const r = readings[i] as Reading;
    const status = (QUALITY_CODE.get(r.quality) as number) | (r.clockSynced ? STATUS_SYNCED : 0);
    const last = runs[runs.length - 1];
    if (last && last[0] === status) last[1]++;
    else runs.push([status, 1]);
  }
  w.uvarint(runs.length);
  for (const [status, length] of runs) {
    w.u8(status);
    w.uvarint(length);
  }

  // Values: scaled integers where exact, raw float64 for the rest (listed first, by row).
  const ints = new Float64Array(n);
  const rawRows: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = (readings[i] as Reading).value;
    if (v === null) continue;
    const k = scaled(v, (series[rowSeries[i] as number] as Series).decimals);
    if (k === undefined) rawRows.push(i);
    else ints[i] = k;
  }
  w.uvarint(rawRows.length);
  let prevRow = -1;
  for (const row of rawRows) {
    w.uvarint(row - prevRow - 1);
    prevRow = row;
  }
  for (const row of rawRows) w.f64((readings[row] as Reading).value as number);
  const prevInt = new Float64Array(series.length);
  let nextRaw = 0;
  for (let i = 0; i < n; i++) {
    if ((readings[i] as Reading).value === null) continue;
    if (rawRows[nextRaw] === i) {
      nextRaw++;
      continue;
    }
    const s = rowSeries[i] as number;
    w.svarint((ints[i] as number) - (prevInt[s] as number));
    prevInt[s] = ints[i] as number;
  }
  return seal('telemetry', w.finish());
}

export function decodeTelemetry(payload: Uint8Array): TelemetryBatch {
  const r = new ByteReader(open('telemetry', payload), 'telemetry', 'body');
  // Every row costs at least 3 body bytes (series, seq, ts), which bounds n before we allocate.
  const n = r.count('row count', 3);
  const seriesCount = r.count('series count', 3);
  const series: Series[] = [];
  for (let s = 0; s < seriesCount; s++) {
    const sensor = r.string(`series ${s} sensor`);
    const unit = r.string(`series ${s} unit`) as Reading['unit']; // checked by readingSchema below
    const decimals = r.u8(`series ${s} decimals`);
    if (decimals > MAX_DECIMALS) r.fail(`series ${s} has ${decimals} decimals, at most ${MAX_DECIMALS} allowed`);
    series.push({ sensor, unit, decimals });
  }
  if (n > 0 && seriesCount === 0) r.fail(`${n} rows but no series`);

  const seqs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const seq = i === 0 ? r.uvarint('first seq') : (seqs[i - 1] as number) + r.uvarint(`seq gap of row ${i}`) + 1;
    if (!Number.isSafeInteger(seq)) r.fail(`seq of row ${i} exceeds 2^53-1`);
    seqs[i] = seq;
  }
  const rowSeries = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const s = r.uvarint(`series of row ${i}`);
    if (s >= seriesCount) r.fail(`row ${i} refers to series ${s}, only ${seriesCount} defined`);
    rowSeries[i] = s;
  }
  const ts = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = i === 0 ? r.uvarint('first ts') : (ts[i - 1] as number) + r.svarint(`ts delta of row ${i}`);
    if (!Number.isSafeInteger(t) || t < 0) r.fail(`ts of row ${i} is ${t}, outside 0..2^53-1`);
    ts[i] = t;
  }

  const status = new Uint8Array(n);
  const runCount = r.count('status run count', 2);
  let filled = 0;
  for (let j = 0; j < runCount; j++) {
    const code = r.u8(`status of run ${j}`);
    if ((code & ~STATUS_KNOWN_BITS) !== 0) r.fail(`status 0x${code.toString(16)} of run ${j} has unknown bits`);
    const length = r.uvarint(`length of status run ${j}`);
    if (length === 0) r.fail(`status run ${j} is empty`);
    if (filled + length > n) r.fail(`status runs cover more than the ${n} rows`);
    status.fill(code, filled, filled + length);
    filled += length;
  }
  if (filled !== n) r.fail(`status runs cover ${filled} of ${n} rows`);

  const values = new Array<number | null>(n).fill(null);
  const isRaw = new Uint8Array(n);
  const rawCount = r.count('raw value count', 9);
  const rawRows: number[] = [];
  let row = -1;
  for (let j = 0; j < rawCount; j++) {
    row += r.uvarint(`row of raw value ${j}`) + 1;
    if (row >= n) r.fail(`raw value ${j} is for row ${row}, only ${n} rows`);
    if (((status[row] as number) & 0x03) === ERROR_CODE) r.fail(`raw value ${j} is for row ${row}, whose quality is "error"`);
    isRaw[row] = 1;
    rawRows.push(row);
  }
  for (const raw of rawRows) values[raw] = r.f64(`raw value of row ${raw}`);
  const prevInt = new Float64Array(seriesCount);
  for (let i = 0; i < n; i++) {
    if (((status[i] as number) & 0x03) === ERROR_CODE || isRaw[i]) continue;
    const s = rowSeries[i] as number;
    const k = (prevInt[s] as number) + r.svarint(`value delta of row ${i}`);
    if (Math.abs(k) > MAX_SCALED) r.fail(`scaled value of row ${i} is beyond ±(2^52-1)`);
    prevInt[s] = k;
    values[i] = k / pow10((series[s] as Series).decimals);
  }
  r.end();

  const readings = new Array<Reading>(n);
  for (let i = 0; i < n; i++) {
    const s = series[rowSeries[i] as number] as Series;
    const code = status[i] as number;
    const reading: Reading = {
      sensor: s.sensor,
      ts: ts[i] as number,
      value: values[i] as number | null,
      unit: s.unit,
      quality: QUALITY_CODES[code & 0x03] as Quality,
      clockSynced: (code & STATUS_SYNCED) !== 0,
    };
    // The one schema decides what a reading is (ids, units, null iff error, finite values).
    const checked = readingSchema.safeParse(reading);
    if (!checked.success) {
      throw payloadError('telemetry', `row ${i} (seq ${seqs[i]}) is not a valid reading: ${checked.error.issues.map((x) => `${x.path.join('.') || '(root)'}: ${x.message}`).join('; ')}`, { row: i });
    }
    readings[i] = reading;
  }
  return { seqs, readings };
}
