import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { VillageError, type EdgeState, type Event, type Reading } from '@smart-village/shared';
import { checkBucket, HOUR_MS, hourBucket, mergeBuckets, type PartialBucket } from './history.js';
import { advance, checkBatch, checkSeq, edgeExists, statusApplies, toRanges, unknownEdge, type SeqRange } from './seq.js';
import {
  byIssued,
  latestPerSensor,
  replaceableBy,
  rowsToEdgeStates,
  rowToAnnouncement,
  rowToCommand,
  rowToEdge,
  rowToEvent,
  rowToReading,
  rowToSession,
  rowToToken,
  rowToUser,
  userExists,
  type AnnouncementRow,
  type CommandRow,
  type EdgeRow,
  type EdgeStateRow,
  type EventRow,
  type ReadingRow,
  type SessionRow,
  type TokenRow,
  type UserRow,
} from './rows.js';
import type {
  Announcement,
  ApiRole,
  ApiTokenRecord,
  CloudStore,
  CommandRecord,
  CommandStatus,
  EdgeRecord,
  EdgeRef,
  EdgeStateRecord,
  HistoryBucket,
  QuarantineItem,
  SessionRecord,
  StoreResult,
  UserRecord,
} from './types.js';

export interface SqliteCloudStoreOptions {
  /** The database file (its `-wal` and `-shm` files live next to it), or ":memory:". */
  path: string;
  log?: Logger;
}

/** Bumped with every change to the tables below; init() upgrades older files in place. */
export const SQLITE_SCHEMA_VERSION = 3;

/**
 * One village's cloud in one file. The same logical schema as the PostgreSQL store (see
 * postgres.ts); WITHOUT ROWID where the primary key is the natural lookup, so the key is the
 * table's own b-tree and not a second index.
 */
const V1 = `
CREATE TABLE edges (
  site TEXT NOT NULL, edge TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'unknown', birth INTEGER NOT NULL DEFAULT 0,
  contiguous_seq INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (site, edge)
) WITHOUT ROWID;
CREATE TABLE seq_pending (
  site TEXT NOT NULL, edge TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
  PRIMARY KEY (site, edge, from_seq, to_seq)
) WITHOUT ROWID;
CREATE TABLE readings (
  site TEXT NOT NULL, edge TEXT NOT NULL, seq INTEGER NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
  value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock_synced INTEGER NOT NULL,
  PRIMARY KEY (site, edge, seq)
) WITHOUT ROWID;
CREATE INDEX readings_history ON readings (site, sensor, ts);
CREATE TABLE events (
  site TEXT NOT NULL, edge TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, clock_synced INTEGER NOT NULL,
  kind TEXT NOT NULL, severity TEXT NOT NULL, source TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (site, edge, seq)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events (site, ts);
CREATE TABLE readings_hourly (
  site TEXT NOT NULL, sensor TEXT NOT NULL, hour INTEGER NOT NULL,
  min_value REAL NOT NULL, max_value REAL NOT NULL, sum_value REAL NOT NULL, value_count INTEGER NOT NULL,
  last_value REAL NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (site, sensor, hour)
) WITHOUT ROWID;
CREATE TABLE latest_readings (
  site TEXT NOT NULL, edge TEXT NOT NULL, sensor TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
  value REAL, unit TEXT NOT NULL, quality TEXT NOT NULL, clock_synced INTEGER NOT NULL,
  PRIMARY KEY (site, edge, sensor)
) WITHOUT ROWID;
CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, site TEXT, edge TEXT,
  topic TEXT NOT NULL, reason TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX quarantine_by_time ON quarantine (at);
`;

/** HTTP API tokens: only a SHA-256 hash of each is kept; the unique hash is the lookup. */
const V2 = `
CREATE TABLE api_tokens (
  name TEXT NOT NULL PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * The web app: users (scrypt password hashes), sessions (SHA-256 of the cookie), the command audit
 * trail, each edge's latest …/state (names and fields of its sensors survive a restart) and the
 * site announcement. JSON columns hold text.
 */
const V3 = `
CREATE TABLE users (
  name TEXT NOT NULL PRIMARY KEY, role TEXT NOT NULL, site TEXT NOT NULL, fields TEXT,
  password_hash TEXT NOT NULL, created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sessions (
  id_hash TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, site TEXT NOT NULL,
  csrf TEXT NOT NULL, token_hash TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_subject ON sessions (kind, subject);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE TABLE commands (
  id TEXT NOT NULL PRIMARY KEY, site TEXT NOT NULL, edge TEXT NOT NULL, issued_by TEXT NOT NULL, action TEXT NOT NULL,
  issued_at INTEGER NOT NULL, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX commands_by_site ON commands (site, issued_at);
CREATE INDEX commands_pending ON commands (status, expires_at);
CREATE TABLE edge_state (
  site TEXT NOT NULL, edge TEXT NOT NULL, received_at INTEGER NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY (site, edge)
) WITHOUT ROWID;
CREATE TABLE announcements (
  site TEXT NOT NULL PRIMARY KEY, text TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

type Stmt = Database.Statement<unknown[], unknown>;

interface Statements {
  edge: Stmt;
  insReading: Stmt;
  insEvent: Stmt;
  upsertLatest: Stmt;
  insPending: Stmt;
  pendingReach: Stmt;
  delPending: Stmt;
  setCursor: Stmt;
}

/**
 * CloudStore on SQLite (better-sqlite3, synchronous: each call is one transaction that runs to
 * completion before the next starts, so no two calls of this process interleave).
 */
export class SqliteCloudStore implements CloudStore {
  private db: Database.Database | undefined;
  private stmts: Statements | undefined;

  constructor(private readonly opts: SqliteCloudStoreOptions) {}

  async init(): Promise<void> {
    if (this.db) return;
    const db = new Database(this.opts.path);
    try {
      db.pragma('journal_mode = WAL');
      // FULL, not NORMAL: the ingest acknowledges right after commit and the edge then lets go of
      // those rows, so a commit lost to a power cut or kernel panic would be lost for good. A UPS
      // makes that rare, not impossible; one fsync of the WAL per batch is cheap next to that.
      db.pragma('synchronous = FULL');
      // Another process (the CLI, a backup) may hold the file briefly; wait instead of failing.
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SQLITE_SCHEMA_VERSION) {
        throw new VillageError('STORE_FAILED', `cloud store ${this.opts.path} has schema version ${version}, newer than this cloud understands (${SQLITE_SCHEMA_VERSION}): upgrade village-cloud`, { path: this.opts.path, version });
      }
      if (version < SQLITE_SCHEMA_VERSION) {
        db.transaction(() => {
          if (version < 1) db.exec(V1);
          if (version < 2) db.exec(V2);
          if (version < 3) db.exec(V3);
          db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
        }).immediate();
      }
    } catch (err) {
      db.close();
      throw err instanceof VillageError ? err : new VillageError('STORE_FAILED', `cannot open cloud store ${this.opts.path}: ${(err as Error).message}`, { path: this.opts.path }, { cause: err });
    }
    this.db = db;
    this.stmts = {
      edge: db.prepare('SELECT * FROM edges WHERE site = ? AND edge = ?'),
      insReading: db.prepare(
        'INSERT INTO readings (site, edge, seq, sensor, ts, value, unit, quality, clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      insEvent: db.prepare(
        'INSERT INTO events (site, edge, seq, ts, clock_synced, kind, severity, source, message, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      upsertLatest: db.prepare(
        `INSERT INTO latest_readings (site, edge, sensor, seq, ts, value, unit, quality, clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (site, edge, sensor) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, value = excluded.value,
           unit = excluded.unit, quality = excluded.quality, clock_synced = excluded.clock_synced
         WHERE excluded.ts > latest_readings.ts`,
      ),
      insPending: db.prepare('INSERT INTO seq_pending (site, edge, from_seq, to_seq) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      pendingReach: db.prepare('SELECT max(to_seq) AS reach FROM seq_pending WHERE site = ? AND edge = ? AND from_seq <= ?'),
      delPending: db.prepare('DELETE FROM seq_pending WHERE site = ? AND edge = ? AND to_seq <= ?'),
      setCursor: db.prepare('UPDATE edges SET contiguous_seq = ?, max_seq = ? WHERE site = ? AND edge = ?'),
    };
    this.opts.log?.info({ path: this.opts.path, schema: SQLITE_SCHEMA_VERSION }, 'cloud store opened (sqlite)');
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
  }

  async addEdge(ref: EdgeRef, secretHash: string, now: number): Promise<void> {
    const info = this.open().prepare('INSERT INTO edges (site, edge, secret_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(ref.site, ref.edge, secretHash, now);
    if (info.changes === 0) throw edgeExists(ref);
  }

  async setEdgeSecret(ref: EdgeRef, secretHash: string): Promise<void> {
    const info = this.open().prepare('UPDATE edges SET secret_hash = ? WHERE site = ? AND edge = ?').run(secretHash, ref.site, ref.edge);
    if (info.changes === 0) throw unknownEdge(ref);
  }

  async getEdge(ref: EdgeRef): Promise<EdgeRecord | undefined> {
    const row = this.statements().edge.get(ref.site, ref.edge) as EdgeRow | undefined;
    return row && rowToEdge(row);
  }

  async listEdges(site?: string): Promise<EdgeRecord[]> {
    const db = this.open();
    const rows = (site === undefined ? db.prepare('SELECT * FROM edges ORDER BY site, edge').all() : db.prepare('SELECT * FROM edges WHERE site = ? ORDER BY edge').all(site)) as EdgeRow[];
    return rows.map(rowToEdge);
  }

  async touchEdge(ref: EdgeRef, at: number, status?: { state: 'online' | 'offline'; birth: number }): Promise<void> {
    const db = this.open();
    db.transaction(() => {
      const row = this.lockEdge(ref);
      const apply = status !== undefined && statusApplies(row, status);
      db.prepare('UPDATE edges SET last_seen = max(last_seen, ?), state = ?, birth = ? WHERE site = ? AND edge = ?').run(
        at,
        apply ? status.state : row.state,
        apply ? status.birth : row.birth,
        ref.site,
        ref.edge,
      );
    }).immediate();
  }

  async storeReadings(ref: EdgeRef, seqs: readonly number[], readings: readonly Reading[]): Promise<StoreResult> {
    checkBatch(ref, seqs, readings.length);
    const s = this.statements();
    return this.open()
      .transaction((): StoreResult => {
        const row = this.lockEdge(ref);
        const stored: number[] = [];
        // Newest newly stored reading per sensor: one latest_readings write per sensor, not per row.
        const newest = new Map<string, { seq: number; r: Reading }>();
        readings.forEach((r, i) => {
          const seq = seqs[i] as number;
          const info = s.insReading.run(ref.site, ref.edge, seq, r.sensor, r.ts, r.value, r.unit, r.quality, r.clockSynced ? 1 : 0);
          if (info.changes === 0) return;
          stored.push(seq);
          const prev = newest.get(r.sensor);
          if (!prev || r.ts >= prev.r.ts) newest.set(r.sensor, { seq, r });
        });
        for (const { seq, r } of newest.values()) {
          s.upsertLatest.run(ref.site, ref.edge, r.sensor, seq, r.ts, r.value, r.unit, r.quality, r.clockSynced ? 1 : 0);
        }
        const contiguousSeq = this.advanceCursor(ref, row, toRanges(stored));
        return { inserted: stored.length, duplicates: seqs.length - stored.length, contiguousSeq };
      })
      .immediate();
  }

  async storeEvents(ref: EdgeRef, seqs: readonly number[], events: readonly Event[]): Promise<StoreResult> {
    checkBatch(ref, seqs, events.length);
    const s = this.statements();
    return this.open()
      .transaction((): StoreResult => {
        const row = this.lockEdge(ref);
        const stored: number[] = [];
        events.forEach((e, i) => {
          const seq = seqs[i] as number;
          const info = s.insEvent.run(ref.site, ref.edge, seq, e.ts, e.clockSynced ? 1 : 0, e.kind, e.severity, e.source, e.message, JSON.stringify(e.data));
          if (info.changes > 0) stored.push(seq);
        });
        const contiguousSeq = this.advanceCursor(ref, row, toRanges(stored));
        return { inserted: stored.length, duplicates: seqs.length - stored.length, contiguousSeq };
      })
      .immediate();
  }

  async markSkipped(ref: EdgeRef, fromSeq: number, toSeq: number): Promise<StoreResult> {
    checkSeq(ref, fromSeq);
    checkSeq(ref, toSeq);
    const ranges = toSeq >= fromSeq ? [{ from: fromSeq, to: toSeq }] : [];
    return this.open()
      .transaction((): StoreResult => {
        const row = this.lockEdge(ref);
        return { inserted: 0, duplicates: 0, contiguousSeq: this.advanceCursor(ref, row, ranges) };
      })
      .immediate();
  }

  async quarantine(item: Omit<QuarantineItem, 'id'>): Promise<void> {
    this.open()
      .prepare('INSERT INTO quarantine (at, site, edge, topic, reason, payload) VALUES (?, ?, ?, ?, ?, ?)')
      .run(item.at, item.site ?? null, item.edge ?? null, item.topic, item.reason, item.payload);
  }

  async listQuarantine(limit: number, site?: string): Promise<QuarantineItem[]> {
    const db = this.open();
    const rows = (
      site === undefined
        ? db.prepare('SELECT * FROM quarantine ORDER BY at DESC, id DESC LIMIT ?').all(limit)
        : db.prepare('SELECT * FROM quarantine WHERE site = ? ORDER BY at DESC, id DESC LIMIT ?').all(site, limit)
    ) as { id: number; at: number; site: string | null; edge: string | null; topic: string; reason: string; payload: string }[];
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      ...(r.site !== null && { site: r.site }),
      ...(r.edge !== null && { edge: r.edge }),
      topic: r.topic,
      reason: r.reason,
      payload: r.payload,
    }));
  }

  async latest(site: string, edge?: string): Promise<(Reading & { edge: string })[]> {
    const db = this.open();
    const rows = (
      edge === undefined
        ? db.prepare('SELECT * FROM latest_readings WHERE site = ? ORDER BY sensor, ts DESC, edge').all(site)
        : db.prepare('SELECT * FROM latest_readings WHERE site = ? AND edge = ? ORDER BY sensor').all(site, edge)
    ) as ReadingRow[];
    return latestPerSensor(rows);
  }

  async history(site: string, sensor: string, from: number, to: number, bucketMs: number): Promise<HistoryBucket[]> {
    checkBucket(bucketMs, from, to);
    const db = this.open();
    // Integer division of integer ts buckets from the epoch; the CAST keeps it integral because
    // better-sqlite3 binds JS numbers as REAL.
    const raw = db
      .prepare(
        `SELECT g.t, g.min, g.max, g.sum, g.count, g.lastTs,
           (SELECT r.value FROM readings r WHERE r.site = @site AND r.sensor = @sensor AND r.ts = g.lastTs AND r.value IS NOT NULL
            ORDER BY r.edge, r.seq DESC LIMIT 1) AS last
         FROM (SELECT (ts / CAST(@bucket AS INTEGER)) * CAST(@bucket AS INTEGER) AS t, min(value) AS min, max(value) AS max,
                 sum(value) AS sum, count(*) AS count, max(ts) AS lastTs
               FROM readings WHERE site = @site AND sensor = @sensor AND ts >= @from AND ts < @to AND value IS NOT NULL
               GROUP BY t) AS g`,
      )
      .all({ site, sensor, bucket: bucketMs, from, to }) as PartialBucket[];
    const hourly = db
      .prepare(
        `SELECT hour, min_value AS min, max_value AS max, sum_value AS sum, value_count AS count, last_value AS last, last_ts AS lastTs
         FROM readings_hourly WHERE site = ? AND sensor = ? AND hour > ? AND hour < ?`,
      )
      .all(site, sensor, from - HOUR_MS, to) as (Omit<PartialBucket, 't'> & { hour: number })[];
    return mergeBuckets([...raw, ...hourly.map(({ hour, ...h }) => ({ ...h, t: hourBucket(hour, bucketMs) }))]);
  }

  async readings(site: string, sensor: string, from: number, to: number, limit: number): Promise<(Reading & { edge: string; seq: number })[]> {
    const rows = this.open()
      .prepare('SELECT * FROM readings WHERE site = ? AND sensor = ? AND ts >= ? AND ts < ? ORDER BY ts, edge, seq LIMIT ?')
      .all(site, sensor, from, to, limit) as ReadingRow[];
    return rows.map((r) => ({ ...rowToReading(r), seq: r.seq }));
  }

  async events(site: string, opts: { edge?: string; since?: number; limit: number; kind?: string; source?: string }): Promise<(Event & { edge: string; seq: number })[]> {
    const where = ['site = ?'];
    const args: unknown[] = [site];
    const add = (sql: string, v: unknown): void => {
      where.push(sql);
      args.push(v);
    };
    if (opts.edge !== undefined) add('edge = ?', opts.edge);
    if (opts.since !== undefined) add('ts >= ?', opts.since);
    if (opts.kind !== undefined) add('kind = ?', opts.kind);
    if (opts.source !== undefined) add('source = ?', opts.source);
    const rows = this.open()
      .prepare(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY ts DESC, edge, seq DESC LIMIT ?`)
      .all(...args, opts.limit) as EventRow[];
    return rows.map((r) => rowToEvent({ ...r, data: JSON.parse(r.data as string) as Record<string, unknown> }));
  }

  async downsample(rawBefore: number): Promise<{ aggregated: number; deleted: number }> {
    const db = this.open();
    // Whole hours only, so an hour is either raw or aggregated (late arrivals for an aggregated
    // hour are merged into it by the next run).
    const cutoff = Math.floor(rawBefore / HOUR_MS) * HOUR_MS;
    // One (site, sensor) at a time: each uses the (site, sensor, ts) index instead of a scan of
    // all readings, and keeps each write transaction short. Every sensor that ever stored a
    // reading has a latest_readings row, so this list is complete.
    const series = db.prepare('SELECT DISTINCT site, sensor FROM latest_readings').all() as { site: string; sensor: string }[];
    const upsert = db.prepare(
      `INSERT INTO readings_hourly (site, sensor, hour, min_value, max_value, sum_value, value_count, last_value, last_ts)
       SELECT @site, @sensor, g.hour, g.mn, g.mx, g.sm, g.n,
         (SELECT r.value FROM readings r WHERE r.site = @site AND r.sensor = @sensor AND r.ts = g.lts AND r.value IS NOT NULL
          ORDER BY r.edge, r.seq DESC LIMIT 1),
         g.lts
       FROM (SELECT (ts / ${HOUR_MS}) * ${HOUR_MS} AS hour, min(value) AS mn, max(value) AS mx, sum(value) AS sm, count(*) AS n, max(ts) AS lts
             FROM readings WHERE site = @site AND sensor = @sensor AND ts < @cutoff AND value IS NOT NULL GROUP BY hour) AS g
       WHERE true
       ON CONFLICT (site, sensor, hour) DO UPDATE SET
         min_value = min(readings_hourly.min_value, excluded.min_value),
         max_value = max(readings_hourly.max_value, excluded.max_value),
         sum_value = readings_hourly.sum_value + excluded.sum_value,
         value_count = readings_hourly.value_count + excluded.value_count,
         last_value = CASE WHEN excluded.last_ts >= readings_hourly.last_ts THEN excluded.last_value ELSE readings_hourly.last_value END,
         last_ts = max(readings_hourly.last_ts, excluded.last_ts)`,
    );
    const del = db.prepare('DELETE FROM readings WHERE site = ? AND sensor = ? AND ts < ?');
    let aggregated = 0;
    let deleted = 0;
    for (const { site, sensor } of series) {
      db.transaction(() => {
        aggregated += upsert.run({ site, sensor, cutoff }).changes;
        deleted += del.run(site, sensor, cutoff).changes;
      }).immediate();
    }
    if (deleted > 0) this.opts.log?.info({ rawBefore: cutoff, aggregated, deleted }, 'downsampled readings to hourly');
    return { aggregated, deleted };
  }

  async addToken(name: string, role: ApiRole, tokenHash: string, now: number): Promise<void> {
    this.open()
      .prepare(
        `INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, created_at = excluded.created_at`,
      )
      .run(name, role, tokenHash, now);
  }

  async findToken(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    const row = this.open().prepare('SELECT name, role, created_at FROM api_tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined;
    return row && rowToToken(row);
  }

  async listTokens(): Promise<ApiTokenRecord[]> {
    const rows = this.open().prepare('SELECT name, role, created_at FROM api_tokens ORDER BY name').all() as TokenRow[];
    return rows.map(rowToToken);
  }

  async addUser(user: UserRecord): Promise<void> {
    const info = this.open()
      .prepare('INSERT INTO users (name, role, site, fields, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(user.name, user.role, user.site, user.fields === null ? null : JSON.stringify(user.fields), user.passwordHash, user.createdAt);
    if (info.changes === 0) throw userExists(user.name);
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const row = this.open().prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return row && rowToUser(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.open().prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(rowToUser);
  }

  async removeUser(name: string): Promise<boolean> {
    const db = this.open();
    return db
      .transaction(() => {
        db.prepare("DELETE FROM sessions WHERE kind = 'user' AND subject = ?").run(name);
        return db.prepare('DELETE FROM users WHERE name = ?').run(name).changes > 0;
      })
      .immediate();
  }

  async addSession(s: SessionRecord): Promise<void> {
    this.open()
      .prepare('INSERT INTO sessions (id_hash, kind, subject, site, csrf, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(s.idHash, s.kind, s.subject, s.site, s.csrf, s.tokenHash ?? null, s.createdAt, s.expiresAt);
  }

  async findSession(idHash: string): Promise<SessionRecord | undefined> {
    const row = this.open().prepare('SELECT * FROM sessions WHERE id_hash = ?').get(idHash) as SessionRow | undefined;
    return row && rowToSession(row);
  }

  async renewSession(idHash: string, expiresAt: number): Promise<void> {
    this.open().prepare('UPDATE sessions SET expires_at = ? WHERE id_hash = ?').run(expiresAt, idHash);
  }

  async removeSession(idHash: string): Promise<void> {
    this.open().prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
  }

  async removeExpiredSessions(now: number): Promise<number> {
    return this.open().prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
  }

  async addCommand(c: CommandRecord): Promise<void> {
    const info = this.open()
      .prepare(
        `INSERT INTO commands (id, site, edge, issued_by, action, issued_at, ttl, expires_at, status, reason, updated_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM edges WHERE site = ? AND edge = ?)`,
      )
      .run(c.id, c.site, c.edge, c.by, JSON.stringify(c.action), c.issuedAt, c.ttl, c.issuedAt + c.ttl, c.status, c.reason ?? null, c.updatedAt, c.site, c.edge);
    if (info.changes === 0) throw unknownEdge({ site: c.site, edge: c.edge });
  }

  async commandResult(ref: EdgeRef, id: string, status: Exclude<CommandStatus, 'sent' | 'expired'>, reason: string | undefined, at: number): Promise<CommandRecord | undefined> {
    const from = replaceableBy(status);
    const row = this.open()
      .prepare(
        `UPDATE commands SET status = ?, reason = ?, updated_at = ?
         WHERE id = ? AND site = ? AND edge = ? AND status IN (${from.map(() => '?').join(', ')}) RETURNING *`,
      )
      .get(status, reason ?? null, at, id, ref.site, ref.edge, ...from) as CommandRow | undefined;
    return row && rowToCommand(row);
  }

  async expireCommands(now: number): Promise<CommandRecord[]> {
    const rows = this.open()
      .prepare("UPDATE commands SET status = 'expired', updated_at = ? WHERE status = 'sent' AND expires_at <= ? RETURNING *")
      .all(now, now) as CommandRow[];
    return rows.map(rowToCommand).sort(byIssued);
  }

  async listCommands(site: string, opts: { by?: string; updatedSince?: number; limit: number }): Promise<CommandRecord[]> {
    const where = ['site = ?'];
    const args: unknown[] = [site];
    if (opts.by !== undefined) {
      where.push('issued_by = ?');
      args.push(opts.by);
    }
    if (opts.updatedSince !== undefined) {
      where.push('updated_at >= ?');
      args.push(opts.updatedSince);
    }
    const rows = this.open()
      .prepare(`SELECT * FROM commands WHERE ${where.join(' AND ')} ORDER BY issued_at DESC, id DESC LIMIT ?`)
      .all(...args, opts.limit) as CommandRow[];
    return rows.map(rowToCommand);
  }

  async putEdgeState(ref: EdgeRef, state: EdgeState, receivedAt: number): Promise<void> {
    const info = this.open()
      .prepare(
        `INSERT INTO edge_state (site, edge, received_at, state) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM edges WHERE site = ? AND edge = ?)
         ON CONFLICT (site, edge) DO UPDATE SET received_at = excluded.received_at, state = excluded.state`,
      )
      .run(ref.site, ref.edge, receivedAt, JSON.stringify(state), ref.site, ref.edge);
    if (info.changes === 0) throw unknownEdge(ref);
  }

  async edgeStates(site: string): Promise<EdgeStateRecord[]> {
    return rowsToEdgeStates(this.open().prepare('SELECT * FROM edge_state WHERE site = ? ORDER BY edge').all(site) as EdgeStateRow[]);
  }

  async setAnnouncement(site: string, a: Announcement | null): Promise<void> {
    const db = this.open();
    if (a === null) db.prepare('DELETE FROM announcements WHERE site = ?').run(site);
    else {
      db.prepare(
        `INSERT INTO announcements (site, text, updated_by, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET text = excluded.text, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      ).run(site, a.text, a.by, a.updatedAt);
    }
  }

  async getAnnouncement(site: string): Promise<Announcement | undefined> {
    const row = this.open().prepare('SELECT * FROM announcements WHERE site = ?').get(site) as AnnouncementRow | undefined;
    return row && rowToAnnouncement(row);
  }

  private open(): Database.Database {
    if (!this.db) throw new VillageError('STORE_FAILED', 'cloud store is not open: call init() first');
    return this.db;
  }

  private statements(): Statements {
    this.open();
    return this.stmts as Statements;
  }

  /** The edge row, inside the caller's IMMEDIATE transaction (which already holds the write lock). */
  private lockEdge(ref: EdgeRef): EdgeRow {
    const row = this.statements().edge.get(ref.site, ref.edge) as EdgeRow | undefined;
    if (!row) throw unknownEdge(ref);
    return row;
  }

  /** See seq.ts: advance through the new ranges, park the rest, fold parked ranges it now reaches. */
  private advanceCursor(ref: EdgeRef, row: EdgeRow, ranges: readonly SeqRange[]): number {
    const s = this.statements();
    const before = Number(row.contiguous_seq);
    const advanced = advance(before, ranges);
    let cursor = advanced.cursor;
    for (const r of advanced.parked) s.insPending.run(ref.site, ref.edge, r.from, r.to);
    if (cursor > before) {
      for (;;) {
        const reach = (s.pendingReach.get(ref.site, ref.edge, cursor + 1) as { reach: number | null }).reach;
        if (reach === null || reach <= cursor) break;
        cursor = reach;
      }
      s.delPending.run(ref.site, ref.edge, cursor);
    }
    const maxSeq = ranges.reduce((m, r) => Math.max(m, r.to), Number(row.max_seq));
    s.setCursor.run(cursor, maxSeq, ref.site, ref.edge);
    return cursor;
  }
}
