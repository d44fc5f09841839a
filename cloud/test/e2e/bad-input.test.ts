// What a broken or hostile edge can send, against the real cloud (embedded aedes broker on a
// loopback port, ingest, SQLite) in-process: each bad input is refused or quarantined with a
// reason, nothing crashes, and good data around it is stored exactly once with the right ack.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeTelemetry, topic, type Reading } from '@smart-village/shared';
import { addEdge, CloudApp } from '../../src/app.js';
import { mqtt, type MqttClient } from './helpers/mqtt.js';
import { freePort, sleep, waitFor } from './helpers/net.js';

const SITE = 'bad';
let dir: string;
let cloud: CloudApp;
let url: string;
const secrets = new Map<string, string>();
const clients: MqttClient[] = [];

function readings(n: number, t0 = Date.now() - 3_600_000): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: 'soil-1-moisture', ts: t0 + i * 10_000, value: 30 + i / 10, unit: '%VWC' as const, quality: 'good' as const, clockSynced: true }));
}

function seqs(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

interface EdgeLink {
  client: MqttClient;
  acks: number[];
  closed: () => boolean;
  send(t: string, payload: Buffer): Promise<void>;
}

async function connectEdge(edge: string, password = secrets.get(edge) as string): Promise<EdgeLink> {
  const username = `${SITE}/${edge}`;
  const client = await mqtt.connectAsync(url, { username, password, clientId: username, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(client);
  const acks: number[] = [];
  let closed = false;
  client.on('close', () => (closed = true));
  client.on('message', (_t, payload) => acks.push((JSON.parse(payload.toString()) as { seq: number }).seq));
  await client.subscribeAsync(topic(SITE, edge, 'ack'), { qos: 1 });
  return {
    client,
    acks,
    closed: () => closed,
    send: async (t, payload) => {
      await client.publishAsync(t, payload, { qos: 1 });
    },
  };
}

async function storedSeqs(edge: string): Promise<number[]> {
  const rows = await cloud.store.readings(SITE, 'soil-1-moisture', 0, Date.now() + 3_600_000, 10_000);
  return rows.filter((r) => r.edge === edge).map((r) => r.seq).sort((a, b) => a - b);
}

async function contiguous(edge: string): Promise<number> {
  return (await cloud.store.getEdge({ site: SITE, edge }))?.contiguousSeq ?? -1;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-e2e-bad-'));
  cloud = new CloudApp({ db: join(dir, 'cloud.sqlite'), log: pino({ level: 'silent' }), host: '127.0.0.1', mqttPort: await freePort() });
  await cloud.start();
  url = `mqtt://127.0.0.1:${cloud.ports.mqtt}`;
  for (const edge of ['garbled', 'big', 'nosy', 'victim', 'replay', 'clock']) secrets.set(edge, await addEdge(cloud.store, SITE, edge, Date.now()));
  // The victim lives at another site too: a neighbour's topics at another site must stay clean.
  secrets.set('other-site', await addEdge(cloud.store, 'other', 'victim', Date.now()));
}, 30_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
});

afterAll(async () => {
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input from edges', () => {
  it('quarantines a malformed payload on an edge’s own telemetry topic and keeps the good data around it', async () => {
    const e = await connectEdge('garbled');
    const t = topic(SITE, 'garbled', 'telemetry');
    const all = readings(20);
    await e.send(t, encodeTelemetry({ seqs: seqs(1, 10), readings: all.slice(0, 10) }));
    await e.send(t, Buffer.from('this is not a telemetry batch \x00\x01\x02'));
    await e.send(t, encodeTelemetry({ seqs: seqs(11, 20), readings: all.slice(10) }));
    await waitFor('ack 20', () => e.acks.includes(20), 5000);
    expect(await storedSeqs('garbled')).toEqual(seqs(1, 20));
    const q = (await cloud.store.listQuarantine(50, SITE)).filter((x) => x.edge === 'garbled');
    expect(q).toHaveLength(1);
    expect(q[0]?.topic).toBe(t);
    expect(q[0]?.reason.length).toBeGreaterThan(5);
    expect(Buffer.from(q[0]?.payload ?? '', 'base64').toString()).toContain('this is not a telemetry batch');
    expect(e.closed()).toBe(false);
    expect(cloud.ingest?.stats().errors).toBe(0);
  });

  it('refuses an oversized payload and stores nothing of it', async () => {
    const e = await connectEdge('big');
    // Bigger than the broker's 256 KiB packet limit: the broker drops the connection.
    const huge = Buffer.alloc(300 * 1024, 7);
    e.client.publish(topic(SITE, 'big', 'telemetry'), huge, { qos: 1 });
    await waitFor('the broker to close the connection', () => e.closed(), 5000);
    expect(await storedSeqs('big')).toEqual([]);
    expect(await contiguous('big')).toBe(0);
    expect((await cloud.store.listQuarantine(50, SITE)).filter((x) => x.edge === 'big')).toEqual([]);
    // The cloud still serves the same edge afterwards.
    const again = await connectEdge('big');
    await again.send(topic(SITE, 'big', 'telemetry'), encodeTelemetry({ seqs: [1], readings: readings(1) }));
    await waitFor('ack 1', () => again.acks.includes(1), 5000);
  });

  it('refuses a publish to another edge’s or another site’s topics and stores nothing', async () => {
    const e = await connectEdge('nosy');
    const batch = encodeTelemetry({ seqs: seqs(1, 5), readings: readings(5) });
    // Both as fire-and-forget: the broker may answer a refused publish by closing the connection.
    e.client.publish(topic(SITE, 'victim', 'telemetry'), batch, { qos: 1 });
    await sleep(300);
    const e2 = await connectEdge('nosy');
    e2.client.publish(topic('other', 'victim', 'telemetry'), batch, { qos: 1 });
    await sleep(500);
    expect(await storedSeqs('victim')).toEqual([]);
    expect(await contiguous('victim')).toBe(0);
    expect((await cloud.store.getEdge({ site: 'other', edge: 'victim' }))?.contiguousSeq).toBe(0);
    expect((await cloud.store.readings('other', 'soil-1-moisture', 0, Date.now() + 3_600_000, 10))).toEqual([]);
    // Nor may it listen to another edge's acks.
    const e3 = await connectEdge('nosy');
    const granted = await e3.client.subscribeAsync(topic(SITE, 'victim', 'ack'), { qos: 1 }).catch(() => [{ qos: 128 }]);
    expect(granted[0]?.qos).toBe(128);
  });

  it('refuses bad credentials', async () => {
    const username = `${SITE}/victim`;
    await expect(mqtt.connectAsync(url, { username, password: 'not-the-secret', clientId: username, reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
    await expect(mqtt.connectAsync(url, { username: `${SITE}/victim`, password: secrets.get('nosy') as string, clientId: username, reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow();
    await expect(mqtt.connectAsync(url, { clientId: 'anonymous', reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow();
    expect(await storedSeqs('victim')).toEqual([]);
  });

  it('stores replayed and out-of-order seqs once and acks only the contiguous seq', async () => {
    const e = await connectEdge('replay');
    const t = topic(SITE, 'replay', 'telemetry');
    const all = readings(30);
    const batch = (from: number, to: number): Buffer => encodeTelemetry({ seqs: seqs(from, to), readings: all.slice(from - 1, to) });
    // The later batch first: stored, but the ack cannot pass the gap.
    await e.send(t, batch(11, 20));
    await waitFor('an ack', () => e.acks.length >= 1, 5000);
    expect(e.acks).toEqual([0]);
    await e.send(t, batch(1, 10));
    await waitFor('ack 20', () => e.acks.includes(20), 5000);
    // The same batches again (a resend after a lost ack), then the rest.
    await e.send(t, batch(1, 10));
    await e.send(t, batch(11, 20));
    await e.send(t, batch(21, 30));
    await waitFor('ack 30', () => e.acks.includes(30), 5000);
    await cloud.ingest?.idle();
    expect(e.acks).toEqual([0, 20, 20, 20, 30]);
    expect(await storedSeqs('replay')).toEqual(seqs(1, 30));
    expect(await contiguous('replay')).toBe(30);
    const stored = await cloud.store.readings(SITE, 'soil-1-moisture', 0, Date.now() + 3_600_000, 10_000);
    expect(stored.filter((r) => r.edge === 'replay').map((r) => [r.seq, r.ts, r.value])).toEqual(all.map((r, i) => [i + 1, r.ts, r.value]));
  });

  it('quarantines a reading timed in 1970, stores the rest and still moves the ack past it', async () => {
    const e = await connectEdge('clock');
    const rows = readings(5);
    // The Pi's clock was not set: 1970-01-01 plus a few minutes of uptime.
    rows[2] = { ...rows[2] as Reading, ts: 180_000, clockSynced: false };
    await e.send(topic(SITE, 'clock', 'telemetry'), encodeTelemetry({ seqs: seqs(1, 5), readings: rows }));
    await waitFor('ack 5', () => e.acks.includes(5), 5000);
    expect(await storedSeqs('clock')).toEqual([1, 2, 4, 5]);
    expect(await contiguous('clock')).toBe(5);
    const q = (await cloud.store.listQuarantine(50, SITE)).filter((x) => x.edge === 'clock');
    expect(q).toHaveLength(1);
    expect(q[0]?.reason).toMatch(/1970-01-01T00:03:00.000Z.*clock was not set/);
    expect(JSON.parse(Buffer.from(q[0]?.payload ?? '', 'base64').toString())).toMatchObject({ seq: 3, reading: { ts: 180_000 } });
    expect(await cloud.store.readings(SITE, 'soil-1-moisture', 0, Date.UTC(2024, 0, 1), 10)).toEqual([]);
  });
});
