import type { CommandAction, EdgeState, Event, Reading } from '@smart-village/shared';

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

/**
 * People who log in to the web app. admin and operator act on the whole site; a farmer sees and
 * waters only the fields listed for them; a viewer reads the whole site.
 */
export const USER_ROLES = ['admin', 'operator', 'farmer', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export interface UserRecord {
  /** Login name: lowercase letters, digits, . _ - (USERNAME_PATTERN in auth/users.ts). */
  name: string;
  role: UserRole;
  /** The one site the account belongs to. */
  site: string;
  /** For farmers, the fields they own; null = every field of the site (other roles). */
  fields: string[] | null;
  /** scrypt hash, the same format as edge secrets (auth/secret.ts). */
  passwordHash: string;
  createdAt: number;
}

/**
 * A browser session. Only the SHA-256 of the session id (the cookie) is stored. A user session
 * names the user (looked up on every request, so a removed user or a changed role applies at
 * once); a kiosk session names the viewer token it was exchanged for and ends when that token is
 * rotated or removed.
 */
export interface SessionRecord {
  idHash: string;
  kind: 'user' | 'kiosk';
  /** User name, or the token's name for a kiosk. */
  subject: string;
  site: string;
  /** Sent back in X-CSRF-Token on state-changing requests; not a credential on its own. */
  csrf: string;
  /** Kiosk sessions: SHA-256 of the viewer token. */
  tokenHash?: string;
  createdAt: number;
  expiresAt: number;
}

/** sent: published, no answer yet; then what the edge said; expired: no answer within its ttl. */
export const COMMAND_STATUSES = ['sent', 'accepted', 'rejected', 'done', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** One command of the audit trail. */
export interface CommandRecord {
  id: string;
  site: string;
  edge: string;
  /** Who asked: a user name, or "token:{name}". */
  by: string;
  action: CommandAction;
  issuedAt: number;
  ttl: number;
  status: CommandStatus;
  reason?: string;
  updatedAt: number;
}

/** The latest …/state of an edge and when it arrived. */
export interface EdgeStateRecord extends EdgeRef {
  receivedAt: number;
  state: EdgeState;
}

export interface Announcement {
  text: string;
  by: string;
  updatedAt: number;
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

  /** Adds a user; an existing name throws STORE_FAILED (remove it first). */
  addUser(user: UserRecord): Promise<void>;
  getUser(name: string): Promise<UserRecord | undefined>;
  /** All users, by name. */
  listUsers(): Promise<UserRecord[]>;
  /** Removes a user and every session of theirs; false if there was none. */
  removeUser(name: string): Promise<boolean>;

  addSession(session: SessionRecord): Promise<void>;
  findSession(idHash: string): Promise<SessionRecord | undefined>;
  /** Moves a session's expiry (sliding sessions). */
  renewSession(idHash: string, expiresAt: number): Promise<void>;
  removeSession(idHash: string): Promise<void>;
  /** Deletes sessions whose expiry is at or before `now`; returns how many. */
  removeExpiredSessions(now: number): Promise<number>;

  /** Stores a new audit row (its edge must be registered). */
  addCommand(command: CommandRecord): Promise<void>;
  /**
   * Applies an edge's result to its command. Statuses only move forward (sent/expired ->
   * accepted -> done/failed; sent/expired -> rejected/done/failed): a repeated or late result
   * changes nothing. Returns the updated row, or undefined when nothing changed (an unknown id,
   * a command of another edge, or a status that does not move it forward).
   */
  commandResult(ref: EdgeRef, id: string, status: Exclude<CommandStatus, 'sent' | 'expired'>, reason: string | undefined, at: number): Promise<CommandRecord | undefined>;
  /** Marks commands still `sent` whose issuedAt + ttl is at or before `now` as expired; returns them. */
  expireCommands(now: number): Promise<CommandRecord[]>;
  /** A site's commands, newest first (optionally of one issuer, or updated since a time). */
  listCommands(site: string, opts: { by?: string; updatedSince?: number; limit: number }): Promise<CommandRecord[]>;

  /** Keeps the latest …/state of a registered edge (replacing the previous one). */
  putEdgeState(ref: EdgeRef, state: EdgeState, receivedAt: number): Promise<void>;
  /** The latest state of each edge of a site that sent one, by edge. */
  edgeStates(site: string): Promise<EdgeStateRecord[]>;

  /** Sets (or, with null, clears) the site's announcement. */
  setAnnouncement(site: string, announcement: Announcement | null): Promise<void>;
  getAnnouncement(site: string): Promise<Announcement | undefined>;
}
