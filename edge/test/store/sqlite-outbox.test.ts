import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventInput, Reading } from '@smart-village/shared';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox, type SqliteOutboxOptions } from '../../src/store/sqlite-outbox.js';
import type { OutboxRow } from '../../src/store/types.js';

const T0 = Date.UTC(2025, 0, 1);
const DAY = 24 * 3600_000;
/** For tests that advance days: fewer idle timer passes, same behaviour. */
const COARSE = { commitInterval: 60_000, retentionInterval: 3600_000 };

let dir: string;
let path: string;
let clock: ManualClock;
let logLines: Record<string, unknown>[];
const open: SqliteOutbox[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-outbox-'));
  path = join(dir, 'outbox.sqlite');
  clock = new ManualClock(T0);
  logLines = [];
});

afterEach(() => {
  for (const o of open.splice(0)) o.stop();
  rmSync(dir, { recursive: true, force: true });
});

function outbox(opts: Partial<SqliteOutboxOptions> = {}): SqliteOutbox {
  const destination = { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) } as unknown as NodeJS.WritableStream;
  const o = new SqliteOutbox({ path, clock, log: createLogger({ level: 'debug', destination }), ...opts });
  open.push(o);
  return o;
}

function reading(sensor: string, ts: number, value: number | null = 1): Reading {
  return { sensor, ts, value, unit: '%VWC', quality: value === null ? 'error' : 'good', clockSynced: true };
}

function event(kind = 'device.offline', source = 'soil-1'): EventInput {
  return { ts: clock.now(), clockSynced: true, kind, severity: 'warning', source, message: `${source} ${kind}` };
}

function seqs(rows: OutboxRow[]): number[] {
  return rows.map((r) => r.seq);
}

/** Reads the file behind the outbox's back, as an operator (or the crash test) would. */
function raw<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe('SqliteOutbox', () => {
  it('numbers readings and events from one strictly increasing sequence', () => {
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0), reading('soil-2', T0)]);
    o.addEvent(event());
    o.addReadings([reading('soil-1', T0 + 1)]);
    expect(o.flush()).toBe(4);
    o.addEvent(event('device.online'));
    o.addReadings([reading('soil-2', T0 + 2, null)]);
    expect(o.flush()).toBe(2);

    const rows = o.rowsAfter(0, 100);
    expect(seqs(rows)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.map((r) => r.kind)).toEqual(['reading', 'reading', 'event', 'reading', 'event', 'reading']);
    expect(rows[5]).toEqual({ seq: 6, kind: 'reading', reading: reading('soil-2', T0 + 2, null) });
    expect(rows[2]).toEqual({ seq: 3, kind: 'event', event: { ...event(), data: {} } });
    expect(o.stats()).toMatchObject({ lastSeq: 6, ackedSeq: 0, depth: 6, buffered: 0, droppedUnsent: 0 });
  });

  it('commits on the clock every commitInterval, not before', () => {
    const o = outbox({ commitInterval: 1000 });
    o.start();
    o.addReadings([reading('soil-1', T0)]);
    clock.advance(999);
    expect(o.rowsAfter(0, 10)).toEqual([]);
    expect(o.stats().buffered).toBe(1);
    clock.advance(1);
    expect(seqs(o.rowsAfter(0, 10))).toEqual([1]);
    expect(o.stats().buffered).toBe(0);

    o.addEvent(event());
    clock.advance(1000);
    expect(seqs(o.rowsAfter(0, 10))).toEqual([1, 2]);
  });

  it('keeps buffered rows invisible until they are committed', () => {
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0, 5)]);
    o.addEvent(event());
    expect(o.rowsAfter(0, 10)).toEqual([]);
    expect(o.latest()).toEqual([]);
    expect(o.recentEvents(10)).toEqual([]);
    expect(o.stats()).toMatchObject({ depth: 0, lastSeq: 0, buffered: 2 });
    expect(raw((db) => db.prepare('SELECT count(*) FROM readings').pluck().get())).toBe(0);

    expect(o.flush()).toBe(2);
    expect(o.flush()).toBe(0);
    expect(o.latest()).toEqual([reading('soil-1', T0, 5)]);
    expect(o.recentEvents(10)).toHaveLength(1);
    expect(raw((db) => db.prepare('SELECT count(*) FROM readings').pluck().get())).toBe(1);
  });

  it('returns rows after a seq in order, at most limit', () => {
    const o = outbox();
    o.start();
    for (let i = 0; i < 10; i++) {
      o.addReadings([reading('soil-1', T0 + i, i)]);
      if (i % 3 === 0) o.addEvent(event());
    }
    o.flush();
    expect(seqs(o.rowsAfter(0, 100))).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(seqs(o.rowsAfter(0, 5))).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(o.rowsAfter(5, 4))).toEqual([6, 7, 8, 9]);
    expect(seqs(o.rowsAfter(12, 100))).toEqual([13, 14]);
    expect(o.rowsAfter(14, 100)).toEqual([]);
    expect(o.rowsAfter(0, 0)).toEqual([]);
  });

  it('persists the acknowledgement cursor across reopen and never moves it back', () => {
    const o = outbox();
    o.start();
    o.addReadings([1, 2, 3, 4, 5].map((i) => reading('soil-1', T0 + i)));
    o.flush();
    o.acknowledge(3);
    expect(o.stats()).toMatchObject({ ackedSeq: 3, depth: 2 });
    o.acknowledge(2);
    o.acknowledge(-1);
    o.acknowledge(Number.NaN);
    expect(o.stats()).toMatchObject({ ackedSeq: 3, depth: 2 });
    o.stop();

    const again = outbox();
    again.start();
    expect(again.stats()).toMatchObject({ ackedSeq: 3, depth: 2, lastSeq: 5 });
    again.acknowledge(1);
    expect(again.stats().ackedSeq).toBe(3);
    again.acknowledge(5);
    expect(again.stats()).toMatchObject({ ackedSeq: 5, depth: 0 });
  });

  it('counts depth as committed rows not yet acknowledged', () => {
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0), reading('soil-1', T0 + 1)]);
    o.addEvent(event());
    expect(o.stats().depth).toBe(0);
    o.flush();
    expect(o.stats().depth).toBe(3);
    o.acknowledge(2);
    expect(o.stats().depth).toBe(1);
    o.addReadings([reading('soil-1', T0 + 2)]);
    o.flush();
    expect(o.stats().depth).toBe(2);
  });

  it('continues the sequence above an acknowledgement beyond what it holds', () => {
    // The file was replaced, or a lying disk lost a tail the cloud already has.
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0)]);
    o.flush();
    o.acknowledge(40);
    expect(o.stats()).toMatchObject({ lastSeq: 40, ackedSeq: 40, depth: 0 });
    o.addReadings([reading('soil-1', T0 + 1)]);
    o.flush();
    expect(seqs(o.rowsAfter(40, 10))).toEqual([41]);
  });

  it('keeps the newest reading per sensor in latest(), even after retention deleted it', () => {
    const o = outbox({ retentionMs: DAY, ...COARSE });
    o.start();
    o.addReadings([reading('soil-1', T0, 1), reading('soil-2', T0, 10), reading('soil-1', T0 + 2, 3), reading('soil-1', T0 + 1, 2)]);
    o.flush();
    o.addReadings([{ ...reading('tank-1', T0, 120), unit: 'cm' }]);
    // A late reading (older ts) does not hide the newer one already stored.
    o.addReadings([reading('soil-2', T0 - 5, 9)]);
    o.flush();
    const latest = o.latest();
    expect(latest).toEqual([reading('soil-1', T0 + 2, 3), reading('soil-2', T0, 10), { ...reading('tank-1', T0, 120), unit: 'cm' }]);

    o.acknowledge(o.stats().lastSeq);
    clock.advance(2 * DAY);
    o.enforceRetention();
    expect(o.rowsAfter(0, 100)).toEqual([]);
    expect(o.latest()).toEqual(latest);
  });

  it('deletes by age only what the cloud acknowledged', () => {
    const o = outbox({ retentionMs: DAY, ...COARSE });
    o.start();
    o.addReadings([reading('soil-1', T0), reading('soil-1', T0 + 1)]);
    o.addEvent(event());
    o.addReadings([reading('soil-1', T0 + 2), reading('soil-1', T0 + 3)]);
    o.flush();
    o.acknowledge(3);
    clock.advance(DAY / 2);
    o.addReadings([reading('soil-1', clock.now())]);
    o.flush();

    // Nothing is old enough yet.
    o.enforceRetention();
    expect(seqs(o.rowsAfter(0, 100))).toEqual([1, 2, 3, 4, 5, 6]);

    // 1-3 are old and acknowledged: gone. 4-5 are old but unsent: kept. 6 is young.
    clock.advance(DAY);
    o.enforceRetention();
    expect(seqs(o.rowsAfter(0, 100))).toEqual([4, 5, 6]);
    expect(o.recentEvents(10)).toEqual([]);

    // Once acknowledged, 4-5 go too; 6 is exactly at the cutoff and stays.
    o.acknowledge(6);
    o.enforceRetention();
    expect(seqs(o.rowsAfter(0, 100))).toEqual([6]);
    expect(o.stats()).toMatchObject({ depth: 0, lastSeq: 6, droppedUnsent: 0 });
  });

  it('never deletes unacknowledged rows by age', () => {
    const o = outbox({ retentionMs: DAY, ...COARSE });
    o.start();
    o.addReadings([reading('soil-1', T0), reading('soil-1', T0 + 1), reading('soil-1', T0 + 2)]);
    o.addEvent(event());
    o.flush();
    o.acknowledge(2);
    clock.advance(10 * DAY);
    o.enforceRetention();
    expect(seqs(o.rowsAfter(0, 100))).toEqual([3, 4]);
    expect(o.stats()).toMatchObject({ depth: 2, droppedUnsent: 0 });
  });

  it('runs retention on the clock', () => {
    const o = outbox({ retentionMs: DAY, retentionInterval: 60_000 });
    o.start();
    o.addReadings([reading('soil-1', T0)]);
    o.flush();
    o.acknowledge(1);
    clock.advance(DAY + 60_000);
    expect(o.rowsAfter(0, 10)).toEqual([]);
  });

  it('drops the oldest telemetry to stay within the quota, never events, and says so', () => {
    const quotaBytes = 256 * 1024;
    const o = outbox({ quotaBytes });
    o.start();
    for (let i = 0; i < 20; i++) {
      o.addEvent(event('device.offline', `dev-${i}`));
      o.addReadings(Array.from({ length: 1000 }, (_, k) => reading(`soil-${k % 7}`, T0 + i * 1000 + k, k)));
      o.flush();
    }
    const lastSeq = o.stats().lastSeq;
    expect(lastSeq).toBe(20 * 1001);
    o.acknowledge(5000);
    o.enforceRetention();

    const rows = o.rowsAfter(0, 1_000_000);
    const readings = rows.filter((r) => r.kind === 'reading');
    const events = rows.filter((r) => r.kind === 'event');
    // All 20 events are still there, plus the one that reports the drop.
    expect(events.map((e) => (e.kind === 'event' ? e.event.source : ''))).toEqual([...Array.from({ length: 20 }, (_, i) => `dev-${i}`), 'outbox']);
    // What is left of the readings is the newest ones, contiguous up to the last.
    expect(readings.length).toBeGreaterThan(0);
    expect(readings.length).toBeLessThan(20_000);
    const firstKept = readings[0]!.seq;
    expect(readings.at(-1)!.seq).toBe(lastSeq);
    expect(readings.every((r, i) => i === 0 || r.seq > readings[i - 1]!.seq)).toBe(true);
    expect(rows.filter((r) => r.kind === 'reading' && r.seq >= firstKept)).toHaveLength(readings.length);

    const [dropped] = o.recentEvents(1, { kind: 'store.dropped' });
    expect(dropped).toMatchObject({ kind: 'store.dropped', severity: 'warning', source: 'outbox' });
    const data = dropped!.data as Record<string, number>;
    expect(data.readings).toBe(20_000 - readings.length);
    expect(data.fromSeq).toBe(2);
    expect(data.toSeq).toBe(firstKept - 1);
    // Everything beyond the cursor (5000) that went was unsent.
    const unsentDropped = (data.readings ?? 0) - 5000 + 5; // seqs 1..5000 hold 5 events
    expect(data.unsent).toBe(unsentDropped);
    expect(o.stats()).toMatchObject({ droppedUnsent: unsentDropped, lastSeq: lastSeq + 1 });
    expect(rows.at(-1)!.seq).toBe(lastSeq + 1);

    o.stop();
    const used = raw((db) => ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * (db.pragma('page_size', { simple: true }) as number));
    expect(used).toBeLessThanOrEqual(quotaBytes);

    // droppedUnsent is persisted too.
    const again = outbox({ quotaBytes });
    expect(again.stats().droppedUnsent).toBe(unsentDropped);
  });

  it('does nothing when within the quota', () => {
    const o = outbox({ quotaBytes: 64 * 1024 * 1024 });
    o.start();
    o.addReadings(Array.from({ length: 1000 }, (_, k) => reading('soil-1', T0 + k)));
    o.flush();
    o.enforceRetention();
    expect(o.rowsAfter(0, 10_000)).toHaveLength(1000);
    expect(o.recentEvents(10)).toEqual([]);
  });

  it('rejects an invalid reading without affecting the valid ones', () => {
    const o = outbox();
    o.start();
    const bad = [
      { ...reading('soil-1', T0), value: Number.NaN },
      { ...reading('soil-1', T0), value: null }, // null without quality "error"
      { ...reading('soil-1', T0), unit: 'furlongs' },
      { ...reading('Soil 1', T0) },
      { ...reading('soil-1', -5) },
      { ...reading('soil-1', T0), extra: true },
      null,
      'soil-1=5',
    ] as unknown as Reading[];
    o.addReadings([reading('soil-1', T0, 1), ...bad, reading('soil-2', T0, 2)]);
    o.addEvent({ ts: T0, clockSynced: true, kind: 'NotDotted', severity: 'info', source: 'x', message: '' });
    o.addEvent(null as unknown as EventInput);
    expect(o.flush()).toBe(2);
    expect(o.rowsAfter(0, 10).map((r) => (r.kind === 'reading' ? r.reading.sensor : r.kind))).toEqual(['soil-1', 'soil-2']);
    expect(o.rejected).toBe(bad.length + 2);
    // Logged, but rate-limited: one line per kind of problem, not one per bad row.
    const warned = logLines.filter((l) => l.msg === 'invalid reading not stored');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ source: 'soil-1' });
    expect(logLines.filter((l) => l.msg === 'invalid event not stored')).toHaveLength(1);
  });

  it('stores an event whose data cannot be serialised, saying so', () => {
    const o = outbox();
    o.start();
    const data: Record<string, unknown> = { big: 10n };
    o.addEvent({ ...event(), data });
    o.flush();
    const [e] = o.recentEvents(1);
    expect(e?.data).toHaveProperty('unserialisable');
  });

  it('round-trips a large mixed commit exactly, across multi-row insert chunks', () => {
    const o = outbox();
    o.start();
    const qualities = ['good', 'out-of-range', 'stale', 'error'] as const;
    const expected: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const quality = qualities[i % 4]!;
      const r: Reading = { sensor: `s-${i % 13}`, ts: T0 + i, value: quality === 'error' ? null : i / 7 - 50, unit: i % 2 ? '°C' : 'pH', quality, clockSynced: i % 3 === 0 };
      o.addReadings([r]);
      expected.push(JSON.stringify(r));
      if (i % 97 === 0) {
        const e = { ...event('zone.skipped', `zone-${i}`), data: { i } };
        o.addEvent(e);
        expected.push(JSON.stringify(e));
      }
    }
    expect(o.flush()).toBe(expected.length);
    const rows = o.rowsAfter(0, 10_000);
    expect(seqs(rows)).toEqual(expected.map((_, i) => i + 1));
    expect(rows.map((r) => JSON.stringify(r.kind === 'reading' ? r.reading : r.event))).toEqual(expected);
  });

  it('filters recent events by source and kind, newest first', () => {
    const o = outbox();
    o.start();
    o.addEvent(event('device.offline', 'soil-1'));
    o.addEvent(event('device.online', 'soil-1'));
    o.addEvent(event('device.offline', 'tank-1'));
    o.flush();
    expect(o.recentEvents(10).map((e) => `${e.source} ${e.kind}`)).toEqual(['tank-1 device.offline', 'soil-1 device.online', 'soil-1 device.offline']);
    expect(o.recentEvents(10, { source: 'soil-1' }).map((e) => e.kind)).toEqual(['device.online', 'device.offline']);
    expect(o.recentEvents(10, { kind: 'device.offline' }).map((e) => e.source)).toEqual(['tank-1', 'soil-1']);
    expect(o.recentEvents(1)).toHaveLength(1);
  });

  it('continues the sequence without gaps after reopening', () => {
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0), reading('soil-2', T0)]);
    o.addEvent(event());
    o.flush();
    o.addReadings([reading('soil-1', T0 + 1)]); // committed by stop()
    o.stop();
    o.stop();

    const again = outbox();
    again.start();
    expect(again.stats().lastSeq).toBe(4);
    again.addReadings([reading('soil-3', T0 + 2)]);
    again.flush();
    expect(seqs(again.rowsAfter(0, 100))).toEqual([1, 2, 3, 4, 5]);
    // Interned sensors are reloaded, not duplicated.
    expect(again.rowsAfter(0, 100).map((r) => (r.kind === 'reading' ? r.reading.sensor : '-'))).toEqual(['soil-1', 'soil-2', '-', 'soil-1', 'soil-3']);
  });

  it('never lets seq go backwards when the newest rows were deleted', () => {
    const o = outbox({ retentionMs: DAY, ...COARSE });
    o.start();
    o.addReadings([reading('soil-1', T0), reading('soil-1', T0 + 1)]);
    o.flush();
    o.acknowledge(2);
    clock.advance(2 * DAY);
    o.enforceRetention();
    expect(o.rowsAfter(0, 10)).toEqual([]);
    o.stop();

    const again = outbox();
    again.start();
    again.addReadings([reading('soil-1', clock.now())]);
    again.flush();
    expect(seqs(again.rowsAfter(0, 10))).toEqual([3]);
  });

  it('bounds the memory buffer, dropping the oldest readings and recording it', () => {
    const o = outbox({ maxBuffered: 5 });
    o.start();
    o.addEvent(event());
    o.addReadings([1, 2, 3, 4, 5, 6, 7].map((i) => reading('soil-1', T0 + i, i)));
    expect(o.stats().buffered).toBe(5);
    o.flush();
    const rows = o.rowsAfter(0, 100);
    expect(rows.map((r) => (r.kind === 'reading' ? r.reading.value : r.event.kind))).toEqual(['device.offline', 4, 5, 6, 7, 'store.dropped']);
    const dropped = rows.at(-1)!;
    expect(dropped.kind === 'event' && dropped.event).toMatchObject({ severity: 'warning', source: 'outbox', data: { reason: 'buffer', readings: 3, events: 0, fromTs: T0 + 1, toTs: T0 + 3 } });
  });

  it('stops idempotently with a final commit, and refuses writes after', () => {
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0)]);
    o.stop();
    o.stop();
    o.addReadings([reading('soil-1', T0 + 1)]);
    expect(o.flush()).toBe(0);
    expect(o.stats()).toMatchObject({ lastSeq: 1, buffered: 0 });
    expect(clock.pending()).toBe(0);
    expect(raw((db) => db.prepare('SELECT seq FROM readings').pluck().all())).toEqual([1]);
  });

  it('opens read-only for a look at a file another process writes', () => {
    const writer = outbox();
    writer.start();
    writer.addReadings([reading('soil-1', T0, 7)]);
    writer.addEvent(event());
    writer.flush();

    const reader = outbox({ readonly: true });
    expect(reader.stats()).toMatchObject({ lastSeq: 2, depth: 2 });
    expect(reader.latest()).toEqual([reading('soil-1', T0, 7)]);
    expect(reader.recentEvents(5)).toHaveLength(1);
    reader.addReadings([reading('soil-1', T0 + 1)]);
    expect(reader.flush()).toBe(0);
    reader.stop();
    expect(writer.stats().buffered).toBe(0);
  });

  it('opens read-only after the writer has stopped and its WAL is gone', () => {
    const writer = outbox();
    writer.addReadings([reading('soil-1', T0, 3)]); // never started: stop() still commits it
    writer.stop();
    const reader = outbox({ readonly: true });
    expect(reader.stats()).toMatchObject({ lastSeq: 1, depth: 1 });
    expect(reader.latest()).toEqual([reading('soil-1', T0, 3)]);
  });

  it('uses WAL and an integrity-clean file', () => {
    const o = outbox();
    o.start();
    o.addReadings([reading('soil-1', T0)]);
    o.flush();
    expect(raw((db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
    expect(raw((db) => db.pragma('integrity_check', { simple: true }))).toBe('ok');
  });
});

describe('commit listeners', () => {
  it('are told the last seq after each commit that stored something, and a failing one harms nothing', () => {
    const o = outbox(COARSE);
    const seen: number[] = [];
    o.onCommit(() => {
      throw new Error('listener bug');
    });
    o.onCommit((last) => seen.push(last));
    o.addReadings([reading('soil-1-moisture', T0), reading('soil-1-moisture', T0 + 1)]);
    expect(o.flush()).toBe(2);
    expect(o.flush()).toBe(0); // nothing buffered: no commit, no call
    o.addEvent(event());
    o.flush();
    expect(seen).toEqual([2, 3]);
    expect(o.stats().lastSeq).toBe(3);
  });
});

describe('rebase after a replaced SD card', () => {
  it('renumbers every unacknowledged row to follow the cloud\'s seqs, in order, and remembers it has sent', () => {
    const o = outbox(COARSE);
    o.addReadings([reading('a', T0), reading('b', T0 + 1)]);
    o.addEvent(event());
    o.addReadings([reading('a', T0 + 2)]);
    o.flush();
    expect(o.hasSent()).toBe(false);
    o.rebase(100);
    expect(o.stats()).toMatchObject({ ackedSeq: 100, lastSeq: 104 });
    expect(o.rowsAfter(100, 10).map((r) => [r.seq, r.kind])).toEqual([
      [101, 'reading'],
      [102, 'reading'],
      [103, 'event'],
      [104, 'reading'],
    ]);
    o.addReadings([reading('c', T0 + 3)]);
    o.flush();
    expect(o.stats().lastSeq).toBe(105);
    o.markSent();
    expect(o.hasSent()).toBe(true);
    // Nothing below the cursor moves.
    o.rebase(50);
    expect(o.stats().ackedSeq).toBe(100);
  });
});
