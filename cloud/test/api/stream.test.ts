import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIELD, NOW, OTHER, PUMP, event, reading, startVillage, T0, type Village } from './fixture.js';
import { openSse, type SseClient } from './sse.js';

let v: Village;
const clients: SseClient[] = [];

async function connect(query = `?token=${v.tokens.viewer}`, headers: Record<string, string> = {}): Promise<SseClient> {
  const c = await openSse(`${v.base}/api/sites/village-a/stream${query}`, headers);
  clients.push(c);
  return c;
}

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(async () => {
  v = await startVillage({ keepAliveMs: 60_000 });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await v.close();
});

describe('GET /api/sites/:site/stream (Server-Sent Events)', () => {
  it('opens an event stream with ?token= (EventSource) or the header', async () => {
    const a = await connect();
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(a.headers['cache-control']).toBe('no-store');
    const b = await connect('', { authorization: `Bearer ${v.tokens.viewer}` });
    expect(b.status).toBe(200);
    await until('both listening', () => v.api.live.listenerCount('village-a') === 2);
  });

  it('pushes the latest values that changed when the ingest stores readings', async () => {
    const c = await connect();
    await until('listening', () => v.api.live.listenerCount('village-a') === 1);
    await v.store.storeReadings(PUMP, [76, 77], [reading('tank-level', NOW - 1000, 150, 'cm'), reading('soil-1', T0, 5)]);
    v.api.live.publish({ kind: 'readings', site: 'village-a', edge: 'pump-house', inserted: 2 });
    // soil-1 got an older reading (a backfill): its latest did not change, so only the tank is sent.
    expect(await c.next()).toEqual({
      event: 'readings',
      data: { site: 'village-a', readings: [{ edge: 'pump-house', sensor: 'tank-level', ts: NOW - 1000, value: 150, unit: 'cm', quality: 'good', clockSynced: true }] },
    });
    // A notice with nothing new sends nothing; the next real change comes next.
    v.api.live.publish({ kind: 'readings', site: 'village-a', edge: 'pump-house', inserted: 1 });
    await v.store.storeReadings(FIELD, [2], [reading('soil-2', NOW - 500, 33)]);
    v.api.live.publish({ kind: 'readings', site: 'village-a', edge: 'field-north', inserted: 1 });
    expect(await c.next()).toEqual({
      event: 'readings',
      data: { site: 'village-a', readings: [{ edge: 'field-north', sensor: 'soil-2', ts: NOW - 500, value: 33, unit: '%VWC', quality: 'good', clockSynced: true }] },
    });
    await v.api.live.idle();
    expect(c.events).toHaveLength(2);
  });

  it('pushes an edge whose status changed, and events as stored', async () => {
    const c = await connect();
    await until('listening', () => v.api.live.listenerCount('village-a') === 1);
    await v.store.touchEdge(FIELD, NOW, { state: 'online', birth: 2 });
    v.api.live.publish({ kind: 'status', site: 'village-a', edge: 'field-north', state: 'online' });
    expect(await c.next()).toEqual({
      event: 'edge',
      data: { site: 'village-a', edge: 'field-north', state: 'online', lastSeen: NOW, contiguousSeq: 1, maxSeq: 4, lag: { seqs: 3, seconds: 0 } },
    });
    const e = { ...event(NOW - 10, 'zone.watered', 'zone-3', { mm: 2 }), seq: 5 };
    v.api.live.publish({ kind: 'events', site: 'village-a', edge: 'field-north', events: [e] });
    expect(await c.next()).toEqual({ event: 'events', data: { site: 'village-a', edge: 'field-north', events: [e] } });
  });

  it("does not send another site's changes", async () => {
    const c = await connect();
    await until('listening', () => v.api.live.listenerCount('village-a') === 1);
    await v.store.storeReadings(OTHER, [1], [reading('rain-1', NOW, 1.2, 'mm')]);
    v.api.live.publish({ kind: 'readings', site: 'village-b', edge: 'hall', inserted: 1 });
    v.api.live.publish({ kind: 'events', site: 'village-b', edge: 'hall', events: [{ ...event(NOW, 'zone.watered', 'zone-9'), seq: 2 }] });
    await v.store.touchEdge(PUMP, NOW, { state: 'offline', birth: 3 });
    v.api.live.publish({ kind: 'status', site: 'village-a', edge: 'pump-house', state: 'offline' });
    // The first thing this site's client sees is its own edge going offline.
    expect((await c.next()).data).toMatchObject({ site: 'village-a', edge: 'pump-house', state: 'offline' });
    expect(c.events).toHaveLength(1);
  });

  it('sends a keep-alive comment while idle', async () => {
    await v.close();
    v = await startVillage({ keepAliveMs: 40 });
    const c = await connect();
    await until('two keep-alives', () => c.comments.filter((x) => x === 'keep-alive').length >= 2);
    expect(c.comments[0]).toBe('connected');
  });

  it('lets go of the site when the client disconnects', async () => {
    const a = await connect();
    const b = await connect();
    await until('listening', () => v.api.live.listenerCount('village-a') === 2);
    a.close();
    await until('one left', () => v.api.live.listenerCount('village-a') === 1);
    b.close();
    await until('none left', () => v.api.live.listenerCount() === 0);
    // Changes for a site nobody watches cost nothing (no store query) and go nowhere.
    v.api.live.publish({ kind: 'readings', site: 'village-a', edge: 'pump-house', inserted: 1 });
    await v.api.live.idle();
  });

  it('ends open streams cleanly when the server stops', async () => {
    const c = await connect();
    await until('listening', () => v.api.live.listenerCount('village-a') === 1);
    v.api.closeStreams();
    await c.ended;
    await until('released', () => v.api.live.listenerCount() === 0);
  });

  it('refuses a stream without a token, or for an unknown site, before it opens', async () => {
    expect((await connect('')).status).toBe(401);
    expect((await connect(`?token=svt_${'x'.repeat(43)}`)).status).toBe(401);
    const unknown = await openSse(`${v.base}/api/sites/atlantis/stream?token=${v.tokens.viewer}`);
    clients.push(unknown);
    expect(unknown.status).toBe(404);
    expect(v.api.live.listenerCount()).toBe(0);
  });
});
