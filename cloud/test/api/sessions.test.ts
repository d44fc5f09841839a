import { afterEach, describe, expect, it } from 'vitest';
import type { ApiOptions } from '../../src/api/server.js';
import { addApiToken } from '../../src/api/tokens.js';
import { hashSessionId } from '../../src/auth/sessions.js';
import { call, get, login, NOW, sessionFrom, startVillage, type Village } from './fixture.js';
import { openSse } from './sse.js';

const DAY = 86_400_000;
let v: Village | undefined;
afterEach(async () => {
  await v?.close();
  v = undefined;
});

/** A village with users, whose clock the test moves. */
async function village(api: Partial<ApiOptions> = {}): Promise<{ v: Village; clock: { t: number } }> {
  const clock = { t: NOW };
  v = await startVillage({ users: true, states: true, now: () => clock.t, api });
  return { v, clock };
}

describe('POST /api/session (login)', () => {
  it('answers the user and a CSRF token, and sets an HttpOnly SameSite=Strict cookie; the password is checked by scrypt', async () => {
    const { v } = await village();
    const r = await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: { name: 'lan', role: 'farmer', site: 'village-a', fields: ['ruong-lan'] }, csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const s = sessionFrom(r);
    expect(s?.setCookie).toMatch(/^sv_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=2592000$/);
    // Only the SHA-256 of the cookie is stored.
    const id = (s?.cookie as string).slice('sv_session='.length);
    expect(await v.store.findSession(id)).toBeUndefined();
    expect(await v.store.findSession(hashSessionId(id))).toMatchObject({ kind: 'user', subject: 'lan', site: 'village-a', expiresAt: NOW + 30 * DAY });
    // Names are lowercased: phones capitalise the first letter.
    expect((await call(v.base, '/api/session', { body: { username: 'An', password: 'an-password' } })).status).toBe(200);
  });

  it('marks the cookie Secure when the request came over TLS through a proxy', async () => {
    const { v } = await village();
    const r = await call(v.base, '/api/session', { body: { username: 'an', password: 'an-password' }, headers: { 'x-forwarded-proto': 'https' } });
    expect(sessionFrom(r)?.setCookie).toMatch(/; Secure$/);
  });

  it('401 with the same answer for a wrong password and an unknown user; no cookie', async () => {
    const { v } = await village();
    const wrong = await call(v.base, '/api/session', { body: { username: 'lan', password: 'binh-password' } });
    const unknown = await call(v.base, '/api/session', { body: { username: 'nobody', password: 'lan-password' } });
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'wrong user name or password' } });
      expect(r.headers['set-cookie']).toBeUndefined();
    }
  });

  it('refuses bad bodies with 400 naming the field', async () => {
    const { v } = await village();
    const r = await call(v.base, '/api/session', { body: { username: 'lan', password: 'x', remember: true } });
    expect(r.status).toBe(400);
    expect((r.body as { error: { issues: { path: string; message: string }[] } }).error.issues).toEqual([{ path: 'body.remember', message: 'unknown field' }]);
    const notJson = await call(v.base, '/api/session', { raw: '{"username": "lan",' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toEqual({ error: { code: 'BAD_REQUEST', message: 'body: not valid JSON', issues: [{ path: 'body', message: 'not valid JSON' }] } });
    const huge = await call(v.base, '/api/session', { body: { username: 'lan', password: 'x'.repeat(70_000) } });
    expect(huge.status).toBe(413);
  });

  it('rate-limits login attempts per address (429 with Retry-After), right or wrong, and recovers with time', async () => {
    const { v, clock } = await village({ loginLimit: { burst: 3, perMinute: 1 } });
    for (let i = 0; i < 3; i++) expect((await call(v.base, '/api/session', { body: { username: 'lan', password: 'guess' } })).status).toBe(401);
    const limited = await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' } });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect((limited.body as { error: { code: string } }).error.code).toBe('TOO_MANY_REQUESTS');
    // The kiosk exchange shares the budget (a token guess costs the same).
    expect((await call(v.base, '/api/session/kiosk', { body: { token: v.tokens.viewer } })).status).toBe(429);
    // Behind a proxy, another client is another bucket only when the proxy is trusted (not here).
    expect((await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' }, headers: { 'x-forwarded-for': '10.0.0.9' } })).status).toBe(429);
    clock.t += 61_000;
    expect((await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' } })).status).toBe(200);
  });

  it('with trustProxy, the forwarded address is the key', async () => {
    const { v } = await village({ loginLimit: { burst: 1, perMinute: 1 }, trustProxy: true });
    const as = (ip: string) => call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' }, headers: { 'x-forwarded-for': `1.2.3.4, ${ip}` } });
    expect((await as('10.0.0.1')).status).toBe(200);
    expect((await as('10.0.0.1')).status).toBe(429);
    expect((await as('10.0.0.2')).status).toBe(200);
  });

  it('refuses a login posted from another origin or as a form', async () => {
    const { v } = await village();
    const cross = await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' }, headers: { origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
    expect((cross.body as { error: { code: string } }).error.code).toBe('CSRF');
    const form = await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' }, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(403);
    // Same origin is fine.
    const same = await call(v.base, '/api/session', { body: { username: 'lan', password: 'lan-password' }, headers: { origin: v.base } });
    expect(same.status).toBe(200);
  });

  it('never logs passwords, session ids or CSRF tokens', async () => {
    const { v } = await village();
    const s = await login(v.base, 'lan');
    await call(v.base, '/api/session', { body: { username: 'lan', password: 'wrong-one-x' } });
    await call(v.base, '/api/session', { method: 'DELETE', session: s });
    const text = v.logs.join('\n');
    for (const secret of ['lan-password', 'wrong-one-x', s.cookie.slice('sv_session='.length), s.csrf]) expect(text).not.toContain(secret);
    expect(v.logs.some((l) => l.includes('"logged in"') && l.includes('"user":"lan"'))).toBe(true);
  });
});

describe('GET/DELETE /api/session', () => {
  it('GET answers the user and the same CSRF token; every GET route takes the cookie', async () => {
    const { v } = await village();
    const s = await login(v.base, 'an');
    const r = await call(v.base, '/api/session', { session: s });
    expect(r).toMatchObject({ status: 200, body: { user: { name: 'an', role: 'operator', site: 'village-a', fields: null }, csrf: s.csrf } });
    for (const path of ['/api/sites', '/api/sites/village-a/edges', '/api/sites/village-a/latest', '/api/sites/village-a/events', '/api/sites/village-a/overview', '/api/quarantine']) {
      expect((await call(v.base, path, { session: s })).status, path).toBe(200);
    }
    const sse = await openSse(`${v.base}/api/sites/village-a/stream`, { cookie: s.cookie });
    expect(sse.status).toBe(200);
    sse.close();
  });

  it('401 without a session, or with a bearer token only', async () => {
    const { v } = await village();
    expect((await call(v.base, '/api/session')).status).toBe(401);
    const r = await call(v.base, '/api/session', { token: v.tokens.admin });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'not logged in' } });
  });

  it('DELETE ends the session and clears the cookie', async () => {
    const { v } = await village();
    const s = await login(v.base, 'an');
    const r = await call(v.base, '/api/session', { method: 'DELETE', session: s });
    expect(r).toMatchObject({ status: 200, body: { ok: true } });
    expect(r.headers['set-cookie']?.[0]).toMatch(/^sv_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    const after = await call(v.base, '/api/sites', { session: s });
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'the session has ended: log in again' } });
    // The dead cookie is cleared on the browser too.
    expect(after.headers['set-cookie']?.[0]).toMatch(/^sv_session=;.*Max-Age=0/);
  });

  it('expires 30 days after last use, sliding: use moves the expiry (and resends the cookie) at most hourly', async () => {
    const { v, clock } = await village();
    const s = await login(v.base, 'lan');
    clock.t += 20 * DAY;
    const used = await call(v.base, '/api/sites', { session: s });
    expect(used.status).toBe(200);
    expect(used.headers['set-cookie']?.[0]).toMatch(/^sv_session=[A-Za-z0-9_-]{43}; .*Max-Age=2592000/);
    // Within the hour: no write, no cookie.
    clock.t += 10 * 60_000;
    expect((await call(v.base, '/api/sites', { session: s })).headers['set-cookie']).toBeUndefined();
    clock.t += 29 * DAY;
    expect((await call(v.base, '/api/sites', { session: s })).status).toBe(200);
    clock.t += 30 * DAY + 1;
    expect((await call(v.base, '/api/sites', { session: s })).status).toBe(401);
    // Expired rows are deleted, not kept.
    expect(await v.store.findSession(hashSessionId(s.cookie.slice('sv_session='.length)))).toBeUndefined();
  });

  it('a removed user is logged out at once; a changed site too', async () => {
    const { v } = await village();
    const s = await login(v.base, 'binh');
    await v.store.removeUser('binh');
    expect((await call(v.base, '/api/sites', { session: s })).status).toBe(401);
  });

  it('a session is for its own site only', async () => {
    const { v } = await village();
    const s = await login(v.base, 'bac');
    expect(((await call(v.base, '/api/sites', { session: s })).body as { sites: { site: string }[] }).sites.map((x) => x.site)).toEqual(['village-b']);
    const other = await call(v.base, '/api/sites/village-a/latest', { session: s });
    expect(other.status).toBe(403);
    expect(other.body).toEqual({ error: { code: 'FORBIDDEN', message: 'this account is for site "village-b"' } });
    expect((await call(v.base, '/api/quarantine?site=village-a', { session: s })).status).toBe(403);
    expect(((await call(v.base, '/api/quarantine', { session: s })).body as { items: { site: string }[] }).items.map((i) => i.site)).toEqual(['village-b']);
  });
});

describe('POST /api/session/kiosk', () => {
  it('exchanges a viewer token for a read-only kiosk session of the site', async () => {
    const { v } = await village();
    // village-a and village-b are both served: the site is needed.
    const noSite = await call(v.base, '/api/session/kiosk', { body: { token: v.tokens.viewer } });
    expect(noSite.status).toBe(400);
    const r = await call(v.base, '/api/session/kiosk', { body: { token: v.tokens.viewer, site: 'village-a' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ user: { name: 'hall-screen', role: 'kiosk', site: 'village-a', fields: null } });
    const s = sessionFrom(r);
    if (!s) throw new Error('no cookie');
    // Long-lived: 400 days, the most a browser keeps a cookie.
    expect(s.setCookie).toContain(`Max-Age=${400 * 86_400}`);
    expect((await call(v.base, '/api/sites/village-a/overview', { session: s })).status).toBe(200);
    expect((await call(v.base, '/api/sites/village-b/overview', { session: s })).status).toBe(403);
    // Reads only.
    const put = await call(v.base, '/api/sites/village-a/announcement', { method: 'PUT', body: { text: 'x' }, session: s });
    expect(put.status).toBe(403);
    expect((await call(v.base, '/api/sites/village-a/commands', { body: { action: { type: 'resume' } }, session: s })).status).toBe(403);
  });

  it('refuses unknown tokens, tokens that may change things, and unknown sites', async () => {
    const { v } = await village();
    expect((await call(v.base, '/api/session/kiosk', { body: { token: `svt_${'A'.repeat(43)}`, site: 'village-a' } })).status).toBe(401);
    const op = await call(v.base, '/api/session/kiosk', { body: { token: v.tokens.operator, site: 'village-a' } });
    expect(op.status).toBe(403);
    expect((await call(v.base, '/api/session/kiosk', { body: { token: v.tokens.viewer, site: 'atlantis' } })).status).toBe(404);
  });

  it('ends when the viewer token is rotated', async () => {
    const { v } = await village();
    const s = sessionFrom(await call(v.base, '/api/session/kiosk', { body: { token: v.tokens.viewer, site: 'village-a' } }));
    if (!s) throw new Error('no cookie');
    expect((await call(v.base, '/api/sites/village-a/alerts', { session: s })).status).toBe(200);
    await addApiToken(v.store, 'hall-screen', 'viewer', NOW);
    expect((await call(v.base, '/api/sites/village-a/alerts', { session: s })).status).toBe(401);
  });
});

describe('CSRF', () => {
  const announce = { method: 'PUT', body: { text: 'Họp thôn 19h' } };

  it('a cookie request that changes state needs the session CSRF token: missing or wrong → 403 CSRF', async () => {
    const { v } = await village();
    const s = await login(v.base, 'an');
    for (const csrf of [null, 'x'.repeat(43), (await login(v.base, 'khoa')).csrf]) {
      const r = await call(v.base, '/api/sites/village-a/announcement', { ...announce, session: s, csrf });
      expect(r.status).toBe(403);
      expect((r.body as { error: { code: string } }).error.code).toBe('CSRF');
    }
    expect(await v.store.getAnnouncement('village-a')).toBeUndefined();
    const del = await call(v.base, '/api/session', { method: 'DELETE', session: s, csrf: null });
    expect(del.status).toBe(403);
    expect((await call(v.base, '/api/session', { session: s })).status).toBe(200);
    const ok = await call(v.base, '/api/sites/village-a/announcement', { ...announce, session: s });
    expect(ok).toMatchObject({ status: 200, body: { announcement: { text: 'Họp thôn 19h', by: 'an', updatedAt: NOW } } });
  });

  it('refuses a cookie request from another origin or not as JSON, even with the token', async () => {
    const { v } = await village();
    const s = await login(v.base, 'an');
    const cases: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'content-type': 'text/plain' }];
    for (const headers of cases) {
      const r = await call(v.base, '/api/sites/village-a/announcement', { ...announce, session: s, headers });
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect((r.body as { error: { code: string } }).error.code).toBe('CSRF');
    }
  });

  it('bearer-token requests need no CSRF token (a page on another site cannot send the header)', async () => {
    const { v } = await village();
    const r = await call(v.base, '/api/sites/village-a/announcement', { ...announce, token: v.tokens.operator });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ announcement: { by: 'token:technician' } });
    // …but must still say it is JSON.
    const plain = await call(v.base, '/api/sites/village-a/announcement', { ...announce, token: v.tokens.operator, headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(400);
  });

  it('GET with a cookie needs no CSRF token', async () => {
    const { v } = await village();
    const s = await login(v.base, 'lan');
    expect((await call(v.base, '/api/sites/village-a/alerts', { session: s, csrf: null })).status).toBe(200);
  });
});

describe('security headers', () => {
  it('every API answer carries CSP, nosniff and no framing', async () => {
    const { v } = await village();
    const r = await get(v.base, '/api/health');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect((await get(v.base, '/api/nope')).headers['content-security-policy']).toBeDefined();
  });
});
