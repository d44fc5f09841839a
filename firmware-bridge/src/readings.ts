import { QUANTITIES, type Reading } from '@smart-village/shared';
import { FAILED_EXP, readingValue, type ReadingsMessage } from './frame.js';
import type { NodeHello } from './session.js';

export const REJECTIONS = ['no-hello', 'unknown-sensor', 'bad-declaration', 'unit-mismatch', 'unmapped'] as const;
/** Why a reading of a node did not become an edge reading. */
export type Rejection = (typeof REJECTIONS)[number];

export interface RejectedReading {
  reason: Rejection;
  sensor: number;
  detail: string;
}

export interface MapContext {
  node: number;
  /** Wall time the values were measured (receive time minus the frame's age). */
  ts: number;
  clockSynced: boolean;
  /** The edge sensor id of a node's sensor; undefined: not mapped (an unknown node). */
  sensorId(node: number, sensor: string): string | undefined;
}

/**
 * A READINGS message as edge readings, checked against the node's hello: each value's sensor
 * must be declared, with a usable declaration, and carry its quantity's unit. A failed sensor
 * gives a reading with quality `error`; a value outside the quantity's physical range is kept
 * with quality `out-of-range`, as for Modbus devices.
 */
export function mapReadings(hello: NodeHello | undefined, m: ReadingsMessage, ctx: MapContext): { readings: Reading[]; rejected: RejectedReading[] } {
  const readings: Reading[] = [];
  const rejected: RejectedReading[] = [];
  for (const r of m.readings) {
    if (!hello) {
      rejected.push({ reason: 'no-hello', sensor: r.sensor, detail: `node ${ctx.node} has not said hello yet` });
      continue;
    }
    const decl = hello.sensors.get(r.sensor);
    if (!decl) {
      rejected.push({ reason: 'unknown-sensor', sensor: r.sensor, detail: `node ${ctx.node} declared no sensor ${r.sensor}` });
      continue;
    }
    if (decl.problem !== undefined || decl.quantity === null) {
      rejected.push({ reason: 'bad-declaration', sensor: r.sensor, detail: decl.problem ?? 'no quantity' });
      continue;
    }
    const range = QUANTITIES[decl.quantity];
    if (r.unit !== range.unit) {
      rejected.push({ reason: 'unit-mismatch', sensor: r.sensor, detail: `node ${ctx.node} sensor "${decl.name}" (${decl.quantity}) sent ${r.unit ?? 'an unknown unit'}, expected ${range.unit}` });
      continue;
    }
    const sensor = ctx.sensorId(ctx.node, decl.name);
    if (sensor === undefined) {
      rejected.push({ reason: 'unmapped', sensor: r.sensor, detail: `node ${ctx.node} sensor "${decl.name}" has no edge sensor id` });
      continue;
    }
    const value = readingValue(r);
    const quality = r.exp === FAILED_EXP || value === null ? 'error' : value < range.min || value > range.max ? 'out-of-range' : 'good';
    readings.push({ sensor, ts: ctx.ts, value: quality === 'error' ? null : value, unit: range.unit, quality, clockSynced: ctx.clockSynced });
  }
  return { readings, rejected };
}
