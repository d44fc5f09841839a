import { stateSchema, VillageError, type CommandAction, type Event, type Reading } from '@smart-village/shared';
import {
  API_ROLES,
  COMMAND_STATUSES,
  USER_ROLES,
  type Announcement,
  type ApiRole,
  type ApiTokenRecord,
  type CommandRecord,
  type CommandStatus,
  type EdgeRecord,
  type EdgeStateRecord,
  type SessionRecord,
  type UserRecord,
  type UserRole,
} from './types.js';

/**
 * Row shapes shared by both stores (same column names in SQLite and PostgreSQL) and their mapping
 * to the interface types. Integers may arrive as numbers (SQLite, pg with our int8 parser) and
 * booleans as 0/1 (SQLite) or true/false (pg), so the mappers normalise both.
 */
export interface EdgeRow {
  site: string;
  edge: string;
  secret_hash: string;
  created_at: number;
  last_seen: number;
  state: string;
  birth: number;
  contiguous_seq: number;
  max_seq: number;
}

export interface ReadingRow {
  site: string;
  edge: string;
  seq: number;
  sensor: string;
  ts: number;
  value: number | null;
  unit: Reading['unit'];
  quality: Reading['quality'];
  clock_synced: number | boolean;
}

export interface EventRow {
  site: string;
  edge: string;
  seq: number;
  ts: number;
  clock_synced: number | boolean;
  kind: string;
  severity: Event['severity'];
  source: string;
  message: string;
  /** JSON text in SQLite, already parsed jsonb in PostgreSQL. */
  data: unknown;
}

const STATES = new Set(['online', 'offline', 'unknown']);

export function rowToEdge(r: EdgeRow): EdgeRecord {
  return {
    site: r.site,
    edge: r.edge,
    secretHash: r.secret_hash,
    createdAt: Number(r.created_at),
    lastSeen: Number(r.last_seen),
    state: STATES.has(r.state) ? (r.state as EdgeRecord['state']) : 'unknown',
    birth: Number(r.birth),
    contiguousSeq: Number(r.contiguous_seq),
    maxSeq: Number(r.max_seq),
  };
}

export function rowToReading(r: ReadingRow): Reading & { edge: string } {
  return {
    edge: r.edge,
    sensor: r.sensor,
    ts: Number(r.ts),
    value: r.value === null ? null : Number(r.value),
    unit: r.unit,
    quality: r.quality,
    clockSynced: Boolean(r.clock_synced),
  };
}

export function rowToEvent(r: EventRow): Event & { edge: string; seq: number } {
  return {
    edge: r.edge,
    seq: Number(r.seq),
    ts: Number(r.ts),
    clockSynced: Boolean(r.clock_synced),
    kind: r.kind,
    severity: r.severity,
    source: r.source,
    message: r.message,
    data: (r.data ?? {}) as Record<string, unknown>,
  };
}

/** From rows ordered by sensor then newest first, the first (newest) per sensor. */
export function latestPerSensor(rows: readonly ReadingRow[]): (Reading & { edge: string })[] {
  const out: (Reading & { edge: string })[] = [];
  let prev: string | undefined;
  for (const r of rows) {
    if (r.sensor === prev) continue;
    prev = r.sensor;
    out.push(rowToReading(r));
  }
  return out;
}

export interface TokenRow {
  name: string;
  role: string;
  created_at: number;
}

export function rowToToken(r: TokenRow): ApiTokenRecord {
  // A role this version does not know (written by a newer cloud) gets the least power.
  const role = (API_ROLES as readonly string[]).includes(r.role) ? (r.role as ApiRole) : 'viewer';
  return { name: r.name, role, createdAt: Number(r.created_at) };
}

/** JSON columns: text in SQLite, already parsed jsonb in PostgreSQL. */
function fromJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

export interface UserRow {
  name: string;
  role: string;
  site: string;
  fields: unknown;
  password_hash: string;
  created_at: number;
}

export function rowToUser(r: UserRow): UserRecord {
  // A role this version does not know gets the least power, as with tokens.
  const role = (USER_ROLES as readonly string[]).includes(r.role) ? (r.role as UserRole) : 'viewer';
  const fields = r.fields === null ? null : (fromJson(r.fields) as string[]);
  return { name: r.name, role, site: r.site, fields, passwordHash: r.password_hash, createdAt: Number(r.created_at) };
}

export interface SessionRow {
  id_hash: string;
  kind: string;
  subject: string;
  site: string;
  csrf: string;
  token_hash: string | null;
  created_at: number;
  expires_at: number;
}

export function rowToSession(r: SessionRow): SessionRecord {
  return {
    idHash: r.id_hash,
    kind: r.kind === 'kiosk' ? 'kiosk' : 'user',
    subject: r.subject,
    site: r.site,
    csrf: r.csrf,
    ...(r.token_hash !== null && { tokenHash: r.token_hash }),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

export interface CommandRow {
  id: string;
  site: string;
  edge: string;
  issued_by: string;
  action: unknown;
  issued_at: number;
  ttl: number;
  expires_at: number;
  status: string;
  reason: string | null;
  updated_at: number;
}

export function rowToCommand(r: CommandRow): CommandRecord {
  return {
    id: r.id,
    site: r.site,
    edge: r.edge,
    by: r.issued_by,
    action: fromJson(r.action) as CommandAction,
    issuedAt: Number(r.issued_at),
    ttl: Number(r.ttl),
    status: (COMMAND_STATUSES as readonly string[]).includes(r.status) ? (r.status as CommandStatus) : 'failed',
    ...(r.reason !== null && { reason: r.reason }),
    updatedAt: Number(r.updated_at),
  };
}

/** Which statuses a result may replace: statuses only move forward. */
export function replaceableBy(status: Exclude<CommandStatus, 'sent' | 'expired'>): CommandStatus[] {
  return status === 'done' || status === 'failed' ? ['sent', 'expired', 'accepted'] : ['sent', 'expired'];
}

/** Oldest issued first, then by id byte-wise (the same order in both stores). */
export function byIssued(a: CommandRecord, b: CommandRecord): number {
  return a.issuedAt - b.issuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export interface EdgeStateRow {
  site: string;
  edge: string;
  received_at: number;
  state: unknown;
}

/** Rows that no longer parse (written by another version) are left out rather than trusted. */
export function rowsToEdgeStates(rows: readonly EdgeStateRow[]): EdgeStateRecord[] {
  const out: EdgeStateRecord[] = [];
  for (const r of rows) {
    const parsed = stateSchema.safeParse(fromJson(r.state));
    if (parsed.success) out.push({ site: r.site, edge: r.edge, receivedAt: Number(r.received_at), state: parsed.data });
  }
  return out;
}

export interface AnnouncementRow {
  text: string;
  updated_by: string;
  updated_at: number;
}

export function rowToAnnouncement(r: AnnouncementRow): Announcement {
  return { text: r.text, by: r.updated_by, updatedAt: Number(r.updated_at) };
}

export function userExists(name: string): VillageError {
  return new VillageError('STORE_FAILED', `user "${name}" already exists: remove it first (village-cloud user remove ${name})`, { user: name, reason: 'user-exists' });
}
