import type { Event, Reading } from '@smart-village/shared';

/** Which edge a row came from. */
export interface EdgeRef {
  site: string;
  edge: string;
}

export interface EdgeRecord extends EdgeRef {
  /** scrypt hash of the edge's MQTT secret ("scrypt$N$r$p$salt$hash", base64 parts). */
  secretHash: string;
  createdAt: number;
  /** Last time anything arrived from it (ms), 0 if never. */
  lastSeen: number;
  /** From its retained status: online/offline and birth number. */
  state: 'online' | 'offline' | 'unknown';
  birth: number;
  /** Highest seq such that every seq 1..n is stored (or accounted for). */
  contiguousSeq: number;
  /** Highest seq seen at all. */
  maxSeq: number;
}

export interface StoreResult {
  /** Rows newly stored. */
  inserted: number;
  /** Rows that were already there (replays, resends after a lost ack). */
  duplicates: number;
  /** The edge's contiguous seq after this write: what the ingest acknowledges. */
  contiguousSeq: number;
}

export interface QuarantineItem {
  id: number;
  at: number;
  site?: string;
  edge?: string;
  topic: string;
  reason: string;
  /** The raw payload, base64, exactly as received. */
  payload: string;
}

/** What an HTTP API token may do: viewer reads (hall screens), operator also sees quarantine, admin everything. */
export const API_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ApiTokenRecord {
  /** Unique, chosen by whoever created it ("hall-screen"). */
  name: string;
  role: ApiRole;
  createdAt: number;
}

export interface HistoryBucket {
  /** Bucket start, epoch ms. */
  t: number;
  min: number;
  avg: number;
  max: number;
  last: number;
  count: number;
}

/**
 * The cloud's storage. One contract suite runs against every implementation (SQLite for one
 * village, PostgreSQL for a province). All writes are idempotent on (site, edge, seq).
 */
export interface CloudStore {
  init(): Promise<void>;
  close(): Promise<void>;

  addEdge(ref: EdgeRef, secretHash: string, now: number): Promise<void>;
  /** Replaces the credential of an existing edge (rotation). */
  setEdgeSecret(ref: EdgeRef, secretHash: string): Promise<void>;
  getEdge(ref: EdgeRef): Promise<EdgeRecord | undefined>;
  listEdges(site?: string): Promise<EdgeRecord[]>;
  /** Records liveness and the retained status (a status with an older birth is ignored). */
  touchEdge(ref: EdgeRef, at: number, status?: { state: 'online' | 'offline'; birth: number }): Promise<void>;

  /** Stores readings idempotently and advances the contiguous seq in the same transaction. */
  storeReadings(ref: EdgeRef, seqs: readonly number[], readings: readonly Reading[]): Promise<StoreResult>;
  storeEvents(ref: EdgeRef, seqs: readonly number[], events: readonly Event[]): Promise<StoreResult>;
  /** Seqs the edge dropped before sending (disk quota): counted as done for the contiguous seq. */
  markSkipped(ref: EdgeRef, fromSeq: number, toSeq: number): Promise<StoreResult>;

  quarantine(item: Omit<QuarantineItem, 'id'>): Promise<void>;
  listQuarantine(limit: number, site?: string): Promise<QuarantineItem[]>;

  /** Latest reading per sensor of a site (optionally one edge). */
  latest(site: string, edge?: string): Promise<(Reading & { edge: string })[]>;
  /** Readings of one sensor in [from, to), in time buckets of bucketMs (min/avg/max/last). */
  history(site: string, sensor: string, from: number, to: number, bucketMs: number): Promise<HistoryBucket[]>;
  /** Raw readings of one sensor in [from, to), oldest first, at most limit. */
  readings(site: string, sensor: string, from: number, to: number, limit: number): Promise<(Reading & { edge: string; seq: number })[]>;
  events(site: string, opts: { edge?: string; since?: number; limit: number; kind?: string; source?: string }): Promise<(Event & { edge: string; seq: number })[]>;

  /**
   * Keeps hourly aggregates of readings older than `rawBefore` (min/avg/max/last/count per
   * sensor-hour) and deletes those raw rows; history() reads both transparently.
   */
  downsample(rawBefore: number): Promise<{ aggregated: number; deleted: number }>;

  /**
   * HTTP API tokens, kept as a SHA-256 hash only. Adding an existing name replaces its role and
   * hash (rotation: the old token stops working at once).
   */
  addToken(name: string, role: ApiRole, tokenHash: string, now: number): Promise<void>;
  findToken(tokenHash: string): Promise<ApiTokenRecord | undefined>;
  /** All tokens, by name. */
  listTokens(): Promise<ApiTokenRecord[]>;
}
