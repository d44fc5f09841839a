import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '@smart-village/shared/server';
import { get, H, MIN, NOW, SOIL_SEQS, soilTs, startVillage, T0, type Village } from './fixture.js';

const DAY = 24 * H;
let v: Village;

beforeAll(async () => {
  v = await startVillage();
});
afterAll(async () => {
  await v?.close();
});

const okAs = async (path: string, role: 'viewer' | 'operator' | 'admin' = 'viewer'): Promise<unknown> => {
  const r = await get(v.base, path, v.tokens[role]);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  return r.body;
};

describe('happy paths (exact JSON)', () => {
  it('GET /api/health needs no token', async () => {
    const r = await get(v.base, '/api/health');
    expect(r).toMatchObject({ status: 200, body: { ok: true, version: '9.9.9-test' } });
  });

  it('GET /api/sites: sites with edge counts', async () => {
    expect(await okAs('/api/sites')).toEqual({
      sites: [
        { site: 'village-a', edges: 2, online: 1 },
        { site: 'village-b', edges: 1, online: 0 },
      ],
    });
  });

  it('GET /api/sites/:site/edges: state, last seen, progress and lag', async () => {
    expect(await okAs('/api/sites/village-a/edges')).toEqual({
      site: 'village-a',
      edges: [
        { edge: 'field-north', state: 'offline', lastSeen: NOW - 2 * H, contiguousSeq: 1, maxSeq: 4, lag: { seqs: 3, seconds: 7200 } },
        { edge: 'pump-house', state: 'online', lastSeen: NOW - 30_000, contiguousSeq: 75, maxSeq: 75, lag: { seqs: 0, seconds: 30 } },
      ],
    });
    expect(await okAs('/api/sites/village-b/edges')).toEqual({
      site: 'village-b',
      edges: [{ edge: 'hall', state: 'unknown', lastSeen: null, contiguousSeq: 0, maxSeq: 0, lag: { seqs: 0, seconds: null } }],
    });
  });

  it('GET /api/sites/:site/sensors: sensors from latest readings', async () => {
    expect(await okAs('/api/sites/village-a/sensors')).toEqual({
      site: 'village-a',
      sensors: [
        { sensor: 'soil-1', unit: '%VWC', edge: 'pump-house', value: 72, ts: soilTs(72), quality: 'good' },
        { sensor: 'soil-2', unit: '%VWC', edge: 'field-north', value: null, ts: T0 + 11 * H + 30 * MIN, quality: 'error' },
        { sensor: 'tank-level', unit: 'cm', edge: 'pump-house', value: 142.5, ts: T0 + 12 * H, quality: 'good' },
      ],
    });
    expect(await okAs('/api/sites/village-b/sensors')).toEqual({ site: 'village-b', sensors: [] });
  });

  it('GET /api/sites/:site/latest, of the site or of one edge', async () => {
    expect(await okAs('/api/sites/village-a/latest')).toEqual({
      site: 'village-a',
      readings: [
        { edge: 'pump-house', sensor: 'soil-1', ts: soilTs(72), value: 72, unit: '%VWC', quality: 'good', clockSynced: true },
        { edge: 'field-north', sensor: 'soil-2', ts: T0 + 11 * H + 30 * MIN, value: null, unit: '%VWC', quality: 'error', clockSynced: true },
        { edge: 'pump-house', sensor: 'tank-level', ts: T0 + 12 * H, value: 142.5, unit: 'cm', quality: 'good', clockSynced: true },
      ],
    });
    expect(await okAs('/api/sites/village-a/latest?edge=field-north')).toEqual({
      site: 'village-a',
      readings: [{ edge: 'field-north', sensor: 'soil-2', ts: T0 + 11 * H + 30 * MIN, value: null, unit: '%VWC', quality: 'error', clockSynced: true }],
    });
  });

  it('GET …/history?range=day: 5-minute buckets over the day ending with the bucket holding now', async () => {
    const to = T0 + 12 * H + 5 * MIN;
    expect(await okAs('/api/sites/village-a/sensors/soil-1/history?range=day')).toEqual({
      site: 'village-a',
      sensor: 'soil-1',
      unit: '%VWC',
      from: to - DAY,
      to,
      bucketMs: 5 * MIN,
      // One reading every 10 min, value = seq: each in a bucket of its own; empty buckets omitted.
      buckets: SOIL_SEQS.map((s) => ({ t: soilTs(s), min: s, avg: s, max: s, last: s, count: 1 })),
    });
    // No parameters means a day.
    expect(await okAs('/api/sites/village-a/sensors/soil-1/history')).toEqual(await okAs('/api/sites/village-a/sensors/soil-1/history?range=day'));
  });

  it.each([
    { range: 'week', bucketMs: H, to: T0 + 13 * H, span: 7 * DAY },
    { range: 'season', bucketMs: DAY, to: T0 + DAY, span: 120 * DAY },
  ])('GET …/history?range=$range uses $bucketMs ms buckets', async ({ range, bucketMs, to, span }) => {
    const body = (await okAs(`/api/sites/village-a/sensors/soil-1/history?range=${range}`)) as { from: number; to: number; bucketMs: number; buckets: unknown[] };
    expect({ from: body.from, to: body.to, bucketMs: body.bucketMs }).toEqual({ from: to - span, to, bucketMs });
    if (range === 'season') expect(body.buckets).toEqual([{ t: T0, min: 1, avg: 36.5, max: 72, last: 72, count: 72 }]);
    else expect(body.buckets).toHaveLength(13); // hours 0..12: seq 72 is at 12:00
  });

  it('GET …/history with from/to/bucket', async () => {
    expect(await okAs(`/api/sites/village-a/sensors/soil-1/history?from=${T0}&to=2024-06-01T01:00:00Z&bucket=30m`)).toEqual({
      site: 'village-a',
      sensor: 'soil-1',
      unit: '%VWC',
      from: T0,
      to: T0 + H,
      bucketMs: 30 * MIN,
      buckets: [
        { t: T0, min: 1, avg: 1.5, max: 2, last: 2, count: 2 },
        { t: T0 + 30 * MIN, min: 3, avg: 4, max: 5, last: 5, count: 3 },
      ],
    });
    // Without bucket, the width follows the span; without to, it ends now.
    const body = (await okAs(`/api/sites/village-a/sensors/soil-1/history?from=${NOW - 3 * DAY}`)) as { to: number; bucketMs: number };
    expect({ to: body.to, bucketMs: body.bucketMs }).toEqual({ to: NOW, bucketMs: H });
  });

  it('GET /api/sites/:site/events, newest first, with filters', async () => {
    const all = (await okAs('/api/sites/village-a/events')) as { site: string; events: { edge: string; seq: number }[] };
    expect(all.events.map((e) => `${e.edge}:${e.seq}`)).toEqual(['field-north:4', 'pump-house:75', 'pump-house:74']);
    expect(all.events[0]).toEqual({
      edge: 'field-north',
      seq: 4,
      ts: T0 + 8 * H,
      clockSynced: true,
      kind: 'zone.skipped',
      severity: 'info',
      source: 'zone-2',
      message: 'zone.skipped zone-2',
      data: { reason: 'rain' },
    });
    const pick = async (q: string): Promise<string[]> =>
      ((await okAs(`/api/sites/village-a/events?${q}`)) as { events: { edge: string; seq: number }[] }).events.map((e) => `${e.edge}:${e.seq}`);
    expect(await pick('edge=pump-house')).toEqual(['pump-house:75', 'pump-house:74']);
    expect(await pick('kind=device.offline')).toEqual(['pump-house:75']);
    expect(await pick('source=zone-1')).toEqual(['pump-house:74']);
    expect(await pick(`since=${T0 + 7 * H}`)).toEqual(['field-north:4', 'pump-house:75']);
    expect(await pick('since=2024-06-01T07:00:00Z&limit=1')).toEqual(['field-north:4']);
  });

  it('GET /api/quarantine (operator, admin), newest first, optionally one site', async () => {
    const all = await okAs('/api/quarantine', 'operator');
    expect(all).toEqual({
      items: [
        { id: 2, at: T0 + 2 * H, site: 'village-b', topic: 'sv/v1/village-b/ghost/events', reason: 'unknown edge village-b/ghost', payload: 'eyJ9' },
        { id: 1, at: T0 + H, site: 'village-a', edge: 'pump-house', topic: 'sv/v1/village-a/pump-house/telemetry', reason: 'bad frame', payload: 'AAEC' },
      ],
    });
    expect(((await okAs('/api/quarantine?site=village-a&limit=5', 'admin')) as { items: { id: number }[] }).items.map((i) => i.id)).toEqual([1]);
    expect(((await okAs('/api/quarantine?limit=1', 'admin')) as { items: { id: number }[] }).items.map((i) => i.id)).toEqual([2]);
  });

  it('sends no CORS headers and is not cached', async () => {
    const r = await get(v.base, '/api/sites', v.tokens.viewer);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    expect(r.headers['cache-control']).toBe('no-store');
  });
});

describe('authentication and roles', () => {
  const routes = ['/api/sites', '/api/openapi.json', '/api/sites/village-a/edges', '/api/sites/village-a/sensors', '/api/sites/village-a/latest', '/api/sites/village-a/sensors/soil-1/history', '/api/sites/village-a/events', '/api/sites/village-a/stream', '/api/quarantine'];

  it.each(routes)('401 without a token: %s', async (path) => {
    const r = await get(v.base, path);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer');
    expect((r.body as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  });

  it.each([
    { name: 'an unknown token', header: `Bearer svt_${'A'.repeat(43)}` },
    { name: 'a malformed token', header: 'Bearer hunter2' },
    { name: 'another scheme', header: 'Basic dXNlcjpwYXNz' },
    { name: 'an empty bearer', header: 'Bearer ' },
  ])('401 with $name', async ({ header }) => {
    const r = await new Promise<number>((resolve, reject) => {
      void import('node:http').then(({ request }) => {
        const req = request(`${v.base}/api/sites`, { agent: false, headers: { authorization: header } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    });
    expect(r).toBe(401);
  });

  it('takes ?token= only on the stream (URLs end up in logs)', async () => {
    const r = await get(v.base, `/api/sites?token=${v.tokens.admin}`);
    expect(r.status).toBe(401);
    expect((r.body as { error: { message: string } }).error.message).toBe('send Authorization: Bearer <token>');
  });

  it.each([
    { role: 'viewer', quarantine: 403 },
    { role: 'operator', quarantine: 200 },
    { role: 'admin', quarantine: 200 },
  ] as const)('$role: reads sites, quarantine → $quarantine', async ({ role, quarantine }) => {
    expect((await get(v.base, '/api/sites', v.tokens[role])).status).toBe(200);
    const q = await get(v.base, '/api/quarantine', v.tokens[role]);
    expect(q.status).toBe(quarantine);
    if (quarantine === 403) expect(q.body).toEqual({ error: { code: 'FORBIDDEN', message: 'role viewer may not do this (needs operator)' } });
  });

  it('checks the token before the parameters (no probing without one)', async () => {
    expect((await get(v.base, '/api/sites/NOT_AN_ID/edges')).status).toBe(401);
    expect((await get(v.base, '/api/quarantine?limit=0', v.tokens.viewer)).status).toBe(403);
  });
});

describe('bad input → 400 naming the problem', () => {
  it.each([
    { path: '/api/sites/village-a/sensors/soil-1/history?range=month', issue: 'query.range' },
    { path: '/api/sites/village-a/sensors/soil-1/history?range=day&from=1', issue: 'query.range' },
    { path: `/api/sites/village-a/sensors/soil-1/history?to=${T0}`, issue: 'query.from' },
    { path: `/api/sites/village-a/sensors/soil-1/history?from=${T0}&to=${T0}`, issue: 'query.to' },
    { path: '/api/sites/village-a/sensors/soil-1/history?from=yesterday', issue: 'query.from' },
    { path: '/api/sites/village-a/sensors/soil-1/history?range=day&bucket=10s', issue: 'query.bucket' },
    { path: `/api/sites/village-a/sensors/soil-1/history?from=0&to=${NOW}&bucket=1m`, issue: 'query.bucket' },
    { path: '/api/sites/village-a/events?limit=0', issue: 'query.limit' },
    { path: '/api/sites/village-a/events?limit=1001', issue: 'query.limit' },
    { path: '/api/sites/village-a/events?limit=ten', issue: 'query.limit' },
    { path: '/api/sites/village-a/events?kind=Zone', issue: 'query.kind' },
    { path: '/api/sites/village-a/events?since=soon', issue: 'query.since' },
    { path: '/api/sites/village-a/events?limt=5', issue: 'query.limt' },
    { path: '/api/sites/village-a/events?limit=5&limit=6', issue: 'query.limit' },
    { path: '/api/sites/village-a/latest?edge=Pump_House', issue: 'query.edge' },
    { path: '/api/sites/Village_A/edges', issue: 'path.site' },
    { path: '/api/sites/village-a/sensors/soil%201/history', issue: 'path.sensor' },
    { path: '/api/quarantine?limit=-1', issue: 'query.limit' },
    { path: '/api/sites?verbose=1', issue: 'query.verbose' },
  ])('$path', async ({ path, issue }) => {
    const r = await get(v.base, path, v.tokens.admin);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    const body = r.body as { error: { code: string; message: string; issues: { path: string; message: string }[] } };
    expect(body.error.code).toBe('BAD_REQUEST');
    expect(body.error.issues.map((i) => i.path)).toContain(issue);
    expect(body.error.message).toContain(issue);
  });

  it('gives the whole problem for a bad limit', async () => {
    expect((await get(v.base, '/api/sites/village-a/events?limit=0', v.tokens.viewer)).body).toEqual({
      error: { code: 'BAD_REQUEST', message: 'query.limit: must be a whole number from 1 to 1000', issues: [{ path: 'query.limit', message: 'must be a whole number from 1 to 1000' }] },
    });
  });
});

describe('not found and wrong method', () => {
  it.each([
    { path: '/api/nope', message: 'no route /api/nope' },
    { path: '/', message: 'no route /' },
    { path: '/api/sites/', message: 'no route /api/sites/' },
    { path: '/api/sites/atlantis/edges', message: 'unknown site "atlantis"' },
    { path: '/api/sites/atlantis/stream', message: 'unknown site "atlantis"' },
    { path: '/api/sites/village-a/sensors/rain-1/history', message: 'unknown sensor "rain-1" at site "village-a"' },
    { path: '/api/sites/village-a/latest?edge=barn', message: 'unknown edge "barn" at site "village-a"' },
    { path: '/api/sites/village-a/events?edge=barn', message: 'unknown edge "barn" at site "village-a"' },
  ])('404 $path', async ({ path, message }) => {
    const r = await get(v.base, path, v.tokens.viewer);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: 'NOT_FOUND', message } });
  });

  it('405 for another method on a route, with Allow', async () => {
    const r = await get(v.base, '/api/sites', v.tokens.admin, 'POST');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET');
    expect((r.body as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('maps every error code to its one status', () => {
    expect(API_ERRORS).toEqual({
      BAD_REQUEST: 400,
      UNAUTHORIZED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      CSRF: 403,
      PAYLOAD_TOO_LARGE: 413,
      TOO_MANY_REQUESTS: 429,
      INTERNAL: 500,
      STORE_UNAVAILABLE: 503,
      BROKER_UNAVAILABLE: 503,
    });
  });
});
