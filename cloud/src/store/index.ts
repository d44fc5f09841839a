import type { Logger } from 'pino';
import { PostgresCloudStore } from './postgres.js';
import { SqliteCloudStore } from './sqlite.js';
import type { CloudStore } from './types.js';

/**
 * Semantics both stores share, beyond what types.ts says:
 *
 * - Writes for an edge that was never added throw STORE_FAILED ("… is not registered"): the
 *   ingest only stores for authenticated edges, so this is a bug or a deleted edge, never data
 *   to keep. addEdge on an existing edge throws too (rotate with setEdgeSecret instead).
 * - contiguousSeq counts a seq as done when it is stored in readings or events (one seq space per
 *   edge) or covered by markSkipped. Seqs are positive safe integers; a batch with a seq that is
 *   not, or with seqs.length !== rows.length, is refused whole.
 * - history(): buckets are [t, t + bucketMs) with t a multiple of bucketMs from the Unix epoch
 *   (UTC: a day bucket runs from 00:00 UTC, not local midnight). min/avg/max/last/count are over
 *   non-null values only (count = number of values); a bucket without any value is omitted.
 *   Downsampled hours are merged in (avg weighted by count, last by newest ts); for buckets
 *   smaller than an hour a downsampled hour comes back as one bucket with t = the hour's start.
 *   Hourly aggregates that overlap [from, to) are included whole.
 * - downsample(rawBefore) handles whole hours only (rawBefore is floored to the hour); error
 *   readings (null value) in those hours are deleted without a trace in the aggregate.
 *   aggregated = hourly rows written or merged, deleted = raw rows removed.
 * - latest() keeps the newest reading by ts per (edge, sensor), including error readings; for a
 *   whole site it returns the newest per sensor across edges.
 */
export type * from './types.js';
export { PostgresCloudStore, type PostgresCloudStoreOptions } from './postgres.js';
export { SqliteCloudStore, type SqliteCloudStoreOptions } from './sqlite.js';

/**
 * The store named by a setting: a postgres:// or postgresql:// URL opens PostgreSQL (a province,
 * several ingest workers); anything else is a SQLite file path (one village), ":memory:" included.
 * Not yet initialised: call init().
 */
export function openCloudStore(urlOrPath: string, log?: Logger): CloudStore {
  if (/^postgres(ql)?:\/\//i.test(urlOrPath)) return new PostgresCloudStore({ url: urlOrPath, ...(log && { log }) });
  return new SqliteCloudStore({ path: urlOrPath, ...(log && { log }) });
}
