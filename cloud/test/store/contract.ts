import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EdgeState, Event, Reading } from '@smart-village/shared';
import type { CloudStore, CommandRecord, EdgeRef, SessionRecord, UserRecord } from '../../src/store/types.js';

/**
 * The one contract every CloudStore passes (SQLite, PostgreSQL). Each test gets a fresh, empty,
 * initialised store from the factory.
 */
export type CloudStoreFactory = () => Promise<{ store: CloudStore; cleanup(): Promise<void> }>;

const H = 3_600_000;
/** A whole day in epoch ms (2024-06-01T00:00Z), so hour and day buckets line up with it. */
const T0 = Date.UTC(2024, 5, 1);
const A: EdgeRef = { site: 'village-a', edge: 'pump-house' };
const B: EdgeRef = { site: 'village-a', edge: 'field-north' };
const OTHER: EdgeRef = { site: 'village-b', edge: 'pump-house' };

export function reading(sensor: string, ts: number, value: number | null, extra: Partial<Reading> = {}): Reading {
  return { sensor, ts, value, unit: '%VWC', quality: value === null ? 'error' : 'good', clockSynced: true, ...extra };
}

export function event(ts: number, kind = 'zone.watered', source = 'zone-1', data: Record<string, unknown> = {}): Event {
  return { ts, clockSynced: true, kind, severity: 'info', source, message: `${kind} ${source}`, data };
}

/** Readings for seqs, one per seq, 1 minute apart from T0 (ts derived from the seq). */
export function readingsFor(seqs: readonly number[], sensor = 'soil-1'): Reading[] {
  return seqs.map((s) => reading(sensor, T0 + s * 60_000, s));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

type Step =
  | { r: number[]; ins?: number; dup?: number; cs: number }
  | { e: number[]; ins?: number; dup?: number; cs: number }
  | { skip: [number, number]; cs: number };

const SEQ_CASES: { name: string; steps: Step[]; maxSeq: number }[] = [
  { name: 'in order', steps: [{ r: [1, 2, 3], ins: 3, dup: 0, cs: 3 }], maxSeq: 3 },
  {
    name: 'out of order (5 before 3)',
    steps: [
      { r: [5], cs: 0 },
      { r: [3], cs: 0 },
      { r: [1, 2], cs: 3 },
      { r: [4], cs: 5 },
    ],
    maxSeq: 5,
  },
  {
    name: 'readings and events share one seq space',
    steps: [
      { r: [1, 2], cs: 2 },
      { e: [3], cs: 3 },
      { r: [4], cs: 4 },
      { e: [5, 7], cs: 5 },
      { r: [6], cs: 7 },
    ],
    maxSeq: 7,
  },
  {
    name: 'replays and resends after a lost ack are duplicates',
    steps: [
      { r: [1, 2, 3], ins: 3, dup: 0, cs: 3 },
      { r: [1, 2, 3], ins: 0, dup: 3, cs: 3 },
      { r: [2, 3, 4], ins: 1, dup: 2, cs: 4 },
      { e: [5], ins: 1, dup: 0, cs: 5 },
      { e: [5], ins: 0, dup: 1, cs: 5 },
    ],
    maxSeq: 5,
  },
  { name: 'a seq twice in one batch is stored once', steps: [{ r: [1, 1, 2], ins: 2, dup: 1, cs: 2 }], maxSeq: 2 },
  { name: 'an empty batch changes nothing', steps: [{ r: [1], cs: 1 }, { r: [], ins: 0, dup: 0, cs: 1 }], maxSeq: 1 },
  {
    name: 'skipped seqs count as done',
    steps: [
      { r: [1, 2], cs: 2 },
      { skip: [3, 10], cs: 10 },
      { r: [11], cs: 11 },
      { skip: [1, 2], cs: 11 },
      { r: [20], cs: 11 },
      { skip: [12, 19], cs: 20 },
    ],
    maxSeq: 20,
  },
  {
    name: 'a skip reported before the gap is reached',
    steps: [
      { skip: [4, 6], cs: 0 },
      { r: [8], cs: 0 },
      { r: [1, 2, 3], cs: 6 },
      { e: [7], cs: 8 },
    ],
    maxSeq: 8,
  },
  {
    name: 'a chain of parked seqs folds in one go',
    steps: [...range(2, 30).reverse().map((s): Step => ({ r: [s], cs: 0 })), { r: [1], cs: 30 }],
    maxSeq: 30,
  },
  { name: 'a huge skip is a range, not a million rows', steps: [{ skip: [1, 1_000_000], cs: 1_000_000 }, { r: [1_000_001], cs: 1_000_001 }], maxSeq: 1_000_001 },
];

/** [min, max, sum] of values: history results are compared with toBeCloseTo on the average. */
function stats(values: number[]): { min: number; max: number; avg: number; count: number } {
  return { min: Math.min(...values), max: Math.max(...values), avg: values.reduce((a, b) => a + b, 0) / values.length, count: values.length };
}

export function describeCloudStoreContract(name: string, factory: CloudStoreFactory): void {
  describe(`CloudStore contract: ${name}`, () => {
    let store: CloudStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      for (const ref of [A, B, OTHER]) await store.addEdge(ref, `scrypt$hash-of-${ref.edge}`, T0);
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('edges', () => {
      it('adds an edge with empty progress and reads it back', async () => {
        expect(await store.getEdge(A)).toEqual({ ...A, secretHash: 'scrypt$hash-of-pump-house', createdAt: T0, lastSeen: 0, state: 'unknown', birth: 0, contiguousSeq: 0, maxSeq: 0 });
        expect(await store.getEdge({ site: 'village-a', edge: 'nobody' })).toBeUndefined();
      });

      it('refuses to add an edge twice and keeps the first secret', async () => {
        await expect(store.addEdge(A, 'scrypt$other', T0 + 1)).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('already exists') });
        expect((await store.getEdge(A))?.secretHash).toBe('scrypt$hash-of-pump-house');
      });

      it('rotates a secret, and refuses to for an unknown edge', async () => {
        await store.setEdgeSecret(A, 'scrypt$rotated');
        expect((await store.getEdge(A))?.secretHash).toBe('scrypt$rotated');
        expect((await store.getEdge(B))?.secretHash).toBe('scrypt$hash-of-field-north');
        await expect(store.setEdgeSecret({ site: 'village-a', edge: 'nobody' }, 'x')).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('not registered') });
      });

      it('lists edges of all sites or of one, sorted', async () => {
        expect((await store.listEdges()).map((e) => `${e.site}/${e.edge}`)).toEqual(['village-a/field-north', 'village-a/pump-house', 'village-b/pump-house']);
        expect((await store.listEdges('village-a')).map((e) => e.edge)).toEqual(['field-north', 'pump-house']);
        expect(await store.listEdges('nowhere')).toEqual([]);
      });

      it('keeps lastSeen at the latest time it was touched', async () => {
        await store.touchEdge(A, T0 + 5000);
        await store.touchEdge(A, T0 + 1000);
        expect((await store.getEdge(A))?.lastSeen).toBe(T0 + 5000);
        await expect(store.touchEdge({ site: 'village-a', edge: 'nobody' }, T0)).rejects.toMatchObject({ code: 'STORE_FAILED' });
      });

      const STATUS_CASES: { name: string; statuses: [('online' | 'offline'), number][]; state: string; birth: number }[] = [
        { name: 'first birth', statuses: [['online', 1]], state: 'online', birth: 1 },
        { name: 'will of the same session', statuses: [['online', 1], ['offline', 1]], state: 'offline', birth: 1 },
        { name: 'late will of an older session after a new birth', statuses: [['online', 2], ['offline', 1]], state: 'online', birth: 2 },
        { name: 'a redelivered online does not undo the same session will', statuses: [['online', 1], ['offline', 1], ['online', 1]], state: 'offline', birth: 1 },
        { name: 'a newer birth after a will', statuses: [['online', 1], ['offline', 1], ['online', 2]], state: 'online', birth: 2 },
        { name: 'an older birth is ignored', statuses: [['online', 3], ['online', 2]], state: 'online', birth: 3 },
        { name: 'birth 0 replaces unknown', statuses: [['online', 0]], state: 'online', birth: 0 },
      ];
      it.each(STATUS_CASES)('status: $name', async ({ statuses, state, birth }) => {
        let at = T0;
        for (const [s, b] of statuses) await store.touchEdge(A, (at += 1000), { state: s, birth: b });
        expect(await store.getEdge(A)).toMatchObject({ state, birth, lastSeen: at });
        expect((await store.getEdge(B))?.state).toBe('unknown');
      });
    });

    describe('seqs and the contiguous cursor', () => {
      it.each(SEQ_CASES)('$name', async ({ steps, maxSeq }) => {
        const stored = new Set<number>();
        for (const step of steps) {
          let res;
          if ('r' in step) {
            res = await store.storeReadings(A, step.r, readingsFor(step.r));
            step.r.forEach((s) => stored.add(s));
          } else if ('e' in step) {
            res = await store.storeEvents(A, step.e, step.e.map((s) => event(T0 + s * 60_000)));
            step.e.forEach((s) => stored.add(s));
          } else {
            res = await store.markSkipped(A, step.skip[0], step.skip[1]);
            expect(res).toMatchObject({ inserted: 0, duplicates: 0 });
          }
          expect(res.contiguousSeq, JSON.stringify(step)).toBe(step.cs);
          if ('ins' in step && step.ins !== undefined) expect(res.inserted, JSON.stringify(step)).toBe(step.ins);
          if ('dup' in step && step.dup !== undefined) expect(res.duplicates, JSON.stringify(step)).toBe(step.dup);
        }
        const last = steps[steps.length - 1] as Step;
        expect(await store.getEdge(A)).toMatchObject({ contiguousSeq: last.cs, maxSeq });
        // Each stored seq exactly once, readings and events together.
        const rs = await store.readings(A.site, 'soil-1', 0, Number.MAX_SAFE_INTEGER, 10_000);
        const es = await store.events(A.site, { limit: 10_000 });
        const all = [...rs, ...es].map((x) => x.seq).sort((a, b) => a - b);
        expect(all).toEqual([...stored].sort((a, b) => a - b));
        // Other edges are untouched.
        expect(await store.getEdge(B)).toMatchObject({ contiguousSeq: 0, maxSeq: 0 });
      });

      it('keeps one seq space per edge', async () => {
        expect((await store.storeReadings(A, [1, 2], readingsFor([1, 2]))).contiguousSeq).toBe(2);
        expect((await store.storeReadings(B, [1, 2], readingsFor([1, 2]))).inserted).toBe(2);
        expect((await store.storeReadings(OTHER, [1], readingsFor([1]))).inserted).toBe(1);
        expect((await store.readings(A.site, 'soil-1', 0, Number.MAX_SAFE_INTEGER, 100)).map((r) => `${r.edge}:${r.seq}`).sort()).toEqual([
          'field-north:1',
          'field-north:2',
          'pump-house:1',
          'pump-house:2',
        ]);
      });

      it('refuses writes for an edge that was never added, storing nothing', async () => {
        const ghost = { site: 'village-a', edge: 'ghost' };
        for (const write of [
          () => store.storeReadings(ghost, [1], readingsFor([1])),
          () => store.storeEvents(ghost, [1], [event(T0)]),
          () => store.markSkipped(ghost, 1, 5),
        ]) {
          await expect(write()).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('village-a/ghost is not registered') });
        }
        expect(await store.readings(A.site, 'soil-1', 0, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
        expect(await store.latest(A.site)).toEqual([]);
      });

      it.each([
        { name: 'fewer seqs than rows', seqs: [1], rows: 2 },
        { name: 'seq 0', seqs: [0], rows: 1 },
        { name: 'negative seq', seqs: [-3], rows: 1 },
        { name: 'fractional seq', seqs: [1.5], rows: 1 },
      ])('rejects a malformed batch: $name', async ({ seqs, rows }) => {
        await expect(store.storeReadings(A, seqs, readingsFor(range(1, rows)))).rejects.toMatchObject({ code: 'STORE_FAILED' });
        expect(await store.getEdge(A)).toMatchObject({ contiguousSeq: 0, maxSeq: 0 });
      });

      it('rolls back a batch that fails halfway (nothing stored, cursor unchanged)', async () => {
        await store.storeReadings(A, [1], readingsFor([1]));
        // A NaN ts violates NOT NULL / integer storage in both engines; the earlier row must go too.
        const bad = [reading('soil-1', T0 + 2, 1), { ...reading('soil-1', T0 + 3, 1), ts: null as unknown as number }];
        await expect(store.storeReadings(A, [2, 3], bad)).rejects.toThrow();
        expect(await store.getEdge(A)).toMatchObject({ contiguousSeq: 1, maxSeq: 1 });
        expect((await store.storeReadings(A, [2, 3], readingsFor([2, 3]))).inserted).toBe(2);
      });
    });

    describe('readings and latest', () => {
      it('stores every field and reads raw rows oldest first within [from, to)', async () => {
        const rows = [
          reading('soil-1', T0 + 3000, 31.5),
          reading('soil-1', T0 + 1000, null, { quality: 'error' }),
          reading('soil-1', T0 + 2000, 30, { clockSynced: false, quality: 'stale', unit: '%' }),
          reading('tank-1', T0 + 1500, 120, { unit: 'cm', quality: 'out-of-range' }),
          reading('soil-1', T0 + 4000, 29),
        ];
        await store.storeReadings(A, [1, 2, 3, 4, 5], rows);
        const got = await store.readings(A.site, 'soil-1', T0 + 1000, T0 + 4000, 100);
        expect(got).toEqual([
          { edge: A.edge, seq: 2, ...rows[1] },
          { edge: A.edge, seq: 3, ...rows[2] },
          { edge: A.edge, seq: 1, ...rows[0] },
        ]);
        expect(await store.readings(A.site, 'soil-1', 0, T0 + 10_000, 2)).toHaveLength(2);
        expect(await store.readings(OTHER.site, 'soil-1', 0, T0 + 10_000, 100)).toEqual([]);
      });

      it('keeps the latest reading per sensor by ts, not by arrival', async () => {
        await store.storeReadings(A, [1, 2], [reading('soil-1', T0 + 2000, 20), reading('tank-1', T0 + 2000, 100, { unit: 'cm' })]);
        // An older reading arriving later (an edge catching up after an outage) must not win.
        await store.storeReadings(A, [3], [reading('soil-1', T0 + 1000, 10)]);
        // Within one batch, the newest ts wins whatever its position.
        await store.storeReadings(A, [4, 5, 6], [reading('tank-1', T0 + 5000, 105, { unit: 'cm' }), reading('tank-1', T0 + 3000, 103, { unit: 'cm' }), reading('soil-1', T0 + 1500, 15)]);
        // A replay carries the same data and changes nothing.
        await store.storeReadings(A, [3], [reading('soil-1', T0 + 9000, 99)]);
        expect(await store.latest(A.site)).toEqual([
          { edge: A.edge, ...reading('soil-1', T0 + 2000, 20) },
          { edge: A.edge, ...reading('tank-1', T0 + 5000, 105, { unit: 'cm' }) },
        ]);
      });

      it('gives the newest per sensor across edges, or one edge only', async () => {
        await store.storeReadings(A, [1, 2], [reading('soil-1', T0 + 1000, 1), reading('rain-1', T0 + 1000, 0.2, { unit: 'mm', quality: 'good' })]);
        await store.storeReadings(B, [1, 2], [reading('soil-1', T0 + 3000, 3), reading('soil-2', T0 + 500, 5)]);
        await store.storeReadings(OTHER, [1], [reading('soil-1', T0 + 9000, 9)]);
        expect((await store.latest(A.site)).map((r) => `${r.sensor}@${r.edge}=${r.value}`)).toEqual(['rain-1@pump-house=0.2', 'soil-1@field-north=3', 'soil-2@field-north=5']);
        expect((await store.latest(A.site, A.edge)).map((r) => `${r.sensor}=${r.value}`)).toEqual(['rain-1=0.2', 'soil-1=1']);
        expect(await store.latest('nowhere')).toEqual([]);
      });

      it('keeps an error reading (null value) as the latest', async () => {
        await store.storeReadings(A, [1, 2], [reading('soil-1', T0, 20), reading('soil-1', T0 + 1000, null)]);
        expect(await store.latest(A.site)).toEqual([{ edge: A.edge, ...reading('soil-1', T0 + 1000, null) }]);
      });
    });

    describe('events', () => {
      const evs: [EdgeRef, number, Event][] = [
        [A, 1, event(T0 + 1000, 'zone.watered', 'zone-1', { mm: 4.5, inputs: { soil: 18 } })],
        [A, 2, event(T0 + 2000, 'zone.skipped', 'zone-1', { reason: 'rain' })],
        [A, 3, event(T0 + 3000, 'device.offline', 'modbus-3')],
        [B, 1, event(T0 + 2500, 'zone.watered', 'zone-2')],
        [OTHER, 1, event(T0 + 4000, 'zone.watered', 'zone-1')],
      ];
      beforeEach(async () => {
        for (const [ref, seq, e] of evs) await store.storeEvents(ref, [seq], [e]);
      });

      it('round-trips every field, newest first', async () => {
        const got = await store.events(A.site, { limit: 10 });
        expect(got.map((e) => `${e.edge}:${e.seq}`)).toEqual(['pump-house:3', 'field-north:1', 'pump-house:2', 'pump-house:1']);
        expect(got[3]).toEqual({ edge: A.edge, seq: 1, ...evs[0]?.[2] });
      });

      it.each([
        { name: 'edge', opts: { edge: B.edge }, want: ['field-north:1'] },
        { name: 'since (inclusive)', opts: { since: T0 + 2500 }, want: ['pump-house:3', 'field-north:1'] },
        { name: 'kind', opts: { kind: 'zone.watered' }, want: ['field-north:1', 'pump-house:1'] },
        { name: 'source', opts: { source: 'zone-1' }, want: ['pump-house:2', 'pump-house:1'] },
        { name: 'kind and edge', opts: { kind: 'zone.watered', edge: A.edge }, want: ['pump-house:1'] },
        { name: 'limit', opts: { limit: 2 }, want: ['pump-house:3', 'field-north:1'] },
        { name: 'nothing matches', opts: { kind: 'pump.started' }, want: [] },
      ])('filters by $name', async ({ opts, want }) => {
        const got = await store.events(A.site, { limit: 10, ...opts });
        expect(got.map((e) => `${e.edge}:${e.seq}`)).toEqual(want);
      });
    });

    describe('quarantine', () => {
      it('lists newest first, optionally for one site, at most limit', async () => {
        await store.quarantine({ at: T0 + 1000, site: 'village-a', edge: 'pump-house', topic: 'sv/v1/village-a/pump-house/telemetry', reason: 'bad frame', payload: 'AAEC' });
        await store.quarantine({ at: T0 + 3000, topic: 'sv/v1/???', reason: 'bad topic', payload: '' });
        await store.quarantine({ at: T0 + 2000, site: 'village-b', topic: 'sv/v1/village-b/x/events', reason: 'unknown edge', payload: 'eyJ9' });
        const all = await store.listQuarantine(10);
        expect(all.map((q) => q.reason)).toEqual(['bad topic', 'unknown edge', 'bad frame']);
        expect(all[2]).toEqual({ id: expect.any(Number), at: T0 + 1000, site: 'village-a', edge: 'pump-house', topic: 'sv/v1/village-a/pump-house/telemetry', reason: 'bad frame', payload: 'AAEC' });
        expect(all[0]).not.toHaveProperty('site');
        expect(all[0]).not.toHaveProperty('edge');
        expect((await store.listQuarantine(10, 'village-a')).map((q) => q.reason)).toEqual(['bad frame']);
        expect(await store.listQuarantine(1)).toHaveLength(1);
      });
    });

    describe('history and downsampling', () => {
      /** Two days of soil-1 every 10 min from A and, for the first day, every 30 min from B. */
      async function seedTwoDays(): Promise<Reading[]> {
        const a: Reading[] = [];
        for (let t = T0; t < T0 + 48 * H; t += 10 * 60_000) a.push(reading('soil-1', t, 20 + ((t - T0) / 60_000) % 17));
        const b: Reading[] = [];
        for (let t = T0 + 5 * 60_000; t < T0 + 24 * H; t += 30 * 60_000) b.push(reading('soil-1', t, 40 - ((t - T0) / 60_000) % 11));
        // An error reading in the middle must not count.
        b.push(reading('soil-1', T0 + 7 * 60_000, null));
        await store.storeReadings(A, range(1, a.length), a);
        await store.storeReadings(B, range(1, b.length), b);
        return [...a, ...b];
      }

      function expected(all: Reading[], from: number, to: number, bucketMs: number) {
        const byT = new Map<number, Reading[]>();
        for (const r of all) {
          if (r.value === null || r.ts < from || r.ts >= to) continue;
          const t = Math.floor(r.ts / bucketMs) * bucketMs;
          byT.set(t, [...(byT.get(t) ?? []), r]);
        }
        return [...byT.entries()]
          .sort(([x], [y]) => x - y)
          .map(([t, rs]) => {
            const newest = rs.reduce((m, r) => (r.ts > m.ts ? r : m));
            return { t, ...stats(rs.map((r) => r.value as number)), last: newest.value };
          });
      }

      function expectBuckets(got: { t: number; min: number; avg: number; max: number; last: number; count: number }[], want: ReturnType<typeof expected>): void {
        expect(got.map((b) => b.t)).toEqual(want.map((b) => b.t));
        got.forEach((b, i) => {
          const w = want[i] as (typeof want)[number];
          expect({ t: b.t, min: b.min, max: b.max, last: b.last, count: b.count }).toEqual({ t: w.t, min: w.min, max: w.max, last: w.last, count: w.count });
          expect(b.avg).toBeCloseTo(w.avg, 9);
        });
      }

      it.each([
        { name: '5 min buckets over 3 hours', from: T0 + 2 * H, to: T0 + 5 * H, bucket: 5 * 60_000 },
        { name: 'hour buckets over a day', from: T0, to: T0 + 24 * H, bucket: H },
        { name: 'day buckets over two days', from: T0, to: T0 + 48 * H, bucket: 24 * H },
        { name: 'unaligned range and 7 min buckets', from: T0 + 13 * 60_000, to: T0 + 3 * H + 1, bucket: 7 * 60_000 },
      ])('aggregates raw rows: $name', async ({ from, to, bucket }) => {
        const all = await seedTwoDays();
        expectBuckets(await store.history(A.site, 'soil-1', from, to, bucket), expected(all, from, to, bucket));
      });

      it('omits empty buckets, keeps [from, to) bounds, and ignores other sites and sensors', async () => {
        await store.storeReadings(A, [1, 2, 3, 4], [reading('soil-1', T0, 1), reading('soil-1', T0 + 3 * H, 3), reading('soil-1', T0 + 4 * H, 4), reading('soil-2', T0 + H, 9)]);
        await store.storeReadings(OTHER, [1], [reading('soil-1', T0 + H, 7)]);
        const got = await store.history(A.site, 'soil-1', T0, T0 + 4 * H, H);
        expect(got).toEqual([
          { t: T0, min: 1, avg: 1, max: 1, last: 1, count: 1 },
          { t: T0 + 3 * H, min: 3, avg: 3, max: 3, last: 3, count: 1 },
        ]);
        expect(await store.history(A.site, 'nothing', T0, T0 + 4 * H, H)).toEqual([]);
      });

      it('omits a bucket with only error readings', async () => {
        await store.storeReadings(A, [1, 2], [reading('soil-1', T0, null), reading('soil-1', T0 + H, 5)]);
        expect((await store.history(A.site, 'soil-1', T0, T0 + 2 * H, H)).map((b) => b.t)).toEqual([T0 + H]);
      });

      it.each([0, -5, 1.5, Number.NaN])('rejects bucket %s', async (bucket) => {
        await expect(store.history(A.site, 'soil-1', T0, T0 + H, bucket)).rejects.toMatchObject({ code: 'STORE_FAILED' });
      });

      it('downsamples whole hours before the cutoff, idempotently, and history reads through it', async () => {
        const all = await seedTwoDays();
        const cut = T0 + 24 * H + 30 * 60_000; // mid-hour: only whole hours before it go
        const dayBefore = await store.history(A.site, 'soil-1', T0, T0 + 48 * H, 24 * H);
        const hoursBefore = await store.history(A.site, 'soil-1', T0, T0 + 48 * H, H);

        const first = await store.downsample(cut);
        const rawGone = all.filter((r) => r.ts < T0 + 24 * H).length;
        expect(first.deleted).toBe(rawGone);
        expect(first.aggregated).toBe(24); // one row per sensor-hour: A and B share the sensor
        expect(await store.downsample(cut)).toEqual({ aggregated: 0, deleted: 0 });

        // Raw rows before the cutoff hour are gone; those of the cut hour stay.
        const raw = await store.readings(A.site, 'soil-1', 0, T0 + 48 * H, 10_000);
        expect(raw.every((r) => r.ts >= T0 + 24 * H)).toBe(true);
        expect(raw.some((r) => r.ts < cut)).toBe(true);

        const close = (x: typeof dayBefore, y: typeof dayBefore) => {
          expect(x.map(({ avg: _a, ...b }) => b)).toEqual(y.map(({ avg: _a, ...b }) => b));
          x.forEach((b, i) => expect(b.avg).toBeCloseTo((y[i] as (typeof y)[number]).avg, 9));
        };
        close(await store.history(A.site, 'soil-1', T0, T0 + 48 * H, 24 * H), dayBefore);
        close(await store.history(A.site, 'soil-1', T0, T0 + 48 * H, H), hoursBefore);
        // Two hours as 2-hour buckets: merged from two hourly rows, avg weighted by count.
        expectBuckets(await store.history(A.site, 'soil-1', T0 + 2 * H, T0 + 4 * H, 2 * H), expected(all, T0 + 2 * H, T0 + 4 * H, 2 * H));
        // Latest is kept apart from raw rows and survives.
        expect((await store.latest(A.site, A.edge))[0]?.ts).toBe(T0 + 48 * H - 10 * 60_000);
      });

      it('returns downsampled hours as they are when asked for finer buckets', async () => {
        const all = await seedTwoDays();
        await store.downsample(T0 + 2 * H);
        const got = await store.history(A.site, 'soil-1', T0 + H, T0 + 3 * H, 5 * 60_000);
        // Hour T0+1h comes back as one bucket at the hour's start; the next hour is still raw.
        expectBuckets(got, [...expected(all, T0 + H, T0 + 2 * H, H), ...expected(all, T0 + 2 * H, T0 + 3 * H, 5 * 60_000)]);
      });

      it('merges readings that arrive late for an already downsampled hour', async () => {
        await store.storeReadings(A, [1, 2], [reading('soil-1', T0 + 10 * 60_000, 10), reading('soil-1', T0 + 20 * 60_000, 20)]);
        expect(await store.downsample(T0 + H)).toEqual({ aggregated: 1, deleted: 2 });
        // The edge was offline: older readings of that hour arrive after the downsample.
        await store.storeReadings(B, [1, 2], [reading('soil-1', T0 + 5 * 60_000, 60), reading('soil-1', T0 + 50 * 60_000, 2)]);
        expect(await store.history(A.site, 'soil-1', T0, T0 + H, H)).toEqual([
          // Raw and hourly parts of one bucket merge: weighted avg, newest last.
          { t: T0, min: 2, avg: 23, max: 60, last: 2, count: 4 },
        ]);
        expect(await store.downsample(T0 + H)).toEqual({ aggregated: 1, deleted: 2 });
        expect(await store.history(A.site, 'soil-1', T0, T0 + H, H)).toEqual([{ t: T0, min: 2, avg: 23, max: 60, last: 2, count: 4 }]);
        expect(await store.readings(A.site, 'soil-1', 0, T0 + H, 10)).toEqual([]);
      });

      it('has nothing to do on an empty store', async () => {
        expect(await store.downsample(T0 + 100 * H)).toEqual({ aggregated: 0, deleted: 0 });
      });
    });

    describe('API tokens', () => {
      const hash = (c: string): string => c.repeat(64);

      it('finds a token by its hash only, and lists tokens by name', async () => {
        expect(await store.listTokens()).toEqual([]);
        await store.addToken('hall-screen', 'viewer', hash('a'), T0);
        await store.addToken('agronomist', 'operator', hash('b'), T0 + 1);
        await store.addToken('Zed', 'admin', hash('c'), T0 + 2);
        expect(await store.findToken(hash('a'))).toEqual({ name: 'hall-screen', role: 'viewer', createdAt: T0 });
        expect(await store.findToken(hash('b'))).toEqual({ name: 'agronomist', role: 'operator', createdAt: T0 + 1 });
        expect(await store.findToken(hash('d'))).toBeUndefined();
        expect(await store.findToken('hall-screen')).toBeUndefined();
        // Byte order, so both stores agree whatever the database locale.
        expect((await store.listTokens()).map((t) => t.name)).toEqual(['Zed', 'agronomist', 'hall-screen']);
      });

      it('replaces role and hash when a name is added again (the old token stops working)', async () => {
        await store.addToken('hall-screen', 'viewer', hash('a'), T0);
        await store.addToken('hall-screen', 'operator', hash('e'), T0 + 5);
        expect(await store.findToken(hash('a'))).toBeUndefined();
        expect(await store.findToken(hash('e'))).toEqual({ name: 'hall-screen', role: 'operator', createdAt: T0 + 5 });
        expect(await store.listTokens()).toEqual([{ name: 'hall-screen', role: 'operator', createdAt: T0 + 5 }]);
      });
    });

    describe('users and sessions', () => {
      const lan: UserRecord = { name: 'lan', role: 'farmer', site: 'village-a', fields: ['ruong-1', 'ruong-2'], passwordHash: 'scrypt$lan', createdAt: T0 };
      const binh: UserRecord = { name: 'binh', role: 'operator', site: 'village-a', fields: null, passwordHash: 'scrypt$binh', createdAt: T0 + 1 };
      const session = (idHash: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
        idHash,
        kind: 'user',
        subject: 'lan',
        site: 'village-a',
        csrf: `csrf-${idHash}`,
        createdAt: T0,
        expiresAt: T0 + 30 * 24 * H,
        ...over,
      });

      it('adds users, reads them back (fields as a list or null), lists them by name', async () => {
        expect(await store.listUsers()).toEqual([]);
        await store.addUser(lan);
        await store.addUser(binh);
        expect(await store.getUser('lan')).toEqual(lan);
        expect(await store.getUser('binh')).toEqual(binh);
        expect(await store.getUser('nobody')).toBeUndefined();
        expect((await store.listUsers()).map((u) => u.name)).toEqual(['binh', 'lan']);
      });

      it('refuses a user name twice and keeps the first', async () => {
        await store.addUser(lan);
        await expect(store.addUser({ ...lan, role: 'admin', passwordHash: 'scrypt$other' })).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('already exists') });
        expect(await store.getUser('lan')).toEqual(lan);
      });

      it('finds, renews and removes sessions; kiosk sessions keep their token hash', async () => {
        await store.addUser(lan);
        await store.addSession(session('a'));
        await store.addSession(session('k', { kind: 'kiosk', subject: 'hall-screen', tokenHash: 'f'.repeat(64), expiresAt: T0 + 365 * 24 * H }));
        expect(await store.findSession('a')).toEqual(session('a'));
        expect(await store.findSession('k')).toEqual(session('k', { kind: 'kiosk', subject: 'hall-screen', tokenHash: 'f'.repeat(64), expiresAt: T0 + 365 * 24 * H }));
        expect(await store.findSession('csrf-a')).toBeUndefined();
        await store.renewSession('a', T0 + 40 * 24 * H);
        expect((await store.findSession('a'))?.expiresAt).toBe(T0 + 40 * 24 * H);
        await store.removeSession('a');
        expect(await store.findSession('a')).toBeUndefined();
        expect(await store.findSession('k')).toBeDefined();
      });

      it('removes expired sessions only', async () => {
        await store.addSession(session('old', { expiresAt: T0 + H }));
        await store.addSession(session('edge', { expiresAt: T0 + 2 * H }));
        await store.addSession(session('new', { expiresAt: T0 + 3 * H }));
        expect(await store.removeExpiredSessions(T0 + 2 * H)).toBe(2);
        expect(await store.findSession('old')).toBeUndefined();
        expect(await store.findSession('edge')).toBeUndefined();
        expect(await store.findSession('new')).toBeDefined();
        expect(await store.removeExpiredSessions(T0 + 2 * H)).toBe(0);
      });

      it('removing a user ends their sessions, not others', async () => {
        await store.addUser(lan);
        await store.addUser(binh);
        await store.addSession(session('a'));
        await store.addSession(session('b', { subject: 'binh' }));
        // A kiosk that happens to share the name is not the user's.
        await store.addSession(session('k', { kind: 'kiosk', subject: 'lan', tokenHash: 'e'.repeat(64) }));
        expect(await store.removeUser('lan')).toBe(true);
        expect(await store.removeUser('lan')).toBe(false);
        expect(await store.getUser('lan')).toBeUndefined();
        expect(await store.findSession('a')).toBeUndefined();
        expect(await store.findSession('b')).toBeDefined();
        expect(await store.findSession('k')).toBeDefined();
      });
    });

    describe('commands', () => {
      const cmd = (id: string, over: Partial<CommandRecord> = {}): CommandRecord => ({
        id,
        site: 'village-a',
        edge: 'pump-house',
        by: 'lan',
        action: { type: 'water', zone: 'zone-1', duration: 600_000 },
        issuedAt: T0,
        ttl: 60_000,
        status: 'sent',
        updatedAt: T0,
        ...over,
      });

      it('stores an audit row and lists a site newest first, by issuer, updated since', async () => {
        await store.addCommand(cmd('c1'));
        await store.addCommand(cmd('c2', { issuedAt: T0 + 1000, updatedAt: T0 + 1000, by: 'token:technician', action: { type: 'pause', duration: 3_600_000 } }));
        await store.addCommand(cmd('c3', { issuedAt: T0 + 2000, updatedAt: T0 + 2000, edge: 'field-north', action: { type: 'stop' } }));
        await store.addCommand(cmd('c4', { site: 'village-b', issuedAt: T0 + 3000, updatedAt: T0 + 3000 }));
        expect(await store.listCommands('village-a', { limit: 10 })).toEqual([
          cmd('c3', { issuedAt: T0 + 2000, updatedAt: T0 + 2000, edge: 'field-north', action: { type: 'stop' } }),
          cmd('c2', { issuedAt: T0 + 1000, updatedAt: T0 + 1000, by: 'token:technician', action: { type: 'pause', duration: 3_600_000 } }),
          cmd('c1'),
        ]);
        expect((await store.listCommands('village-a', { limit: 2 })).map((c) => c.id)).toEqual(['c3', 'c2']);
        expect((await store.listCommands('village-a', { by: 'lan', limit: 10 })).map((c) => c.id)).toEqual(['c3', 'c1']);
        expect((await store.listCommands('village-a', { updatedSince: T0 + 1000, limit: 10 })).map((c) => c.id)).toEqual(['c3', 'c2']);
        expect((await store.listCommands('village-b', { limit: 10 })).map((c) => c.id)).toEqual(['c4']);
      });

      it('refuses a command for an edge that was never added', async () => {
        await expect(store.addCommand(cmd('c1', { edge: 'nobody' }))).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('not registered') });
        expect(await store.listCommands('village-a', { limit: 10 })).toEqual([]);
      });

      it('applies results forward only, and only from the edge the command went to', async () => {
        await store.addCommand(cmd('c1'));
        // Another edge cannot answer for it.
        expect(await store.commandResult(B, 'c1', 'rejected', 'not mine', T0 + 1)).toBeUndefined();
        expect(await store.commandResult(A, 'nope', 'accepted', undefined, T0 + 1)).toBeUndefined();
        expect(await store.commandResult(A, 'c1', 'accepted', undefined, T0 + 100)).toEqual(cmd('c1', { status: 'accepted', updatedAt: T0 + 100 }));
        // A repeated accept changes nothing.
        expect(await store.commandResult(A, 'c1', 'accepted', undefined, T0 + 150)).toBeUndefined();
        expect(await store.commandResult(A, 'c1', 'done', 'watered 10 min', T0 + 200)).toEqual(cmd('c1', { status: 'done', reason: 'watered 10 min', updatedAt: T0 + 200 }));
        // Terminal: nothing moves it any more.
        for (const s of ['accepted', 'rejected', 'failed', 'done'] as const) expect(await store.commandResult(A, 'c1', s, 'late', T0 + 300)).toBeUndefined();
        expect((await store.listCommands('village-a', { limit: 1 }))[0]).toMatchObject({ status: 'done', reason: 'watered 10 min', updatedAt: T0 + 200 });
      });

      it('a rejection ends a command at once', async () => {
        await store.addCommand(cmd('c1'));
        expect(await store.commandResult(A, 'c1', 'rejected', 'tank below 15 %', T0 + 5)).toMatchObject({ status: 'rejected', reason: 'tank below 15 %' });
        expect(await store.commandResult(A, 'c1', 'accepted', undefined, T0 + 6)).toBeUndefined();
      });

      it('expires commands with no answer by issuedAt + ttl, once; a late answer still counts', async () => {
        await store.addCommand(cmd('c1'));
        await store.addCommand(cmd('c2', { issuedAt: T0 + 10_000, updatedAt: T0 + 10_000 }));
        await store.addCommand(cmd('c3'));
        await store.commandResult(A, 'c3', 'accepted', undefined, T0 + 1);
        expect(await store.expireCommands(T0 + 59_999)).toEqual([]);
        expect(await store.expireCommands(T0 + 60_000)).toEqual([cmd('c1', { status: 'expired', updatedAt: T0 + 60_000 })]);
        expect(await store.expireCommands(T0 + 60_000)).toEqual([]);
        expect((await store.expireCommands(T0 + 80_000)).map((c) => c.id)).toEqual(['c2']);
        // The edge's word wins over our guess that it never came.
        expect(await store.commandResult(A, 'c1', 'done', undefined, T0 + 90_000)).toMatchObject({ status: 'done' });
        expect((await store.listCommands('village-a', { limit: 10 })).map((c) => [c.id, c.status])).toEqual([
          ['c2', 'expired'],
          // Same issuedAt: by id, descending.
          ['c3', 'accepted'],
          ['c1', 'done'],
        ]);
      });
    });

    describe('edge state and announcements', () => {
      const state = (ts: number, extra: Partial<EdgeState> = {}): EdgeState => ({
        ts,
        readings: [reading('soil-1', ts, 31)],
        control: {
          outputs: [{ id: 'valve-1', kind: 'valve', on: true, until: ts + 600_000, reason: 'manual by lan' }],
          zones: [{ id: 'zone-1', name: 'Ruộng Lan', field: 'ruong-1', state: 'running', manualAllowed: true }],
          lights: [],
        },
        meta: {
          site: { name: 'Thôn A', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21.02, lon: 105.85 },
          sensors: [{ id: 'soil-1', name: 'Đất ruộng Lan', field: 'ruong-1', quantity: 'soil-moisture', unit: '%VWC' }],
        },
        ...extra,
      });

      it('keeps the latest state per edge, of one site, by edge', async () => {
        expect(await store.edgeStates('village-a')).toEqual([]);
        await store.putEdgeState(A, state(T0), T0 + 5);
        await store.putEdgeState(B, state(T0 + 1, { control: undefined }), T0 + 6);
        await store.putEdgeState(OTHER, state(T0 + 2), T0 + 7);
        await store.putEdgeState(A, state(T0 + 10), T0 + 15);
        const { control: _none, ...withoutControl } = state(T0 + 1);
        expect(await store.edgeStates('village-a')).toEqual([
          { ...B, receivedAt: T0 + 6, state: withoutControl },
          { ...A, receivedAt: T0 + 15, state: state(T0 + 10) },
        ]);
        expect((await store.edgeStates('village-b')).map((s) => s.edge)).toEqual(['pump-house']);
      });

      it('refuses the state of an edge that was never added', async () => {
        await expect(store.putEdgeState({ site: 'village-a', edge: 'ghost' }, state(T0), T0)).rejects.toMatchObject({ code: 'STORE_FAILED' });
        expect(await store.edgeStates('village-a')).toEqual([]);
      });

      it('sets, replaces and clears an announcement per site', async () => {
        expect(await store.getAnnouncement('village-a')).toBeUndefined();
        await store.setAnnouncement('village-a', { text: 'Họp thôn 19h', by: 'binh', updatedAt: T0 });
        await store.setAnnouncement('village-a', { text: 'Họp thôn 20h', by: 'an', updatedAt: T0 + 1 });
        await store.setAnnouncement('village-b', { text: 'other', by: 'x', updatedAt: T0 });
        expect(await store.getAnnouncement('village-a')).toEqual({ text: 'Họp thôn 20h', by: 'an', updatedAt: T0 + 1 });
        await store.setAnnouncement('village-a', null);
        expect(await store.getAnnouncement('village-a')).toBeUndefined();
        expect(await store.getAnnouncement('village-b')).toMatchObject({ text: 'other' });
      });
    });
  });
}
