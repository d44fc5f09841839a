import { afterEach, describe, expect, it } from 'vitest';
import { topic, type EdgeState } from '@smart-village/shared';
import { call } from '../api/fixture.js';
import { openSse, type SseClient } from '../api/sse.js';
import { connectEdge, publishState, startCloud, until, type TestCloud } from '../helpers/cloud.js';

const EDGE = 'village-a/pump-house';

function state(ts: number, zoneState: 'idle' | 'running' = 'idle'): EdgeState {
  return {
    ts,
    readings: [{ sensor: 'soil-1', ts, value: 31.5, unit: '%VWC', quality: 'good', clockSynced: true }],
    control: {
      outputs: [{ id: 'valve-1', kind: 'valve', on: zoneState === 'running' }],
      zones: [{ id: 'zone-1', name: 'Ruộng Lan', field: 'ruong-lan', state: zoneState, manualAllowed: true }],
      lights: [],
    },
    meta: {
      site: { name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21.03, lon: 105.85 },
      sensors: [
        { id: 'soil-1', name: 'Đất ruộng Lan', field: 'ruong-lan', quantity: 'soil-moisture', unit: '%VWC' },
        { id: 'bon-nuoc', name: 'Bồn nước', quantity: 'water-fill', unit: '%' },
      ],
    },
  };
}

const clouds: TestCloud[] = [];
const streams: SseClient[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const c of clouds.splice(0)) await c.close();
});

describe('…/state ingest', () => {
  it('keeps the latest state per edge and pushes control only when it changed', async () => {
    const cloud = await startCloud({ edges: [EDGE] });
    clouds.push(cloud);
    const edge = await connectEdge(cloud, EDGE);
    const sse = await openSse(`${cloud.base}/api/sites/village-a/stream?token=${cloud.viewer}`);
    streams.push(sse);
    const t = cloud.clock.t;
    await publishState(edge, EDGE, state(t));
    expect((await sse.next('control')).data).toEqual({ site: 'village-a', edge: 'pump-house', control: state(t).control });
    // Newer readings, same control: stored, not pushed as control.
    await publishState(edge, EDGE, state(t + 10_000));
    await until('second state stored', async () => (await cloud.app.store.edgeStates('village-a'))[0]?.state.ts === t + 10_000);
    await publishState(edge, EDGE, state(t + 20_000, 'running'));
    expect(((await sse.next('control')).data as { control: EdgeState['control'] }).control?.zones[0]?.state).toBe('running');
    expect(sse.events.filter((e) => e.event === 'control')).toHaveLength(2);
    expect(cloud.app.ingest?.stats().states).toBe(3);
    await edge.endAsync();
  });

  it('quarantines a state that fails validation, naming where', async () => {
    const cloud = await startCloud({ edges: [EDGE] });
    clouds.push(cloud);
    const edge = await connectEdge(cloud, EDGE);
    const bad = { ...state(cloud.clock.t), control: { outputs: [], zones: [{ id: 'zone-1', state: 'flooded', manualAllowed: true }], lights: [] } };
    await edge.publishAsync(topic('village-a', 'pump-house', 'state'), JSON.stringify(bad), { qos: 1, retain: true });
    await until('quarantined', async () => (await cloud.app.store.listQuarantine(5, 'village-a')).length === 1);
    expect((await cloud.app.store.listQuarantine(5, 'village-a'))[0]?.reason).toMatch(/^invalid state: control\.zones\.0\.state: /);
    expect(await cloud.app.store.edgeStates('village-a')).toEqual([]);
    await edge.endAsync();
  });

  it('names and fields survive a cloud restart (persisted, not only the retained message)', async () => {
    const first = await startCloud({ edges: [EDGE] });
    clouds.push(first);
    const edge = await connectEdge(first, EDGE);
    await publishState(edge, EDGE, state(first.clock.t));
    await until('stored', async () => (await first.app.store.edgeStates('village-a')).length === 1);
    await edge.endAsync();
    await first.stop();

    // A new process, a new (empty) embedded broker: only the store remembers.
    const second = await startCloud({ dir: first.dir, clock: first.clock });
    clouds.push(second);
    const overview = await call(second.base, '/api/sites/village-a/overview', { token: second.viewer });
    expect(overview.status).toBe(200);
    expect(overview.body).toMatchObject({
      site: { id: 'village-a', name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21.03, lon: 105.85 },
      fields: [{ id: 'ruong-lan', name: 'Ruộng Lan', sensors: [{ id: 'soil-1', name: 'Đất ruộng Lan', quantity: 'soil-moisture', unit: '%VWC', value: 31.5, quality: 'good' }], zones: [{ id: 'zone-1', name: 'Ruộng Lan' }] }],
      tanks: [{ sensor: 'bon-nuoc', name: 'Bồn nước', value: null, unit: '%', ts: null }],
      outputs: [{ id: 'valve-1', kind: 'valve', on: false }],
    });
    // The restarted ingest compares with the stored state: an unchanged control is not news.
    const sse = await openSse(`${second.base}/api/sites/village-a/stream?token=${second.viewer}`);
    streams.push(sse);
    second.secrets.set(EDGE, first.secrets.get(EDGE) as string);
    const again = await connectEdge(second, EDGE);
    await publishState(again, EDGE, state(first.clock.t + 1000));
    await until('stored again', async () => (await second.app.store.edgeStates('village-a'))[0]?.state.ts === first.clock.t + 1000);
    await publishState(again, EDGE, state(first.clock.t + 2000, 'running'));
    expect(((await sse.next('control')).data as { control: EdgeState['control'] }).control?.zones[0]?.state).toBe('running');
    expect(sse.events.filter((e) => e.event === 'control')).toHaveLength(1);
    await again.endAsync();
  });
});
