import pg from 'pg';
import type { PoolClient } from 'pg';
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

export interface PostgresCloudStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  log?: Logger;
  /** Connections per store (per ingest worker); default 10. */
  poolSize?: number;
}

/**
 * Transaction-level advisory lock keys (arbitrary constants, "SV" + a number): one for the DDL in
 * init(), so several workers starting at once do not race on CREATE ... IF NOT EXISTS (which is
 * not safe concurrently: both may pass the check and one fails on the catalog's unique index);
 * one for downsample(), so two workers never delete the same raw rows in different orders.
 */
const DDL_LOCK = 0x5356_0001;
const DOWNSAMPLE_LOCK = 0x5356_0002;

/**
 * Same logical schema as the SQLite store. Times and seqs are bigint epoch ms / counters (read
 * back as JS numbers: they stay far below 2^53). Event data is jsonb.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS edges (
  site text NOT NULL, edge text NOT NULL, secret_hash text NOT NULL, created_at bigint NOT NULL,
  last_seen bigint NOT NULL DEFAULT 0, state text NOT NULL DEFAULT 'unknown', birth bigint NOT NULL DEFAULT 0,
  contiguous_seq bigint NOT NULL DEFAULT 0, max_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (site, edge)
);
CREATE TABLE IF NOT EXISTS seq_pending (
  site text NOT NULL, edge text NOT NULL, from_seq bigint NOT NULL, to_seq bigint NOT NULL,
  PRIMARY KEY (site, edge, from_seq, to_seq)
);
CREATE TABLE IF NOT EXISTS readings (
  site text NOT NULL, edge text NOT NULL, seq bigint NOT NULL, sensor text NOT NULL, ts bigint NOT NULL,
  value double precision, unit text NOT NULL, quality text NOT NULL, clock_synced boolean NOT NULL,
  PRIMARY KEY (site, edge, seq)
);
CREATE INDEX IF NOT EXISTS readings_history ON readings (site, sensor, ts);
CREATE TABLE IF NOT EXISTS events (
  site text NOT NULL, edge text NOT NULL, seq bigint NOT NULL, ts bigint NOT NULL, clock_synced boolean NOT NULL,
  kind text NOT NULL, severity text NOT NULL, source text NOT NULL, message text NOT NULL, data jsonb NOT NULL,
  PRIMARY KEY (site, edge, seq)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (site, ts);
CREATE TABLE IF NOT EXISTS readings_hourly (
  site text NOT NULL, sensor text NOT NULL, hour bigint NOT NULL,
  min_value double precision NOT NULL, max_value double precision NOT NULL, sum_value double precision NOT NULL,
  value_count bigint NOT NULL, last_value double precision NOT NULL, last_ts bigint NOT NULL,
  PRIMARY KEY (site, sensor, hour)
);
CREATE TABLE IF NOT EXISTS latest_readings (
  site text NOT NULL, edge text NOT NULL, sensor text NOT NULL, seq bigint NOT NULL, ts bigint NOT NULL,
  value double precision, unit text NOT NULL, quality text NOT NULL, clock_synced boolean NOT NULL,
  PRIMARY KEY (site, edge, sensor)
);
CREATE TABLE IF NOT EXISTS quarantine (
  id bigserial PRIMARY KEY, at bigint NOT NULL, site text, edge text,
  topic text NOT NULL, reason text NOT NULL, payload text NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_time ON quarantine (at);
CREATE TABLE IF NOT EXISTS api_tokens (
  name text PRIMARY KEY, role text NOT NULL, token_hash text NOT NULL UNIQUE, created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
  name text PRIMARY KEY, role text NOT NULL, site text NOT NULL, fields jsonb,
  password_hash text NOT NULL, created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  id_hash text PRIMARY KEY, kind text NOT NULL, subject text NOT NULL, site text NOT NULL,
  csrf text NOT NULL, token_hash text, created_at bigint NOT NULL, expires_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (kind, subject);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS commands (
  id text PRIMARY KEY, site text NOT NULL, edge text NOT NULL, issued_by text NOT NULL, action jsonb NOT NULL,
  issued_at bigint NOT NULL, ttl bigint NOT NULL, expires_at bigint NOT NULL, status text NOT NULL, reason text,
  updated_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_by_site ON commands (site, issued_at);
CREATE INDEX IF NOT EXISTS commands_pending ON commands (status, expires_at);
CREATE TABLE IF NOT EXISTS edge_state (
  site text NOT NULL, edge text NOT NULL, received_at bigint NOT NULL, state jsonb NOT NULL,
  PRIMARY KEY (site, edge)
);
CREATE TABLE IF NOT EXISTS announcements (
  site text PRIMARY KEY, text text NOT NULL, updated_by text NOT NULL, updated_at bigint NOT NULL
);
`;

/**
 * Tie-break for "last" among readings with the same ts: same order as the SQLite store, with a
 * byte-wise collation so the answer does not depend on the database's locale.
 */
const LAST_ORDER = 'ts DESC, edge COLLATE "C", seq DESC';

/**
 * CloudStore on PostgreSQL, for a province: several stateless ingest workers, each with its own
 * pool, write to one database. Every store call is one transaction that first locks the edge's
 * row (SELECT ... FOR UPDATE), so writes for one edge are serialised across workers and the
 * cursor can never be advanced from a stale read; writes for different edges run in parallel.
 */
export class PostgresCloudStore implements CloudStore {
  private pool: pg.Pool | undefined;

  constructor(private readonly opts: PostgresCloudStoreOptions) {}

  async init(): Promise<void> {
    if (this.pool) return;
    // bigint (int8) columns and count(*) come back as strings by default; ours are epoch ms and
    // counters, well inside Number's exact range. Per pool, so other pg users are unaffected.
    const types = new pg.TypeOverrides();
    types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
    const pool = new pg.Pool({ connectionString: this.opts.url, max: this.opts.poolSize ?? 10, types, application_name: 'village-cloud' });
    // An idle connection dropped by the server emits here; unhandled it would crash the process.
    pool.on('error', (err) => this.opts.log?.warn({ err: err.message }, 'idle PostgreSQL connection failed; the pool replaces it'));
    this.pool = pool;
    try {
      await this.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
        await c.query(DDL);
      });
    } catch (err) {
      this.pool = undefined;
      await pool.end().catch(() => undefined);
      throw new VillageError('STORE_FAILED', `cannot open cloud store at ${redact(this.opts.url)}: ${(err as Error).message}`, { url: redact(this.opts.url) }, { cause: err });
    }
    this.opts.log?.info({ url: redact(this.opts.url) }, 'cloud store opened (postgres)');
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  async addEdge(ref: EdgeRef, secretHash: string, now: number): Promise<void> {
    const res = await this.db().query('INSERT INTO edges (site, edge, secret_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [ref.site, ref.edge, secretHash, now]);
    if (res.rowCount === 0) throw edgeExists(ref);
  }

  async setEdgeSecret(ref: EdgeRef, secretHash: string): Promise<void> {
    const res = await this.db().query('UPDATE edges SET secret_hash = $3 WHERE site = $1 AND edge = $2', [ref.site, ref.edge, secretHash]);
    if (res.rowCount === 0) throw unknownEdge(ref);
  }

  async getEdge(ref: EdgeRef): Promise<EdgeRecord | undefined> {
    const res = await this.db().query<EdgeRow>('SELECT * FROM edges WHERE site = $1 AND edge = $2', [ref.site, ref.edge]);
    const row = res.rows[0];
    return row && rowToEdge(row);
  }

  async listEdges(site?: string): Promise<EdgeRecord[]> {
    const res =
      site === undefined
        ? await this.db().query<EdgeRow>('SELECT * FROM edges ORDER BY site COLLATE "C", edge COLLATE "C"')
        : await this.db().query<EdgeRow>('SELECT * FROM edges WHERE site = $1 ORDER BY edge COLLATE "C"', [site]);
    return res.rows.map(rowToEdge);
  }

  async touchEdge(ref: EdgeRef, at: number, status?: { state: 'online' | 'offline'; birth: number }): Promise<void> {
    await this.tx(async (c) => {
      const row = await lockEdge(c, ref);
      const apply = status !== undefined && statusApplies({ state: row.state, birth: Number(row.birth) }, status);
      await c.query('UPDATE edges SET last_seen = GREATEST(last_seen, $3), state = $4, birth = $5 WHERE site = $1 AND edge = $2', [
        ref.site,
        ref.edge,
        at,
        apply ? status.state : row.state,
        apply ? status.birth : row.birth,
      ]);
    });
  }

  async storeReadings(ref: EdgeRef, seqs: readonly number[], readings: readonly Reading[]): Promise<StoreResult> {
    checkBatch(ref, seqs, readings.length);
    return this.tx(async (c) => {
      const row = await lockEdge(c, ref);
      // One statement for the whole batch: arrays unnested server-side, no per-row round trip and
      // no limit on the number of bind parameters.
      const res = await c.query<{ seq: number }>(
        `INSERT INTO readings (site, edge, seq, sensor, ts, value, unit, quality, clock_synced)
         SELECT $1::text, $2::text, u.* FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::float8[], $7::text[], $8::text[], $9::boolean[]) AS u
         ON CONFLICT DO NOTHING RETURNING seq`,
        [
          ref.site,
          ref.edge,
          seqs,
          readings.map((r) => r.sensor),
          readings.map((r) => r.ts),
          readings.map((r) => r.value),
          readings.map((r) => r.unit),
          readings.map((r) => r.quality),
          readings.map((r) => r.clockSynced),
        ],
      );
      const fresh = new Set(res.rows.map((r) => Number(r.seq)));
      const stored: number[] = [];
      const newest = new Map<string, { seq: number; r: Reading }>();
      readings.forEach((r, i) => {
        const seq = seqs[i] as number;
        // A seq repeated inside one batch was inserted once, from its first occurrence.
        if (!fresh.delete(seq)) return;
        stored.push(seq);
        const prev = newest.get(r.sensor);
        if (!prev || r.ts >= prev.r.ts) newest.set(r.sensor, { seq, r });
      });
      if (newest.size > 0) {
        const rows = [...newest.values()];
        // One row per sensor, so ON CONFLICT DO UPDATE never meets the same row twice.
        await c.query(
          `INSERT INTO latest_readings (site, edge, sensor, seq, ts, value, unit, quality, clock_synced)
           SELECT $1::text, $2::text, u.* FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::float8[], $7::text[], $8::text[], $9::boolean[]) AS u
           ON CONFLICT (site, edge, sensor) DO UPDATE SET seq = excluded.seq, ts = excluded.ts, value = excluded.value,
             unit = excluded.unit, quality = excluded.quality, clock_synced = excluded.clock_synced
           WHERE excluded.ts > latest_readings.ts`,
          [
            ref.site,
            ref.edge,
            rows.map((x) => x.r.sensor),
            rows.map((x) => x.seq),
            rows.map((x) => x.r.ts),
            rows.map((x) => x.r.value),
            rows.map((x) => x.r.unit),
            rows.map((x) => x.r.quality),
            rows.map((x) => x.r.clockSynced),
          ],
        );
      }
      const contiguousSeq = await advanceCursor(c, ref, row, toRanges(stored));
      return { inserted: stored.length, duplicates: seqs.length - stored.length, contiguousSeq };
    });
  }

  async storeEvents(ref: EdgeRef, seqs: readonly number[], events: readonly Event[]): Promise<StoreResult> {
    checkBatch(ref, seqs, events.length);
    return this.tx(async (c) => {
      const row = await lockEdge(c, ref);
      const res = await c.query<{ seq: number }>(
        `INSERT INTO events (site, edge, seq, ts, clock_synced, kind, severity, source, message, data)
         SELECT $1::text, $2::text, u.seq, u.ts, u.synced, u.kind, u.severity, u.source, u.message, u.data::jsonb
         FROM unnest($3::bigint[], $4::bigint[], $5::boolean[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
           AS u (seq, ts, synced, kind, severity, source, message, data)
         ON CONFLICT DO NOTHING RETURNING seq`,
        [
          ref.site,
          ref.edge,
          seqs,
          events.map((e) => e.ts),
          events.map((e) => e.clockSynced),
          events.map((e) => e.kind),
          events.map((e) => e.severity),
          events.map((e) => e.source),
          events.map((e) => e.message),
          events.map((e) => JSON.stringify(e.data)),
        ],
      );
      const stored = res.rows.map((r) => Number(r.seq));
      const contiguousSeq = await advanceCursor(c, ref, row, toRanges(stored));
      return { inserted: stored.length, duplicates: seqs.length - stored.length, contiguousSeq };
    });
  }

  async markSkipped(ref: EdgeRef, fromSeq: number, toSeq: number): Promise<StoreResult> {
    checkSeq(ref, fromSeq);
    checkSeq(ref, toSeq);
    return this.tx(async (c) => {
      const row = await lockEdge(c, ref);
      const ranges = toSeq >= fromSeq ? [{ from: fromSeq, to: toSeq }] : [];
      return { inserted: 0, duplicates: 0, contiguousSeq: await advanceCursor(c, ref, row, ranges) };
    });
  }

  async quarantine(item: Omit<QuarantineItem, 'id'>): Promise<void> {
    await this.db().query('INSERT INTO quarantine (at, site, edge, topic, reason, payload) VALUES ($1, $2, $3, $4, $5, $6)', [
      item.at,
      item.site ?? null,
      item.edge ?? null,
      item.topic,
      item.reason,
      item.payload,
    ]);
  }

  async listQuarantine(limit: number, site?: string): Promise<QuarantineItem[]> {
    type Row = { id: number; at: number; site: string | null; edge: string | null; topic: string; reason: string; payload: string };
    const res =
      site === undefined
        ? await this.db().query<Row>('SELECT * FROM quarantine ORDER BY at DESC, id DESC LIMIT $1', [limit])
        : await this.db().query<Row>('SELECT * FROM quarantine WHERE site = $1 ORDER BY at DESC, id DESC LIMIT $2', [site, limit]);
    return res.rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      ...(r.site !== null && { site: r.site }),
      ...(r.edge !== null && { edge: r.edge }),
      topic: r.topic,
      reason: r.reason,
      payload: r.payload,
    }));
  }

  async latest(site: string, edge?: string): Promise<(Reading & { edge: string })[]> {
    const res =
      edge === undefined
        ? await this.db().query<ReadingRow>('SELECT * FROM latest_readings WHERE site = $1 ORDER BY sensor COLLATE "C", ts DESC, edge COLLATE "C"', [site])
        : await this.db().query<ReadingRow>('SELECT * FROM latest_readings WHERE site = $1 AND edge = $2 ORDER BY sensor COLLATE "C"', [site, edge]);
    return latestPerSensor(res.rows);
  }

  async history(site: string, sensor: string, from: number, to: number, bucketMs: number): Promise<HistoryBucket[]> {
    checkBucket(bucketMs, from, to);
    const db = this.db();
    // ts is bigint, so / is integer division: buckets are multiples of bucketMs from the epoch.
    const raw = await db.query<PartialBucket>(
      `SELECT (ts / $3::bigint) * $3::bigint AS t, min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count,
         max(ts) AS "lastTs", (array_agg(value ORDER BY ${LAST_ORDER}))[1] AS last
       FROM readings WHERE site = $1 AND sensor = $2 AND ts >= $4 AND ts < $5 AND value IS NOT NULL
       GROUP BY 1`,
      [site, sensor, bucketMs, from, to],
    );
    const hourly = await db.query<Omit<PartialBucket, 't'> & { hour: number }>(
      `SELECT hour, min_value AS min, max_value AS max, sum_value AS sum, value_count AS count, last_value AS last, last_ts AS "lastTs"
       FROM readings_hourly WHERE site = $1 AND sensor = $2 AND hour > $3 AND hour < $4`,
      [site, sensor, from - HOUR_MS, to],
    );
    return mergeBuckets([...raw.rows, ...hourly.rows.map(({ hour, ...h }) => ({ ...h, t: hourBucket(hour, bucketMs) }))]);
  }

  async readings(site: string, sensor: string, from: number, to: number, limit: number): Promise<(Reading & { edge: string; seq: number })[]> {
    const res = await this.db().query<ReadingRow>(
      'SELECT * FROM readings WHERE site = $1 AND sensor = $2 AND ts >= $3 AND ts < $4 ORDER BY ts, edge COLLATE "C", seq LIMIT $5',
      [site, sensor, from, to, limit],
    );
    return res.rows.map((r) => ({ ...rowToReading(r), seq: Number(r.seq) }));
  }

  async events(site: string, opts: { edge?: string; since?: number; limit: number; kind?: string; source?: string }): Promise<(Event & { edge: string; seq: number })[]> {
    const args: unknown[] = [site];
    const where = ['site = $1'];
    const add = (sql: string, v: unknown): void => {
      args.push(v);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (opts.edge !== undefined) add('edge = ?', opts.edge);
    if (opts.since !== undefined) add('ts >= ?', opts.since);
    if (opts.kind !== undefined) add('kind = ?', opts.kind);
    if (opts.source !== undefined) add('source = ?', opts.source);
    args.push(opts.limit);
    const res = await this.db().query<EventRow>(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY ts DESC, edge COLLATE "C", seq DESC LIMIT $${args.length}`, args);
    return res.rows.map(rowToEvent);
  }

  async downsample(rawBefore: number): Promise<{ aggregated: number; deleted: number }> {
    // Whole hours only, so an hour is either raw or aggregated (late arrivals for an aggregated
    // hour are merged into it by the next run).
    const cutoff = Math.floor(rawBefore / HOUR_MS) * HOUR_MS;
    // Every sensor that ever stored a reading has a latest_readings row; one (site, sensor) per
    // transaction keeps each on the (site, sensor, ts) index and each transaction short.
    const series = await this.db().query<{ site: string; sensor: string }>('SELECT DISTINCT site, sensor FROM latest_readings');
    let aggregated = 0;
    let deleted = 0;
    for (const { site, sensor } of series.rows) {
      const counts = await this.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [DOWNSAMPLE_LOCK]);
        // One statement, so the rows aggregated are exactly the rows deleted: a reading stored
        // concurrently (a late batch for an old hour) is in neither and waits for the next run.
        const res = await c.query<{ aggregated: number; deleted: number }>(
          `WITH gone AS (
             DELETE FROM readings WHERE site = $1 AND sensor = $2 AND ts < $3 RETURNING edge, seq, ts, value
           ), agg AS (
             INSERT INTO readings_hourly (site, sensor, hour, min_value, max_value, sum_value, value_count, last_value, last_ts)
             SELECT $1::text, $2::text, (ts / ${HOUR_MS}) * ${HOUR_MS}, min(value), max(value), sum(value), count(*),
               (array_agg(value ORDER BY ${LAST_ORDER}))[1], max(ts)
             FROM gone WHERE value IS NOT NULL GROUP BY 3
             ON CONFLICT (site, sensor, hour) DO UPDATE SET
               min_value = LEAST(readings_hourly.min_value, excluded.min_value),
               max_value = GREATEST(readings_hourly.max_value, excluded.max_value),
               sum_value = readings_hourly.sum_value + excluded.sum_value,
               value_count = readings_hourly.value_count + excluded.value_count,
               last_value = CASE WHEN excluded.last_ts >= readings_hourly.last_ts THEN excluded.last_value ELSE readings_hourly.last_value END,
               last_ts = GREATEST(readings_hourly.last_ts, excluded.last_ts)
             RETURNING 1
           )
           SELECT (SELECT count(*) FROM agg) AS aggregated, (SELECT count(*) FROM gone) AS deleted`,
          [site, sensor, cutoff],
        );
        return res.rows[0] ?? { aggregated: 0, deleted: 0 };
      });
      aggregated += Number(counts.aggregated);
      deleted += Number(counts.deleted);
    }
    if (deleted > 0) this.opts.log?.info({ rawBefore: cutoff, aggregated, deleted }, 'downsampled readings to hourly');
    return { aggregated, deleted };
  }

  async addToken(name: string, role: ApiRole, tokenHash: string, now: number): Promise<void> {
    await this.db().query(
      `INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, created_at = excluded.created_at`,
      [name, role, tokenHash, now],
    );
  }

  async findToken(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    const res = await this.db().query<TokenRow>('SELECT name, role, created_at FROM api_tokens WHERE token_hash = $1', [tokenHash]);
    const row = res.rows[0];
    return row && rowToToken(row);
  }

  async listTokens(): Promise<ApiTokenRecord[]> {
    const res = await this.db().query<TokenRow>('SELECT name, role, created_at FROM api_tokens ORDER BY name COLLATE "C"');
    return res.rows.map(rowToToken);
  }

  async addUser(user: UserRecord): Promise<void> {
    const res = await this.db().query(
      'INSERT INTO users (name, role, site, fields, password_hash, created_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT DO NOTHING',
      [user.name, user.role, user.site, user.fields === null ? null : JSON.stringify(user.fields), user.passwordHash, user.createdAt],
    );
    if (res.rowCount === 0) throw userExists(user.name);
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const row = (await this.db().query<UserRow>('SELECT * FROM users WHERE name = $1', [name])).rows[0];
    return row && rowToUser(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db().query<UserRow>('SELECT * FROM users ORDER BY name COLLATE "C"')).rows.map(rowToUser);
  }

  async removeUser(name: string): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query("DELETE FROM sessions WHERE kind = 'user' AND subject = $1", [name]);
      return ((await c.query('DELETE FROM users WHERE name = $1', [name])).rowCount ?? 0) > 0;
    });
  }

  async addSession(s: SessionRecord): Promise<void> {
    await this.db().query(
      'INSERT INTO sessions (id_hash, kind, subject, site, csrf, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [s.idHash, s.kind, s.subject, s.site, s.csrf, s.tokenHash ?? null, s.createdAt, s.expiresAt],
    );
  }

  async findSession(idHash: string): Promise<SessionRecord | undefined> {
    const row = (await this.db().query<SessionRow>('SELECT * FROM sessions WHERE id_hash = $1', [idHash])).rows[0];
    return row && rowToSession(row);
  }

  async renewSession(idHash: string, expiresAt: number): Promise<void> {
    await this.db().query('UPDATE sessions SET expires_at = $2 WHERE id_hash = $1', [idHash, expiresAt]);
  }

  async removeSession(idHash: string): Promise<void> {
    await this.db().query('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
  }

  async removeExpiredSessions(now: number): Promise<number> {
    return (await this.db().query('DELETE FROM sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  async addCommand(c: CommandRecord): Promise<void> {
    const res = await this.db().query(
      `INSERT INTO commands (id, site, edge, issued_by, action, issued_at, ttl, expires_at, status, reason, updated_at)
       SELECT $1, $2::text, $3::text, $4, $5::jsonb, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM edges WHERE site = $2 AND edge = $3)`,
      [c.id, c.site, c.edge, c.by, JSON.stringify(c.action), c.issuedAt, c.ttl, c.issuedAt + c.ttl, c.status, c.reason ?? null, c.updatedAt],
    );
    if (res.rowCount === 0) throw unknownEdge({ site: c.site, edge: c.edge });
  }

  async commandResult(ref: EdgeRef, id: string, status: Exclude<CommandStatus, 'sent' | 'expired'>, reason: string | undefined, at: number): Promise<CommandRecord | undefined> {
    const res = await this.db().query<CommandRow>(
      `UPDATE commands SET status = $1, reason = $2, updated_at = $3
       WHERE id = $4 AND site = $5 AND edge = $6 AND status = ANY($7::text[]) RETURNING *`,
      [status, reason ?? null, at, id, ref.site, ref.edge, replaceableBy(status)],
    );
    const row = res.rows[0];
    return row && rowToCommand(row);
  }

  async expireCommands(now: number): Promise<CommandRecord[]> {
    // Row locks make this safe from several workers at once: a row another worker just expired
    // no longer matches status = 'sent' when the update re-checks it, so each expires once.
    const res = await this.db().query<CommandRow>("UPDATE commands SET status = 'expired', updated_at = $1 WHERE status = 'sent' AND expires_at <= $1 RETURNING *", [now]);
    return res.rows.map(rowToCommand).sort(byIssued);
  }

  async listCommands(site: string, opts: { by?: string; updatedSince?: number; limit: number }): Promise<CommandRecord[]> {
    const args: unknown[] = [site];
    const where = ['site = $1'];
    if (opts.by !== undefined) {
      args.push(opts.by);
      where.push(`issued_by = $${args.length}`);
    }
    if (opts.updatedSince !== undefined) {
      args.push(opts.updatedSince);
      where.push(`updated_at >= $${args.length}`);
    }
    args.push(opts.limit);
    const res = await this.db().query<CommandRow>(`SELECT * FROM commands WHERE ${where.join(' AND ')} ORDER BY issued_at DESC, id COLLATE "C" DESC LIMIT $${args.length}`, args);
    return res.rows.map(rowToCommand);
  }

  async putEdgeState(ref: EdgeRef, state: EdgeState, receivedAt: number): Promise<void> {
    const res = await this.db().query(
      `INSERT INTO edge_state (site, edge, received_at, state) SELECT $1::text, $2::text, $3, $4::jsonb WHERE EXISTS (SELECT 1 FROM edges WHERE site = $1 AND edge = $2)
       ON CONFLICT (site, edge) DO UPDATE SET received_at = excluded.received_at, state = excluded.state`,
      [ref.site, ref.edge, receivedAt, JSON.stringify(state)],
    );
    if (res.rowCount === 0) throw unknownEdge(ref);
  }

  async edgeStates(site: string): Promise<EdgeStateRecord[]> {
    const res = await this.db().query<EdgeStateRow>('SELECT * FROM edge_state WHERE site = $1 ORDER BY edge COLLATE "C"', [site]);
    return rowsToEdgeStates(res.rows);
  }

  async setAnnouncement(site: string, a: Announcement | null): Promise<void> {
    if (a === null) await this.db().query('DELETE FROM announcements WHERE site = $1', [site]);
    else {
      await this.db().query(
        `INSERT INTO announcements (site, text, updated_by, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (site) DO UPDATE SET text = excluded.text, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
        [site, a.text, a.by, a.updatedAt],
      );
    }
  }

  async getAnnouncement(site: string): Promise<Announcement | undefined> {
    const row = (await this.db().query<AnnouncementRow>('SELECT * FROM announcements WHERE site = $1', [site])).rows[0];
    return row && rowToAnnouncement(row);
  }

  private db(): pg.Pool {
    if (!this.pool) throw new VillageError('STORE_FAILED', 'cloud store is not open: call init() first');
    return this.pool;
  }

  /** Runs fn in one transaction on one pooled connection; rolls back on any error. */
  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.db().connect();
    let broken: Error | undefined;
    // The server may drop the connection between two statements of this transaction; pg then
    // emits 'error' on the client, which would crash the process with no listener. The pending or
    // next query fails too, and that failure is what the caller sees.
    const onError = (err: Error): void => {
      broken = err;
      this.opts.log?.warn({ err: err.message }, 'PostgreSQL connection failed inside a transaction');
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is unusable: release it as broken so the pool discards it.
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}

/** The edge row, locked for the rest of the transaction: one writer per edge at a time. */
async function lockEdge(c: PoolClient, ref: EdgeRef): Promise<EdgeRow> {
  const res = await c.query<EdgeRow>('SELECT * FROM edges WHERE site = $1 AND edge = $2 FOR UPDATE', [ref.site, ref.edge]);
  const row = res.rows[0];
  if (!row) throw unknownEdge(ref);
  return row;
}

/** See seq.ts: advance through the new ranges, park the rest, fold parked ranges it now reaches. */
async function advanceCursor(c: PoolClient, ref: EdgeRef, row: EdgeRow, ranges: readonly SeqRange[]): Promise<number> {
  const before = Number(row.contiguous_seq);
  const advanced = advance(before, ranges);
  let cursor = advanced.cursor;
  if (advanced.parked.length > 0) {
    await c.query(
      'INSERT INTO seq_pending (site, edge, from_seq, to_seq) SELECT $1::text, $2::text, u.* FROM unnest($3::bigint[], $4::bigint[]) AS u ON CONFLICT DO NOTHING',
      [ref.site, ref.edge, advanced.parked.map((r) => r.from), advanced.parked.map((r) => r.to)],
    );
  }
  if (cursor > before) {
    for (;;) {
      const res = await c.query<{ reach: number | null }>('SELECT max(to_seq) AS reach FROM seq_pending WHERE site = $1 AND edge = $2 AND from_seq <= $3', [ref.site, ref.edge, cursor + 1]);
      const reach = res.rows[0]?.reach ?? null;
      if (reach === null || reach <= cursor) break;
      cursor = reach;
    }
    await c.query('DELETE FROM seq_pending WHERE site = $1 AND edge = $2 AND to_seq <= $3', [ref.site, ref.edge, cursor]);
  }
  const maxSeq = ranges.reduce((m, r) => Math.max(m, r.to), Number(row.max_seq));
  if (cursor !== before || maxSeq !== Number(row.max_seq)) {
    await c.query('UPDATE edges SET contiguous_seq = $3, max_seq = $4 WHERE site = $1 AND edge = $2', [ref.site, ref.edge, cursor, maxSeq]);
  }
  return cursor;
}

/** The URL without its password, for logs and errors. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}
