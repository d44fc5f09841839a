import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { VillageError, type CommandAction } from '@smart-village/shared';

/**
 * Who may use the edge's web app, and what was asked of it: users, kiosk tokens, browser sessions
 * and the audit trail of commands, in `web.sqlite` in the data directory.
 *
 * A file of its own rather than tables in control.sqlite: the control store exists only on edges
 * that drive outputs, while any edge serves the app; it holds password hashes, so it is created
 * 0600 (SQLite gives its -wal and -shm files the same mode) whatever the mode of the others; and
 * resetting the control state (a new season) must not log the village out, nor the reverse.
 */
export const WEB_FILE = 'web.sqlite';

/** Bumped with every change to the tables below; `migrate` upgrades older files in place. */
export const WEB_SCHEMA_VERSION = 1;

const V1 = `
CREATE TABLE users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, fields TEXT, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE tokens (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, csrf TEXT NOT NULL, token_hash TEXT,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_subject ON sessions (kind, subject);
CREATE TABLE commands (
  id TEXT PRIMARY KEY, by TEXT NOT NULL, action TEXT NOT NULL, edge TEXT NOT NULL, issued_at INTEGER NOT NULL,
  ttl INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, updated_at INTEGER NOT NULL
);
CREATE INDEX commands_issued ON commands (issued_at);
`;

export const USER_ROLES = ['admin', 'operator', 'farmer', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];
/** Tokens read (viewer: hall screens) or act (operator, admin) without a person logging in. */
export const TOKEN_ROLES = ['viewer', 'operator', 'admin'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export interface UserRecord {
  name: string;
  role: UserRole;
  /** A farmer's fields; null for the other roles (every field). */
  fields: string[] | null;
  passwordHash: string;
  createdAt: number;
}

export interface TokenRecord {
  name: string;
  role: TokenRole;
  createdAt: number;
}

export interface SessionRecord {
  /** SHA-256 of the cookie value; the value itself is never stored. */
  idHash: string;
  kind: 'user' | 'kiosk';
  /** User name, or the token's name for a kiosk. */
  subject: string;
  csrf: string;
  /** Kiosk sessions: SHA-256 of the viewer token, so rotating the token ends them. */
  tokenHash?: string;
  createdAt: number;
  expiresAt: number;
}

export const COMMAND_STATUSES = ['sent', 'accepted', 'rejected', 'done', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** One row of the audit trail (the cloud's CommandView shape, docs/web-api.md). */
export interface CommandRecord {
  id: string;
  by: string;
  action: CommandAction;
  edge: string;
  issuedAt: number;
  ttl: number;
  status: CommandStatus;
  reason?: string;
  updatedAt: number;
}

/** A status never goes back: "accepted" may be reported after the final "done" was stored. */
const STATUS_RANK: Record<CommandStatus, number> = { sent: 0, accepted: 1, rejected: 2, done: 2, failed: 2, expired: 2 };
/** Audit rows older than this are deleted (an irrigation season and some). */
const COMMANDS_KEPT_MS = 180 * 86_400_000;

type UserRow = { name: string; role: UserRole; fields: string | null; password_hash: string; created_at: number };
type SessionRow = { id_hash: string; kind: 'user' | 'kiosk'; subject: string; csrf: string; token_hash: string | null; created_at: number; expires_at: number };
type CommandRow = { id: string; by: string; action: string; edge: string; issued_at: number; ttl: number; status: CommandStatus; reason: string | null; updated_at: number };

export class WebStore {
  private readonly db: Database.Database;

  /** Opens (creating, 0600) `web.sqlite` in the data directory. */
  constructor(dataDir: string) {
    const path = join(dataDir, WEB_FILE);
    try {
      if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
      this.db = new Database(path);
    } catch (err) {
      throw new VillageError('STORE_FAILED', `cannot open ${path}: ${(err as Error).message} (run as the service user, e.g. sudo -u village)`, { path }, { cause: err });
    }
    try {
      this.db.pragma('journal_mode = WAL');
      // Written on a login, a command or a user change, never in a loop: a full sync costs nothing.
      this.db.pragma('synchronous = FULL');
      // The CLI and the service may write at the same moment.
      this.db.pragma('busy_timeout = 5000');
      this.migrate(path);
    } catch (err) {
      this.db.close();
      throw err instanceof VillageError ? err : new VillageError('STORE_FAILED', `cannot open ${path}: ${(err as Error).message}`, { path }, { cause: err });
    }
  }

  private migrate(path: string): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > WEB_SCHEMA_VERSION) {
      throw new VillageError('STORE_FAILED', `${path} has schema version ${version}, newer than this edge understands (${WEB_SCHEMA_VERSION}): upgrade the edge`, { path, version });
    }
    if (version === WEB_SCHEMA_VERSION) return;
    this.db
      .transaction(() => {
        if (version < 1) this.db.exec(V1);
        this.db.pragma(`user_version = ${WEB_SCHEMA_VERSION}`);
      })
      .immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- users ------------------------------------------------------------------------------

  /** Adds a user; false when the name is taken. */
  addUser(u: UserRecord): boolean {
    const { changes } = this.db
      .prepare('INSERT INTO users (name, role, fields, password_hash, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING')
      .run(u.name, u.role, u.fields === null ? null : JSON.stringify(u.fields), u.passwordHash, u.createdAt);
    return changes === 1;
  }

  getUser(name: string): UserRecord | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return row && toUser(row);
  }

  listUsers(): UserRecord[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  /** Removes a user and ends their sessions; false when there was none. */
  removeUser(name: string): boolean {
    return this.db.transaction(() => {
      this.db.prepare("DELETE FROM sessions WHERE kind = 'user' AND subject = ?").run(name);
      return this.db.prepare('DELETE FROM users WHERE name = ?').run(name).changes === 1;
    })();
  }

  // ---- tokens -----------------------------------------------------------------------------

  /** Adds a token, or replaces the one of that name (its kiosk sessions then end). */
  putToken(name: string, role: TokenRole, tokenHash: string, now: number): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM sessions WHERE kind = 'kiosk' AND subject = ?").run(name);
      this.db
        .prepare('INSERT INTO tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, created_at = excluded.created_at')
        .run(name, role, tokenHash, now);
    })();
  }

  findToken(tokenHash: string): TokenRecord | undefined {
    const row = this.db.prepare('SELECT name, role, created_at FROM tokens WHERE token_hash = ?').get(tokenHash) as { name: string; role: TokenRole; created_at: number } | undefined;
    return row && { name: row.name, role: row.role, createdAt: row.created_at };
  }

  listTokens(): TokenRecord[] {
    return (this.db.prepare('SELECT name, role, created_at FROM tokens ORDER BY name').all() as { name: string; role: TokenRole; created_at: number }[]).map((r) => ({
      name: r.name,
      role: r.role,
      createdAt: r.created_at,
    }));
  }

  removeToken(name: string): boolean {
    return this.db.transaction(() => {
      this.db.prepare("DELETE FROM sessions WHERE kind = 'kiosk' AND subject = ?").run(name);
      return this.db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes === 1;
    })();
  }

  // ---- sessions ---------------------------------------------------------------------------

  addSession(s: SessionRecord): void {
    this.db
      .prepare('INSERT INTO sessions (id_hash, kind, subject, csrf, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(s.idHash, s.kind, s.subject, s.csrf, s.tokenHash ?? null, s.createdAt, s.expiresAt);
  }

  findSession(idHash: string): SessionRecord | undefined {
    const r = this.db.prepare('SELECT * FROM sessions WHERE id_hash = ?').get(idHash) as SessionRow | undefined;
    if (!r) return undefined;
    return { idHash: r.id_hash, kind: r.kind, subject: r.subject, csrf: r.csrf, ...(r.token_hash !== null && { tokenHash: r.token_hash }), createdAt: r.created_at, expiresAt: r.expires_at };
  }

  renewSession(idHash: string, expiresAt: number): void {
    this.db.prepare('UPDATE sessions SET expires_at = ? WHERE id_hash = ?').run(expiresAt, idHash);
  }

  removeSession(idHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
  }

  removeExpiredSessions(now: number): number {
    return this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
  }

  // ---- the command audit trail ------------------------------------------------------------

  addCommand(c: CommandRecord): void {
    this.db
      .prepare('INSERT INTO commands (id, by, action, edge, issued_at, ttl, status, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(c.id, c.by, JSON.stringify(c.action), c.edge, c.issuedAt, c.ttl, c.status, c.reason ?? null, c.updatedAt);
    this.db.prepare('DELETE FROM commands WHERE issued_at < ?').run(c.issuedAt - COMMANDS_KEPT_MS);
  }

  /** Records a result; the updated row, or undefined for an unknown id or a status that would go back. */
  commandResult(id: string, status: CommandStatus, reason: string | undefined, at: number): CommandRecord | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT * FROM commands WHERE id = ?').get(id) as CommandRow | undefined;
      if (!row) return undefined;
      const final = STATUS_RANK[row.status] === 2;
      if (final || STATUS_RANK[status] < STATUS_RANK[row.status]) return undefined;
      // Told twice (control's listener, then the answer of the call): once is a change.
      if (status === row.status && (reason ?? null) === row.reason) return undefined;
      this.db.prepare('UPDATE commands SET status = ?, reason = ?, updated_at = ? WHERE id = ?').run(status, reason ?? null, at, id);
      return toCommand({ ...row, status, reason: reason ?? null, updated_at: at });
    })();
  }

  getCommand(id: string): CommandRecord | undefined {
    const row = this.db.prepare('SELECT * FROM commands WHERE id = ?').get(id) as CommandRow | undefined;
    return row && toCommand(row);
  }

  /** Newest first; of one issuer when `by` is given. */
  listCommands(opts: { limit: number; by?: string; updatedSince?: number }): CommandRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM commands WHERE (@by IS NULL OR by = @by) AND updated_at >= @since ORDER BY issued_at DESC, rowid DESC LIMIT @limit')
      .all({ by: opts.by ?? null, since: opts.updatedSince ?? 0, limit: opts.limit }) as CommandRow[];
    return rows.map(toCommand);
  }
}

function toUser(r: UserRow): UserRecord {
  return { name: r.name, role: r.role, fields: r.fields === null ? null : (JSON.parse(r.fields) as string[]), passwordHash: r.password_hash, createdAt: r.created_at };
}

function toCommand(r: CommandRow): CommandRecord {
  return {
    id: r.id,
    by: r.by,
    action: JSON.parse(r.action) as CommandAction,
    edge: r.edge,
    issuedAt: r.issued_at,
    ttl: r.ttl,
    status: r.status,
    ...(r.reason !== null && { reason: r.reason }),
    updatedAt: r.updated_at,
  };
}
