import { SESSION_ID_PATTERN } from '@smart-village/shared/server';
import type { Principal } from './access.js';
import { newSessionSecret, sha256 } from './secret.js';
import type { SessionRecord, WebStore } from './web-store.js';

/**
 * Browser sessions (docs/web-api.md): a random id in an HttpOnly, SameSite=Strict cookie, of
 * which the store keeps only the SHA-256; each session has its own CSRF value for the
 * X-CSRF-Token header of state-changing requests.
 */

// Cookie, CSRF and same-origin checks are the cloud's too.
export { csrfMatches, overTls, readCookie, sameOrigin, SESSION_COOKIE, sessionCookie } from '@smart-village/shared/server';

/** A user session ends after 30 days unused; a hall screen's after 400 (the browsers' cookie cap, RFC 6265bis §5.5). */
export const SESSION_TTL = { user: 30 * 86_400_000, kiosk: 400 * 86_400_000 } as const;
/** The expiry moves forward at most this often per session (a write to the SD card). */
const RENEW_EVERY_MS = 3_600_000;

/** The user as the web app sees it. */
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
  /** This request moved the expiry: the cookie goes out again with the new Max-Age. */
  renewed: boolean;
}

export class Sessions {
  constructor(
    private readonly store: WebStore,
    private readonly site: string,
    private readonly now: () => number,
  ) {}

  create(kind: SessionRecord['kind'], subject: string, tokenHash?: string): { id: string; record: SessionRecord } {
    const id = newSessionSecret();
    const now = this.now();
    const record: SessionRecord = { idHash: sha256(id), kind, subject, csrf: newSessionSecret(), ...(tokenHash !== undefined && { tokenHash }), createdAt: now, expiresAt: now + SESSION_TTL[kind] };
    this.store.addSession(record);
    return { id, record };
  }

  /**
   * The live session behind a cookie value. An expired one, one whose user was removed, or a kiosk
   * whose token was rotated, is deleted on the spot. The user is looked up each time, so a changed
   * role or field list applies at once.
   */
  resolve(id: string): ActiveSession | undefined {
    if (!SESSION_ID_PATTERN.test(id)) return undefined;
    const record = this.store.findSession(sha256(id));
    if (!record) return undefined;
    const now = this.now();
    const end = (): undefined => {
      this.store.removeSession(record.idHash);
      return undefined;
    };
    if (record.expiresAt <= now) return end();
    let principal: Principal;
    if (record.kind === 'user') {
      const user = this.store.getUser(record.subject);
      if (!user) return end();
      principal = { via: 'session', name: user.name, role: user.role, fields: user.role === 'farmer' ? (user.fields ?? []) : null };
    } else {
      const token = record.tokenHash === undefined ? undefined : this.store.findToken(record.tokenHash);
      if (!token || token.name !== record.subject) return end();
      principal = { via: 'session', name: token.name, role: 'kiosk', fields: null };
    }
    const ttl = SESSION_TTL[record.kind];
    let renewed = false;
    if (record.expiresAt - now < ttl - RENEW_EVERY_MS) {
      record.expiresAt = now + ttl;
      this.store.renewSession(record.idHash, record.expiresAt);
      renewed = true;
    }
    const user: SessionUser = { name: principal.name, role: principal.role, site: this.site, fields: principal.fields === null ? null : [...principal.fields] };
    return { record, principal, user, renewed };
  }

  end(record: SessionRecord): void {
    this.store.removeSession(record.idHash);
  }
}

/**
 * Login attempts per client address: a burst, refilled at a steady rate. Each attempt costs an
 * scrypt (16 MiB, ~100 ms on a Pi), so guessing is slow and cannot starve the control loop.
 */
export class LoginLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** Takes one attempt for this address; false when none is left. */
  take(address: string): boolean {
    const now = this.now();
    const b = this.buckets.get(address) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(address, b);
    // A village LAN has few addresses; an address scan must not grow this without bound.
    if (this.buckets.size > 10_000) {
      for (const [key, v] of this.buckets) if (v.tokens + ((now - v.at) / 60_000) * this.perMinute >= this.burst) this.buckets.delete(key);
      if (this.buckets.size > 10_000) this.buckets.clear();
    }
    return ok;
  }

  /** Seconds until one more attempt is allowed. */
  get retryAfterSeconds(): number {
    return Math.ceil(60 / this.perMinute);
  }
}
