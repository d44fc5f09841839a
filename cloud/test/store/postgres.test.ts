import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresCloudStore } from '../../src/store/postgres.js';
import type { StoreResult } from '../../src/store/types.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { describeCloudStoreContract, event, readingsFor } from './contract.js';

let server: TestPostgres;
let n = 0;

/**
 * A fresh schema on the file's cluster, selected by the URL's search_path, so every test starts
 * empty (a schema is ~10x quicker to make than a database).
 */
async function freshUrl(): Promise<string> {
  const name = `sv_store_${++n}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(server.url);
  u.searchParams.set('options', `-c search_path=${name}`);
  return u.toString();
}

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 60_000);

describeCloudStoreContract('postgres', async () => {
  const store = new PostgresCloudStore({ url: await freshUrl(), poolSize: 4 });
  await store.init();
  return { store, cleanup: () => store.close() };
});

describe('PostgresCloudStore', () => {
  const ref = { site: 'village-a', edge: 'pump-house' };

  it('creates the schema safely from several workers starting at once', async () => {
    const url = await freshUrl();
    const stores = Array.from({ length: 6 }, () => new PostgresCloudStore({ url, poolSize: 2 }));
    await Promise.all(stores.map((s) => s.init()));
    await stores[0]?.addEdge(ref, 'scrypt$x', 1);
    expect(await stores[5]?.getEdge(ref)).toMatchObject({ site: 'village-a' });
    await Promise.all(stores.map((s) => s.close()));
  });

  it('two workers storing overlapping batches of one edge concurrently store each seq once', async () => {
    const url = await freshUrl();
    const w1 = new PostgresCloudStore({ url, poolSize: 4 });
    const w2 = new PostgresCloudStore({ url, poolSize: 4 });
    await Promise.all([w1.init(), w2.init()]);
    await w1.addEdge(ref, 'scrypt$x', 1);

    // 1..TOTAL in batches of 40 that overlap by half, readings and (every 7th batch) events, in a
    // different order on each worker: the same batches redelivered to both, as after a lost ack
    // with a shared subscription.
    const TOTAL = 2000;
    const batches: number[][] = [];
    for (let start = 1; start <= TOTAL; start += 20) batches.push(Array.from({ length: Math.min(40, TOTAL - start + 1) }, (_, i) => start + i));
    const shuffle = <T>(xs: T[], seed: number): T[] => {
      const out = [...xs];
      let s = seed;
      for (let i = out.length - 1; i > 0; i--) {
        s = (s * 1103515245 + 12345) % 2 ** 31;
        const j = s % (i + 1);
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    };
    // Each seq is either a reading or an event, fixed by the seq, so both workers agree.
    const isEvent = (s: number): boolean => s % 7 === 0;
    const send = async (w: PostgresCloudStore, batch: number[]): Promise<StoreResult[]> => {
      const rs = batch.filter((s) => !isEvent(s));
      const es = batch.filter(isEvent);
      return [await w.storeReadings(ref, rs, readingsFor(rs)), await w.storeEvents(ref, es, es.map((s) => event(1_700_000_000_000 + s)))];
    };
    const results = (
      await Promise.all([...shuffle(batches, 1).map((b) => send(w1, b)), ...shuffle(batches, 2).map((b) => send(w2, b))])
    ).flat();

    const sent = batches.reduce((a, b) => a + b.length, 0) * 2;
    expect(results.reduce((a, r) => a + r.inserted, 0)).toBe(TOTAL);
    expect(results.reduce((a, r) => a + r.inserted + r.duplicates, 0)).toBe(sent);
    expect(Math.max(...results.map((r) => r.contiguousSeq))).toBe(TOTAL);
    expect(await w1.getEdge(ref)).toMatchObject({ contiguousSeq: TOTAL, maxSeq: TOTAL });

    const check = new pg.Client({ connectionString: url });
    await check.connect();
    try {
      const { rows } = await check.query<{ n: string; distinct_n: string; pending: string }>(
        `SELECT (SELECT count(*) FROM (SELECT seq FROM readings UNION ALL SELECT seq FROM events) s) AS n,
                (SELECT count(DISTINCT seq) FROM (SELECT seq FROM readings UNION ALL SELECT seq FROM events) s) AS distinct_n,
                (SELECT count(*) FROM seq_pending) AS pending`,
      );
      expect(rows[0]).toEqual({ n: String(TOTAL), distinct_n: String(TOTAL), pending: '0' });
    } finally {
      await check.end();
    }
    await Promise.all([w1.close(), w2.close()]);
  });

  it('fails init with a clear error, password redacted, when the server is unreachable', async () => {
    const store = new PostgresCloudStore({ url: 'postgres://sv:secret@127.0.0.1:1/nothing' });
    const err = await store.init().then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
    expect(err).toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('cannot open cloud store at postgres://sv:***@127.0.0.1:1/nothing') });
    expect(err?.message).not.toContain('secret');
  });
});
