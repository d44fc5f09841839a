import { describe, expect, it } from 'vitest';
import type { EdgeState, Event, Reading } from '@smart-village/shared';
import { computeAlerts, DEFAULT_ALERT_OPTIONS, drySoilCandidates, quietSensors, usualInterval, type AlertInputs } from '../../src/alerts/rules.js';
import { buildSiteModel } from '../../src/site/model.js';
import type { CommandRecord, EdgeRecord, HistoryBucket } from '../../src/store/types.js';

const MIN = 60_000;
const H = 60 * MIN;
const NOW = Date.UTC(2024, 5, 10, 12);
const opts = DEFAULT_ALERT_OPTIONS;

const META: EdgeState = {
  ts: NOW,
  readings: [],
  control: { outputs: [], zones: [{ id: 'zone-1', field: 'ruong-lan', state: 'idle', manualAllowed: true }], lights: [] },
  meta: {
    site: { name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21, lon: 105.8 },
    sensors: [
      { id: 'soil-1', field: 'ruong-lan', quantity: 'soil-moisture', unit: '%VWC' },
      { id: 'bon-nuoc', quantity: 'water-fill', unit: '%' },
      { id: 'rain-1', quantity: 'rain', unit: 'mm' },
    ],
  },
};
const model = buildSiteModel('village-a', [{ site: 'village-a', edge: 'pump-house', receivedAt: NOW, state: META }]);

function edge(name: string, over: Partial<EdgeRecord> = {}): EdgeRecord {
  return { site: 'village-a', edge: name, secretHash: 'x', createdAt: 0, lastSeen: NOW - 10_000, state: 'online', birth: 1, contiguousSeq: 0, maxSeq: 0, ...over };
}
function r(sensor: string, ts: number, value: number | null, unit: Reading['unit'] = '%VWC', e = 'pump-house'): Reading & { edge: string } {
  return { edge: e, sensor, ts, value, unit, quality: value === null ? 'error' : 'good', clockSynced: true };
}
function ev(kind: string, source: string, ts: number, data: Record<string, unknown> = {}): Event & { edge: string } {
  return { edge: 'pump-house', ts, clockSynced: true, kind, severity: kind === 'tank.ok' ? 'info' : 'alarm', source, message: `${kind} ${source}`, data };
}
function input(over: Partial<AlertInputs>): AlertInputs {
  return { now: NOW, model, edges: [edge('pump-house')], latest: [], intervals: new Map(), soilHistory: new Map(), tankEvents: [], flowEvents: [], failedCommands: [], ...over };
}
const ids = (i: Partial<AlertInputs>): string[] => computeAlerts(input(i), opts).map((a) => `${a.id} ${a.severity}`);

describe('computeAlerts', () => {
  it('nothing wrong, nothing active', () => {
    expect(ids({ latest: [r('soil-1', NOW - MIN, 30), r('bon-nuoc', NOW - MIN, 80, '%')] })).toEqual([]);
  });

  describe('edge-offline', () => {
    it.each([
      { name: 'its will said offline', e: edge('pump-house', { state: 'offline', lastSeen: NOW - 2 * H }), want: ['edge-offline:pump-house alarm'], since: NOW - 2 * H },
      { name: 'online but silent past edgeSilentMs', e: edge('pump-house', { lastSeen: NOW - 31 * MIN }), want: ['edge-offline:pump-house alarm'], since: NOW - 31 * MIN + opts.edgeSilentMs },
      { name: 'online and recently heard', e: edge('pump-house', { lastSeen: NOW - 29 * MIN }), want: [], since: 0 },
      { name: 'never connected (just added)', e: edge('pump-house', { state: 'unknown', lastSeen: 0 }), want: [], since: 0 },
    ])('$name', ({ e, want, since }) => {
      const alerts = computeAlerts(input({ edges: [e] }), opts);
      expect(alerts.map((a) => `${a.id} ${a.severity}`)).toEqual(want);
      if (want.length > 0) expect(alerts[0]?.since).toBe(since);
    });

    it('its sensors are not reported offline one by one', () => {
      expect(ids({ edges: [edge('pump-house', { state: 'offline', lastSeen: NOW - 5 * H })], latest: [r('soil-1', NOW - 5 * H, 30)] })).toEqual(['edge-offline:pump-house alarm']);
    });
  });

  describe('sensor-offline', () => {
    it.each([
      { name: 'a read error', latest: [r('soil-1', NOW - MIN, null)], intervals: [], want: ['sensor-offline:soil-1 warning'] },
      { name: 'silent for more than 3 usual intervals', latest: [r('soil-1', NOW - 31 * MIN, 30)], intervals: [['soil-1', 10 * MIN]], want: ['sensor-offline:soil-1 warning'] },
      { name: 'silent for less than 3 usual intervals', latest: [r('soil-1', NOW - 29 * MIN, 30)], intervals: [['soil-1', 10 * MIN]], want: [] },
      { name: 'a fast sensor: never sooner than sensorOfflineMinMs', latest: [r('soil-1', NOW - 4 * MIN, 30)], intervals: [['soil-1', 10_000]], want: [] },
      { name: 'a fast sensor past the minimum', latest: [r('soil-1', NOW - 6 * MIN, 30)], intervals: [['soil-1', 10_000]], want: ['sensor-offline:soil-1 warning'] },
      { name: 'unknown interval: the default (10 min)', latest: [r('soil-1', NOW - 31 * MIN, 30)], intervals: [], want: ['sensor-offline:soil-1 warning'] },
      { name: 'a sensor its edge no longer lists (removed from the config)', latest: [r('old-probe', NOW - 5 * H, 30)], intervals: [], want: [] },
    ] as const)('$name', ({ latest, intervals, want }) => {
      expect(ids({ latest: [...latest], intervals: new Map(intervals.map(([k, v]) => [k, v])) })).toEqual(want);
    });

    it('carries the field of the sensor, for farmers', () => {
      expect(computeAlerts(input({ latest: [r('soil-1', NOW - MIN, null)] }), opts)[0]?.data).toMatchObject({ field: 'ruong-lan', reason: 'error' });
    });
  });

  describe('tank-low', () => {
    it('the edge said tank.low and not yet tank.ok: an alarm from then', () => {
      const alerts = computeAlerts(input({ tankEvents: [ev('tank.low', 'bon-nuoc', NOW - H, { value: 9, min: 15 }), ev('tank.ok', 'bon-nuoc', NOW - 3 * H)] }), opts);
      expect(alerts).toEqual([
        { id: 'tank-low:bon-nuoc', kind: 'tank-low', severity: 'alarm', source: 'bon-nuoc', message: 'tank.low bon-nuoc', since: NOW - H, data: { edge: 'pump-house', value: 9, min: 15 } },
      ]);
    });

    it('tank.ok after tank.low ends it', () => {
      expect(ids({ tankEvents: [ev('tank.ok', 'bon-nuoc', NOW - MIN), ev('tank.low', 'bon-nuoc', NOW - H)] })).toEqual([]);
    });

    it('a water-fill sensor below the site threshold is a warning; the edge\'s alarm outranks it', () => {
      expect(ids({ latest: [r('bon-nuoc', NOW - MIN, 12, '%')] })).toEqual(['tank-low:bon-nuoc warning']);
      expect(ids({ latest: [r('bon-nuoc', NOW - MIN, 25, '%')] })).toEqual([]);
      expect(ids({ latest: [r('bon-nuoc', NOW - MIN, 12, '%')], tankEvents: [ev('tank.low', 'bon-nuoc', NOW - H)] })).toEqual(['tank-low:bon-nuoc alarm']);
      expect(computeAlerts(input({ latest: [r('bon-nuoc', NOW - MIN, 12, '%')] }), { ...opts, tankLowPercent: 0 })).toEqual([]);
    });
  });

  describe('soil-dry', () => {
    const buckets = (values: number[], step = H): HistoryBucket[] =>
      values.map((v, i) => ({ t: NOW - (values.length - i) * step, min: v, avg: v, max: v, last: v, count: 1 }));

    it('below the threshold for longer than soilDryForMs: since the dry spell began', () => {
      const dry = buckets([30, 20, ...Array<number>(13).fill(10)]);
      const alerts = computeAlerts(input({ soilHistory: new Map([['soil-1', dry]]) }), opts);
      expect(alerts.map((a) => [a.id, a.since, a.data.field])).toEqual([['soil-dry:soil-1', NOW - 13 * H, 'ruong-lan']]);
    });

    it('not yet long enough, or wet in between', () => {
      expect(ids({ soilHistory: new Map([['soil-1', buckets([30, ...Array<number>(11).fill(10)])]]) })).toEqual([]);
      expect(ids({ soilHistory: new Map([['soil-1', buckets([...Array<number>(10).fill(10), 16, 10, 10])]]) })).toEqual([]);
    });

    it('only dry latest values need their history', () => {
      expect(drySoilCandidates([r('soil-1', NOW, 10), r('soil-2', NOW, 40), r('soil-3', NOW, null), r('bon-nuoc', NOW, 5, '%')], opts)).toEqual(['soil-1']);
    });
  });

  describe('no-flow', () => {
    it('zone.no-flow is active until the zone finishes a run', () => {
      const noFlow = ev('zone.no-flow', 'zone-1', NOW - 2 * H, { flow: 0 });
      expect(computeAlerts(input({ flowEvents: [noFlow] }), opts)).toEqual([
        { id: 'no-flow:zone-1', kind: 'no-flow', severity: 'alarm', source: 'zone-1', message: 'zone.no-flow zone-1', since: NOW - 2 * H, data: { edge: 'pump-house', flow: 0, field: 'ruong-lan' } },
      ]);
      expect(ids({ flowEvents: [ev('zone.finished', 'zone-1', NOW - H), noFlow] })).toEqual([]);
    });
  });

  describe('command-failed', () => {
    const cmd = (status: CommandRecord['status'], updatedAt: number, reason?: string): CommandRecord => ({
      id: `c-${status}`,
      site: 'village-a',
      edge: 'pump-house',
      by: 'lan',
      action: { type: 'water', zone: 'zone-1', duration: 600_000 },
      issuedAt: updatedAt - 1000,
      ttl: 60_000,
      status,
      ...(reason !== undefined && { reason }),
      updatedAt,
    });

    it('rejected, failed or expired within commandFailedForMs; with who asked and the field', () => {
      const alerts = computeAlerts(input({ failedCommands: [cmd('rejected', NOW - MIN, 'tank below 15 %'), cmd('expired', NOW - 2 * MIN), cmd('failed', NOW - 2 * H)] }), opts);
      expect(alerts.map((a) => [a.id, a.source, a.message])).toEqual([
        ['command-failed:c-expired', 'zone-1', 'command water zone-1 by lan got no answer from the edge'],
        ['command-failed:c-rejected', 'zone-1', 'command water zone-1 by lan was rejected: tank below 15 %'],
      ]);
      expect(alerts[1]?.data).toMatchObject({ by: 'lan', field: 'ruong-lan', status: 'rejected' });
    });
  });
});

describe('helpers', () => {
  it('usualInterval is the median gap', () => {
    expect(usualInterval([0, 10, 20, 30, 100])).toBe(10);
    expect(usualInterval([5])).toBeUndefined();
    expect(usualInterval([])).toBeUndefined();
  });

  it('quietSensors: good readings older than the minimum', () => {
    expect(quietSensors([r('a', NOW - 6 * MIN, 1), r('b', NOW - MIN, 1), r('c', NOW - H, null)], NOW, opts)).toEqual(['a']);
  });
});
