import { describe, expect, it } from 'vitest';
import { applyControl, applyLive, applyReadings, canWater, freshness, STALE_AFTER_MS, upsertCommand, VillageStore, type EventSourceLike, type StoreDeps } from '../src/store.js';
import type { CommandRow, ControlState, Overview, Session, User } from '../src/types.js';

const T0 = Date.UTC(2024, 5, 1, 0, 0);

function overview(): Overview {
  return {
    site: { id: 'lang-a', name: 'Làng A', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21, lon: 105.8 },
    edges: [{ edge: 'pi-1', online: true, lastSeen: T0 }],
    fields: [
      {
        id: 'ruong-1',
        name: 'Ruộng 1',
        sensors: [{ id: 'soil-1', quantity: 'soil-moisture', unit: '%VWC', value: 31, ts: T0, quality: 'good' }],
        zones: [{ id: 'z1', field: 'ruong-1', state: 'idle', manualAllowed: true, moisture: { sensor: 'soil-1', start: 28, target: 40 } }],
      },
      { id: 'ruong-2', name: 'Ruộng 2', sensors: [], zones: [] },
    ],
    tanks: [{ sensor: 'tank-1', name: 'Bồn chính', value: 80, unit: '%', ts: T0 }],
    weather: { 'air-temperature': { value: 30, unit: '°C', ts: T0, sensor: 'air-1' }, 'relative-humidity': { value: 70, unit: '%RH', ts: T0 } },
    rain24hMm: 0,
    outputs: [{ id: 'v1', kind: 'valve', on: false }],
    lights: [],
    pausedUntil: T0 + 3_600_000,
    announcement: null,
    alerts: [],
    updatedAt: T0,
  };
}

const row = (id: string, status: CommandRow['status'], issuedAt: number, updatedAt = issuedAt): CommandRow => ({
  id,
  by: 'lan',
  action: { type: 'water', zone: 'z1', duration: 600_000 },
  edge: 'pi-1',
  issuedAt,
  status,
  updatedAt,
});

describe('live reducers', () => {
  it('puts readings on field sensors, tanks and weather that names its sensor', () => {
    const o = applyReadings(overview(), [
      { sensor: 'soil-1', edge: 'pi-1', ts: T0 + 60_000, value: 22, unit: '%VWC', quality: 'good' },
      { sensor: 'tank-1', edge: 'pi-1', ts: T0 + 60_000, value: 12, unit: '%', quality: 'good' },
      { sensor: 'air-1', edge: 'pi-1', ts: T0 + 60_000, value: 33.5, unit: '°C', quality: 'good' },
    ]);
    expect(o.fields[0]?.sensors[0]).toMatchObject({ value: 22, ts: T0 + 60_000 });
    expect(o.tanks[0]?.value).toBe(12);
    expect(o.weather['air-temperature']?.value).toBe(33.5);
    expect(o.weather['relative-humidity']?.value).toBe(70);
  });

  it("applies an edge's control state: zones keep their moisture limits, new zones join their field, switches follow the edge", () => {
    const control: ControlState = {
      outputs: [{ id: 'v1', kind: 'valve', on: true, until: T0 + 600_000, reason: 'manual by lan' }, { id: 'p1', kind: 'pump', on: true }],
      zones: [
        { id: 'z1', field: 'ruong-1', state: 'running', until: T0 + 600_000, manualAllowed: true },
        { id: 'z2', field: 'ruong-2', state: 'idle', manualAllowed: false },
      ],
      rainDelayUntil: T0 + 86_400_000,
      lights: [{ id: 'duong-lang', on: true, reason: 'dusk' }],
    };
    const o = applyControl(overview(), control);
    expect(o.fields[0]?.zones[0]).toMatchObject({ state: 'running', moisture: { sensor: 'soil-1' } });
    expect(o.fields[1]?.zones.map((z) => z.id)).toEqual(['z2']);
    expect(o.outputs.map((x) => [x.id, x.on])).toEqual([
      ['v1', true],
      ['p1', true],
    ]);
    expect(o.lights).toHaveLength(1);
    expect(o.pausedUntil).toBeUndefined();
    expect(o.rainDelayUntil).toBe(T0 + 86_400_000);
  });

  it('replaces alerts and the announcement, and tracks edge status', () => {
    let o = applyLive(overview(), 'alert', { alerts: [{ id: 'a1', kind: 'tank-low', severity: 'alarm', source: 'tank-1', message: 'tank at 9 %', since: T0 }] });
    expect(o.alerts.map((a) => a.id)).toEqual(['a1']);
    o = applyLive(o, 'announcement', { text: 'Họp thôn 19h', updatedAt: T0, by: 'truong-thon' });
    expect(o.announcement?.text).toBe('Họp thôn 19h');
    o = applyLive(o, 'announcement', null);
    expect(o.announcement).toBeNull();
    o = applyLive(o, 'edge', { site: 'lang-a', edge: 'pi-1', state: 'offline', lastSeen: T0 });
    expect(o.edges[0]?.online).toBe(false);
  });

  it('never moves an audit row back to an earlier status, and keeps newest first', () => {
    let rows = upsertCommand([], row('c1', 'accepted', T0, T0 + 100));
    rows = upsertCommand(rows, row('c1', 'sent', T0, T0));
    expect(rows[0]?.status).toBe('accepted');
    rows = upsertCommand(rows, row('c2', 'sent', T0 + 5));
    rows = upsertCommand(rows, row('c1', 'done', T0, T0 + 200));
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      ['c2', 'sent'],
      ['c1', 'done'],
    ]);
  });

  it('tells live, stale and offline apart', () => {
    expect(freshness({ link: 'open', receivedAt: T0 }, T0 + 1000)).toBe('live');
    expect(freshness({ link: 'open', receivedAt: T0 }, T0 + STALE_AFTER_MS + 1)).toBe('stale');
    expect(freshness({ link: 'open', receivedAt: 0 }, T0)).toBe('stale');
    expect(freshness({ link: 'connecting', receivedAt: T0 }, T0)).toBe('offline');
  });

  it.each([
    ['operator', null, false, true],
    ['admin', [], false, true],
    ['farmer', ['ruong-1'], true, true],
    ['farmer', null, true, true],
    ['farmer', ['ruong-1'], false, false],
    ['farmer', ['ruong-2'], true, false],
    ['viewer', null, true, false],
    ['kiosk', null, true, false],
  ] as const)('%s with fields %j may water a zone (manualAllowed %s): %s', (role, fields, manualAllowed, allowed) => {
    const user: User = { name: 'x', role, site: 'lang-a', fields: fields === null ? null : [...fields] };
    expect(canWater(user, 'ruong-1', { manualAllowed })).toBe(allowed);
  });
});

// ---- the store against a scripted server ----------------------------------------------------

/** The browser's EventSource as the store sees it, driven by the test. */
class TestStream implements EventSourceLike {
  readyState = 0;
  private readonly listeners = new Map<string, ((ev: { data?: unknown }) => void)[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (ev: { data?: unknown }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.readyState = 2;
  }
  emit(type: string, data?: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l(data === undefined ? {} : { data: JSON.stringify(data) });
  }
  open(): void {
    this.readyState = 1;
    this.emit('open');
  }
  /** A network break (the browser retries: CONNECTING) or a refusal (it gives up: CLOSED). */
  fail(givesUp: boolean): void {
    this.readyState = givesUp ? 2 : 0;
    this.emit('error');
  }
}

type Route = (body: unknown) => [number, unknown];

function server(session: Session) {
  const calls: { method: string; path: string; headers: Record<string, string>; body?: unknown }[] = [];
  const streams: TestStream[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const routes: Record<string, Route> = {
    'GET /api/session': () => [200, session],
    'POST /api/session/kiosk': () => [200, session],
    'GET /api/sites/lang-a/overview': () => [200, overview()],
    'GET /api/sites/lang-a/commands': () => [200, { commands: [] }],
  };
  let now = T0;
  const deps: StoreDeps = {
    async fetch(url, init) {
      const body = init.body === undefined ? undefined : (JSON.parse(init.body) as unknown);
      calls.push({ method: init.method, path: url, headers: init.headers, body });
      const route = routes[`${init.method} ${url}`];
      const [status, answer] = route ? route(body) : [404, { error: { code: 'NOT_FOUND', message: url } }];
      return { ok: status >= 200 && status < 300, status, json: async () => answer };
    },
    openStream(url) {
      const s = new TestStream(url);
      streams.push(s);
      return s;
    },
    now: () => now,
    setTimeout(fn, ms) {
      const t = { fn, ms };
      timers.push(t);
      return t;
    },
    clearTimeout(handle) {
      const i = timers.indexOf(handle as (typeof timers)[number]);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const count = (method: string, path: string) => calls.filter((c) => c.method === method && c.path === path).length;
  const fire = () => timers.splice(0).forEach((t) => t.fn());
  return { deps, calls, streams, timers, routes, count, fire, tick: (ms: number) => (now += ms) };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const OPERATOR: Session = { user: { name: 'lan', role: 'operator', site: 'lang-a', fields: null }, csrf: 'csrf-1' };
const OVERVIEW = '/api/sites/lang-a/overview';

async function started(session = OPERATOR) {
  const srv = server(session);
  const store = new VillageStore(srv.deps);
  await store.restore();
  store.start('lang-a');
  await settle();
  return { srv, store };
}

describe('VillageStore', () => {
  it('opens the stream and loads the overview and, for an operator, the audit trail', async () => {
    const { srv, store } = await started();
    expect(srv.streams.map((s) => s.url)).toEqual(['/api/sites/lang-a/stream']);
    expect(srv.count('GET', OVERVIEW)).toBe(1);
    expect(srv.count('GET', '/api/sites/lang-a/commands')).toBe(1);
    expect(store.get()).toMatchObject({ link: 'connecting', receivedAt: T0, error: null });
    expect(store.get().overview?.site.name).toBe('Làng A');
  });

  it('reloads the overview whenever the stream opens again after a break', async () => {
    const { srv, store } = await started();
    srv.streams[0]?.open();
    await settle();
    expect(store.get().link).toBe('open');
    expect(srv.count('GET', OVERVIEW)).toBe(1);
    srv.streams[0]?.fail(false);
    expect(store.get().link).toBe('connecting');
    srv.streams[0]?.open();
    await settle();
    expect(srv.count('GET', OVERVIEW)).toBe(2);
    expect(srv.streams).toHaveLength(1);
  });

  it('applies live events and notes when data arrived', async () => {
    const { srv, store } = await started();
    const s = srv.streams[0] as TestStream;
    s.open();
    srv.tick(30_000);
    s.emit('readings', { site: 'lang-a', readings: [{ sensor: 'soil-1', edge: 'pi-1', ts: T0 + 30_000, value: 20, unit: '%VWC', quality: 'good', clockSynced: true }] });
    expect(store.get().overview?.fields[0]?.sensors[0]?.value).toBe(20);
    expect(store.get().receivedAt).toBe(T0 + 30_000);
    s.emit('control', { edge: 'pi-1', control: { outputs: [], zones: [{ id: 'z1', state: 'running', manualAllowed: true }], lights: [] } });
    expect(store.get().overview?.fields[0]?.zones[0]?.state).toBe('running');
    s.emit('command', row('c9', 'accepted', T0));
    expect(store.get().commands.map((r) => r.id)).toEqual(['c9']);
    s.emit('alert', 'not json at all');
    expect(store.get().overview?.alerts).toEqual([]);
  });

  it('sends commands as JSON with the CSRF header; a fast "accepted" on the stream survives the late 202', async () => {
    const { srv, store } = await started();
    const s = srv.streams[0] as TestStream;
    s.open();
    srv.routes['POST /api/sites/lang-a/commands'] = () => {
      s.emit('command', row('c1', 'accepted', T0, T0 + 50));
      return [202, { command: row('c1', 'sent', T0) }];
    };
    const sent = await store.command({ type: 'water', zone: 'z1', duration: 600_000 });
    expect(sent.id).toBe('c1');
    const post = srv.calls.find((c) => c.method === 'POST');
    expect(post?.headers).toMatchObject({ 'x-csrf-token': 'csrf-1', 'content-type': 'application/json' });
    expect(post?.body).toEqual({ action: { type: 'water', zone: 'z1', duration: 600_000 } });
    expect(store.get().commands[0]?.status).toBe('accepted');
    s.emit('command', { command: { ...row('c1', 'rejected', T0, T0 + 90), reason: 'tank below 15 %' } });
    expect(store.get().commands[0]).toMatchObject({ status: 'rejected', reason: 'tank below 15 %' });
  });

  it('reopens a refused stream with growing waits while the session is still good', async () => {
    const { srv, store } = await started();
    srv.streams[0]?.fail(true);
    await settle();
    expect(store.get().link).toBe('down');
    expect(srv.timers.map((t) => t.ms)).toEqual([2000]);
    srv.fire();
    expect(srv.streams).toHaveLength(2);
    srv.streams[1]?.fail(true);
    await settle();
    expect(srv.timers.map((t) => t.ms)).toEqual([4000]);
    srv.fire();
    srv.streams[2]?.open();
    await settle();
    // Back after a break: the overview is fetched again.
    expect(srv.count('GET', OVERVIEW)).toBe(2);
  });

  it('renews a lost session through onSessionLost (the kiosk token) and carries on', async () => {
    const kiosk: Session = { user: { name: 'hall', role: 'kiosk', site: 'lang-a', fields: null }, csrf: 'k1' };
    const { srv, store } = await started(kiosk);
    srv.routes['GET /api/session'] = () => [401, { error: { code: 'UNAUTHORIZED', message: 'no session' } }];
    srv.routes['POST /api/session/kiosk'] = (body) => [200, { ...kiosk, csrf: `k2-${(body as { token: string }).token}` }];
    store.onSessionLost = async () => {
      await store.signInKiosk('tok');
      return true;
    };
    srv.streams[0]?.fail(true);
    await settle();
    expect(store.get().session?.csrf).toBe('k2-tok');
    expect(srv.streams).toHaveLength(2);
    srv.streams[1]?.open();
    await settle();
    expect(srv.count('GET', OVERVIEW)).toBe(2);
    expect(srv.count('GET', '/api/sites/lang-a/commands')).toBe(0);
  });

  it('drops a session nobody can renew, so the farmer view asks to sign in', async () => {
    const { srv, store } = await started();
    srv.routes['GET /api/sites/lang-a/overview'] = () => [401, { error: { code: 'UNAUTHORIZED', message: 'no session' } }];
    await store.load();
    await settle();
    expect(store.get().session).toBeNull();
    expect(store.get().link).toBe('down');
    expect(srv.streams[0]?.readyState).toBe(2);
    expect(srv.timers).toEqual([]);
  });

  it('tries a failed load again by itself', async () => {
    const srv = server(OPERATOR);
    let answers = 0;
    srv.routes['GET /api/sites/lang-a/overview'] = () => (++answers === 1 ? [503, { error: { code: 'STORE_UNAVAILABLE', message: 'busy' } }] : [200, overview()]);
    const store = new VillageStore(srv.deps);
    await store.restore();
    store.start('lang-a');
    await settle();
    expect(store.get()).toMatchObject({ overview: null, error: 'STORE_UNAVAILABLE' });
    expect(srv.timers.map((t) => t.ms)).toEqual([2000]);
    srv.fire();
    await settle();
    expect(store.get().overview).not.toBeNull();
    expect(store.get().error).toBeNull();
  });

  it('answers a wrong password without treating it as a lost session', async () => {
    const srv = server(OPERATOR);
    srv.routes['POST /api/session'] = () => [401, { error: { code: 'UNAUTHORIZED', message: 'bad credentials' } }];
    const store = new VillageStore(srv.deps);
    let lost = 0;
    store.onSessionLost = async () => (lost++, false);
    await expect(store.signIn('lan', 'wrong')).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(lost).toBe(0);
    expect(srv.calls[0]?.body).toEqual({ username: 'lan', password: 'wrong' });
  });
});
