import type { IncomingMessage } from 'node:http';
import type { Principal } from './access.js';
import { sameSecret } from './local-token.js';
import { newSessionSecret, sha256 } from './secret.js';
import type { SessionRecord, WebStore } from './web-store.js';

/**
 * Browser sessions (docs/web-api.md): a random id in an HttpOnly, SameSite=Strict cookie, of
 * which the store keeps only the SHA-256; each session has its own CSRF value for the
 * X-CSRF-Token header of state-changing requests.
 */

export const SESSION_COOKIE = 'sv_session';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
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
    if (!SESSION_ID.test(id)) return undefined;
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

/** A cookie's value (RFC 6265 §5.4; the first of a repeated name wins). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the page was reached over TLS: directly, or through a proxy in front of the Pi that says so. */
export function overTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  const proto = req.headers['x-forwarded-proto'];
  return (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** Set-Cookie for a session; `maxAgeMs` 0 clears it. */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return [`${SESSION_COOKIE}=${id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(maxAgeMs / 1000)}`, ...(secure ? ['Secure'] : [])].join('; ');
}

export function csrfMatches(req: IncomingMessage, record: SessionRecord): boolean {
  const header = req.headers['x-csrf-token'];
  return sameSecret(typeof header === 'string' ? header : '', record.csrf);
}

/**
 * Requests that change state or log in must come from our own page: an Origin header (browsers send
 * one on every POST/PUT/DELETE) naming this host, or without one a Sec-Fetch-Site that is not
 * cross-site. Neither: not a browser page (the CLI, curl), which carries no ambient cookie.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    try {
      return origin !== 'null' && new URL(origin).host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
    } catch {
      return false;
    }
  }
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
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
