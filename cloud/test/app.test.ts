import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@smart-village/shared';
import { CloudApp } from '../src/app.js';
import { SqliteCloudStore } from '../src/store/sqlite.js';

const HOUR = 3_600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('CloudApp retention', () => {
  it('folds raw readings past the retention into hourly aggregates when it starts, and history still answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-cloud-app-'));
    dirs.push(dir);
    const db = join(dir, 'cloud.sqlite');
    const now = Date.UTC(2026, 5, 10, 12);
    const seed = new SqliteCloudStore({ path: db });
    await seed.init();
    await seed.addEdge({ site: 's', edge: 'e' }, 'scrypt$16384$8$1$AA$AA', now);
    const old = now - 100 * 86_400_000; // beyond the 90-day default
    const rows: Reading[] = [0, 1, 2, 3].map((i) => ({ sensor: 'soil-1-moisture', ts: old + i * 60_000, value: 30 + i, unit: '%VWC', quality: 'good', clockSynced: true }));
    rows.push({ sensor: 'soil-1-moisture', ts: now - HOUR, value: 40, unit: '%VWC', quality: 'good', clockSynced: true });
    await seed.storeReadings({ site: 's', edge: 'e' }, [1, 2, 3, 4, 5], rows);
    await seed.close();

    const app = new CloudApp({ db, log: pino({ level: 'silent' }), host: '127.0.0.1', mqttPort: 0, now: () => now });
    await app.start();
    try {
      // The first pass runs at start; wait for it.
      for (let i = 0; i < 50 && (await app.store.readings('s', 'soil-1-moisture', 0, now, 10)).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
      const raw = await app.store.readings('s', 'soil-1-moisture', 0, now, 10);
      expect(raw.map((r) => r.value)).toEqual([40]);
      const hourly = await app.store.history('s', 'soil-1-moisture', old - HOUR, old + HOUR, HOUR);
      expect(hourly).toHaveLength(1);
      expect(hourly[0]).toMatchObject({ min: 30, max: 33, avg: 31.5, last: 33, count: 4 });
    } finally {
      await app.stop();
    }
  });
});
