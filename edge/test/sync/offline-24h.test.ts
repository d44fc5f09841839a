// 24 hours without a link, on a manual clock: the outbox fills with a day of readings (and
// hourly events) while the sync client keeps failing to reach a cloud that is not there. Then
// the real cloud (embedded broker, ingest, SQLite) comes up on that port, the edge reconnects
// and drains the backlog: in seq order (every ack and every observed contiguous seq climbs),
// each row exactly once, the last ack equal to the last seq.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEdge, CloudApp } from '../../../cloud/src/app.js';
import { cloudSide, edgeSide } from '../../../cloud/test/e2e/helpers/rows.js';
import { ManualClock } from '../../src/clock.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { SyncClient } from '../../src/sync/client.js';

const log = pino({ level: 'silent' });
const HOUR = 3_600_000;
let dir: string;
let cloud: CloudApp | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-sync-24h-'));
});

afterAll(async () => {
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a day offline', () => {
  it('drains 24 h of backlog in order and exactly once when the cloud comes back', async () => {
    const port = await freePort();
    const clock = new ManualClock(Date.now() - 24 * HOUR);
    const outboxPath = join(dir, 'outbox.sqlite');
    const outbox = new SqliteOutbox({ path: outboxPath, clock, log, commitInterval: 1000 });
    outbox.start();
    // The edge's secret exists before the outage; the cloud's store is made now, served later.
    const db = join(dir, 'cloud.sqlite');
    const { openCloudStore } = await import('../../../cloud/src/store/index.js');
    const pre = openCloudStore(db, log);
    await pre.init();
    const secret = await addEdge(pre, 'far', 'pi-1', Date.now());
    await pre.close();

    const acks: number[] = [];
    const acknowledge = outbox.acknowledge.bind(outbox);
    outbox.acknowledge = (seq: number) => {
      acks.push(seq);
      acknowledge(seq);
    };
    const sync = new SyncClient({ broker: { url: `mqtt://127.0.0.1:${port}`, username: 'far/pi-1', password: secret }, site: 'far', edge: 'pi-1', outbox, clock, log, version: 'test', batchRows: 500 });
    sync.start();

    // 20 probes read every minute for 24 h, one health event an hour; commits as the clock runs.
    let produced = 0;
    for (let minute = 0; minute < 24 * 60; minute++) {
      outbox.addReadings(Array.from({ length: 20 }, (_, i) => ({ sensor: `probe-${i}`, ts: clock.now(), value: Math.round(Math.sin(minute / 60 + i) * 1000) / 10, unit: '%VWC' as const, quality: 'good' as const, clockSynced: true })));
      produced += 20;
      if (minute % 60 === 0) outbox.addEvent({ ts: clock.now(), clockSynced: true, kind: 'device.offline', severity: 'warning', source: 'probe-0', message: 'probe 0 did not answer', data: { hour: minute / 60 } });
      clock.advance(60_000);
    }
    outbox.flush();
    const last = outbox.stats().lastSeq;
    expect(last).toBe(produced + 24);
    expect(outbox.stats().ackedSeq).toBe(0);
    expect(sync.stats().connected).toBe(false);

    cloud = new CloudApp({ db, log, host: '127.0.0.1', mqttPort: port });
    await cloud.start();
    const observed: number[] = [];
    const until = Date.now() + 60_000;
    while (outbox.stats().ackedSeq < last && Date.now() < until) {
      // Real time for the sockets (mqtt.js reconnects every 5 s), manual time for the sync timers.
      await clock.advanceAsync(200, 200);
      await new Promise((r) => setTimeout(r, 10));
      observed.push((await cloud.store.getEdge({ site: 'far', edge: 'pi-1' }))?.contiguousSeq ?? -1);
    }
    await cloud.ingest?.idle();
    observed.push((await cloud.store.getEdge({ site: 'far', edge: 'pi-1' }))?.contiguousSeq ?? -1);
    await sync.stop();
    outbox.stop();

    // Order: the cloud's contiguous seq and the edge's acks only ever climb.
    expect(observed.every((v, i) => i === 0 || v >= (observed[i - 1] as number))).toBe(true);
    expect(acks.every((v, i) => i === 0 || v > (acks[i - 1] as number))).toBe(true);
    expect(acks.length).toBeGreaterThan(10);
    expect(acks[acks.length - 1]).toBe(last);

    const e = edgeSide(outboxPath);
    const c = await cloudSide(db, 'far', 'pi-1');
    expect(e.readings).toHaveLength(produced);
    expect(c.readings).toEqual(e.readings);
    expect(c.events).toEqual(e.events);
    expect(c.contiguousSeq).toBe(last);
    expect(e.ackedSeq).toBe(last);
  }, 90_000);
});
