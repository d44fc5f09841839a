// A link that silently stops carrying packets (no RST, no FIN: a 3G cell that lost its
// backhaul) between a real SyncClient and the real cloud (embedded broker, ingest, SQLite), made
// by a TCP proxy in the test. While dark nothing is acknowledged; after it comes back the edge
// reconnects and the cloud ends with every row exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../edge/src/clock.js';
import { SqliteOutbox } from '../../../edge/src/store/sqlite-outbox.js';
import { SyncClient } from '../../../edge/src/sync/client.js';
import { addEdge, CloudApp } from '../../src/app.js';
import { freePort, sleep, TcpProxy, waitFor } from './helpers/net.js';
import { cloudSide, edgeSide } from './helpers/rows.js';

const log = pino({ level: 'silent' });
let dir: string;
let cloud: CloudApp;
let proxy: TcpProxy;
let secret: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-e2e-dark-'));
  cloud = new CloudApp({ db: join(dir, 'cloud.sqlite'), log, host: '127.0.0.1', mqttPort: await freePort() });
  await cloud.start();
  secret = await addEdge(cloud.store, 'dark', 'pi-1', Date.now());
  proxy = new TcpProxy(cloud.ports.mqtt as number);
  await proxy.start();
}, 30_000);

afterAll(async () => {
  await proxy?.stop();
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a blackholed link', () => {
  it('delivers every row exactly once after the link comes back', async () => {
    const outboxPath = join(dir, 'edge.sqlite');
    const outbox = new SqliteOutbox({ path: outboxPath, clock: systemClock, log, commitInterval: 50 });
    outbox.start();
    const sync = new SyncClient({
      broker: { url: `mqtt://127.0.0.1:${proxy.port}`, username: 'dark/pi-1', password: secret },
      site: 'dark',
      edge: 'pi-1',
      outbox,
      clock: systemClock,
      log,
      version: 'test',
      batchRows: 25,
      pollPeriod: 100,
      // Short, so the dead link is noticed within the test (3 s instead of 45 s).
      keepalive: 2,
    });
    let n = 0;
    const produce = setInterval(() => {
      outbox.addReadings(Array.from({ length: 5 }, (_, i) => ({ sensor: `probe-${i}`, ts: Date.now(), value: n++, unit: '%VWC' as const, quality: 'good' as const, clockSynced: true })));
    }, 50);
    try {
      sync.start();
      await waitFor('acks flowing', () => outbox.stats().ackedSeq > 100, 10_000);
      proxy.blackhole();
      await sleep(300);
      const dark = outbox.stats().ackedSeq;
      await sleep(5_000);
      // Nothing got through, and the edge kept committing.
      expect(outbox.stats().ackedSeq).toBe(dark);
      expect(outbox.stats().lastSeq).toBeGreaterThan(dark + 100);
      expect(sync.stats().connected).toBe(false);
      proxy.restore();
      await waitFor('acks moving again', () => outbox.stats().ackedSeq > dark + 100, 20_000);
    } finally {
      clearInterval(produce);
    }
    outbox.flush();
    const last = outbox.stats().lastSeq;
    await waitFor('everything acked', async () => outbox.stats().ackedSeq === last && (await cloud.store.getEdge({ site: 'dark', edge: 'pi-1' }))?.contiguousSeq === last, 20_000);
    // The edge gave up on the dead connection and opened a new one.
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    await sync.stop();
    outbox.stop();
    const e = edgeSide(outboxPath);
    const c = await cloudSide(join(dir, 'cloud.sqlite'), 'dark', 'pi-1');
    expect(e.readings.length).toBe(n);
    expect(c.readings).toEqual(e.readings);
    expect(c.contiguousSeq).toBe(e.lastSeq);
    expect(e.ackedSeq).toBe(e.lastSeq);
  }, 60_000);
});
