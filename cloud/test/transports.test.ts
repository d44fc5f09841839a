import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '@smart-village/shared';
import { systemClock } from '../../edge/src/clock.js';
import { SqliteOutbox } from '../../edge/src/store/sqlite-outbox.js';
import { SyncClient } from '../../edge/src/sync/client.js';
import { ClockWatch } from '../../edge/src/timesync.js';
import { addEdge, CloudApp } from '../src/app.js';

const log = pino({ level: 'silent' });
let dir: string;
let cloud: CloudApp;
let secret: string;
const pem = (name: string) => join(dir, name);

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCertificates(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=village test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  writeFileSync(pem('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=my-hoa pi-1', '-keyout', 'client.key', '-out', 'client.csr');
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.pem');
}

function readings(n: number, t0: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: 'soil-1-moisture', ts: t0 + i * 1000, value: 30 + i / 10, unit: '%VWC' as const, quality: 'good' as const, clockSynced: true }));
}

async function syncOnce(
  edge: string,
  url: string,
  broker: { caFile?: string; certFile?: string; keyFile?: string } = {},
  timeoutMs = 8000,
  rows: Reading[] = readings(20, Date.now() - 60_000),
  watch?: ClockWatch,
): Promise<{ acked: number; last: number }> {
  const outbox = new SqliteOutbox({ path: join(dir, `${edge}-${Math.random()}.sqlite`), clock: systemClock, log, commitInterval: 50 });
  outbox.start();
  outbox.addReadings(rows);
  outbox.flush();
  const client = new SyncClient({
    broker: { url, username: `my-hoa/${edge}`, password: secret, ...broker },
    site: 'my-hoa',
    edge,
    outbox,
    clock: systemClock,
    log,
    version: 'test',
    pollPeriod: 100,
    ...(watch ? { correctTime: (r) => watch.correct(r) } : {}),
  });
  client.start();
  // lastSeq may move up: a fresh outbox of an edge the cloud knows is renumbered after its seqs.
  const until = Date.now() + timeoutMs;
  while ((outbox.stats().ackedSeq < outbox.stats().lastSeq || outbox.stats().ackedSeq === 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const acked = outbox.stats().ackedSeq;
  const last = outbox.stats().lastSeq;
  await client.stop();
  outbox.stop();
  return { acked, last };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-tls-'));
  makeCertificates();
  cloud = new CloudApp({
    db: join(dir, 'cloud.sqlite'),
    log,
    host: '127.0.0.1',
    mqttPort: 0,
    wsPort: 0,
    tls: { cert: readFileSync(pem('server.pem')), key: readFileSync(pem('server.key')), ca: readFileSync(pem('ca.pem')), requestCert: true },
  });
  await cloud.start();
  secret = await addEdge(cloud.store, 'my-hoa', 'pi-1', Date.now());
  // A second edge with the same secret keeps each test's sequence its own.
  await cloud.store.addEdge({ site: 'my-hoa', edge: 'pi-3' }, (await cloud.store.getEdge({ site: 'my-hoa', edge: 'pi-1' }))?.secretHash as string, Date.now());
  await cloud.store.addEdge({ site: 'my-hoa', edge: 'pi-2' }, (await cloud.store.getEdge({ site: 'my-hoa', edge: 'pi-1' }))?.secretHash as string, Date.now());
}, 60_000);

afterAll(async () => {
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('edge to cloud transports', () => {
  it('syncs over TLS with the broker verified by its CA and a client certificate', async () => {
    const { acked, last } = await syncOnce('pi-1', `mqtts://127.0.0.1:${cloud.ports.mqtt}`, { caFile: pem('ca.pem'), certFile: pem('client.pem'), keyFile: pem('client.key') });
    expect(last).toBe(20);
    expect(acked).toBe(20);
    expect((await cloud.store.getEdge({ site: 'my-hoa', edge: 'pi-1' }))?.contiguousSeq).toBeGreaterThanOrEqual(20);
  });

  it('syncs over WebSocket', async () => {
    const { acked, last } = await syncOnce('pi-1', `ws://127.0.0.1:${cloud.ports.ws}/mqtt`);
    // pi-1 already holds 20 seqs from the TLS test, so this fresh outbox continues after them.
    expect(last).toBe(40);
    expect(acked).toBe(40);
  });

  it('moves readings taken before the clock synced onto real time, so the cloud stores them', async () => {
    // The Pi booted believing it was 1970-01-01 00:01; NTP then stepped the clock to now.
    let wall = 60_000;
    let mono = 0;
    let synced = false;
    const watch = new ClockWatch(() => synced, () => wall, () => mono);
    watch.observe();
    mono += 5000;
    wall += 5000;
    const early = [{ sensor: 'soil-9-moisture', ts: wall, value: 31.5, unit: '%VWC' as const, quality: 'good' as const, clockSynced: false }];
    const realNow = Date.now();
    wall = realNow;
    synced = true;
    watch.observe();
    const { acked } = await syncOnce('pi-2', `ws://127.0.0.1:${cloud.ports.ws}/mqtt`, {}, 8000, early, watch);
    expect(acked).toBe(1);
    const stored = await cloud.store.readings('my-hoa', 'soil-9-moisture', 0, realNow + 1, 10);
    expect(stored.map((r) => [r.ts, r.clockSynced, r.value])).toEqual([[realNow, true, 31.5]]);
    expect(await cloud.store.listQuarantine(10)).toEqual([]);
  });

  it('keeps the rows of a replaced SD card: a fresh outbox continues after the seqs the cloud holds', async () => {
    const ws = `ws://127.0.0.1:${cloud.ports.ws}/mqtt`;
    const first = await syncOnce('pi-3', ws, {}, 8000, readings(20, Date.now() - 120_000));
    expect(first.acked).toBe(20);
    // A new card: a new outbox file, seqs from 1 again, different readings.
    const fresh = readings(15, Date.now() - 30_000).map((r) => ({ ...r, sensor: 'soil-2-moisture' }));
    const second = await syncOnce('pi-3', ws, {}, 8000, fresh);
    expect(second.acked).toBe(35);
    const edge = await cloud.store.getEdge({ site: 'my-hoa', edge: 'pi-3' });
    expect(edge?.contiguousSeq).toBe(35);
    const stored = await cloud.store.readings('my-hoa', 'soil-2-moisture', 0, Date.now() + 1, 100);
    expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: 15 }, (_, i) => 21 + i));
    expect(stored.map((r) => r.value)).toEqual(fresh.map((r) => r.value));
  });

  it('gets nothing through TLS without a client certificate, or with a broker it cannot verify', async () => {
    const noCert = await syncOnce('pi-1', `mqtts://127.0.0.1:${cloud.ports.mqtt}`, { caFile: pem('ca.pem') }, 2000);
    expect(noCert.acked).toBe(0);
    const unverified = await syncOnce('pi-1', `mqtts://127.0.0.1:${cloud.ports.mqtt}`, { certFile: pem('client.pem'), keyFile: pem('client.key') }, 2000);
    expect(unverified.acked).toBe(0);
  });
});
