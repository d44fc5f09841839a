import type { Database } from 'better-sqlite3';
import { VillageError, type Quality } from '@smart-village/shared';

/** Bumped with every change to the tables below; `migrate` upgrades older files in place. */
export const SCHEMA_VERSION = 1;

/**
 * Version 1 of the outbox file.
 *
 * - `readings` and `events` share one seq space (INTEGER PRIMARY KEY = the rowid, so a seq
 *   costs no extra bytes and range scans/deletes by seq walk the table b-tree directly).
 * - Readings are stored compactly because they are nearly all of the file: the (sensor, unit)
 *   pair is interned in `series` (1-2 bytes a row instead of a 5-64 character id plus the
 *   unit), quality and clockSynced are packed in `flags`, ts is an integer, value a REAL
 *   (SQLite stores integral REALs as small integers on disk). No secondary index: retention
 *   and quota delete a seq prefix, so none is needed, and each index would slow every commit.
 * - `meta` holds the counters that must never go backwards (last_seq, acked_seq) and is
 *   written in the same transaction as the rows they describe.
 * - `latest` keeps the newest reading per sensor, updated in the commit transaction, so it
 *   survives retention and costs one small lookup instead of a scan.
 */
const V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('last_seq', 0), ('acked_seq', 0), ('dropped_unsent', 0);
CREATE TABLE series (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE (sensor, unit));
CREATE TABLE readings (seq INTEGER PRIMARY KEY, series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flags INTEGER NOT NULL);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, synced INTEGER NOT NULL, kind TEXT NOT NULL,
  severity TEXT NOT NULL, source TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE latest (
  sensor TEXT PRIMARY KEY, seq INTEGER NOT NULL, series INTEGER NOT NULL, ts INTEGER NOT NULL,
  value REAL, flags INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Brings a file to SCHEMA_VERSION; refuses files written by a newer edge rather than guess. */
export function migrate(db: Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new VillageError('STORE_FAILED', `outbox ${path} has schema version ${version}, newer than this edge understands (${SCHEMA_VERSION}): upgrade the edge or move the file away`, { path, version });
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    if (version < 1) db.exec(V1);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Fixed codes, not indexes into QUALITIES, so reordering that list never changes stored rows. */
const QUALITY_CODE = { good: 0, 'out-of-range': 1, stale: 2, error: 3 } as const satisfies Record<Quality, number>;
const QUALITY_BY_CODE: readonly Quality[] = (Object.keys(QUALITY_CODE) as Quality[]).sort((a, b) => QUALITY_CODE[a] - QUALITY_CODE[b]);

export function packFlags(quality: Quality, clockSynced: boolean): number {
  return (QUALITY_CODE[quality] << 1) | (clockSynced ? 1 : 0);
}

export function unpackFlags(flags: number): { quality: Quality; clockSynced: boolean } {
  // An unknown code can only come from a newer writer; "error" is the honest reading of it.
  return { quality: QUALITY_BY_CODE[flags >> 1] ?? 'error', clockSynced: (flags & 1) === 1 };
}
