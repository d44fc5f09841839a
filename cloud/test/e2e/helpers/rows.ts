import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { systemClock } from '../../../../edge/src/clock.js';
import { SqliteOutbox } from '../../../../edge/src/store/sqlite-outbox.js';

/** One stored row, as compared between the edge outbox and the cloud: seq plus its content. */
export interface Row {
  seq: number;
  sensor: string;
  ts: number;
  value: number | null;
}

export interface EdgeSide {
  readings: Row[];
  /** Event seqs with their kind (events share the seq space with readings). */
  events: { seq: number; kind: string }[];
  lastSeq: number;
  ackedSeq: number;
}

/** Everything the edge outbox has committed, read from its file (the edge may be running or dead). */
export function edgeSide(outboxPath: string): EdgeSide {
  const outbox = new SqliteOutbox({ path: outboxPath, clock: systemClock, log: pino({ level: 'silent' }), readonly: true });
  try {
    const rows = outbox.rowsAfter(0, 10_000_000);
    const stats = outbox.stats();
    return {
      readings: rows.flatMap((r) => (r.kind === 'reading' ? [{ seq: r.seq, sensor: r.reading.sensor, ts: r.reading.ts, value: r.reading.value }] : [])),
      events: rows.flatMap((r) => (r.kind === 'event' ? [{ seq: r.seq, kind: r.event.kind }] : [])),
      lastSeq: stats.lastSeq,
      ackedSeq: stats.ackedSeq,
    };
  } finally {
    outbox.stop();
  }
}

export interface CloudSide {
  readings: Row[];
  events: { seq: number; kind: string }[];
  contiguousSeq: number;
}

/** What the cloud stored for one edge, read straight from its database (SQLite file or postgres://). */
export async function cloudSide(db: string, site: string, edge: string): Promise<CloudSide> {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      const r = await client.query<{ seq: string; sensor: string; ts: string; value: number | null }>('SELECT seq, sensor, ts, value FROM readings WHERE site = $1 AND edge = $2 ORDER BY seq', [site, edge]);
      const e = await client.query<{ seq: string; kind: string }>('SELECT seq, kind FROM events WHERE site = $1 AND edge = $2 ORDER BY seq', [site, edge]);
      const c = await client.query<{ contiguous_seq: string }>('SELECT contiguous_seq FROM edges WHERE site = $1 AND edge = $2', [site, edge]);
      return {
        readings: r.rows.map((x) => ({ seq: Number(x.seq), sensor: x.sensor, ts: Number(x.ts), value: x.value })),
        events: e.rows.map((x) => ({ seq: Number(x.seq), kind: x.kind })),
        contiguousSeq: Number(c.rows[0]?.contiguous_seq ?? 0),
      };
    } finally {
      await client.end();
    }
  }
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    sqlite.pragma('busy_timeout = 5000');
    const readings = sqlite.prepare('SELECT seq, sensor, ts, value FROM readings WHERE site = ? AND edge = ? ORDER BY seq').all(site, edge) as Row[];
    const events = sqlite.prepare('SELECT seq, kind FROM events WHERE site = ? AND edge = ? ORDER BY seq').all(site, edge) as { seq: number; kind: string }[];
    const c = sqlite.prepare('SELECT contiguous_seq FROM edges WHERE site = ? AND edge = ?').get(site, edge) as { contiguous_seq: number } | undefined;
    return { readings, events, contiguousSeq: c?.contiguous_seq ?? 0 };
  } finally {
    sqlite.close();
  }
}

/** Cloud contiguous seq only (cheap, for polling). */
export async function contiguousSeq(db: string, site: string, edge: string): Promise<number> {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      const c = await client.query<{ contiguous_seq: string }>('SELECT contiguous_seq FROM edges WHERE site = $1 AND edge = $2', [site, edge]);
      return Number(c.rows[0]?.contiguous_seq ?? 0);
    } finally {
      await client.end();
    }
  }
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    sqlite.pragma('busy_timeout = 5000');
    const c = sqlite.prepare('SELECT contiguous_seq FROM edges WHERE site = ? AND edge = ?').get(site, edge) as { contiguous_seq: number } | undefined;
    return c?.contiguous_seq ?? 0;
  } finally {
    sqlite.close();
  }
}

/** The cloud side of readings, sorted like the edge side, with the checks every sync test makes. */
export function seqsOf(rows: { seq: number }[]): number[] {
  return rows.map((r) => r.seq);
}
