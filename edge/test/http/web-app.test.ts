/**
 * The web app's API served by the edge from its own store, for its one site: a whole EdgeApp
 * reading the simulated village on the system clock, asked over HTTP on loopback the way the
 * browser app asks (session cookie, CSRF header, the live stream).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlState, Reading } from '@smart-village/shared';
import { EdgeApp } from '../../src/app.js';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { addToken, addUser } from '../../src/http/accounts.js';
import { WebStore } from '../../src/http/web-store.js';
import { createLogger } from '../../src/log.js';
import { createSimulatedField, type SimulatedField } from '../../src/sim/devices.js';
import { Browser, openStream, until, VILLAGE, type Answer } from './helpers.js';

const SITE = '/api/sites/my-hoa';
const FIELDS = ['ruong-1', 'ruong-2'];

interface Overview {
  site: Record<string, unknown>;
  edges: { edge: string; online: boolean; lastSeen: number | null }[];
  fields: { id: string; name: string; sensors: { id: string; value: number | null; quality: string | null }[]; zones: (ControlState['zones'][number] & { moisture?: unknown })[] }[];
  tanks: { sensor: string; value: number | null; unit: string }[];
  weather: Record<string, { value: number | null; unit: string; sensor: string }>;
  rain24hMm: number | null;
  outputs: ControlState['outputs'];
  lights: ControlState['lights'];
  announcement: unknown;
  alerts: { id: string; kind: string; data: Record<string, unknown> }[];
  updatedAt: number;
}

interface Row {
  id: string;
  by: string;
  status: string;
  action: { type: string; zone?: string };
  edge: string;
  reason?: string;
}

describe('the web app API on the edge', () => {
  let dir: string;
  let field: SimulatedField;
  let app: EdgeApp;
  let base: string;
  let viewerToken: string;
  let operatorToken: string;
  // One session each, made once: logins are rate-limited per address (10, then 2 a minute), and every test comes from 127.0.0.1.
  let admin: Browser;
  let operator: Browser;
  let lan: Browser;
  let minh: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sv-web-'));
    const config = parseConfigText(VILLAGE);
    // Accounts first, as `village-edge user add` would make them before the service starts.
    const store = new WebStore(dir);
    await addUser(store, { name: 'chu-tich', role: 'admin' }, 'admin-password-1', FIELDS, Date.now());
    await addUser(store, { name: 'hung', role: 'operator' }, 'operator-password', FIELDS, Date.now());
    await addUser(store, { name: 'lan', role: 'farmer', fields: ['ruong-1'] }, 'lan-password', FIELDS, Date.now());
    await addUser(store, { name: 'minh', role: 'farmer', fields: ['ruong-2'] }, 'minh-password', FIELDS, Date.now());
    viewerToken = addToken(store, 'hall-screen', 'viewer', Date.now());
    operatorToken = addToken(store, 'pump-house', 'operator', Date.now());
    store.close();
    field = createSimulatedField(config, systemClock, createLogger({ level: 'silent' }));
    app = new EdgeApp({ config, clock: systemClock, log: createLogger({ level: 'silent' }), dataDir: dir, field, clockSynced: () => true });
    await app.start();
    base = `http://127.0.0.1:${String(app.snapshot().http?.port)}`;
    // Commands need a fresh tank reading (the pump interlock), charts some readings.
    await until('tank, soil and rain readings committed', () => {
      const have = new Set(app.outbox.latest().map((r) => r.sensor));
      return ['bon-nuoc-muc', 'ruong-1-do-am', 'ruong-2-do-am', 'rain-rain-total', 'weather-temperature'].every((s) => have.has(s));
    });
    [admin, operator, lan, minh] = await Promise.all([login('chu-tich', 'admin-password-1'), login('hung', 'operator-password'), login('lan', 'lan-password'), login('minh', 'minh-password')]);
  });

  afterAll(async () => {
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const login = async (name: string, password: string): Promise<Browser> => {
    const b = new Browser(base);
    expect((await b.login(name, password)).status).toBe(200);
    return b;
  };
  const valveOn = (id: string): boolean => app.control?.state().outputs.find((o) => o.id === id)?.on === true;

  it('logs in with the session cookie and CSRF value, refuses bad credentials alike, and logs out', async () => {
    const b = new Browser(base);
    const unknown = await b.login('nobody', 'whatever-password');
    const wrong = await b.login('lan', 'not-her-password');
    expect([unknown.status, wrong.status]).toEqual([401, 401]);
    expect(unknown.body).toEqual(wrong.body);
    expect((await b.get('/api/session')).status).toBe(401);

    const ok = await b.login('lan', 'lan-password');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ user: { name: 'lan', role: 'farmer', site: 'my-hoa', fields: ['ruong-1'] }, csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown });
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^sv_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=2592000$/);
    expect((await b.get('/api/session')).body).toEqual(ok.body);

    // Logging out changes state: the CSRF header is needed.
    const csrf = b.csrf;
    b.csrf = undefined;
    expect(await b.call('DELETE', '/api/session')).toMatchObject({ status: 403, body: { error: { code: 'CSRF' } } });
    b.csrf = csrf;
    const out = await b.call('DELETE', '/api/session');
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^sv_session=; .*Max-Age=0/);
    expect(b.cookie).toBeUndefined();
    expect((await b.get('/api/session')).status).toBe(401);
  });

  it('refuses state changes with a cookie but without the CSRF header, a JSON body or our origin', async () => {
    const b = operator;
    const water = { action: { type: 'water', zone: 'ruong-2', duration: '2m' } };
    const csrf = b.csrf as string;
    b.csrf = undefined;
    const noHeader = await b.call('POST', `${SITE}/commands`, water);
    b.csrf = 'x'.repeat(43);
    const wrongValue = await b.call('POST', `${SITE}/commands`, water);
    b.csrf = csrf;
    const otherSite = await b.call('POST', `${SITE}/commands`, water, { origin: 'http://evil.example' });
    const form = await b.call('POST', `${SITE}/commands`, 'action=water', { 'content-type': 'application/x-www-form-urlencoded' });
    for (const a of [noHeader, wrongValue, otherSite, form]) expect(a).toMatchObject({ status: 403, body: { error: { code: 'CSRF' } } });
    expect(valveOn('van-ruong-2')).toBe(false);
    // A bearer token is no ambient credential: no CSRF header needed.
    const res = await fetch(`${base}${SITE}/commands`, { method: 'POST', headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: { type: 'stop', zone: 'ruong-2' } }) });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { command: Row }).command).toMatchObject({ by: 'token:pump-house', status: 'done', action: { type: 'stop', zone: 'ruong-2' } });
  });

  it('gives the overview of the site from the edge itself', async () => {
    const b = admin;
    const before = Date.now();
    const a = await b.get(`${SITE}/overview`);
    expect(a.status).toBe(200);
    const o = a.body as Overview;
    expect(o.site).toEqual({ id: 'my-hoa', name: 'Ấp Mỹ Hòa', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 10.03, lon: 105.78 });
    expect(o.edges).toEqual([{ edge: 'pi-ruong-1', online: true, lastSeen: expect.any(Number) as unknown }]);
    expect(o.fields.map((f) => f.id)).toEqual(['ruong-1', 'ruong-2']);
    const r1 = o.fields[0];
    expect(r1?.sensors).toEqual([expect.objectContaining({ id: 'ruong-1-do-am', name: 'Ruộng 1 — độ ẩm đất', quantity: 'soil-moisture', unit: '%VWC', quality: 'good' })]);
    expect(r1?.sensors[0]?.value).toBeGreaterThan(0);
    expect(r1?.zones.map((z) => [z.id, z.state, z.manualAllowed])).toEqual([['ruong-1', 'idle', true]]);
    expect(o.fields[1]?.zones[0]).toMatchObject({ id: 'ruong-2', manualAllowed: false, moisture: { sensor: 'ruong-2-do-am', start: 1, target: 2 } });
    expect(o.tanks).toEqual([expect.objectContaining({ sensor: 'bon-nuoc-muc', name: 'Bồn nước — mực nước', unit: '%' })]);
    expect(o.tanks[0]?.value).toBeGreaterThan(50);
    expect(o.weather['air-temperature']).toMatchObject({ unit: '°C', sensor: 'weather-temperature' });
    expect(typeof o.rain24hMm).toBe('number');
    expect(o.outputs.map((x) => x.id).sort()).toEqual(['bom', 'den-duong-1', 'van-ruong-1', 'van-ruong-2']);
    expect(o.lights.map((l) => l.id)).toEqual(['den-duong']);
    expect(o.announcement).toBeNull();
    expect(Array.isArray(o.alerts)).toBe(true);
    expect(o.updatedAt).toBeGreaterThanOrEqual(before);
    expect((await b.get(`${SITE}/announcement`)).text).toBe('null');
    expect((await b.get('/api/sites')).body).toEqual({ sites: [{ site: 'my-hoa', edges: 1, online: 1 }] });
    const edges = (await b.get(`${SITE}/edges`)).body as { edges: { edge: string; state: string; maxSeq: number }[] };
    expect(edges.edges[0]).toMatchObject({ edge: 'pi-ruong-1', state: 'online' });
    expect(edges.edges[0]?.maxSeq).toBeGreaterThan(0);
    expect((await b.get('/api/sites/other-village/overview')).body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await b.get(`${SITE}/overview?extra=1`)).body).toMatchObject({ error: { code: 'BAD_REQUEST', issues: [{ path: 'query.extra', message: 'unknown parameter' }] } });
  });

  it('answers history in the cloud bucket shape, equal to the readings in the outbox', async () => {
    const b = admin;
    const sensor = 'ruong-1-do-am';
    const a = await b.get(`${SITE}/sensors/${sensor}/history?range=day`);
    expect(a.status).toBe(200);
    const h = a.body as { site: string; sensor: string; unit: string; from: number; to: number; bucketMs: number; buckets: { t: number; min: number; avg: number; max: number; last: number; count: number }[] };
    expect(h).toMatchObject({ site: 'my-hoa', sensor, unit: '%VWC', bucketMs: 300_000 });
    expect(h.to - h.from).toBe(86_400_000);
    expect(h.to % 300_000).toBe(0);
    expect(h.buckets.length).toBeGreaterThan(0);
    // The same buckets computed here from the raw readings (only whole buckets before the answer are compared).
    const readings = app.outbox.readingsSince([sensor], h.from).filter((r) => r.value !== null && r.ts < h.to);
    for (const bucket of h.buckets) {
      const inside = readings.filter((r) => Math.floor(r.ts / 300_000) * 300_000 === bucket.t);
      expect(Object.keys(bucket)).toEqual(['t', 'min', 'avg', 'max', 'last', 'count']);
      expect(bucket.count).toBeLessThanOrEqual(inside.length);
      const counted = inside.slice(0, bucket.count) as (Reading & { value: number })[];
      expect(bucket.min).toBe(Math.min(...counted.map((r) => r.value)));
      expect(bucket.max).toBe(Math.max(...counted.map((r) => r.value)));
      expect(bucket.avg).toBeCloseTo(counted.reduce((s, r) => s + r.value, 0) / counted.length, 9);
      expect(bucket.last).toBe(counted[counted.length - 1]?.value);
    }
    const week = (await b.get(`${SITE}/sensors/${sensor}/history?range=week`)).body as { bucketMs: number; buckets: { t: number }[] };
    expect(week.bucketMs).toBe(3_600_000);
    expect(week.buckets.every((x) => x.t % 3_600_000 === 0)).toBe(true);
    const season = (await b.get(`${SITE}/sensors/${sensor}/history?range=season`)).body as { bucketMs: number; buckets: { count: number }[] };
    expect(season.bucketMs).toBe(86_400_000);
    expect(season.buckets.reduce((n, x) => n + x.count, 0)).toBeGreaterThan(0);
    expect((await b.get(`${SITE}/sensors/${sensor}/history?range=month`)).body).toMatchObject({ error: { code: 'BAD_REQUEST', issues: [{ path: 'query.range' }] } });
    expect((await b.get(`${SITE}/sensors/no-such-sensor/history`)).status).toBe(404);
  });

  it('shows a farmer only their own fields, everywhere', async () => {
    // Something happens on Minh's field: the operator waters it a moment (manualAllowed binds farmers only).
    expect((await operator.call('POST', `${SITE}/commands`, { action: { type: 'water', zone: 'ruong-2', duration: '1m' } })).status).toBe(202);
    expect((await operator.call('POST', `${SITE}/commands`, { action: { type: 'stop', zone: 'ruong-2' } })).status).toBe(202);
    app.outbox.flush();
    const o = (await lan.get(`${SITE}/overview`)).body as Overview;
    expect(o.fields.map((f) => f.id)).toEqual(['ruong-1']);
    expect(o.outputs.map((x) => x.id).sort()).toEqual(['bom', 'den-duong-1', 'van-ruong-1']);
    // The tank and the weather are the whole village's.
    expect(o.tanks.map((t) => t.sensor)).toEqual(['bon-nuoc-muc']);
    expect(o.weather['air-temperature']).toBeDefined();
    const latest = ((await lan.get(`${SITE}/latest`)).body as { readings: { sensor: string; edge: string }[] }).readings;
    expect(latest.map((r) => r.sensor)).toContain('ruong-1-do-am');
    expect(latest.map((r) => r.sensor)).not.toContain('ruong-2-do-am');
    expect(latest.every((r) => r.edge === 'pi-ruong-1')).toBe(true);
    expect((await lan.get(`${SITE}/sensors/ruong-2-do-am/history?range=day`)).body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await lan.get(`${SITE}/zones/ruong-2/explain`)).status).toBe(403);
    expect((await lan.get(`${SITE}/zones/ruong-1/explain`)).status).toBe(200);
    const refused = await lan.call('POST', `${SITE}/commands`, { action: { type: 'water', zone: 'ruong-2', duration: '1m' } });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'zone "ruong-2" is not in one of your fields' } } });
    expect((await lan.call('POST', `${SITE}/commands`, { action: { type: 'pause', duration: '1h' } })).status).toBe(403);
    // Minh owns ruong-2, but it does not allow manual watering.
    expect((await minh.call('POST', `${SITE}/commands`, { action: { type: 'water', zone: 'ruong-2', duration: '1m' } })).body).toMatchObject({ error: { message: 'zone "ruong-2" does not allow manual watering' } });
    const events = ((await lan.get(`${SITE}/events?limit=1000`)).body as { events: { source: string }[] }).events;
    expect(events.length).toBeGreaterThan(0);
    expect(events.some((e) => ['ruong-2', 'ruong-2-do-am', 'van-ruong-2'].includes(e.source))).toBe(false);
    const all = ((await operator.get(`${SITE}/events?limit=1000`)).body as { events: { source: string }[] }).events;
    expect(all.some((e) => e.source === 'ruong-2')).toBe(true);
  });

  it('waters a zone on a farmer’s command, audits it, streams readings, control and the command, and stops it', async () => {
    const stream = await openStream(`${base}${SITE}/stream`, { cookie: lan.cookie as string });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    try {
      const readings = await stream.next('readings');
      const sent = (readings.data as { site: string; readings: { sensor: string; edge: string }[] }).readings;
      expect((readings.data as { site: string }).site).toBe('my-hoa');
      expect(sent.every((r) => r.edge === 'pi-ruong-1' && r.sensor !== 'ruong-2-do-am')).toBe(true);

      const a = await lan.call('POST', `${SITE}/commands`, { action: { type: 'water', zone: 'ruong-1', duration: '2m' } });
      expect(a.status).toBe(202);
      const row = (a.body as { command: Row }).command;
      expect(row).toMatchObject({ by: 'lan', edge: 'pi-ruong-1', status: 'accepted', action: { type: 'water', zone: 'ruong-1', duration: 120_000 } });
      expect(valveOn('van-ruong-1')).toBe(true);

      const control = await stream.next('control', (d) => (d as { control: ControlState }).control.zones.some((z) => z.id === 'ruong-1' && z.state === 'running'));
      const shown = (control.data as { edge: string; control: ControlState }).control;
      expect((control.data as { edge: string }).edge).toBe('pi-ruong-1');
      // Her stream carries her zones and valves only.
      expect(shown.zones.map((z) => z.id)).toEqual(['ruong-1']);
      expect(shown.outputs.some((x) => x.id === 'van-ruong-2')).toBe(false);
      await stream.next('command', (d) => (d as { command: Row }).command.id === row.id && (d as { command: Row }).command.status === 'sent');
      await stream.next('command', (d) => (d as { command: Row }).command.id === row.id && (d as { command: Row }).command.status === 'accepted');

      const audit = ((await lan.get(`${SITE}/commands`)).body as { commands: Row[] }).commands;
      expect(audit[0]).toMatchObject({ id: row.id, by: 'lan', status: 'accepted', action: { type: 'water', zone: 'ruong-1' } });
      expect(audit.every((c) => c.by === 'lan')).toBe(true);
      // The admin sees the whole trail, including the token's stop of the CSRF test.
      const trail = ((await admin.get(`${SITE}/commands`)).body as { commands: Row[] }).commands;
      expect(trail.map((c) => c.by)).toEqual(expect.arrayContaining(['lan', 'token:pump-house']));
      const why = ((await lan.get(`${SITE}/zones/ruong-1/explain`)).body as { zone: string; events: { message: string }[] }).events;
      expect(why[0]?.message).toMatch(/ruong-1/);

      const stop = await lan.call('POST', `${SITE}/commands`, { action: { type: 'stop', zone: 'ruong-1' } });
      expect((stop.body as { command: Row }).command.status).toBe('done');
      expect(valveOn('van-ruong-1')).toBe(false);
      // The watering run ended early: its row becomes "failed" with control's reason.
      const ended = await stream.next('command', (d) => (d as { command: Row }).command.id === row.id && (d as { command: Row }).command.status === 'failed');
      expect((ended.data as { command: Row }).command.reason).toMatch(/stopped by lan/);
      const events = await stream.next('events', (d) => (d as { events: { source: string }[] }).events.some((e) => e.source === 'ruong-1'));
      expect((events.data as { edge: string }).edge).toBe('pi-ruong-1');
      // A command of hers that failed is an alert she sees.
      const alert = await stream.next('alert', (d) => (d as { alerts: { id: string }[] }).alerts.some((x) => x.id === `command-failed:${row.id}`));
      expect((alert.data as { alerts: { kind: string; data: { by: string } }[] }).alerts.find((x) => x.kind === 'command-failed')?.data.by).toBe('lan');
    } finally {
      stream.close();
    }
  });

  it('exchanges a viewer token for a kiosk session, which reads but never acts', async () => {
    const hall = new Browser(base);
    expect((await hall.kiosk(operatorToken)).body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const a = await hall.kiosk(viewerToken);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ user: { name: 'hall-screen', role: 'kiosk', site: 'my-hoa', fields: null } });
    expect(a.headers.get('set-cookie')).toMatch(/Max-Age=34560000/);
    expect((await hall.get(`${SITE}/overview`)).status).toBe(200);
    expect((await hall.call('POST', `${SITE}/commands`, { action: { type: 'stop' } })).body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    // The token itself works as a bearer, and on the stream as ?token= (EventSource sends no headers).
    expect((await fetch(`${base}/api/sites`, { headers: { authorization: `Bearer ${viewerToken}` } })).status).toBe(200);
    const s = await openStream(`${base}${SITE}/stream?token=${viewerToken}`);
    expect(s.status).toBe(200);
    s.close();
    // Nowhere else: URLs end up in logs.
    expect((await fetch(`${base}${SITE}/overview?token=${viewerToken}`)).status).toBe(401);
    // Rotating the token ends the screen's session.
    const store = new WebStore(dir);
    addToken(store, 'hall-screen', 'viewer', Date.now());
    store.close();
    expect((await hall.get(`${SITE}/overview`)).status).toBe(401);
  });

  it('keeps the CLI bearer on /api/local/* apart from the app’s sessions', async () => {
    expect((await lan.get('/api/local/control')).status).toBe(401);
    const token = readFileSync(join(dir, 'local-token'), 'utf8').trim();
    const res = await fetch(`${base}/api/local/commands`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: { type: 'stop', zone: 'ruong-1' }, by: 'cli:hung' }) });
    expect(res.status).toBe(200);
    // The local token is no key to the app's API.
    expect((await fetch(`${base}${SITE}/overview`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(((await admin.get(`${SITE}/commands?limit=1`)).body as { commands: Row[] }).commands[0]).toMatchObject({ by: 'cli:hung', status: 'done' });
  });

  it('answers errors in the cloud’s shape', async () => {
    const b = new Browser(base);
    const none: Answer = await b.get(`${SITE}/overview`);
    expect(none).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await b.get('/api/nothing-here')).body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const put = await b.call('PUT', `${SITE}/overview`, {});
    expect(put).toMatchObject({ status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED' } } });
    expect(put.headers.get('allow')).toBe('GET');
    const stale = new Browser(base);
    stale.cookie = `sv_session=${'a'.repeat(43)}`;
    const ended = await stale.get(`${SITE}/overview`);
    expect(ended.status).toBe(401);
    expect(ended.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });
});
