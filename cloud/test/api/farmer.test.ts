import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '@smart-village/shared';
import { call, event, FIELD, login, NOW, PUMP, PUMP_STATE, reading, startVillage, T0, type Session, type Village } from './fixture.js';
import { openSse } from './sse.js';

/**
 * Lan farms ruong-lan (zone-1, zone-3, soil-1), Bình farms ruong-binh (zone-2, soil-2); the tank
 * belongs to no field. Each sees only their own field's sensors, zones and events, everywhere.
 */
let v: Village;
let lan: Session;
let binh: Session;
let operator: Session;
const sent: { site: string; edge: string; command: Command }[] = [];

beforeAll(async () => {
  v = await startVillage({
    states: true,
    users: true,
    api: {
      publishCommand: async (site, edge, command) => {
        sent.push({ site, edge, command });
      },
    },
  });
  lan = await login(v.base, 'lan');
  binh = await login(v.base, 'binh');
  operator = await login(v.base, 'an');
});
afterAll(async () => {
  await v?.close();
});

const body = <T>(r: { status: number; body: unknown }): T => {
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as T;
};

describe('a farmer reads only their own fields', () => {
  it('sensors and latest: own field and field-less (the tank); not the neighbour\'s', async () => {
    expect(body<{ sensors: { sensor: string }[] }>(await call(v.base, '/api/sites/village-a/sensors', { session: lan })).sensors.map((s) => s.sensor)).toEqual(['soil-1', 'tank-level']);
    expect(body<{ readings: { sensor: string }[] }>(await call(v.base, '/api/sites/village-a/latest', { session: binh })).readings.map((s) => s.sensor)).toEqual(['soil-2', 'tank-level']);
    expect(body<{ readings: { sensor: string }[] }>(await call(v.base, '/api/sites/village-a/latest', { session: operator })).readings.map((s) => s.sensor)).toEqual(['soil-1', 'soil-2', 'tank-level']);
  });

  it("cannot read another field's sensor history (403), can read their own", async () => {
    const r = await call(v.base, '/api/sites/village-a/sensors/soil-2/history', { session: lan });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: { code: 'FORBIDDEN', message: 'sensor "soil-2" is not in one of your fields' } });
    expect((await call(v.base, '/api/sites/village-a/sensors/soil-1/history', { session: lan })).status).toBe(200);
    expect((await call(v.base, '/api/sites/village-a/sensors/soil-1/history', { session: binh })).status).toBe(403);
  });

  it("events: own zones' and site-wide ones (devices), not the neighbour's zone", async () => {
    const sources = (s: Session) => call(v.base, '/api/sites/village-a/events', { session: s }).then((r) => body<{ events: { source: string }[] }>(r).events.map((e) => e.source));
    expect(await sources(lan)).toEqual(['modbus-3', 'zone-1']);
    expect(await sources(binh)).toEqual(['zone-2', 'modbus-3']);
    expect(await sources(operator)).toEqual(['zone-2', 'modbus-3', 'zone-1']);
  });

  it("explain: own zone's decisions; another's zone is 403", async () => {
    expect(body<{ zone: string; events: { kind: string }[] }>(await call(v.base, '/api/sites/village-a/zones/zone-1/explain', { session: lan }))).toMatchObject({ zone: 'zone-1', events: [{ kind: 'zone.watered' }] });
    expect((await call(v.base, '/api/sites/village-a/zones/zone-2/explain', { session: lan })).status).toBe(403);
    expect(body<{ events: unknown[] }>(await call(v.base, '/api/sites/village-a/zones/zone-2/explain', { session: operator })).events).toHaveLength(1);
  });

  it('overview: only their own field and its zones; the tank and outputs of the site', async () => {
    const o = body<{ site: unknown; fields: { id: string; sensors: { id: string; value: number }[]; zones: { id: string }[] }[]; tanks: { sensor: string }[]; outputs: unknown[] }>(
      await call(v.base, '/api/sites/village-a/overview', { session: lan }),
    );
    expect(o.site).toEqual({ id: 'village-a', name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21.03, lon: 105.85 });
    expect(o.fields.map((f) => [f.id, f.sensors.map((s) => s.id), f.zones.map((z) => z.id)])).toEqual([['ruong-lan', ['soil-1'], ['zone-1', 'zone-3']]]);
    expect(o.fields[0]?.sensors[0]).toMatchObject({ id: 'soil-1', value: 72 });
    expect(o.tanks.map((t) => t.sensor)).toEqual(['tank-level']);
    expect(o.outputs).toHaveLength(3);
    const all = body<{ fields: { id: string }[] }>(await call(v.base, '/api/sites/village-a/overview', { session: operator }));
    expect(all.fields.map((f) => f.id)).toEqual(['ruong-binh', 'ruong-lan']);
  });

  it("a sensor no edge has described is not shown to farmers (nobody said whose it is)", async () => {
    await v.store.storeReadings(PUMP, [200], [reading('mystery', NOW - 1000, 5)]);
    expect(body<{ readings: { sensor: string }[] }>(await call(v.base, '/api/sites/village-a/latest', { session: lan })).readings.map((s) => s.sensor)).not.toContain('mystery');
    expect(body<{ readings: { sensor: string }[] }>(await call(v.base, '/api/sites/village-a/latest', { session: operator })).readings.map((s) => s.sensor)).toContain('mystery');
  });
});

describe('a farmer waters only their own zones', () => {
  const command = (s: Session, action: unknown, edge?: string) => call(v.base, '/api/sites/village-a/commands', { session: s, body: { action, ...(edge && { edge }) } });

  it('may water and stop their own zone that allows manual runs; the command goes to its edge', async () => {
    sent.length = 0;
    const r = await command(lan, { type: 'water', zone: 'zone-1', duration: '10m' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toEqual({
      command: { id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), by: 'lan', action: { type: 'water', zone: 'zone-1', duration: 600_000 }, edge: 'pump-house', issuedAt: NOW, status: 'sent', updatedAt: NOW },
    });
    expect(sent).toEqual([{ site: 'village-a', edge: 'pump-house', command: { id: (r.body as { command: { id: string } }).command.id, ts: NOW, ttl: 60_000, by: 'lan', action: { type: 'water', zone: 'zone-1', duration: 600_000 } } }]);
    expect((await command(lan, { type: 'stop', zone: 'zone-1' })).status).toBe(202);
  });

  it.each([
    { what: "another farmer's zone", action: { type: 'water', zone: 'zone-2', duration: 60_000 }, message: 'zone "zone-2" is not in one of your fields' },
    { what: 'a zone that allows no manual runs', action: { type: 'water', zone: 'zone-3', duration: 60_000 }, message: 'zone "zone-3" does not allow manual watering' },
    { what: 'an unknown zone', action: { type: 'stop', zone: 'zone-9' }, message: 'zone "zone-9" is not in one of your fields' },
    { what: 'stop everything', action: { type: 'stop' }, message: 'a farmer must name the zone to stop' },
    { what: 'pause the site', action: { type: 'pause', duration: '1h' }, message: 'a farmer may only water or stop a zone, not pause' },
    { what: 'lights', action: { type: 'light', group: 'street', on: true, duration: '1h' }, message: 'a farmer may only water or stop a zone, not light' },
  ])('403 for $what, nothing sent or stored', async ({ action, message }) => {
    sent.length = 0;
    const before = (await v.store.listCommands('village-a', { limit: 1000 })).length;
    const r = await command(lan, action);
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: { code: 'FORBIDDEN', message } });
    expect(sent).toEqual([]);
    expect(await v.store.listCommands('village-a', { limit: 1000 })).toHaveLength(before);
  });

  it('sees their own commands in the audit trail; the operator sees all', async () => {
    await command(binh, { type: 'water', zone: 'zone-2', duration: 60_000 });
    const mine = body<{ commands: { by: string }[] }>(await call(v.base, '/api/sites/village-a/commands', { session: lan })).commands;
    expect(mine.length).toBeGreaterThan(0);
    expect(new Set(mine.map((c) => c.by))).toEqual(new Set(['lan']));
    const all = body<{ commands: { by: string }[] }>(await call(v.base, '/api/sites/village-a/commands', { session: operator })).commands;
    expect(new Set(all.map((c) => c.by))).toEqual(new Set(['lan', 'binh']));
  });
});

describe('operators command the site', () => {
  const command = (action: unknown, edge?: string) => call(v.base, '/api/sites/village-a/commands', { session: operator, body: { action, ...(edge && { edge }) } });

  it('find the edge from the zone or lighting group; need it named for site-wide switches with two controlling edges', async () => {
    sent.length = 0;
    expect((await command({ type: 'water', zone: 'zone-2', duration: 60_000 })).status).toBe(202);
    expect((await command({ type: 'light', group: 'street', on: true, duration: '2h' })).status).toBe(202);
    expect(sent.map((s) => s.edge)).toEqual(['field-north', 'pump-house']);
    const pause = await command({ type: 'pause', duration: '1h' });
    expect(pause.status).toBe(400);
    expect((pause.body as { error: { message: string } }).error.message).toBe('this site has 2 edges that could take "pause": name the edge');
    expect((await command({ type: 'pause', duration: '1h' }, 'field-north')).status).toBe(202);
    expect((await command({ type: 'resume' }, 'barn')).status).toBe(404);
    // zone-3 allows no manual runs for farmers; the operator decides (the edge may still refuse).
    expect((await command({ type: 'water', zone: 'zone-3', duration: 60_000 })).status).toBe(202);
  });

  it('viewers may not command (403); bad actions are 400 naming the field', async () => {
    const viewer = await login(v.base, 'xem');
    expect((await call(v.base, '/api/sites/village-a/commands', { session: viewer, body: { action: { type: 'resume' }, edge: 'pump-house' } })).status).toBe(403);
    expect((await call(v.base, '/api/sites/village-a/commands', { token: v.tokens.viewer, body: { action: { type: 'resume' }, edge: 'pump-house' } })).status).toBe(403);
    const bad = await command({ type: 'water', zone: 'zone-1', duration: 'forever' });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { issues: { path: string }[] } }).error.issues.map((i) => i.path)).toEqual(['body.action.duration']);
  });

  it('503 when the broker cannot take the command: the row is failed', async () => {
    const down = await startVillage({
      states: true,
      api: {
        publishCommand: async () => {
          throw new Error('not connected to the broker');
        },
      },
    });
    try {
      const r = await call(down.base, '/api/sites/village-a/commands', { token: down.tokens.operator, body: { action: { type: 'resume' }, edge: 'pump-house' } });
      expect(r.status).toBe(503);
      expect((r.body as { error: { code: string } }).error.code).toBe('BROKER_UNAVAILABLE');
      expect((await down.store.listCommands('village-a', { limit: 5 }))[0]).toMatchObject({ status: 'failed', by: 'token:technician', reason: 'the cloud could not hand the command to the broker' });
    } finally {
      await down.close();
    }
  });
});

describe("a farmer's live stream carries only their own fields", () => {
  it('readings, events, zones, commands and alerts of other fields are left out', async () => {
    const s = await openSse(`${v.base}/api/sites/village-a/stream`, { cookie: lan.cookie });
    try {
      expect(s.status).toBe(200);
      await v.store.storeReadings(FIELD, [300], [reading('soil-2', NOW + 1, 12)]);
      v.api.notify({ kind: 'readings', site: 'village-a', edge: 'field-north', inserted: 1 });
      await v.store.storeReadings(PUMP, [301], [reading('soil-1', NOW + 2, 44)]);
      v.api.notify({ kind: 'readings', site: 'village-a', edge: 'pump-house', inserted: 1 });
      expect((await s.next('readings')).data).toEqual({ site: 'village-a', readings: [expect.objectContaining({ sensor: 'soil-1', value: 44 })] });

      v.api.notify({ kind: 'events', site: 'village-a', edge: 'field-north', events: [{ ...event(T0, 'zone.started', 'zone-2'), seq: 302 }] });
      v.api.notify({ kind: 'events', site: 'village-a', edge: 'pump-house', events: [{ ...event(T0, 'zone.started', 'zone-1'), seq: 303 }] });
      expect((await s.next('events')).data).toMatchObject({ events: [{ source: 'zone-1' }] });

      await v.store.putEdgeState(PUMP, PUMP_STATE, NOW);
      v.api.notify({ kind: 'state', site: 'village-a', edge: 'pump-house', control: { ...PUMP_STATE.control!, zones: [...PUMP_STATE.control!.zones, { id: 'zone-2', field: 'ruong-binh', state: 'running', manualAllowed: true }] } });
      expect(((await s.next('control')).data as { control: { zones: { id: string }[] } }).control.zones.map((z) => z.id)).toEqual(['zone-1', 'zone-3']);

      await call(v.base, '/api/sites/village-a/commands', { session: binh, body: { action: { type: 'stop', zone: 'zone-2' } } });
      await call(v.base, '/api/sites/village-a/commands', { session: lan, body: { action: { type: 'stop', zone: 'zone-1' } } });
      expect((await s.next('command')).data).toMatchObject({ command: { by: 'lan' } });
      expect(s.events.filter((e) => e.event === 'command')).toHaveLength(1);
    } finally {
      s.close();
    }
  });
});
