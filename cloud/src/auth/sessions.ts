import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SESSION_ID_PATTERN } from '@smart-village/shared/server';
import type { CloudStore, SessionRecord } from '../store/types.js';
import type { Principal } from './access.js';

/**
 * Browser sessions: a random id in an HttpOnly, SameSite=Strict cookie; the store keeps only its
 * SHA-256 (like API tokens: 256 random bits need no salt or slow hash). Each session has its own
 * CSRF token, which state-changing requests carry in X-CSRF-Token.
 */

// Cookie, CSRF and same-origin checks are the edge's too.
export { csrfMatches, overTls, readCookie, sameOrigin, SESSION_COOKIE, sessionCookie } from '@smart-village/shared/server';

export interface SessionOptions {
  /** A user session ends after this long without use (sliding). Default 30 days. */
  ttlMs: number;
  /** A kiosk (hall screen) session: default 400 days, sliding. */
  kioskTtlMs: number;
  /** The expiry is moved forward at most this often per session (a write), default 1 h. */
  renewEveryMs: number;
}

export const DEFAULT_SESSION_OPTIONS: Readonly<SessionOptions> = Object.freeze({
  ttlMs: 30 * 86_400_000,
  // Browsers cap cookie lifetimes at 400 days (RFC 6265bis §5.5).
  kioskTtlMs: 400 * 86_400_000,
  renewEveryMs: 3_600_000,
});

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** The user as the web app sees it (docs/web-api.md). */
export interface SessionUser {
  name: string;
  role: Principal['role'];
  site: string;
  fields: string[] | null;
}

export interface ActiveSession {
  record: SessionRecord;
  principal: Principal;
  user: SessionUser;
  /** Set when this request moved the expiry: the cookie is sent again with the new Max-Age. */
  renewed: boolean;
}

export class Sessions {
  constructor(
    private readonly store: CloudStore,
    private readonly now: () => number,
    readonly opts: SessionOptions,
  ) {}

  ttlOf(kind: SessionRecord['kind']): number {
    return kind === 'kiosk' ? this.opts.kioskTtlMs : this.opts.ttlMs;
  }

  /** A new session; returns the id for the cookie (shown nowhere else). */
  async create(kind: SessionRecord['kind'], subject: string, site: string, tokenHash?: string): Promise<{ id: string; record: SessionRecord }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    const record: SessionRecord = {
      idHash: hashSessionId(id),
      kind,
      subject,
      site,
      csrf: randomBytes(32).toString('base64url'),
      ...(tokenHash !== undefined && { tokenHash }),
      createdAt: now,
      expiresAt: now + this.ttlOf(kind),
    };
    await this.store.addSession(record);
    return { id, record };
  }

  /**
   * The live session behind a cookie value, or undefined. An expired session, one whose user was
   * removed or moved to another site, or a kiosk whose token was rotated, is deleted on the spot.
   */
  async resolve(id: string): Promise<ActiveSession | undefined> {
    if (!SESSION_ID_PATTERN.test(id)) return undefined;
    const record = await this.store.findSession(hashSessionId(id));
    if (!record) return undefined;
    const now = this.now();
    const end = async (): Promise<undefined> => {
      await this.store.removeSession(record.idHash);
      return undefined;
    };
    if (record.expiresAt <= now) return end();
    let principal: Principal;
    if (record.kind === 'user') {
      const user = await this.store.getUser(record.subject);
      if (!user || user.site !== record.site) return end();
      // Looked up each time: a changed role or field list applies at once.
      principal = { via: 'session', name: user.name, role: user.role, site: user.site, fields: user.role === 'farmer' ? (user.fields ?? []) : null };
    } else {
      const token = record.tokenHash === undefined ? undefined : await this.store.findToken(record.tokenHash);
      if (!token || token.name !== record.subject) return end();
      principal = { via: 'session', name: token.name, role: 'kiosk', site: record.site, fields: null };
    }
    const ttl = this.ttlOf(record.kind);
    let renewed = false;
    if (record.expiresAt - now < ttl - this.opts.renewEveryMs) {
      record.expiresAt = now + ttl;
      await this.store.renewSession(record.idHash, record.expiresAt);
      renewed = true;
    }
    const user: SessionUser = { name: principal.name, role: principal.role, site: record.site, fields: principal.fields === null ? null : [...principal.fields] };
    return { record, principal, user, renewed };
  }

  async end(record: SessionRecord): Promise<void> {
    await this.store.removeSession(record.idHash);
  }
}

/** The client's address for rate limits: the socket's, or the proxy's word when it is trusted. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const list = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    // The right-most entry is the one our proxy added; the rest the client could have written.
    const last = list[list.length - 1];
    if (last) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}
