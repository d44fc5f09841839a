import type { EventInput, Event, Reading } from '@smart-village/shared';

/**
 * Readings of one sensor in one time bucket, aggregated: what history charts draw. `t` is the
 * bucket start (ts floored to a multiple of the bucket width from the epoch); `last` is the value
 * of the newest reading in it (`lastTs`).
 */
export interface SensorBucket {
  sensor: string;
  t: number;
  min: number;
  max: number;
  sum: number;
  count: number;
  last: number;
  lastTs: number;
}

/** A committed row of the outbox, numbered by the edge's one monotonic sequence. */
export type OutboxRow =
  | { seq: number; kind: 'reading'; reading: Reading }
  | { seq: number; kind: 'event'; event: Event };

export interface OutboxStats {
  /** Rows committed and not yet acknowledged by the cloud. */
  depth: number;
  /** Highest seq committed (0 when none). */
  lastSeq: number;
  /** Highest seq the cloud has acknowledged as stored (0 when none). */
  ackedSeq: number;
  /** Readings and events waiting in memory for the next commit. */
  buffered: number;
  /** Database size on disk (main file + WAL), bytes. */
  bytes: number;
  /** Telemetry rows deleted to stay within quota before the cloud had them. */
  droppedUnsent: number;
}

/**
 * The SQLite outbox. A reading is durable once committed; seqs are assigned at commit, so a
 * crash never leaves a gap. Readings and events share one sequence.
 */
export interface Outbox {
  /** Buffers readings; they are committed by the next commit (timer or `flush`). */
  addReadings(readings: readonly Reading[]): void;
  /** Buffers an event; it is committed with the next commit. */
  addEvent(event: EventInput): void;
  /** Commits everything buffered in one transaction; returns the rows committed. */
  flush(): number;
  /** Committed rows with seq > after, in seq order, at most `limit`. */
  rowsAfter(after: number, limit: number): OutboxRow[];
  /** The cloud stored everything up to and including `seq`. */
  acknowledge(seq: number): void;
  stats(): OutboxStats;
  /** Whether this outbox file ever sent rows to the cloud (persisted; set before the first send). */
  hasSent(): boolean;
  markSent(): void;
  /**
   * The cloud already holds seqs 1..cloudSeq from an earlier outbox of this edge (a replaced SD
   * card): renumber every unacknowledged row to follow them, and count them as the new cursor.
   */
  rebase(cloudSeq: number): void;
  /** Told after each commit (the sync sends new rows at once instead of on its next poll). */
  onCommit(listener: (lastSeq: number) => void): void;
  /** Increments and returns the persisted MQTT birth counter (see shared/src/status.ts). */
  nextBirth(): number;
  /** Latest committed reading per sensor. */
  latest(): Reading[];
  /** Committed readings of these sensors with ts >= from, in seq order (control's history at start). */
  readingsSince(sensors: readonly string[], from: number): Reading[];
  /** Most recent events first. */
  recentEvents(limit: number, filter?: { source?: string; kind?: string }): Event[];
  /** Most recent events first, with their seq; of one source or kind, at or after `since` (ts). */
  eventsWithSeq(query: { limit: number; source?: string; kind?: string; since?: number }): (Event & { seq: number })[];
  /**
   * Readings with a value, seq in (afterSeq, uptoSeq] and ts in [from, to), aggregated per sensor
   * and bucket of `bucketMs`. A long range is walked in slices of seqs, so that no one call holds
   * the event loop (and with it control) for long.
   */
  readingBuckets(range: { afterSeq: number; uptoSeq: number; from: number; to: number; bucketMs: number }): SensorBucket[];
  /** The first reading seq with ts >= `ts` (seqs follow time closely); lastSeq + 1 when none is that new. */
  seqAtTime(ts: number): number;
  /** Applies retention by age and the disk quota now (also runs periodically). */
  enforceRetention(): void;
  start(): void;
  /** Final commit and close; idempotent. */
  stop(): void;
}
