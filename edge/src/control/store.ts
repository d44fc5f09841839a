import Database from 'better-sqlite3';
import { VillageError } from '@smart-village/shared';
import { emptyPersisted, type PersistedControl, type ZoneRunRecord } from './core.js';

/**
 * The control state that must survive a restart (runs in progress, pause, rain delay, tank
 * lock-outs, overrides) and the irrigation log. Its own small SQLite file next to the outbox:
 * written a few times per watering, never in the poll loop.
 */
export interface ControlStore {
  load(): PersistedControl;
  save(state: PersistedControl): void;
  addRuns(runs: readonly ZoneRunRecord[]): void;
  /** Newest first. */
  runs(filter?: { zone?: string; from?: number; to?: number; limit?: number }): ZoneRunRecord[];
  close(): void;
}

export const CONTROL_FILE = 'control.sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, zone TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
  litres REAL, metered INTEGER NOT NULL, source TEXT NOT NULL, program TEXT, reason TEXT NOT NULL,
  outcome TEXT NOT NULL, end_reason TEXT, by TEXT
);
CREATE INDEX IF NOT EXISTS runs_zone_start ON runs (zone, start);
`;

type RunRow = { zone: string; start: number; end: number; litres: number | null; metered: number; source: string; program: string | null; reason: string; outcome: string; end_reason: string | null; by: string | null };

export class SqliteControlStore implements ControlStore {
  private readonly db: Database.Database;

  constructor(path: string, opts: { readonly?: boolean } = {}) {
    try {
      this.db = new Database(path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
    } catch (err) {
      throw new VillageError('STORE_FAILED', `cannot open the control store ${path}: ${(err as Error).message}`, { path }, { cause: err });
    }
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      // A valve state that is lost in a power cut would be a run nobody logs: full sync.
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
    }
  }

  load(): PersistedControl {
    const row = this.db.prepare('SELECT value FROM kv WHERE key = ?').pluck().get('state') as string | undefined;
    if (row === undefined) return emptyPersisted();
    try {
      const parsed = JSON.parse(row) as PersistedControl;
      return parsed.version === 1 ? { ...emptyPersisted(), ...parsed } : emptyPersisted();
    } catch {
      return emptyPersisted();
    }
  }

  save(state: PersistedControl): void {
    this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('state', JSON.stringify(state));
  }

  addRuns(runs: readonly ZoneRunRecord[]): void {
    const insert = this.db.prepare('INSERT INTO runs (zone, start, "end", litres, metered, source, program, reason, outcome, end_reason, by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const r of runs) insert.run(r.zone, r.start, r.end, r.litres ?? null, r.metered ? 1 : 0, r.source, r.program ?? null, r.reason, r.outcome, r.endReason ?? null, r.by ?? null);
    })();
  }

  runs(filter: { zone?: string; from?: number; to?: number; limit?: number } = {}): ZoneRunRecord[] {
    const rows = this.db
      .prepare('SELECT zone, start, "end", litres, metered, source, program, reason, outcome, end_reason, by FROM runs WHERE (@zone IS NULL OR zone = @zone) AND start >= @from AND start < @to ORDER BY start DESC, id DESC LIMIT @limit')
      .all({ zone: filter.zone ?? null, from: filter.from ?? 0, to: filter.to ?? Number.MAX_SAFE_INTEGER, limit: filter.limit ?? 1_000_000 }) as RunRow[];
    return rows.map((r) => ({
      zone: r.zone,
      start: r.start,
      end: r.end,
      metered: r.metered === 1,
      source: r.source as ZoneRunRecord['source'],
      reason: r.reason,
      outcome: r.outcome as ZoneRunRecord['outcome'],
      ...(r.litres !== null && { litres: r.litres }),
      ...(r.program !== null && { program: r.program }),
      ...(r.end_reason !== null && { endReason: r.end_reason }),
      ...(r.by !== null && { by: r.by }),
    }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** In memory, for the closed-loop tests and benchmarks. */
export class MemoryControlStore implements ControlStore {
  private state = emptyPersisted();
  private readonly log: ZoneRunRecord[] = [];
  load(): PersistedControl {
    return structuredClone(this.state);
  }
  save(state: PersistedControl): void {
    this.state = structuredClone(state);
  }
  addRuns(runs: readonly ZoneRunRecord[]): void {
    this.log.push(...runs);
  }
  runs(filter: { zone?: string; from?: number; to?: number; limit?: number } = {}): ZoneRunRecord[] {
    // Newest logged first among runs with the same start, as SQLite's "start DESC, id DESC":
    // reversed insertion order through a stable sort.
    return [...this.log]
      .reverse()
      .filter((r) => (filter.zone === undefined || r.zone === filter.zone) && r.start >= (filter.from ?? 0) && r.start < (filter.to ?? Number.MAX_SAFE_INTEGER))
      .sort((a, b) => b.start - a.start)
      .slice(0, filter.limit ?? Infinity);
  }
  close(): void {}
}

const CSV_HEADER = ['zone', 'start', 'end', 'minutes', 'litres', 'metered', 'source', 'program', 'reason', 'outcome', 'end_reason', 'by'];

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * The irrigation log as CSV for farm records (RFC 4180: CRLF lines, quoted fields). Times are
 * local site time "YYYY-MM-DD HH:MM" so a spreadsheet shows what the farmer saw.
 */
export function runsToCsv(runs: readonly ZoneRunRecord[], localTime: (ms: number) => string): string {
  const lines = [CSV_HEADER.join(',')];
  for (const r of [...runs].sort((a, b) => a.start - b.start)) {
    lines.push(
      [
        r.zone,
        localTime(r.start),
        localTime(r.end),
        (Math.round((r.end - r.start) / 6000) / 10).toFixed(1),
        r.litres !== undefined ? String(r.litres) : '',
        r.metered ? 'yes' : 'no',
        r.source,
        r.program ?? '',
        r.reason,
        r.outcome,
        r.endReason ?? '',
        r.by ?? '',
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
