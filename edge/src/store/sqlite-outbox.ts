import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { eventSchema, readingSchema, toVillageError, VillageError, type Event, type EventInput, type Reading, type Unit } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { migrate, packFlags, unpackFlags } from './schema.js';
import type { Outbox, OutboxRow, OutboxStats, SensorBucket } from './types.js';

export interface SqliteOutboxOptions {
  /** The database file; `-wal` and `-shm` files live next to it. */
  path: string;
  clock: Clock;
  log: Logger;
  /** How often buffered rows are committed, ms. */
  commitInterval?: number;
  /** Acknowledged rows older than this are deleted, ms. */
  retentionMs?: number;
  /** Telemetry is dropped, oldest first, to keep the database within this size. */
  quotaBytes?: number;
  /** Rows buffered in memory between commits; beyond it the oldest readings are dropped. */
  maxBuffered?: number;
  /** How often retention and the quota are applied, ms. */
  retentionInterval?: number;
  /** Open for reading only (the CLI looking at a running edge's file); nothing is written. */
  readonly?: boolean;
  /** Whether the wall clock is synced, for the events the outbox records itself; default true. */
  clockSynced?: () => boolean;
}

const DEFAULTS = {
  commitInterval: 1000,
  retentionMs: 30 * 24 * 3600_000,
  quotaBytes: 512 * 1024 * 1024,
  // ~10 MB of reading objects: minutes of a busy village if the disk stalls, bounded on a Pi.
  maxBuffered: 50_000,
  retentionInterval: 60_000,
} as const;

/**
 * Age retention deletes at most this many rows per table per run, so one run never blocks the
 * event loop for long (a first run after weeks off); the rest goes on the next run.
 */
const AGE_DELETE_CAP = 100_000;

/** An event validated and serialised when it was added, so a commit cannot fail on it. */
class BufferedEvent {
  constructor(
    readonly event: Event,
    readonly data: string,
  ) {}
}

type Buffered = Reading | BufferedEvent;
type Stmt = Database.Statement<unknown[], unknown>;

/**
 * Readings per multi-row INSERT: one bind-and-step for many rows cuts the per-row cost of
 * crossing into SQLite (5 parameters a row keeps it far below SQLite's 32766 limit).
 */
const INSERT_CHUNK = 64;

interface Statements {
  insertReading: Stmt;
  insertReadings: Stmt;
  insertEvent: Stmt;
  insertSeries: Stmt;
  upsertLatest: Stmt;
  setMeta: Stmt;
  readingsAfter: Stmt;
  eventsAfter: Stmt;
  countReadingsBetween: Stmt;
  countEventsBetween: Stmt;
}

/**
 * The edge's outbox in one SQLite file (better-sqlite3, WAL).
 *
 * Durability: `synchronous = FULL`. In WAL mode NORMAL would already keep every committed
 * transaction across a kill -9: COMMIT returns once the frames are written to the WAL file,
 * i.e. handed to the kernel, and the kernel's page cache outlives the process, so only a
 * lost *kernel* (power cut, panic) can lose them. On a Pi without a battery a power cut is
 * the common failure, and under NORMAL it rolls back the last commits since the WAL was last
 * synced, together with their last_seq — after which the edge would hand out those seqs again
 * for new readings, while the cloud may already hold the old ones and would discard the new
 * ones as duplicates. FULL fsyncs the WAL at each commit; as we commit once per
 * `commitInterval` (not per reading), that is one fsync a second. Either way the database is
 * never corrupted: WAL recovery drops a torn tail.
 */
export class SqliteOutbox implements Outbox {
  private db: Database.Database | undefined;
  private stmts: Statements | undefined;
  private commitTx: ((items: readonly Buffered[]) => number) | undefined;
  private buffer: Buffered[] = [];
  private bufferDrops = { readings: 0, events: 0, fromTs: Infinity, toTs: -Infinity };
  private readonly series = new Map<string, Map<string, number>>();
  private readonly seriesById = new Map<number, { sensor: string; unit: Unit }>();
  private lastSeq = 0;
  private ackedSeq = 0;
  private depth = 0;
  private droppedUnsent = 0;
  private commitTimer: TimerHandle | undefined;
  private retentionTimer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private readonly limited: RateLimitedLog;
  private rejectedCount = 0;

  constructor(private readonly opts: SqliteOutboxOptions) {
    this.limited = new RateLimitedLog(opts.log, () => opts.clock.now());
  }

  /** Readings and events refused by their schema since this outbox was created. */
  get rejected(): number {
    return this.rejectedCount;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.open();
    if (this.opts.readonly) return;
    this.scheduleCommit();
    this.scheduleRetention();
    this.runRetention();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.clock.clearTimeout(this.commitTimer);
    this.opts.clock.clearTimeout(this.retentionTimer);
    this.commitTimer = this.retentionTimer = undefined;
    // Rows added before anything opened the file still deserve their final commit.
    if (!this.db && (this.opts.readonly || this.buffer.length === 0)) return;
    try {
      if (!this.opts.readonly) {
        this.open();
        this.commit();
      }
    } catch (err) {
      this.opts.log.error({ err: toVillageError(err), lost: this.buffer.length }, 'final outbox commit failed; buffered rows are lost');
    }
    try {
      // The last connection to close checkpoints the WAL back into the main file.
      this.db?.close();
    } catch (err) {
      this.opts.log.error({ err: toVillageError(err) }, 'closing the outbox failed');
    }
    this.db = undefined;
    this.stmts = undefined;
  }

  addReadings(readings: readonly Reading[]): void {
    if (this.refuseWrite()) return;
    if (!Array.isArray(readings)) {
      this.reject('reading', readings, 'readings must be an array');
      return;
    }
    for (const r of readings) {
      const parsed = readingSchema.safeParse(r);
      if (parsed.success) this.buffer.push(parsed.data);
      else this.reject('reading', r, parsed.error.issues.map((i) => `${i.path.join('.') || '(reading)'}: ${i.message}`).join('; '));
    }
    if (this.buffer.length > this.maxBuffered) this.shed();
  }

  addEvent(input: EventInput): void {
    if (this.refuseWrite()) return;
    const parsed = eventSchema.safeParse(input);
    if (!parsed.success) {
      this.reject('event', input, parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; '));
      return;
    }
    let data: string;
    try {
      data = JSON.stringify(parsed.data.data);
    } catch (err) {
      // BigInt or a cycle in `data`: keep the event, say what was lost.
      data = JSON.stringify({ unserialisable: toVillageError(err).message });
    }
    this.buffer.push(new BufferedEvent(parsed.data, data));
    if (this.buffer.length > this.maxBuffered) this.shed();
  }

  flush(): number {
    if (this.opts.readonly || this.stopped) return 0;
    return this.commit();
  }

  rowsAfter(after: number, limit: number): OutboxRow[] {
    const { readingsAfter, eventsAfter } = this.statements();
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    const readings = readingsAfter.all(after, n) as [number, number, number, number | null, number][];
    const events = eventsAfter.all(after, n) as EventRow[];
    const rows: OutboxRow[] = [];
    let i = 0;
    let j = 0;
    while (rows.length < n && (i < readings.length || j < events.length)) {
      const r = readings[i];
      const e = events[j];
      if (r && (!e || r[0] < e[0])) {
        rows.push({ seq: r[0], kind: 'reading', reading: this.decodeReading(r[1], r[2], r[3], r[4]) });
        i++;
      } else if (e) {
        rows.push({ seq: e[0], kind: 'event', event: decodeEvent(e) });
        j++;
      }
    }
    return rows;
  }

  acknowledge(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      this.limited.warn('outbox.bad-ack', { seq }, 'ignored an acknowledgement that is not a seq');
      return;
    }
    if (this.stopped || this.opts.readonly) return;
    const { setMeta, countReadingsBetween, countEventsBetween } = this.statements();
    // [DESIGN §4] the cursor only moves forward; a late or repeated ack changes nothing.
    if (seq <= this.ackedSeq) return;
    const db = this.requireDb();
    const raiseLast = seq > this.lastSeq;
    const acked = db
      .transaction(() => {
        if (raiseLast) setMeta.run(seq, 'last_seq');
        setMeta.run(seq, 'acked_seq');
        return (countReadingsBetween.get(this.ackedSeq, seq) as number) + (countEventsBetween.get(this.ackedSeq, seq) as number);
      })
      .immediate();
    if (raiseLast) {
      // The cloud holds seqs this file never committed (the file was replaced, or a disk that
      // lied about fsync lost a tail). Handing those seqs out again would make the cloud
      // discard the new rows as duplicates, so the sequence continues above the ack.
      this.opts.log.warn({ acked: seq, lastSeq: this.lastSeq }, 'cloud acknowledged seqs beyond the outbox; continuing the sequence after them');
      this.lastSeq = seq;
    }
    this.ackedSeq = seq;
    this.depth = Math.max(0, this.depth - acked);
  }

  hasSent(): boolean {
    const db = this.requireDb();
    this.statements();
    return (db.prepare("SELECT value FROM meta WHERE key = 'sent'").pluck().get() as number | undefined) === 1;
  }

  markSent(): void {
    const db = this.requireDb();
    this.statements();
    db.prepare("INSERT INTO meta (key, value) VALUES ('sent', 1) ON CONFLICT (key) DO UPDATE SET value = 1").run();
  }

  rebase(cloudSeq: number): void {
    if (!Number.isSafeInteger(cloudSeq) || cloudSeq <= this.ackedSeq) return;
    const db = this.requireDb();
    const { setMeta } = this.statements();
    this.commit();
    const delta = cloudSeq - this.ackedSeq;
    const from = this.ackedSeq;
    db.transaction(() => {
      // Two steps through negative seqs, so no row ever lands on a seq another still holds.
      for (const table of ['readings', 'events', 'latest']) {
        db.prepare(`UPDATE ${table} SET seq = -(seq + ?) WHERE seq > ?`).run(delta, from);
        db.prepare(`UPDATE ${table} SET seq = -seq WHERE seq < 0`).run();
      }
      setMeta.run(this.lastSeq + delta, 'last_seq');
      setMeta.run(cloudSeq, 'acked_seq');
    }).immediate();
    this.opts.log.warn({ cloudSeq, moved: this.depth, by: delta }, 'the cloud holds seqs of an earlier outbox of this edge: unsent rows renumbered after them');
    this.lastSeq += delta;
    this.ackedSeq = cloudSeq;
  }

  nextBirth(): number {
    const db = this.requireDb();
    this.statements();
    // A counter that survives restarts: each MQTT session of this edge gets a larger birth.
    return db
      .transaction(() => {
        db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('birth', 0)").run();
        db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'birth'").run();
        return db.prepare("SELECT value FROM meta WHERE key = 'birth'").pluck().get() as number;
      })
      .immediate();
  }

  stats(): OutboxStats {
    if (!this.stopped) this.statements();
    return {
      depth: this.depth,
      lastSeq: this.lastSeq,
      ackedSeq: this.ackedSeq,
      buffered: this.buffer.length,
      bytes: fileSize(this.opts.path) + fileSize(`${this.opts.path}-wal`),
      droppedUnsent: this.droppedUnsent,
    };
  }

  latest(): Reading[] {
    this.statements();
    const rows = this.requireDb().prepare('SELECT series, ts, value, flags FROM latest ORDER BY sensor').raw().all() as [number, number, number | null, number][];
    return rows.map(([series, ts, value, flags]) => this.decodeReading(series, ts, value, flags));
  }

  readingsSince(sensors: readonly string[], from: number): Reading[] {
    this.statements();
    const db = this.requireDb();
    if (this.db) this.loadSeries(this.db);
    const ids = [...this.seriesById].filter(([, v]) => sensors.includes(v.sensor)).map(([id]) => id);
    if (ids.length === 0) return [];
    const lo = this.seqAtTime(from);
    const rows = db
      .prepare(`SELECT series, ts, value, flags FROM readings WHERE seq >= ? AND ts >= ? AND series IN (${ids.map(() => '?').join(',')}) ORDER BY seq`)
      .raw()
      .all(lo, from, ...ids) as [number, number, number | null, number][];
    return rows.map(([series, ts, value, flags]) => this.decodeReading(series, ts, value, flags));
  }

  seqAtTime(ts: number): number {
    this.statements();
    const db = this.requireDb();
    // No ts index (see schema.ts): seqs follow time closely, so a binary search over the rowid
    // finds where `ts` begins and a scan reads only the rows after it.
    const tsAt = db.prepare('SELECT ts FROM readings WHERE seq >= ? ORDER BY seq LIMIT 1').pluck();
    const bounds = db.prepare('SELECT MIN(seq) AS lo, MAX(seq) AS hi FROM readings').get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return this.lastSeq + 1;
    let lo = bounds.lo;
    let hi = bounds.hi;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const at = tsAt.get(mid) as number | undefined;
      if (at === undefined || at >= ts) hi = mid;
      else lo = mid + 1;
    }
    const at = tsAt.get(lo) as number | undefined;
    return at !== undefined && at >= ts ? lo : Math.max(lo, bounds.hi) + 1;
  }

  readingBuckets(range: { afterSeq: number; uptoSeq: number; from: number; to: number; bucketMs: number }): SensorBucket[] {
    const { afterSeq, uptoSeq, from, to, bucketMs } = range;
    if (!Number.isSafeInteger(bucketMs) || bucketMs < 1) throw new VillageError('STORE_FAILED', `history bucket must be a positive whole number of ms, got ${bucketMs}`, { bucketMs });
    this.statements();
    const db = this.requireDb();
    if (uptoSeq <= afterSeq) return [];
    const rows = db
      .prepare('SELECT series, ts, value FROM readings WHERE seq > ? AND seq <= ? AND ts >= ? AND ts < ? AND value IS NOT NULL ORDER BY seq')
      .raw()
      .iterate(afterSeq, uptoSeq, from, to) as IterableIterator<[number, number, number]>;
    // One pass in JS over (series, ts, value): measured faster than GROUP BY plus a second query
    // for each bucket's newest value, and it keeps the cloud's rule for equal timestamps (the
    // later committed row is the last) without a sort.
    const buckets = new Map<number, Map<number, SensorBucket>>();
    for (const [series, ts, value] of rows) {
      const t = Math.floor(ts / bucketMs) * bucketMs;
      let bySeries = buckets.get(series);
      if (!bySeries) buckets.set(series, (bySeries = new Map()));
      const b = bySeries.get(t);
      if (!b) {
        bySeries.set(t, { sensor: '', t, min: value, max: value, sum: value, count: 1, last: value, lastTs: ts });
        continue;
      }
      if (value < b.min) b.min = value;
      if (value > b.max) b.max = value;
      b.sum += value;
      b.count++;
      if (ts >= b.lastTs) {
        b.last = value;
        b.lastTs = ts;
      }
    }
    // A read-only view may meet series the writing process added after we opened.
    if ([...buckets.keys()].some((series) => !this.seriesById.has(series))) this.loadSeries(db);
    const out: SensorBucket[] = [];
    for (const [series, bySeries] of buckets) {
      const sensor = this.seriesById.get(series)?.sensor ?? 'unknown';
      for (const b of bySeries.values()) out.push({ ...b, sensor });
    }
    return out;
  }

  eventsWithSeq(query: { limit: number; source?: string; kind?: string; since?: number }): (Event & { seq: number })[] {
    this.statements();
    const n = Math.max(0, Math.floor(query.limit));
    if (n === 0) return [];
    const rows = this.requireDb()
      .prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE (@source IS NULL OR source = @source) AND (@kind IS NULL OR kind = @kind) AND ts >= @since ORDER BY seq DESC LIMIT @n`)
      .raw()
      .all({ source: query.source ?? null, kind: query.kind ?? null, since: query.since ?? 0, n }) as EventRow[];
    return rows.map((row) => ({ ...decodeEvent(row), seq: row[0] }));
  }

  recentEvents(limit: number, filter: { source?: string; kind?: string } = {}): Event[] {
    this.statements();
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    const rows = this.requireDb()
      .prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE (@source IS NULL OR source = @source) AND (@kind IS NULL OR kind = @kind) ORDER BY seq DESC LIMIT @n`)
      .raw()
      .all({ source: filter.source ?? null, kind: filter.kind ?? null, n }) as EventRow[];
    return rows.map(decodeEvent);
  }

  enforceRetention(): void {
    if (this.opts.readonly || this.stopped) return;
    this.statements();
    this.deleteByAge();
    this.enforceQuota();
  }

  // ---- commit ----------------------------------------------------------------------------

  private commit(): number {
    if (this.buffer.length === 0) return 0;
    this.statements();
    const items = this.buffer;
    let seq: number;
    try {
      seq = this.commitTx!(items);
    } catch (err) {
      // Rolled back: seq and meta are untouched, the rows stay buffered for the next try.
      this.forgetUncommittedSeries();
      throw new VillageError('STORE_FAILED', `outbox commit failed: ${toVillageError(err).message}`, { buffered: items.length }, { cause: err });
    }
    // Only now: had COMMIT itself failed (disk full, I/O error), nothing here would have moved.
    const committed = seq - this.lastSeq;
    this.lastSeq = seq;
    this.newSeries.length = 0;
    this.buffer = [];
    this.bufferDrops = { readings: 0, events: 0, fromTs: Infinity, toTs: -Infinity };
    this.depth += committed;
    for (const listener of this.commitListeners) {
      try {
        listener(seq);
      } catch (err) {
        this.limited.error('outbox.listener', { err: toVillageError(err) }, 'a commit listener failed');
      }
    }
    return committed;
  }

  private readonly commitListeners: ((lastSeq: number) => void)[] = [];

  onCommit(listener: (lastSeq: number) => void): void {
    this.commitListeners.push(listener);
  }

  /** Series interned by the running transaction, forgotten again if it rolls back. */
  private readonly newSeries: { sensor: string; unit: string; id: number }[] = [];

  /** One transaction for the whole buffer; returns the last seq it assigned. */
  private buildCommit(db: Database.Database, s: Statements): (items: readonly Buffered[]) => number {
    return db.transaction((items: readonly Buffered[]): number => {
      const first = this.lastSeq + 1;
      let seq = this.lastSeq;
      // Index into items of each sensor's newest reading (its seq is first + index): no
      // allocation per reading on the hot path.
      const newest = new Map<string, number>();
      // Reading columns waiting for a full multi-row INSERT; flushed before any event so rows
      // still go in in seq order.
      const args: (number | null)[] = [];
      const flushArgs = (): void => {
        for (let k = 0; k < args.length; k += 5) s.insertReading.run(args[k], args[k + 1], args[k + 2], args[k + 3], args[k + 4]);
        args.length = 0;
      };
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        seq++;
        if (item instanceof BufferedEvent) {
          flushArgs();
          const e = item.event;
          s.insertEvent.run(seq, e.ts, e.clockSynced ? 1 : 0, e.kind, e.severity, e.source, e.message, item.data);
        } else {
          args.push(seq, this.seriesId(item.sensor, item.unit, s), item.ts, item.value, packFlags(item.quality, item.clockSynced));
          if (args.length === INSERT_CHUNK * 5) {
            s.insertReadings.run(args);
            args.length = 0;
          }
          const prev = newest.get(item.sensor);
          if (prev === undefined || item.ts >= (items[prev] as Reading).ts) newest.set(item.sensor, i);
        }
      }
      flushArgs();
      const drops = this.bufferDrops;
      if (drops.readings + drops.events > 0) {
        seq++;
        const e = this.droppedEvent('buffer', `dropped ${drops.readings} readings and ${drops.events} events that arrived faster than they could be stored`, {
          reason: 'buffer',
          readings: drops.readings,
          events: drops.events,
          fromTs: drops.fromTs,
          toTs: drops.toTs,
        });
        s.insertEvent.run(seq, e.ts, e.clockSynced ? 1 : 0, e.kind, e.severity, e.source, e.message, JSON.stringify(e.data));
      }
      for (const i of newest.values()) {
        const r = items[i] as Reading;
        s.upsertLatest.run(r.sensor, first + i, this.seriesId(r.sensor, r.unit, s), r.ts, r.value, packFlags(r.quality, r.clockSynced));
      }
      s.setMeta.run(seq, 'last_seq');
      return seq;
    }).immediate as (items: readonly Buffered[]) => number;
  }

  private seriesId(sensor: string, unit: string, s: Statements): number {
    let units = this.series.get(sensor);
    const known = units?.get(unit);
    if (known !== undefined) return known;
    const id = Number(s.insertSeries.run(sensor, unit).lastInsertRowid);
    if (!units) this.series.set(sensor, (units = new Map()));
    units.set(unit, id);
    this.seriesById.set(id, { sensor, unit: unit as Unit });
    this.newSeries.push({ sensor, unit, id });
    return id;
  }

  private forgetUncommittedSeries(): void {
    for (const { sensor, unit, id } of this.newSeries) {
      this.series.get(sensor)?.delete(unit);
      this.seriesById.delete(id);
    }
    this.newSeries.length = 0;
  }

  /** Keeps memory bounded when commits cannot keep up (or fail): the oldest readings go first. */
  private shed(): void {
    let excess = this.buffer.length - this.maxBuffered;
    const drops = this.bufferDrops;
    const note = (ts: number): void => {
      drops.fromTs = Math.min(drops.fromTs, ts);
      drops.toTs = Math.max(drops.toTs, ts);
    };
    let kept: Buffered[] = [];
    for (const item of this.buffer) {
      if (excess > 0 && !(item instanceof BufferedEvent)) {
        excess--;
        drops.readings++;
        note(item.ts);
      } else kept.push(item);
    }
    if (excess > 0) {
      // Only events left: they are rare, so this means a stuck disk; drop the oldest of them too.
      for (const e of kept.slice(0, excess)) note((e as BufferedEvent).event.ts);
      drops.events += excess;
      kept = kept.slice(excess);
    }
    this.buffer = kept;
    this.limited.warn('outbox.buffer-full', { maxBuffered: this.maxBuffered, droppedReadings: drops.readings, droppedEvents: drops.events }, 'outbox buffer full; dropped the oldest buffered readings');
  }

  // ---- retention -------------------------------------------------------------------------

  /**
   * Deletes acknowledged rows older than the retention, judged by their own ts. Rows are
   * deleted as a seq prefix (up to the first one still young), which needs no ts index and
   * costs only the rows deleted; ts follows seq closely, so little is kept longer than asked.
   */
  private deleteByAge(): void {
    const db = this.requireDb();
    const cutoff = this.opts.clock.now() - (this.opts.retentionMs ?? DEFAULTS.retentionMs);
    if (this.ackedSeq === 0) return;
    for (const table of ['readings', 'events'] as const) {
      const oldest = db.prepare(`SELECT seq FROM ${table} ORDER BY seq LIMIT 1`).pluck().get() as number | undefined;
      if (oldest === undefined || oldest > this.ackedSeq) continue;
      const young = db.prepare(`SELECT seq FROM ${table} WHERE seq <= ? AND ts >= ? ORDER BY seq LIMIT 1`).pluck().get(this.ackedSeq, cutoff) as number | undefined;
      const upTo = Math.min(young === undefined ? this.ackedSeq : young - 1, oldest + AGE_DELETE_CAP - 1);
      if (upTo < oldest) continue;
      const { changes } = db.prepare(`DELETE FROM ${table} WHERE seq <= ?`).run(upTo);
      if (changes > 0) this.opts.log.debug({ table, deleted: changes, upTo }, 'retention deleted acknowledged rows');
    }
  }

  /**
   * Keeps the file within the quota by deleting the oldest telemetry (sent first, as it is
   * oldest; unsent if it must). Events are never deleted here: they explain what happened,
   * including this. Size = pages in use + WAL: free pages left by deletes are reused, so they
   * do not count against the quota although the file does not shrink.
   */
  private enforceQuota(): void {
    const db = this.requireDb();
    const quota = this.opts.quotaBytes ?? DEFAULTS.quotaBytes;
    // Fold the WAL into the main file first so its size reflects only what is live.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const wal = fileSize(`${this.opts.path}-wal`);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const used = (): number => ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * pageSize + wal;
    const before = used();
    if (before <= quota) return;
    const { countReadingsBetween, setMeta, insertEvent } = this.statements();
    const oldestReading = db.prepare('SELECT seq FROM readings ORDER BY seq LIMIT 1').pluck();
    const nthReading = db.prepare('SELECT seq FROM readings ORDER BY seq LIMIT 1 OFFSET ?').pluck();
    const deleteUpTo = db.prepare('DELETE FROM readings WHERE seq <= ?');
    const result = db
      .transaction(() => {
        let size = before;
        // A reading takes ~20-30 bytes; start high so the first bite never overshoots, then
        // learn the real figure from what each bite freed.
        let bytesPerRow = 64;
        let deleted = 0;
        let unsent = 0;
        let fromSeq = 0;
        let toSeq = 0;
        for (;;) {
          const first = oldestReading.get() as number | undefined;
          if (first === undefined || size <= quota) break;
          const n = Math.max(16, Math.ceil((size - quota) / bytesPerRow));
          const last = (nthReading.get(n - 1) as number | undefined) ?? (db.prepare('SELECT max(seq) FROM readings').pluck().get() as number);
          if (fromSeq === 0) fromSeq = first;
          toSeq = last;
          if (last > this.ackedSeq) unsent += countReadingsBetween.get(Math.max(this.ackedSeq, first - 1), last) as number;
          const { changes } = deleteUpTo.run(last);
          deleted += changes;
          const after = used();
          if (after < size) bytesPerRow = Math.max(8, (size - after) / changes);
          size = after;
        }
        if (deleted === 0) return { deleted, unsent, size };
        const seq = this.lastSeq + 1;
        const e = this.droppedEvent('quota', `dropped ${deleted} readings (${unsent} not yet sent) to stay within the ${Math.round(quota / 1024)} KiB disk quota`, {
          reason: 'quota',
          readings: deleted,
          unsent,
          fromSeq,
          toSeq,
          quotaBytes: quota,
          bytesBefore: before,
          bytesAfter: size,
        });
        insertEvent.run(seq, e.ts, e.clockSynced ? 1 : 0, e.kind, e.severity, e.source, e.message, JSON.stringify(e.data));
        setMeta.run(seq, 'last_seq');
        setMeta.run(this.droppedUnsent + unsent, 'dropped_unsent');
        return { deleted, unsent, size, fromSeq, toSeq };
      })
      .immediate();
    if (result.deleted > 0) {
      this.lastSeq++;
      this.depth = Math.max(0, this.depth - result.unsent) + 1;
      this.droppedUnsent += result.unsent;
      this.opts.log.warn({ ...result, quotaBytes: quota }, 'outbox over its disk quota; dropped the oldest telemetry');
    }
    if (result.size > quota) {
      this.limited.warn('outbox.quota', { quotaBytes: quota, bytes: result.size }, 'outbox still over quota with no telemetry left to drop (events are kept)');
    }
  }

  private droppedEvent(reason: 'buffer' | 'quota', message: string, data: Record<string, unknown>): Event {
    return { ts: this.opts.clock.now(), clockSynced: this.opts.clockSynced?.() ?? true, kind: 'store.dropped', severity: 'warning', source: 'outbox', message, data: { ...data, reason } };
  }

  // ---- timers ----------------------------------------------------------------------------

  private scheduleCommit(): void {
    this.commitTimer = this.opts.clock.setTimeout(() => {
      this.commitTimer = undefined;
      if (this.stopped) return;
      try {
        this.commit();
      } catch (err) {
        this.limited.error('outbox.commit', { err: toVillageError(err), buffered: this.buffer.length }, 'outbox commit failed; rows stay buffered and are retried');
      }
      this.scheduleCommit();
    }, this.opts.commitInterval ?? DEFAULTS.commitInterval);
  }

  private scheduleRetention(): void {
    this.retentionTimer = this.opts.clock.setTimeout(() => {
      this.retentionTimer = undefined;
      if (this.stopped) return;
      this.runRetention();
      this.scheduleRetention();
    }, this.opts.retentionInterval ?? DEFAULTS.retentionInterval);
  }

  private runRetention(): void {
    try {
      this.enforceRetention();
    } catch (err) {
      this.limited.error('outbox.retention', { err: toVillageError(err) }, 'outbox retention failed; retrying on the next run');
    }
  }

  // ---- opening and decoding ----------------------------------------------------------------

  private get maxBuffered(): number {
    return Math.max(1, this.opts.maxBuffered ?? DEFAULTS.maxBuffered);
  }

  private refuseWrite(): boolean {
    if (!this.stopped && !this.opts.readonly) return false;
    this.limited.warn('outbox.closed', { readonly: this.opts.readonly === true }, 'outbox is not writable (stopped or read-only); row not stored');
    return true;
  }

  private reject(kind: 'reading' | 'event', value: unknown, problem: string): void {
    this.rejectedCount++;
    const about = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    const source = kind === 'reading' ? about.sensor : about.source;
    this.limited.warn(`outbox.invalid-${kind}`, { source: typeof source === 'string' ? source : undefined, problem, rejected: this.rejectedCount }, `invalid ${kind} not stored`);
  }

  private requireDb(): Database.Database {
    this.statements();
    return this.db!;
  }

  /** Opens the file on first use: `start()` for the service, any query for a read-only look. */
  private statements(): Statements {
    if (this.stmts) return this.stmts;
    if (this.stopped) throw new VillageError('STORE_FAILED', 'the outbox is stopped');
    return this.open();
  }

  private open(): Statements {
    if (this.stmts) return this.stmts;
    const { path } = this.opts;
    const readonly = this.opts.readonly === true;
    let db: Database.Database;
    try {
      db = new Database(path, readonly ? { readonly: true, fileMustExist: true } : {});
    } catch (err) {
      throw new VillageError('STORE_FAILED', `cannot open the outbox ${path}: ${toVillageError(err).message}`, { path }, { cause: err });
    }
    try {
      if (!readonly) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') this.opts.log.warn({ path, mode }, 'outbox could not switch to WAL; commits will be slower');
        db.pragma('synchronous = FULL'); // why: see the class comment
        // Keeps the WAL file from staying at its high-water mark after checkpoints.
        db.pragma('journal_size_limit = 4194304');
        migrate(db, path);
      }
      this.db = db;
      this.stmts = this.prepare(db);
      this.commitTx = this.buildCommit(db, this.stmts);
      this.load(db);
    } catch (err) {
      db.close();
      this.db = undefined;
      this.stmts = undefined;
      throw err instanceof VillageError ? err : new VillageError('STORE_FAILED', `cannot open the outbox ${path}: ${toVillageError(err).message}`, { path }, { cause: err });
    }
    this.opts.log.debug({ path, lastSeq: this.lastSeq, ackedSeq: this.ackedSeq, depth: this.depth }, 'outbox open');
    return this.stmts;
  }

  private prepare(db: Database.Database): Statements {
    return {
      insertReading: db.prepare('INSERT INTO readings (seq, series, ts, value, flags) VALUES (?, ?, ?, ?, ?)'),
      insertReadings: db.prepare(`INSERT INTO readings (seq, series, ts, value, flags) VALUES ${Array.from({ length: INSERT_CHUNK }, () => '(?, ?, ?, ?, ?)').join(', ')}`),
      insertEvent: db.prepare('INSERT INTO events (seq, ts, synced, kind, severity, source, message, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      insertSeries: db.prepare('INSERT INTO series (sensor, unit) VALUES (?, ?)'),
      upsertLatest: db.prepare(
        // Newest by the reading's own time, so a late (backfilled) reading does not hide a newer one.
        `INSERT INTO latest (sensor, seq, series, ts, value, flags) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sensor) DO UPDATE SET seq = excluded.seq, series = excluded.series, ts = excluded.ts, value = excluded.value, flags = excluded.flags
         WHERE excluded.ts >= latest.ts`,
      ),
      setMeta: db.prepare('UPDATE meta SET value = ? WHERE key = ?'),
      readingsAfter: db.prepare('SELECT seq, series, ts, value, flags FROM readings WHERE seq > ? ORDER BY seq LIMIT ?').raw(),
      eventsAfter: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).raw(),
      countReadingsBetween: db.prepare('SELECT count(*) FROM readings WHERE seq > ? AND seq <= ?').pluck(),
      countEventsBetween: db.prepare('SELECT count(*) FROM events WHERE seq > ? AND seq <= ?').pluck(),
    };
  }

  private load(db: Database.Database): void {
    const meta = new Map(db.prepare('SELECT key, value FROM meta').raw().all() as [string, number][]);
    const maxSeq = (table: string): number => (db.prepare(`SELECT max(seq) FROM ${table}`).pluck().get() as number | null) ?? 0;
    // meta is written with the rows, so these agree; the max() is a cheap belt and braces.
    this.lastSeq = Math.max(meta.get('last_seq') ?? 0, maxSeq('readings'), maxSeq('events'));
    this.ackedSeq = meta.get('acked_seq') ?? 0;
    this.droppedUnsent = meta.get('dropped_unsent') ?? 0;
    const count = (table: string): number => db.prepare(`SELECT count(*) FROM ${table} WHERE seq > ?`).pluck().get(this.ackedSeq) as number;
    this.depth = count('readings') + count('events');
    this.loadSeries(db);
  }

  private loadSeries(db: Database.Database): void {
    for (const [id, sensor, unit] of db.prepare('SELECT id, sensor, unit FROM series').raw().all() as [number, string, Unit][]) {
      let units = this.series.get(sensor);
      if (!units) this.series.set(sensor, (units = new Map()));
      units.set(unit, id);
      this.seriesById.set(id, { sensor, unit });
    }
  }

  private decodeReading(seriesId: number, ts: number, value: number | null, flags: number): Reading {
    let series = this.seriesById.get(seriesId);
    if (!series && this.db) {
      // A read-only view may meet series the writing process added after we opened.
      this.loadSeries(this.db);
      series = this.seriesById.get(seriesId);
    }
    const { quality, clockSynced } = unpackFlags(flags);
    return { sensor: series?.sensor ?? 'unknown', ts, value, unit: series?.unit ?? ('' as Unit), quality, clockSynced };
  }
}

const EVENT_COLUMNS = 'seq, ts, synced, kind, severity, source, message, data';
type EventRow = [number, number, number, string, Event['severity'], string, string, string];

function decodeEvent([, ts, synced, kind, severity, source, message, data]: EventRow): Event {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(data) as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  return { ts, clockSynced: synced === 1, kind, severity, source, message, data: parsed };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
