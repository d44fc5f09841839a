/**
 * The soil-moisture colour band of a field card: dry, ok or wet.
 *
 * Defaults: below 25 % VWC is dry, above 45 % is wet, 25–45 % (both ends included) is ok; a
 * loam holds roughly that range between wilting and field capacity. When the zone watered from
 * a sensor runs soil-moisture control, its own numbers win: dry below `start` (where the edge
 * would start watering), wet above `target` (where it stops).
 */
import type { SensorNow, Zone } from './types.js';

export type MoistureBand = 'dry' | 'ok' | 'wet' | 'unknown';

export interface MoistureLimits {
  /** Below this is dry. */
  dryBelow: number;
  /** Above this is wet. */
  wetAbove: number;
}

export const DEFAULT_MOISTURE_LIMITS: MoistureLimits = Object.freeze({ dryBelow: 25, wetAbove: 45 });

export function moistureBand(value: number | null | undefined, limits: MoistureLimits = DEFAULT_MOISTURE_LIMITS): MoistureBand {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'unknown';
  if (value < limits.dryBelow) return 'dry';
  if (value > limits.wetAbove) return 'wet';
  return 'ok';
}

/** The limits for one sensor: from the zone whose moisture control reads it, else the defaults. */
export function moistureLimits(sensor: string, zones: readonly Zone[]): MoistureLimits {
  const control = zones.find((z) => z.moisture?.sensor === sensor)?.moisture;
  if (!control || !(control.target > control.start)) return DEFAULT_MOISTURE_LIMITS;
  return { dryBelow: control.start, wetAbove: control.target };
}

export function isSoilMoisture(sensor: SensorNow): boolean {
  return sensor.quantity === 'soil-moisture' || (sensor.quantity === undefined && sensor.unit === '%VWC');
}
