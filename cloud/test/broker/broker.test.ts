import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  closed, collect, connect, end, login, makeFixture, rawConnect, rawSubscribe, sleep, startBroker, waitFor,
  type Fixture, type MqttClient, type Running,
} from './harness.js';

let fixture: Fixture;
let running: Running;
const open: MqttClient[] = [];
const track = (c: MqttClient): MqttClient => (open.push(c), c);
const as = async (username: string): Promise<MqttClient> => track(await login(running, fixture, username));

beforeAll(async () => {
  fixture = await makeFixture();
  running = await startBroker(fixture, { maxPacketBytes: 64 * 1024 });
});
afterEach(async () => {
  await end(...open.splice(0));
});
afterAll(async () => {
  await running.broker.close();
});

/** The SUBACK return code for one filter ([MQTT-3.9.3]: 0x00-0x02 granted QoS, 0x80 failure). */
async function subackCode(client: MqttClient, filter: string): Promise<number | undefined> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos;
  } catch (err) {
    return (err as { packet?: { granted?: number[] } }).packet?.granted?.[0];
  }
}

async function refusedWith(promise: Promise<MqttClient>): Promise<number | undefined> {
  try {
    track(await promise);
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

describe('authentication', () => {
  it('refuses anonymous, wrong password, unknown edge and unknown service, and counts them', async () => {
    const before = running.broker.stats().authFailures;
    // MQTT 3.1.1 §3.2.2.3: 5 = not authorized, 4 = bad user name or password
    expect(await refusedWith(connect(running.tcpUrl))).toBe(5);
    expect(await refusedWith(connect(running.tcpUrl, 's1/e1', 'wrong-password'))).toBe(4);
    expect(await refusedWith(connect(running.tcpUrl, 's1/e1', fixture.secrets.get('s1/e2')))).toBe(4);
    expect(await refusedWith(connect(running.tcpUrl, 's9/e9', fixture.secrets.get('s1/e1')))).toBe(4);
    expect(await refusedWith(connect(running.tcpUrl, 'service:nobody', 'x'))).toBe(4);
    expect(await refusedWith(connect(running.tcpUrl, 'garbage', 'x'))).toBe(4);
    expect(running.broker.stats().authFailures - before).toBe(6);
  });

  it('refuses a client id outside the username namespace (no session takeover)', async () => {
    const code = await refusedWith(connect(running.tcpUrl, 's1/e1', fixture.secrets.get('s1/e1'), { clientId: 'service:ingest/1' }));
    expect(code).toBe(2);
  });

  it('accepts an edge and a service with their secrets', async () => {
    const edge = await as('s1/e1');
    const svc = await as('service:ingest');
    expect(edge.connected && svc.connected).toBe(true);
  });
});

describe('publish and subscribe', () => {
  it('delivers an edge telemetry to the ingest', async () => {
    const ingest = await as('service:ingest');
    const got = collect(ingest);
    await ingest.subscribeAsync('sv/v1/+/+/telemetry', { qos: 1 });
    const edge = await as('s1/e1');
    await edge.publishAsync('sv/v1/s1/e1/telemetry', 'batch-1', { qos: 1 });
    await waitFor(() => got.length === 1, 5_000, 'telemetry');
    expect(got[0]).toMatchObject({ topic: 'sv/v1/s1/e1/telemetry', payload: 'batch-1' });
  });

  it('delivers the ingest ack and cmd to the edge', async () => {
    const edge = await as('s1/e1');
    const got = collect(edge);
    await edge.subscribeAsync(['sv/v1/s1/e1/ack', 'sv/v1/s1/e1/cmd'], { qos: 1 });
    const ingest = await as('service:ingest');
    await ingest.publishAsync('sv/v1/s1/e1/ack', '42', { qos: 1 });
    await ingest.publishAsync('sv/v1/s1/e1/cmd', 'open', { qos: 1 });
    await waitFor(() => got.length === 2, 5_000, 'ack and cmd');
  });

  it('shares $share/ingest/… between two workers: each message to exactly one', async () => {
    const a = await as('service:ingest');
    const b = await as('service:ingest-2');
    const gotA = collect(a);
    const gotB = collect(b);
    await a.subscribeAsync('$share/ingest/sv/v1/+/+/telemetry', { qos: 1 });
    await b.subscribeAsync('$share/ingest/sv/v1/+/+/telemetry', { qos: 1 });
    const edge = await as('s1/e2');
    for (let i = 0; i < 20; i++) await edge.publishAsync('sv/v1/s1/e2/telemetry', `m${i}`, { qos: 1 });
    await waitFor(() => gotA.length + gotB.length >= 20, 5_000, 'shared delivery');
    await sleep(100);
    const all = [...gotA, ...gotB].map((m) => m.payload).sort();
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    expect(gotA.length).toBeGreaterThan(0);
    expect(gotB.length).toBeGreaterThan(0);
    // A worker that leaves stops getting its share; the other gets everything.
    await end(b);
    await sleep(50);
    for (let i = 20; i < 25; i++) await edge.publishAsync('sv/v1/s1/e2/telemetry', `m${i}`, { qos: 1 });
    await waitFor(() => gotA.length + gotB.length >= 25, 5_000, 'remaining worker');
  });

  it('refuses and counts a publish to another edge or site; nobody receives it', async () => {
    const victim = await as('s1/e2');
    const victimGot = collect(victim);
    await victim.subscribeAsync('sv/v1/s1/e2/cmd', { qos: 1 });
    const ingest = await as('service:ingest');
    const ingestGot = collect(ingest);
    await ingest.subscribeAsync('sv/v1/+/+/telemetry', { qos: 1 });
    const before = running.broker.stats().publishDenied;

    for (const topic of ['sv/v1/s1/e2/cmd', 'sv/v1/s2/e1/telemetry', 'sv/v1/s1/e2/telemetry', '$SYS/fake']) {
      const attacker = await as('s1/e1');
      const gone = closed(attacker);
      attacker.publish(topic, 'evil', { qos: 1 });
      await gone; // [MQTT-3.3.5-2]: refused by closing the connection
    }
    await sleep(100);
    expect(running.broker.stats().publishDenied - before).toBe(4);
    expect(victimGot).toEqual([]);
    expect(ingestGot).toEqual([]);
  });

  it('answers 0x80 to a subscription to another edge cmd and keeps the connection', async () => {
    const edge = await as('s1/e1');
    const before = running.broker.stats().subscribeDenied;
    expect(await subackCode(edge, 'sv/v1/s1/e2/cmd')).toBe(0x80);
    expect(await subackCode(edge, 'sv/v1/+/+/cmd')).toBe(0x80);
    expect(running.broker.stats().subscribeDenied - before).toBe(2);
    expect(edge.connected).toBe(true);
    expect(await subackCode(edge, 'sv/v1/s1/e1/cmd')).toBe(1);
  });

  it('keeps retained messages only on status and state', async () => {
    const edge = await as('s2/e1');
    await edge.publishAsync('sv/v1/s2/e1/status', 'online', { qos: 1, retain: true });
    await edge.publishAsync('sv/v1/s2/e1/state', 'levels', { qos: 1, retain: true });
    const late = await as('service:ingest');
    const got = collect(late);
    await late.subscribeAsync(['sv/v1/s2/+/status', 'sv/v1/s2/+/state'], { qos: 1 });
    await waitFor(() => got.length === 2, 5_000, 'retained status and state');
    expect(got.every((m) => m.retain)).toBe(true);

    const before = running.broker.stats().publishDenied;
    const gone = closed(edge);
    edge.publish('sv/v1/s2/e1/telemetry', 'x', { qos: 1, retain: true });
    await gone;
    const ingest = await as('service:ingest');
    const goneIngest = closed(ingest);
    ingest.publish('sv/v1/s2/e1/cmd', 'open', { qos: 1, retain: true });
    await goneIngest;
    expect(running.broker.stats().publishDenied - before).toBe(2);
    // Nothing retained on telemetry: a new subscriber gets nothing.
    const fresh = await as('service:ingest-2');
    const freshGot = collect(fresh);
    await fresh.subscribeAsync('sv/v1/s2/+/telemetry', { qos: 1 });
    await sleep(200);
    expect(freshGot).toEqual([]);
    // Clear the retained messages for the other tests.
    const again = await as('s2/e1');
    await again.publishAsync('sv/v1/s2/e1/status', '', { qos: 1, retain: true });
    await again.publishAsync('sv/v1/s2/e1/state', '', { qos: 1, retain: true });
  });

  it('refuses and counts an oversized packet before buffering it', async () => {
    const ingest = await as('service:ingest');
    const got = collect(ingest);
    await ingest.subscribeAsync('sv/v1/+/+/telemetry', { qos: 1 });
    const edge = await as('s1/e1');
    const before = running.broker.stats().oversize;
    const gone = closed(edge);
    edge.publish('sv/v1/s1/e1/telemetry', Buffer.alloc(100 * 1024, 7), { qos: 1 });
    await gone;
    expect(running.broker.stats().oversize - before).toBe(1);
    // A packet under the limit still goes through.
    const ok = await as('s1/e1');
    await ok.publishAsync('sv/v1/s1/e1/telemetry', Buffer.alloc(60 * 1024, 1), { qos: 1 });
    await waitFor(() => got.length === 1, 5_000, 'packet under the limit');
    expect(got[0]?.payload.length).toBe(60 * 1024);
  });
});

describe('WebSocket', () => {
  it('accepts MQTT over ws://…/mqtt with the same authentication and ACL', async () => {
    const bad = await refusedWith(connect(running.wsUrl, 's1/e1', 'nope'));
    expect(bad).toBe(4);
    expect(await refusedWith(connect(running.wsUrl))).toBe(5);
    const ingest = await as('service:ingest');
    const got = collect(ingest);
    await ingest.subscribeAsync('sv/v1/+/+/events', { qos: 1 });
    const edge = track(await connect(running.wsUrl, 's1/e1', fixture.secrets.get('s1/e1')));
    await edge.publishAsync('sv/v1/s1/e1/events', 'over-ws', { qos: 1 });
    await waitFor(() => got.length === 1, 5_000, 'event over ws');
    expect(await subackCode(edge, 'sv/v1/s1/e2/cmd')).toBe(0x80);
  });
});

describe('logs', () => {
  it('never contain a secret or a tried password, but do record refusals', () => {
    const text = running.lines.join('');
    for (const secret of fixture.secrets.values()) expect(text).not.toContain(secret);
    expect(text).not.toContain('wrong-password');
    expect(text).toContain('broker login refused');
    expect(text).toContain('publish refused');
    expect(text).toContain('subscribe refused');
  });
});

describe('connection flood', () => {
  it('refuses connections past the per-address rate and counts them', async () => {
    const flood = await startBroker(fixture, { connectRatePerSec: 10, connectBurst: 20 });
    const port = Number(new URL(flood.tcpUrl).port);
    const sockets: Socket[] = [];
    let closedCount = 0;
    try {
      await Promise.all(
        Array.from({ length: 50 }, () => new Promise<void>((resolve) => {
          const s = netConnect(port, '127.0.0.1', () => resolve());
          s.on('error', () => resolve());
          s.on('close', () => closedCount++);
          sockets.push(s);
        })),
      );
      await waitFor(() => closedCount >= 25, 5_000, 'refused sockets to close');
      const stats = flood.broker.stats();
      expect(stats.rateLimited).toBeGreaterThanOrEqual(25);
      expect(stats.rateLimited).toBeLessThanOrEqual(30);
      expect(flood.lines.join('')).toContain('connection rate limit hit');
    } finally {
      for (const s of sockets) s.destroy();
      await flood.broker.close();
    }
  });
});

describe('stuck subscriber', () => {
  it('is cut off while another subscriber keeps receiving everything', async () => {
    const slow = await startBroker(fixture, { maxPacketBytes: 256 * 1024, maxOutboundBytes: 256 * 1024 });
    const port = Number(new URL(slow.tcpUrl).port);
    const stuck = netConnect(port, '127.0.0.1');
    const clients: MqttClient[] = [];
    try {
      // A subscriber that reads its CONNACK and SUBACK, then never reads again.
      let seen = Buffer.alloc(0);
      stuck.on('data', (d: Buffer) => (seen = Buffer.concat([seen, d])));
      await new Promise<void>((r) => stuck.once('connect', () => r()));
      stuck.write(rawConnect(`service:ingest/${randomUUID().slice(0, 6)}`, 'service:ingest', fixture.secrets.get('service:ingest') ?? ''));
      stuck.write(rawSubscribe('sv/v1/+/+/telemetry'));
      await waitFor(() => seen.includes(0x90), 5_000, 'SUBACK'); // 0x90 = SUBACK [MQTT-3.9.1]
      stuck.removeAllListeners('data');
      stuck.pause();

      const healthy = await login(slow, fixture, 'service:ingest-2');
      clients.push(healthy);
      let received = 0;
      healthy.on('message', () => received++);
      await healthy.subscribeAsync('sv/v1/+/+/telemetry', { qos: 1 });
      const edge = await login(slow, fixture, 's1/e1');
      clients.push(edge);

      // 300 × 100 KiB = 30 MiB: far more than the loopback socket buffers of the stuck one.
      const payload = Buffer.alloc(100 * 1024, 3);
      const started = Date.now();
      for (let i = 0; i < 300; i++) await edge.publishAsync('sv/v1/s1/e1/telemetry', payload, { qos: 1 });
      await waitFor(() => received === 300, 15_000, 'healthy subscriber to get everything');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(slow.broker.stats().slowConsumers).toBe(1);
      expect(slow.lines.join('')).toContain('client stopped reading');
    } finally {
      stuck.destroy();
      await end(...clients);
      await slow.broker.close();
    }
  });
});
