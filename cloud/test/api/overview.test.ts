import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeState, Reading } from '@smart-village/shared';
import { buildOverview, rainFromBuckets, type OverviewInputs } from '../../src/api/overview.js';
import { principalFromToken, type Principal } from '../../src/auth/access.js';
import { buildSiteModel } from '../../src/site/model.js';
import type { EdgeRecord, HistoryBucket } from '../../src/store/types.js';
import { call, event, H, MIN, NOW, PUMP, PUMP_STATE, reading, startVillage, type Village } from './fixture.js';
import { openSse } from './sse.js';

const operator: Principal = principalFromToken({ name: 'technician', role: 'operator' });
const WEATHER: EdgeState = {
  ts: NOW,
  readings: [{ sensor: 'air-1', ts: NOW - MIN, value: 31.2, unit: '°C', quality: 'good', clockSynced: true }],
  control: { outputs: [{ id: 'pump', kind: 'pump', on: true, until: NOW + 600_000, reason: 'zone-1' }], zones: [], pausedUntil: NOW + H, rainDelayUntil: NOW - H, lights: [{ id: 'street', on: true, reason: 'dusk' }] },
  meta: {
    site: { name: 'Thôn Tây', timezone: 'Asia/Ho_Chi_Minh', language: 'en', lat: 10.8, lon: 106.6 },
    sensors: [
      { id: 'air-1', name: 'Nhiệt độ', quantity: 'air-temperature', unit: '°C' },
      { id: 'air-2', quantity: 'air-temperature', unit: '°C' },
      { id: 'hum-1', quantity: 'relative-humidity', unit: '%RH' },
      { id: 'bon-nuoc', name: 'Bồn', quantity: 'water-fill', unit: '%' },
    ],
  },
};

function edge(name: string, state: EdgeRecord['state'], lastSeen: number): EdgeRecord {
  return { site: 's', edge: name, secretHash: 'x', createdAt: 0, lastSeen, state, birth: 1, contiguousSeq: 0, maxSeq: 0 };
}
const r = (sensor: string, ts: number, value: number, unit: Reading['unit']): Reading & { edge: string } => ({ edge: 'weather', sensor, ts, value, unit, quality: 'good', clockSynced: true });

describe('buildOverview', () => {
  const input = (over: Partial<OverviewInputs> = {}): OverviewInputs => ({
    site: 's',
    now: NOW,
    model: buildSiteModel('s', [{ site: 's', edge: 'weather', receivedAt: NOW, state: WEATHER }]),
    edges: [edge('weather', 'online', NOW - 1000), edge('barn', 'unknown', 0)],
    latest: [r('air-1', NOW - 10 * MIN, 29, '°C'), r('air-2', NOW - 5 * MIN, 30, '°C'), r('hum-1', NOW - 2 * MIN, 80, '%RH'), r('bon-nuoc', NOW - 3 * MIN, 64, '%')],
    announcement: { text: 'Họp thôn', by: 'an', updatedAt: NOW - H },
    alerts: [],
    rain24hMm: 3.5,
    ...over,
  });

  it('gathers site, edges, tanks, weather (newest per quantity, state snapshot included), outputs, lights and switches still in force', () => {
    expect(buildOverview(input(), operator)).toEqual({
      site: { id: 's', name: 'Thôn Tây', timezone: 'Asia/Ho_Chi_Minh', language: 'en', lat: 10.8, lon: 106.6 },
      edges: [
        { edge: 'weather', online: true, lastSeen: NOW - 1000 },
        { edge: 'barn', online: false, lastSeen: null },
      ],
      fields: [],
      tanks: [{ sensor: 'bon-nuoc', name: 'Bồn', value: 64, unit: '%', ts: NOW - 3 * MIN }],
      // air-1's state snapshot (NOW - 1 min) is newer than any stored reading.
      weather: { 'air-temperature': { value: 31.2, unit: '°C', ts: NOW - MIN, sensor: 'air-1' }, 'relative-humidity': { value: 80, unit: '%RH', ts: NOW - 2 * MIN, sensor: 'hum-1' } },
      rain24hMm: 3.5,
      outputs: [{ id: 'pump', kind: 'pump', on: true, until: NOW + 600_000, reason: 'zone-1' }],
      lights: [{ id: 'street', on: true, reason: 'dusk' }],
      pausedUntil: NOW + H,
      announcement: { text: 'Họp thôn', by: 'an', updatedAt: NOW - H },
      alerts: [],
      updatedAt: NOW,
    });
  });

  it('before any edge described the site: its id, UTC, no place', () => {
    const o = buildOverview(input({ model: buildSiteModel('s', []), announcement: undefined, rain24hMm: null }), operator);
    expect(o.site).toEqual({ id: 's', name: 's', timezone: 'UTC', language: 'vi', lat: null, lon: null });
    expect(o).toMatchObject({ fields: [], tanks: [], weather: {}, outputs: [], lights: [], announcement: null, rain24hMm: null });
  });
});

describe('rainFromBuckets (a gauge\'s running total)', () => {
  const b = (last: number): HistoryBucket => ({ t: 0, min: last, avg: last, max: last, last, count: 1 });
  it.each([
    { lasts: [], mm: null },
    { lasts: [12], mm: 0 },
    { lasts: [12, 12.5, 14, 14], mm: 2 },
    // The 16-bit counter restarted: what it shows after is rain since.
    { lasts: [6553, 6553.4, 0.6, 1.1], mm: 1.5 },
  ])('$lasts → $mm mm', ({ lasts, mm }) => {
    expect(rainFromBuckets(lasts.map(b))).toBe(mm);
  });
});

describe('routes', () => {
  let v: Village;
  afterEach(async () => {
    await v?.close();
  });

  it('overview: rain of the last 24 h from the gauge', async () => {
    v = await startVillage({ states: true });
    const state: EdgeState = { ...PUMP_STATE, meta: { ...PUMP_STATE.meta!, sensors: [...PUMP_STATE.meta!.sensors, { id: 'rain-total', quantity: 'rain', unit: 'mm' }] } };
    await v.store.putEdgeState(PUMP, state, NOW);
    // 40 mm before the day (the baseline), then 2.5 mm today.
    await v.store.storeReadings(PUMP, [500, 501, 502, 503], [reading('rain-total', NOW - 30 * H, 40, 'mm'), reading('rain-total', NOW - 24 * H - 2 * MIN, 40, 'mm'), reading('rain-total', NOW - 3 * H, 41, 'mm'), reading('rain-total', NOW - H, 42.5, 'mm')]);
    const o = (await call(v.base, '/api/sites/village-a/overview', { token: v.tokens.viewer })).body as { rain24hMm: number; weather: Record<string, unknown> };
    expect(o.rain24hMm).toBe(2.5);
    expect(o.weather.rain).toEqual({ value: 42.5, unit: 'mm', ts: NOW - H, sensor: 'rain-total' });
  });

  it('explain: the newest decisions about a zone, at most limit', async () => {
    v = await startVillage({ states: true });
    await v.store.storeEvents(PUMP, [600, 601], [event(NOW - 2 * H, 'zone.skipped', 'zone-1', { reason: 'rain' }), event(NOW - H, 'zone.started', 'zone-1')]);
    const r = await call(v.base, '/api/sites/village-a/zones/zone-1/explain?limit=2', { token: v.tokens.viewer });
    expect((r.body as { events: { kind: string }[] }).events.map((e) => e.kind)).toEqual(['zone.started', 'zone.skipped']);
    expect((await call(v.base, '/api/sites/village-a/zones/zone-1/explain?limit=0', { token: v.tokens.viewer })).status).toBe(400);
  });

  it('announcement: null, set by an operator (pushed on the stream), at most 500 characters, cleared by an empty text', async () => {
    v = await startVillage();
    const get = () => call(v.base, '/api/sites/village-a/announcement', { token: v.tokens.viewer });
    expect(await get()).toMatchObject({ status: 200, body: null });
    const sse = await openSse(`${v.base}/api/sites/village-a/stream?token=${v.tokens.viewer}`);
    try {
      const put = (text: string, token = v.tokens.operator) => call(v.base, '/api/sites/village-a/announcement', { method: 'PUT', body: { text }, token });
      expect((await put('  Phun thuốc ruộng Bình sáng mai  ')).status).toBe(200);
      expect((await get()).body).toEqual({ text: 'Phun thuốc ruộng Bình sáng mai', by: 'token:technician', updatedAt: NOW });
      expect((await sse.next('announcement')).data).toEqual({ site: 'village-a', announcement: { text: 'Phun thuốc ruộng Bình sáng mai', by: 'token:technician', updatedAt: NOW } });
      expect((await put('x'.repeat(501))).status).toBe(400);
      expect((await put('x', v.tokens.viewer)).status).toBe(403);
      expect((await put('')).body).toEqual({ announcement: null });
      expect((await sse.next('announcement')).data).toEqual({ site: 'village-a', announcement: null });
      expect((await get()).body).toBeNull();
    } finally {
      sse.close();
    }
  });

  it('405 names every method a path has', async () => {
    v = await startVillage();
    const r = await call(v.base, '/api/sites/village-a/announcement', { method: 'DELETE', token: v.tokens.admin });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, PUT');
  });
});
