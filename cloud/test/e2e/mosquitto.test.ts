// The province set-up from docs/scale-out.md, for real: Mosquitto (Debian's package) with a
// password file and the pattern ACL, two `village-cloud ingest` worker processes in one shared
// subscription group storing into one PostgreSQL, and an edge outbox + sync client. Faults: an
// ingest worker killed with SIGKILL and restarted, Mosquitto killed and restarted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTelemetry, topic, type Reading } from '@smart-village/shared';
import { systemClock } from '../../../edge/src/clock.js';
import { SqliteOutbox } from '../../../edge/src/store/sqlite-outbox.js';
import { SyncClient } from '../../../edge/src/sync/client.js';
import { newSecret } from '../../src/auth/secret.js';
import { addEdge } from '../../src/app.js';
import { openCloudStore } from '../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { haveMosquitto, MOSQUITTO_INGEST_USER, startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { mqtt } from './helpers/mqtt.js';
import { freePort, sleep, waitFor } from './helpers/net.js';
import { CLOUD_CLI, killAll, spawnProc, type Proc } from './helpers/procs.js';
import { cloudSide, contiguousSeq, edgeSide } from './helpers/rows.js';

const SITE = 'mq';
const log = pino({ level: 'silent' });
let dir: string;
let pgdb: TestPostgres;
let broker: Mosquitto;
let secrets: Record<string, string>;
let passwordFile: string;

function startIngest(name: string): Proc {
  return spawnProc(name, [CLOUD_CLI, 'ingest', '--broker', broker.url, '--username', MOSQUITTO_INGEST_USER, '--password-file', passwordFile, '--db', pgdb.url, '--group', 'ingest']);
}

beforeAll(async () => {
  if (!haveMosquitto()) throw new Error('Mosquitto not installed: apt-get install mosquitto');
  dir = mkdtempSync(join(tmpdir(), 'sv-e2e-mosq-'));
  pgdb = await startPostgres();
  const store = openCloudStore(pgdb.url, log);
  await store.init();
  secrets = { [`${SITE}/pi-1`]: await addEdge(store, SITE, 'pi-1', Date.now()), [`${SITE}/pi-2`]: await addEdge(store, SITE, 'pi-2', Date.now()), [MOSQUITTO_INGEST_USER]: newSecret() };
  await store.close();
  passwordFile = join(dir, 'ingest.secret');
  writeFileSync(passwordFile, `${secrets[MOSQUITTO_INGEST_USER]}\n`, { mode: 0o600 });
  broker = await startMosquitto(dir, await freePort(), secrets);
}, 90_000);

afterAll(async () => {
  await killAll();
  await pgdb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function batchOf(n: number, from: number, sensor: string): Buffer {
  const readings: Reading[] = Array.from({ length: n }, (_, i) => ({ sensor, ts: Date.now() - 60_000 + i, value: 1000 + i, unit: '%VWC', quality: 'good', clockSynced: true }));
  return encodeTelemetry({ seqs: Array.from({ length: n }, (_, i) => from + i), readings });
}

describe('edge and ingest workers behind Mosquitto, storing into PostgreSQL', () => {
  it('refuses what the ACL forbids: a neighbour’s topics, bad passwords', async () => {
    const nosy = await mqtt.connectAsync(broker.url, { username: `${SITE}/pi-2`, password: secrets[`${SITE}/pi-2`], clientId: `${SITE}/pi-2`, reconnectPeriod: 0 });
    // Mosquitto answers a refused QoS 1 publish with PUBACK and drops it ([MQTT-3.3.5-2] lets it).
    await nosy.publishAsync(topic(SITE, 'pi-1', 'telemetry'), batchOf(5, 1, 'intruder'), { qos: 1 });
    // Mosquitto 2 grants any subscription and applies the read ACL per delivered message: the
    // neighbour subscribed to pi-1's acks gets none, pi-1 itself gets them.
    const seen = { nosy: 0, own: 0 };
    await nosy.subscribeAsync(topic(SITE, 'pi-1', 'ack'), { qos: 1 });
    nosy.on('message', () => seen.nosy++);
    const own = await mqtt.connectAsync(broker.url, { username: `${SITE}/pi-1`, password: secrets[`${SITE}/pi-1`], clientId: `${SITE}/pi-1/probe`, reconnectPeriod: 0 });
    await own.subscribeAsync(topic(SITE, 'pi-1', 'ack'), { qos: 1 });
    own.on('message', () => seen.own++);
    const ingest = await mqtt.connectAsync(broker.url, { username: MOSQUITTO_INGEST_USER, password: secrets[MOSQUITTO_INGEST_USER], clientId: `${MOSQUITTO_INGEST_USER}/probe`, reconnectPeriod: 0 });
    await ingest.publishAsync(topic(SITE, 'pi-1', 'ack'), JSON.stringify({ seq: 0 }), { qos: 1 });
    await waitFor('pi-1 to get its ack', () => seen.own === 1, 5000);
    await sleep(300);
    expect(seen.nosy).toBe(0);
    await Promise.all([nosy.endAsync(), own.endAsync(), ingest.endAsync()]);
    await expect(mqtt.connectAsync(broker.url, { username: `${SITE}/pi-1`, password: 'wrong', clientId: `${SITE}/pi-1`, reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
    await expect(mqtt.connectAsync(broker.url, { clientId: 'anon', reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow();
    // The forged batch is checked for in the store by the next test (no ingest runs yet).
  });

  it('stores every reading once with two workers, through an ingest kill -9 and a Mosquitto restart', async () => {
    const workers = [startIngest('ingest-a'), startIngest('ingest-b')];
    await Promise.all(workers.map((w) => w.waitForLine(/ingest worker running/, 20_000)));
    const outboxPath = join(dir, 'edge.sqlite');
    const outbox = new SqliteOutbox({ path: outboxPath, clock: systemClock, log, commitInterval: 50 });
    outbox.start();
    const sync = new SyncClient({
      broker: { url: broker.url, username: `${SITE}/pi-1`, password: secrets[`${SITE}/pi-1`] as string },
      site: SITE,
      edge: 'pi-1',
      outbox,
      clock: systemClock,
      log,
      version: 'test',
      batchRows: 20,
      pollPeriod: 100,
      // A message lost with a killed worker is only resent after this; short, to keep the test short.
      ackTimeout: 3000,
    });
    let n = 0;
    const produce = setInterval(() => {
      outbox.addReadings(Array.from({ length: 10 }, (_, i) => ({ sensor: `probe-${i}`, ts: Date.now(), value: n++, unit: '%VWC' as const, quality: 'good' as const, clockSynced: true })));
    }, 50);
    const acked = (): number => outbox.stats().ackedSeq;
    try {
      sync.start();
      await waitFor('first acks', () => acked() > 100, 15_000);

      // An ingest worker dies mid-sync; what it took with it comes again from the edge.
      await workers[0]?.kill('SIGKILL');
      const a1 = acked();
      await waitFor('acks moving with one worker', () => acked() > a1 + 200, 20_000);
      workers[0] = startIngest('ingest-a2');
      await workers[0].waitForLine(/ingest worker running/, 20_000);

      // The broker dies; everyone reconnects.
      await broker.restart();
      const a2 = acked();
      await waitFor('acks moving after the broker restart', () => acked() > a2 + 200, 30_000);
    } finally {
      clearInterval(produce);
    }
    outbox.flush();
    const last = outbox.stats().lastSeq;
    await waitFor(`everything acked (last ${last})`, async () => acked() === last && (await contiguousSeq(pgdb.url, SITE, 'pi-1')) === last, 30_000, 100);
    await sync.stop();
    outbox.stop();

    const e = edgeSide(outboxPath);
    const c = await cloudSide(pgdb.url, SITE, 'pi-1');
    expect(e.readings.length).toBe(n);
    expect(c.readings).toEqual(e.readings);
    expect(c.contiguousSeq).toBe(e.lastSeq);
    expect(e.ackedSeq).toBe(e.lastSeq);
    // The neighbour's forged batch never got in.
    expect(c.readings.some((r) => r.sensor === 'intruder')).toBe(false);
    const other = await cloudSide(pgdb.url, SITE, 'pi-2');
    expect(other.readings).toEqual([]);
    for (const w of workers) expect(w.child.exitCode).toBe(null);
  }, 110_000);
});
