import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { topic } from '@smart-village/shared';
import type { Alert } from '../../src/alerts/rules.js';
import { AlertWebhook } from '../../src/alerts/webhook.js';
import { call, captureLog, event, H, login, NOW, PUMP, startVillage, type Village } from '../api/fixture.js';
import { openSse } from '../api/sse.js';
import { connectEdge, startCloud, until, type TestCloud } from '../helpers/cloud.js';

/** A loopback webhook receiver answering with the statuses given, in turn (then 200), or not at all. */
async function receiver(statuses: (number | 'hang')[] = []): Promise<{ url: string; hits: { path: string; body: unknown }[]; close(): Promise<void> }> {
  const hits: { path: string; body: unknown }[] = [];
  const hanging = new Set<IncomingMessage>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const status = statuses.shift() ?? 200;
      if (status === 'hang') hanging.add(req);
      else res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/s3cr3t-path`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('AlertMonitor', () => {
  it('pushes the active set when it changes and tells what is new; what was active at start is not forwarded', async () => {
    const clock = { t: NOW };
    const forwarded: { site: string; alert: Alert }[] = [];
    const v: Village = await startVillage({
      states: true,
      users: true,
      now: () => clock.t,
      // soil-1 has been below 80 % for the whole day: dry after 2 h.
      api: { alerts: { soilDryPercent: 80, soilDryForMs: 2 * H }, onAlert: (site, alert) => forwarded.push({ site, alert }) },
    });
    cleanups.push(() => v.close());
    const sse = await openSse(`${v.base}/api/sites/village-a/stream?token=${v.tokens.viewer}`);
    cleanups.push(async () => sse.close());

    const first = await v.api.alerts.evaluate('village-a');
    expect(first.map((a) => `${a.id} ${a.severity}`)).toEqual(['edge-offline:field-north alarm', 'soil-dry:soil-1 warning']);
    expect(first.find((a) => a.kind === 'soil-dry')).toMatchObject({ source: 'soil-1', data: { field: 'ruong-lan', value: 72, threshold: 80 } });
    expect(forwarded).toEqual([]);
    expect((await sse.next('alert')).data).toMatchObject({ site: 'village-a', alerts: [{ id: 'edge-offline:field-north' }, { id: 'soil-dry:soil-1' }] });

    // The edge's interlock: tank low.
    clock.t += 60_000;
    await v.store.storeEvents(PUMP, [400], [{ ...event(clock.t - 1000, 'tank.low', 'tank-level', { value: 9, min: 15 }), severity: 'alarm' }]);
    await v.api.alerts.evaluate('village-a');
    expect(forwarded.map((f) => [f.site, f.alert.id, f.alert.since])).toEqual([['village-a', 'tank-low:tank-level', clock.t - 1000]]);
    expect(((await sse.next('alert')).data as { alerts: Alert[] }).alerts.map((a) => a.id)).toEqual(['edge-offline:field-north', 'soil-dry:soil-1', 'tank-low:tank-level']);
    // Nothing new: nothing pushed or forwarded.
    clock.t += 60_000;
    await v.api.alerts.evaluate('village-a');
    expect(forwarded).toHaveLength(1);
    expect(sse.events.filter((e) => e.event === 'alert')).toHaveLength(2);

    // The answer holds the earliest since, however the inputs move.
    const soil = (await v.api.alerts.active('village-a')).find((a) => a.kind === 'soil-dry');
    expect(soil?.since).toBe(first.find((a) => a.kind === 'soil-dry')?.since);

    await v.store.storeEvents(PUMP, [401], [event(clock.t - 10, 'tank.ok', 'tank-level', { value: 30 })]);
    await v.api.alerts.evaluate('village-a');
    expect(((await sse.next('alert')).data as { alerts: Alert[] }).alerts.map((a) => a.id)).toEqual(['edge-offline:field-north', 'soil-dry:soil-1']);

    // Farmers see alerts of their own fields and site-wide ones; command failures only their own.
    await v.store.addCommand({ id: 'cmd-binh', site: 'village-a', edge: 'field-north', by: 'binh', action: { type: 'stop', zone: 'zone-2' }, issuedAt: clock.t, ttl: 60_000, status: 'sent', updatedAt: clock.t });
    await v.store.commandResult({ site: 'village-a', edge: 'field-north' }, 'cmd-binh', 'rejected', 'paused', clock.t);
    await v.api.alerts.evaluate('village-a');
    const seen = async (user: string) => ((await call(v.base, '/api/sites/village-a/alerts', { session: await login(v.base, user) })).body as { alerts: Alert[] }).alerts.map((a) => a.id);
    expect(await seen('lan')).toEqual(['edge-offline:field-north', 'soil-dry:soil-1']);
    expect(await seen('binh')).toEqual(['command-failed:cmd-binh', 'edge-offline:field-north']);
    expect(await seen('an')).toEqual(['command-failed:cmd-binh', 'edge-offline:field-north', 'soil-dry:soil-1']);
    const overview = (await call(v.base, '/api/sites/village-a/overview', { session: await login(v.base, 'lan') })).body as { alerts: Alert[] };
    expect(overview.alerts.map((a) => a.id)).toEqual(['edge-offline:field-north', 'soil-dry:soil-1']);
  });

  it('forwards, at a site\'s first evaluation, what began after the start', async () => {
    const clock = { t: NOW };
    const forwarded: string[] = [];
    const v = await startVillage({ now: () => clock.t, api: { onAlert: (_, a) => forwarded.push(a.id) } });
    cleanups.push(() => v.close());
    clock.t += 1000;
    await v.store.touchEdge(PUMP, clock.t, { state: 'offline', birth: 4 });
    await v.api.alerts.evaluate('village-a');
    // field-north went offline before this process started; the pump house after.
    expect(forwarded).toEqual(['edge-offline:pump-house']);
  });
});

describe('AlertWebhook', () => {
  const alert: Alert = { id: 'tank-low:bon-nuoc', kind: 'tank-low', severity: 'alarm', source: 'bon-nuoc', message: 'tank low', since: NOW, data: { value: 9 } };

  it('posts {site, alert} as JSON, retrying a failing endpoint a bounded number of times', async () => {
    const hook = await receiver([500, 503]);
    cleanups.push(hook.close);
    const { log, lines } = captureLog();
    const webhook = new AlertWebhook({ url: hook.url, log, attempts: 3, backoffMs: 10 });
    cleanups.push(() => webhook.close());
    webhook.send('village-a', alert);
    await webhook.idle();
    expect(hook.hits).toEqual(Array(3).fill({ path: '/hook/s3cr3t-path', body: { site: 'village-a', alert } }));
    expect(webhook.stats()).toEqual({ delivered: 1, failed: 0, dropped: 0 });
    // The URL's path may be a secret: only the origin is logged.
    expect(lines.join('\n')).not.toContain('s3cr3t');
    expect(lines.some((l) => l.includes('alert forwarded') && l.includes('"attempt":3'))).toBe(true);
  });

  it('gives up after its attempts (and on a request that hangs past the timeout), then goes on with the next alert', async () => {
    const hook = await receiver([500, 'hang', 502]);
    cleanups.push(hook.close);
    const { log, lines } = captureLog();
    const webhook = new AlertWebhook({ url: hook.url, log, attempts: 3, backoffMs: 10, timeoutMs: 200 });
    cleanups.push(() => webhook.close());
    webhook.send('village-a', alert);
    webhook.send('village-a', { ...alert, id: 'no-flow:zone-1' });
    await webhook.idle();
    expect(hook.hits.map((h) => (h.body as { alert: Alert }).alert.id)).toEqual(['tank-low:bon-nuoc', 'tank-low:bon-nuoc', 'tank-low:bon-nuoc', 'no-flow:zone-1']);
    expect(webhook.stats()).toEqual({ delivered: 1, failed: 1, dropped: 0 });
    expect(lines.some((l) => l.includes('giving up') && l.includes('HTTP 502'))).toBe(true);
  });

  it('keeps a bounded queue', async () => {
    const hook = await receiver(['hang']);
    cleanups.push(hook.close);
    const webhook = new AlertWebhook({ url: hook.url, log: captureLog().log, attempts: 1, timeoutMs: 300, maxQueue: 2 });
    cleanups.push(() => webhook.close());
    for (let i = 0; i < 5; i++) webhook.send('village-a', { ...alert, id: `a-${i}` });
    await webhook.idle();
    // The first was in flight; of the four queued behind it, the two oldest were dropped.
    expect(hook.hits.map((h) => (h.body as { alert: Alert }).alert.id)).toEqual(['a-0', 'a-3', 'a-4']);
    expect(webhook.stats()).toEqual({ delivered: 2, failed: 1, dropped: 2 });
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => new AlertWebhook({ url: 'file:///etc/passwd', log: captureLog().log })).toThrow(/http/);
  });
});

describe('village-cloud with an alert webhook', () => {
  it('an edge going offline reaches the webhook', async () => {
    const hook = await receiver();
    cleanups.push(hook.close);
    const cloud: TestCloud = await startCloud({ edges: ['village-a/pump-house'], options: { alertWebhook: { url: hook.url, backoffMs: 10 } } });
    cleanups.push(() => cloud.close());
    const edge = await connectEdge(cloud, 'village-a/pump-house');
    const status = (state: string) => JSON.stringify({ site: 'village-a', edge: 'pump-house', state, birth: 1, ts: Date.now(), versions: { edge: 'test', protocol: 1 } });
    await edge.publishAsync(topic('village-a', 'pump-house', 'status'), status('online'), { qos: 1, retain: true });
    await until('online', async () => (await cloud.app.store.getEdge({ site: 'village-a', edge: 'pump-house' }))?.state === 'online');
    await cloud.app.api?.api?.alerts.evaluate('village-a');
    await edge.publishAsync(topic('village-a', 'pump-house', 'status'), status('offline'), { qos: 1, retain: true });
    await edge.endAsync();
    // The ingest's change notice evaluates the site about a second later.
    await until('forwarded', () => hook.hits.length === 1, 5000);
    expect(hook.hits[0]?.body).toMatchObject({ site: 'village-a', alert: { id: 'edge-offline:pump-house', kind: 'edge-offline', severity: 'alarm', source: 'pump-house' } });
  });
});
