import type { Event, Reading } from '@smart-village/shared';
import { API_ROLES, type ApiRole, type ApiTokenRecord, type EdgeRecord } from './types.js';

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
