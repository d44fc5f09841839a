import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCloudStore } from '../../src/store/index.js';
import { PostgresCloudStore } from '../../src/store/postgres.js';
import { SQLITE_SCHEMA_VERSION, SqliteCloudStore } from '../../src/store/sqlite.js';
import { describeCloudStoreContract, readingsFor } from './contract.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-cloud-store-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// A file in a temp dir (WAL, as in production), fresh per test.
describeCloudStoreContract('sqlite file', async () => {
  const store = new SqliteCloudStore({ path: join(dir, `store-${++n}.db`) });
  await store.init();
  return { store, cleanup: () => store.close() };
});

describeCloudStoreContract('sqlite :memory:', async () => {
  const store = openCloudStore(':memory:');
  await store.init();
  return { store, cleanup: () => store.close() };
});

describe('SqliteCloudStore', () => {
  const ref = { site: 'village-a', edge: 'pump-house' };

  it('keeps everything across close and reopen', async () => {
    const path = join(dir, 'reopen.db');
    const first = new SqliteCloudStore({ path });
    await first.init();
    await first.addEdge(ref, 'scrypt$x', 1);
    await first.storeReadings(ref, [1, 2, 4], readingsFor([1, 2, 4]));
    await first.close();
    await first.close(); // idempotent

    const second = new SqliteCloudStore({ path });
    await second.init();
    await second.init(); // idempotent
    expect(await second.getEdge(ref)).toMatchObject({ contiguousSeq: 2, maxSeq: 4 });
    // The parked seq 4 survived the restart: storing 3 folds it in.
    expect((await second.storeReadings(ref, [3], readingsFor([3]))).contiguousSeq).toBe(4);
    await second.close();
  });

  it('opens the file in WAL mode with synchronous=FULL', async () => {
    const path = join(dir, 'pragmas.db');
    const store = new SqliteCloudStore({ path });
    await store.init();
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('refuses a file written by a newer cloud', async () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    const store = new SqliteCloudStore({ path });
    await expect(store.init()).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('newer than this cloud understands') });
  });

  it('fails clearly when used before init()', async () => {
    const store = new SqliteCloudStore({ path: ':memory:' });
    await expect(store.getEdge(ref)).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('init()') });
  });
});

describe('openCloudStore', () => {
  it.each([
    ['postgres://u:p@db.example:5432/sv', PostgresCloudStore],
    ['postgresql://db.example/sv', PostgresCloudStore],
    ['POSTGRES://db.example/sv', PostgresCloudStore],
    [':memory:', SqliteCloudStore],
    ['/var/lib/village-cloud/cloud.db', SqliteCloudStore],
    ['data/postgres.db', SqliteCloudStore],
  ])('%s', (target, cls) => {
    // Not initialised: nothing is opened or connected here.
    expect(openCloudStore(target)).toBeInstanceOf(cls);
  });
});
