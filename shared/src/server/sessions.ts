import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The browser-session primitives of both servers (docs/web-api.md): the cookie, its syntax, the
 * CSRF header check and the same-origin check. Where sessions are kept differs (the cloud's store
 * is async, the edge's SQLite sync), so the session managers stay in each package.
 */

export const SESSION_COOKIE = 'sv_session';
/** A session id as handed out: 32 random bytes, base64url (43 characters). */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A cookie's value (RFC 6265 §5.4 syntax; the first of a repeated name wins). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request reached us over TLS, directly or through a proxy that says so. */
export function overTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  const proto = req.headers['x-forwarded-proto'];
  return (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** Set-Cookie for a session; `maxAgeMs` 0 clears it. */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  const parts = [`${SESSION_COOKIE}=${id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

/** Constant-time comparison of the X-CSRF-Token header with the session's CSRF value. */
export function csrfMatches(req: IncomingMessage, session: { readonly csrf: string }): boolean {
  const header = req.headers['x-csrf-token'];
  const sent = Buffer.from(typeof header === 'string' ? header : '', 'utf8');
  const expected = Buffer.from(session.csrf, 'utf8');
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}

/**
 * Same-origin check for requests that change state or log in: an Origin header (browsers send it
 * on every POST/PUT/DELETE) must name this host (or, behind a trusted proxy, the forwarded host);
 * without one, Sec-Fetch-Site must not say cross-site. Requests with neither come from something
 * that is not a browser page (the CLI, curl), which carries no ambient cookie.
 */
export function sameOrigin(req: IncomingMessage, trustProxy = false): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (origin === 'null') return false;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return false;
    }
    const forwarded = req.headers['x-forwarded-host'];
    const hosts = [req.headers.host, trustProxy ? (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() : undefined];
    return hosts.some((h) => h !== undefined && h.toLowerCase() === host.toLowerCase());
  }
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}
