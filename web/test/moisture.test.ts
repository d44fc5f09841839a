import { describe, expect, it } from 'vitest';
import { DEFAULT_MOISTURE_LIMITS, isSoilMoisture, moistureBand, moistureLimits } from '../src/moisture.js';
import type { Zone } from '../src/types.js';

const zone = (id: string, moisture?: Zone['moisture']): Zone => ({ id, state: 'idle', manualAllowed: true, ...(moisture && { moisture }) });

describe('moisture band', () => {
  it.each([
    [0, 'dry'],
    [24.9, 'dry'],
    [25, 'ok'],
    [35, 'ok'],
    [45, 'ok'],
    [45.1, 'wet'],
    [100, 'wet'],
    [null, 'unknown'],
    [Number.NaN, 'unknown'],
  ] as const)('%s %% is %s with the default limits', (value, band) => {
    expect(moistureBand(value)).toBe(band);
  });

  it("uses the zone's moisture control when it reads that sensor", () => {
    const zones = [zone('z1', { sensor: 'soil-a', start: 30, target: 38 }), zone('z2')];
    const limits = moistureLimits('soil-a', zones);
    expect(limits).toEqual({ dryBelow: 30, wetAbove: 38 });
    expect(moistureBand(28, limits)).toBe('dry');
    expect(moistureBand(36, limits)).toBe('ok');
    expect(moistureBand(40, limits)).toBe('wet');
  });

  it('falls back to the defaults for other sensors and for a config without hysteresis', () => {
    expect(moistureLimits('soil-b', [zone('z1', { sensor: 'soil-a', start: 30, target: 38 })])).toBe(DEFAULT_MOISTURE_LIMITS);
    expect(moistureLimits('soil-a', [zone('z1', { sensor: 'soil-a', start: 40, target: 40 })])).toBe(DEFAULT_MOISTURE_LIMITS);
  });

  it('knows a soil-moisture sensor by its quantity, or by %VWC when the quantity is missing', () => {
    const base = { id: 's', value: 1, ts: 0, quality: 'good' as const };
    expect(isSoilMoisture({ ...base, unit: '%', quantity: 'soil-moisture' })).toBe(true);
    expect(isSoilMoisture({ ...base, unit: '%VWC' })).toBe(true);
    expect(isSoilMoisture({ ...base, unit: '%VWC', quantity: 'water-fill' })).toBe(false);
    expect(isSoilMoisture({ ...base, unit: '°C', quantity: 'soil-temperature' })).toBe(false);
  });
});
