import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { idSchema } from '@smart-village/shared';
import { clientAddress, overTls, sessionCookie, type SessionUser } from '../auth/sessions.js';
import { MAX_SECRET_LENGTH } from '../auth/secret.js';
import { checkLogin } from '../auth/users.js';
import { ApiError } from '@smart-village/shared/server';
import { noParams, noQuery } from './params.js';
import { Reply, route, type ApiDeps, type Route } from './route.js';
import { authenticate, hashToken } from './tokens.js';

/** Login and kiosk bodies. Lengths are bounded before any scrypt work. */
export const loginBody = z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(1).max(MAX_SECRET_LENGTH) });
export const kioskBody = z.strictObject({ token: z.string().min(1).max(200), site: idSchema.optional() });

/** Login attempts per client address, counted before the password is checked (each costs an scrypt). */
function admit(req: IncomingMessage, d: ApiDeps): void {
  const remote = clientAddress(req, d.trustProxy);
  if (!d.logins.take(remote)) {
    d.limited.warn(`login-limit:${remote}`, { remote }, 'too many login attempts: refusing this address for now');
    throw new ApiError('TOO_MANY_REQUESTS', 'too many login attempts from this address: wait a minute and try again');
  }
}

function sessionReply(req: IncomingMessage, d: ApiDeps, id: string, ttlMs: number, user: SessionUser, csrf: string): Reply {
  return new Reply(200, { user, csrf }, { 'set-cookie': sessionCookie(id, ttlMs, overTls(req)) });
}

/** POST/GET/DELETE /api/session and POST /api/session/kiosk (docs/web-api.md, Sessions). */
export const SESSION_ROUTES: readonly Route[] = [
  route({
    method: 'POST',
    path: '/api/session',
    role: 'public',
    params: noParams,
    query: noQuery,
    body: loginBody,
    handle: async ({ body, req }, d) => {
      admit(req, d);
      const user = await checkLogin(d.store, body.username, body.password);
      if (!user) {
        // The same answer for an unknown name and a wrong password; the name is not logged
        // (people type passwords into it).
        const remote = clientAddress(req, d.trustProxy);
        d.limited.warn(`login:${remote}`, { remote }, 'login refused');
        throw new ApiError('UNAUTHORIZED', 'wrong user name or password');
      }
      const { id, record } = await d.sessions.create('user', user.name, user.site);
      d.log.info({ user: user.name, role: user.role }, 'logged in');
      const fields = user.role === 'farmer' ? (user.fields ?? []) : null;
      return sessionReply(req, d, id, d.sessions.ttlOf('user'), { name: user.name, role: user.role, site: user.site, fields }, record.csrf);
    },
  }),
  route({
    method: 'POST',
    path: '/api/session/kiosk',
    role: 'public',
    params: noParams,
    query: noQuery,
    body: kioskBody,
    handle: async ({ body, req }, d) => {
      admit(req, d);
      const token = await authenticate(d.store, body.token);
      if (!token) throw new ApiError('UNAUTHORIZED', 'unknown or malformed token');
      // A hall screen's URL is seen by many: only a read-only token belongs in it.
      if (token.role !== 'viewer') throw new ApiError('FORBIDDEN', `a kiosk needs a viewer token, not ${token.role} (village-cloud token add --role viewer)`);
      const sites = [...new Set((await d.store.listEdges()).map((e) => e.site))];
      let site = body.site;
      if (site === undefined) {
        if (sites.length !== 1) throw new ApiError('BAD_REQUEST', `this cloud serves ${sites.length} sites: give the site`, [{ path: 'body.site', message: 'required when the cloud serves several sites' }]);
        site = sites[0] as string;
      } else if (!sites.includes(site)) {
        throw new ApiError('NOT_FOUND', `unknown site "${site}"`);
      }
      const { id, record } = await d.sessions.create('kiosk', token.name, site, hashToken(body.token));
      d.log.info({ client: token.name, site }, 'kiosk session started');
      return sessionReply(req, d, id, d.sessions.ttlOf('kiosk'), { name: token.name, role: 'kiosk', site, fields: null }, record.csrf);
    },
  }),
  route({
    path: '/api/session',
    role: 'viewer',
    sessionOnly: true,
    params: noParams,
    query: noQuery,
    handle: async ({ session }) => {
      if (!session) throw new ApiError('UNAUTHORIZED', 'not logged in');
      return { user: session.user, csrf: session.record.csrf };
    },
  }),
  route({
    method: 'DELETE',
    path: '/api/session',
    role: 'viewer',
    sessionOnly: true,
    params: noParams,
    query: noQuery,
    handle: async ({ session, req }, d) => {
      if (!session) throw new ApiError('UNAUTHORIZED', 'not logged in');
      await d.sessions.end(session.record);
      d.log.info({ user: session.user.name }, 'logged out');
      return new Reply(200, { ok: true }, { 'set-cookie': sessionCookie('', 0, overTls(req)) });
    },
  }),
];
