import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { commandActionSchema, ID_PATTERN, toVillageError, type Command, type CommandAction, type CommandResult, type ControlState, type Event, type Reading } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { EdgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/types.js';
import { allows, canSeeAlert, canSeeEventSource, canSeeSensor, canSeeZone, issuer, planCommand, tokenPrincipal, type Principal, type Role } from './access.js';
import { checkLogin, findToken } from './accounts.js';
import { ALERT_EVENT_KINDS, ALERT_RULES, computeAlerts, type Alert } from './alerts.js';
import { ApiError, badRequest, matchRoute, routeTable, toApiError, type ApiIssue, type RouteTable } from '@smart-village/shared/server';
import { DAY_MS, HistoryBook, historyWindow, MINUTE_MS, parseHistoryQuery, rainFromBuckets } from './history.js';
import { LiveFeed, serveStream, streamFilter } from './live.js';
import { buildOverview } from './overview.js';
import { MAX_PASSWORD_LENGTH, sha256 } from './secret.js';
import { csrfMatches, LoginLimiter, overTls, readCookie, sameOrigin, SESSION_COOKIE, SESSION_TTL, sessionCookie, Sessions, type ActiveSession, type SessionUser } from './sessions.js';
import { learnSensors, siteView, type SiteView } from './site.js';
import { commandView, selfView } from './views.js';
import type { CommandRecord, WebStore } from './web-store.js';

/** Bodies are small JSON (a login, a command). */
const MAX_BODY_BYTES = 16 * 1024;
const LIMIT_MAX = 1000;
/** A command given here may still be carried out this long after it was issued (the cloud's default). */
const COMMAND_TTL_MS = 60_000;
const RAIN_BUCKET_MS = 5 * MINUTE_MS;

export interface WebApiDeps {
  config: EdgeConfig;
  outbox: Outbox;
  store: WebStore;
  clock: Clock;
  log: Logger;
  command: (cmd: Command) => Promise<CommandResult>;
  controlState: () => ControlState | undefined;
  /** Login attempts per client address: a burst, refilled at perMinute (default 10, 2 a minute: the cloud's). */
  loginLimit?: { burst: number; perMinute: number };
  /** Comment lines on idle streams (default 15 s). */
  keepAliveMs?: number;
}

interface Input {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  principal: Principal | undefined;
  session: ActiveSession | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

/** A non-200 answer, or one with extra headers (cookies). */
class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}
const STREAMED = Symbol('streamed');

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** The least role allowed; `public` needs no token or session. */
  role: Role | 'public';
  /** Only a browser session will do (the session routes). */
  sessionOnly?: boolean;
  /** Also takes the token as ?token= (EventSource cannot set headers); nowhere else, as URLs end up in logs. */
  queryToken?: boolean;
  /** Query parameters the route knows; any other is a 400. */
  query?: readonly string[];
  /** Checks the JSON body; undefined: the route takes none. */
  body?: (value: unknown) => unknown;
  handle(input: Input): Promise<unknown> | unknown;
}

/**
 * The web app's API (docs/web-api.md) for this edge's one site, from its own store: the same
 * routes, shapes, error codes and rules as the cloud's, so the one app works against either and
 * the fields stay visible when the internet is down.
 */
export class WebApi {
  readonly site: SiteView;
  readonly feed: LiveFeed;
  private readonly sessions: Sessions;
  private readonly logins: LoginLimiter;
  private readonly history: HistoryBook;
  private readonly routes: RouteTable<Route>;
  private readonly streams = new Set<ServerResponse>();
  /** Events that start or end alerts, newest first, valid up to `alertEventsSeq`. */
  private alertEvents: Event[] | undefined;
  private alertEventsSeq = -1;
  private stopped = false;

  constructor(private readonly deps: WebApiDeps) {
    const now = (): number => deps.clock.now();
    this.site = siteView(deps.config);
    this.sessions = new Sessions(deps.store, this.site.site, now);
    const limit = deps.loginLimit ?? { burst: 10, perMinute: 2 };
    this.logins = new LoginLimiter(limit.burst, limit.perMinute, now);
    this.history = new HistoryBook(deps.outbox, now);
    this.feed = new LiveFeed({
      site: this.site,
      outbox: deps.outbox,
      clock: deps.clock,
      log: deps.log,
      alerts: () => this.activeAlerts(),
      learn: (readings) => learnSensors(this.site, deps.config, readings),
      sawRows: (seq, alertEvents) => {
        if (alertEvents) this.alertEvents = undefined;
        else if (this.alertEventsSeq >= 0) this.alertEventsSeq = Math.max(this.alertEventsSeq, seq);
      },
    });
    this.routes = routeTable(this.table());
  }

  /** Wires the live side: outbox commits. Command results and control changes are told by the server. */
  start(): void {
    this.deps.outbox.onCommit((seq) => {
      if (!this.stopped) this.feed.committed(seq);
    });
    this.deps.store.removeExpiredSessions(this.deps.clock.now());
  }

  /** Tells open streams the edge is going away, ends them, and closes the store. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.feed.edge(selfView(this.site.edge, this.deps.outbox.stats().lastSeq, this.deps.clock.now(), 'offline'));
    } catch {
      // The outbox may already be closed: the streams end all the same.
    }
    this.feed.close();
    for (const res of this.streams) res.end();
    this.streams.clear();
    this.deps.store.close();
  }

  controlChanged(): void {
    const state = this.deps.controlState();
    if (state && !this.stopped) this.feed.control(state);
  }

  /** A command result from control (app.onCommandResult): the audit row moves on and streams are told. */
  commandResult(r: CommandResult): void {
    if (this.stopped) return;
    try {
      const row = this.deps.store.commandResult(r.id, r.status, r.reason, r.ts);
      if (row) this.feed.command(commandView(row));
    } catch (err) {
      this.deps.log.warn({ err: toVillageError(err).message, command: r.id }, 'could not record a command result');
    }
  }

  /** Records a command in the audit trail, carries it out and returns its first result. */
  async give(cmd: Command): Promise<CommandResult> {
    const record: CommandRecord = { id: cmd.id, by: cmd.by, action: cmd.action, edge: this.site.edge, issuedAt: cmd.ts, ttl: cmd.ttl, status: 'sent', updatedAt: cmd.ts };
    try {
      this.deps.store.addCommand(record);
      this.feed.command(commandView(record));
    } catch (err) {
      // A "stop" must not wait for a healthy SD card: the command goes ahead, the gap is logged.
      this.deps.log.error({ err: toVillageError(err).message, command: cmd.id }, 'could not audit a command; carrying it out anyway');
    }
    this.deps.log.info({ command: cmd.id, action: cmd.action.type, by: cmd.by }, 'command given');
    const result = await this.deps.command(cmd);
    // Control tells its results through onCommandResult too; an edge without control does not.
    this.commandResult(result);
    return result;
  }

  /** Answers a request under /api/ (not /api/local/). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let principal: Principal | undefined;
    try {
      const found = this.match(url.pathname, req.method);
      if (!('route' in found)) {
        if (found.allowed.length === 0) throw new ApiError('NOT_FOUND', `no route ${url.pathname}`);
        res.setHeader('allow', found.allowed.join(', '));
        throw new ApiError('METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed on ${url.pathname} (use ${found.allowed.join(' or ')})`);
      }
      const { route, params } = found;
      const caller = this.authorize(req, url, route);
      principal = caller.principal;
      const { session } = caller;
      if (principal && route.role !== 'public' && !allows(principal.role, route.role)) throw new ApiError('FORBIDDEN', `role ${principal.role} may not do this (needs ${route.role})`);
      this.checkParams(params);
      // Cookies ride along on requests other sites' pages make: whatever changes state with one
      // (or logs in) must prove it comes from our own page.
      const browser = session !== undefined || route.role === 'public';
      if (route.method !== 'GET' && browser) {
        if (session && !csrfMatches(req, session.record)) throw new ApiError('CSRF', 'send the X-CSRF-Token header with the csrf value of GET /api/session');
        if (!sameOrigin(req)) throw new ApiError('CSRF', 'cross-origin request refused');
      }
      const query = queryObject(url.searchParams, route);
      let body: unknown;
      if (route.body) {
        if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type']?.trim() ?? '')) {
          if (browser) throw new ApiError('CSRF', 'send the body as Content-Type: application/json');
          throw badRequest([{ path: 'body', message: 'send Content-Type: application/json' }]);
        }
        body = route.body(await readJson(req));
      }
      if (session?.renewed) res.setHeader('set-cookie', sessionCookie(readCookie(req, SESSION_COOKIE) ?? '', SESSION_TTL[session.record.kind], overTls(req)));
      const result = await route.handle({ params, query, body, principal, session, req, res });
      if (result === STREAMED) return;
      if (result instanceof Reply) sendJson(res, result.status, result.body, result.headers);
      else sendJson(res, 200, result);
    } catch (err) {
      const e = toApiError(err);
      if (e.code === 'INTERNAL' || e.code === 'STORE_UNAVAILABLE') this.deps.log.error({ err, path: url.pathname }, 'web API request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      if (e.code === 'UNAUTHORIZED') {
        headers['www-authenticate'] = 'Bearer';
        // A cookie that names no live session is of no use: the browser may as well forget it.
        if (readCookie(req, SESSION_COOKIE)) headers['set-cookie'] = sessionCookie('', 0, overTls(req));
      }
      if (e.code === 'TOO_MANY_REQUESTS') headers['retry-after'] = String(this.logins.retryAfterSeconds);
      sendJson(res, e.status, e.body(), headers);
    } finally {
      // The path only: a query string may hold a token.
      this.deps.log.debug({ method: req.method, path: url.pathname, status: res.statusCode, ...(principal && { client: principal.name }) }, 'web api request');
    }
  }

  // ---- plumbing ----------------------------------------------------------------------------

  private match(pathname: string, method: string | undefined): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    return matchRoute(this.routes, pathname, method);
  }

  /** A bearer token wins (a page on another origin cannot send that header without a CORS preflight we never answer), else the session cookie. */
  private authorize(req: IncomingMessage, url: URL, route: Route): { principal?: Principal; session?: ActiveSession } {
    if (route.role === 'public') return {};
    const header = req.headers.authorization;
    const token = route.sessionOnly ? undefined : header !== undefined ? (/^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1] ?? '') : route.queryToken ? (url.searchParams.get('token') ?? undefined) : undefined;
    if (token !== undefined) {
      const record = findToken(this.deps.store, token);
      if (!record) throw new ApiError('UNAUTHORIZED', 'unknown or malformed token');
      return { principal: tokenPrincipal(record) };
    }
    const cookie = readCookie(req, SESSION_COOKIE);
    if (cookie !== undefined && cookie !== '') {
      const session = this.sessions.resolve(cookie);
      if (session) return { principal: session.principal, session };
      throw new ApiError('UNAUTHORIZED', 'the session has ended: log in again');
    }
    if (route.sessionOnly) throw new ApiError('UNAUTHORIZED', 'not logged in');
    throw new ApiError('UNAUTHORIZED', 'log in, or send Authorization: Bearer <token>');
  }

  /** Path ids are ids; the site is this edge's one site. */
  private checkParams(params: Record<string, string>): void {
    const issues: ApiIssue[] = [];
    for (const [name, value] of Object.entries(params)) if (!ID_PATTERN.test(value)) issues.push({ path: `path.${name}`, message: 'lowercase letters, digits and dashes' });
    if (issues.length > 0) throw badRequest(issues);
    if (params.site !== undefined && params.site !== this.site.site) throw new ApiError('NOT_FOUND', `unknown site "${params.site}" (this edge serves "${this.site.site}")`);
  }

  /** The newest reading of each sensor; a firmware node's sensor named in the config is learnt on its first. */
  private latest(): Reading[] {
    const rows = this.deps.outbox.latest();
    learnSensors(this.site, this.deps.config, rows);
    return rows;
  }

  private checkEdge(edge: string | undefined): void {
    if (edge !== undefined && edge !== this.site.edge) throw new ApiError('NOT_FOUND', `unknown edge "${edge}" at site "${this.site.site}"`);
  }

  private activeAlerts(): { alerts: Alert[]; nextChangeAt: number | undefined } {
    const { outbox, store, clock } = this.deps;
    const now = clock.now();
    const lastSeq = outbox.stats().lastSeq;
    if (!this.alertEvents || this.alertEventsSeq < lastSeq) {
      const since = now - ALERT_RULES.eventLookbackMs;
      this.alertEvents = ALERT_EVENT_KINDS.flatMap((kind) => outbox.eventsWithSeq({ kind, since, limit: 200 })).sort((a, b) => b.seq - a.seq);
      this.alertEventsSeq = lastSeq;
    }
    const failedCommands = store.listCommands({ limit: 200, updatedSince: now - ALERT_RULES.commandFailedForMs }).filter((c) => c.status === 'rejected' || c.status === 'failed');
    return computeAlerts({ now, site: this.site, latest: this.latest(), events: this.alertEvents, failedCommands });
  }

  private async rain24h(p: Principal): Promise<number | null> {
    const gauge = this.site.rainGauge;
    if (gauge === undefined || !canSeeSensor(p, this.site, gauge)) return null;
    // One bucket before the day: the baseline of the running total.
    const to = Math.ceil((this.deps.clock.now() + 1) / RAIN_BUCKET_MS) * RAIN_BUCKET_MS;
    return rainFromBuckets(await this.history.buckets(gauge, { from: to - DAY_MS - RAIN_BUCKET_MS, to, bucketMs: RAIN_BUCKET_MS }));
  }

  private sessionReply(req: IncomingMessage, id: string, kind: 'user' | 'kiosk', user: SessionUser, csrf: string): Reply {
    return new Reply(200, { user, csrf }, { 'set-cookie': sessionCookie(id, SESSION_TTL[kind], overTls(req)) });
  }

  private admit(req: IncomingMessage): void {
    if (!this.logins.take(req.socket.remoteAddress ?? 'unknown')) throw new ApiError('TOO_MANY_REQUESTS', 'too many login attempts from this address: wait a minute and try again');
  }

  // ---- routes ------------------------------------------------------------------------------

  private table(): Route[] {
    const d = this.deps;
    const site = this.site;
    const who = (input: Input): Principal => {
      if (!input.principal) throw new ApiError('UNAUTHORIZED', 'log in, or send Authorization: Bearer <token>');
      return input.principal;
    };
    const withEdge = <T extends object>(x: T): T & { edge: string } => ({ ...x, edge: site.edge });
    return [
      { method: 'GET', path: '/api/health', role: 'public', handle: () => ({ ok: true }) },
      {
        method: 'POST',
        path: '/api/session',
        role: 'public',
        body: (v) => strictBody(v, { username: text(1, 100), password: text(1, MAX_PASSWORD_LENGTH) }) as { username: string; password: string },
        handle: async ({ body, req }) => {
          this.admit(req);
          const { username, password } = body as { username: string; password: string };
          const user = await checkLogin(d.store, username, password);
          if (!user) {
            // The same answer for an unknown name and a wrong password; the name is not logged (people type passwords into it).
            d.log.info({ remote: req.socket.remoteAddress }, 'login refused');
            throw new ApiError('UNAUTHORIZED', 'wrong user name or password');
          }
          const { id, record } = this.sessions.create('user', user.name);
          d.log.info({ user: user.name, role: user.role }, 'logged in');
          return this.sessionReply(req, id, 'user', { name: user.name, role: user.role, site: site.site, fields: user.role === 'farmer' ? (user.fields ?? []) : null }, record.csrf);
        },
      },
      {
        method: 'POST',
        path: '/api/session/kiosk',
        role: 'public',
        body: (v) => strictBody(v, { token: text(1, 200), site: optional(idParam) }),
        handle: ({ body, req }) => {
          this.admit(req);
          const b = body as { token: string; site?: string };
          const token = findToken(d.store, b.token);
          if (!token) throw new ApiError('UNAUTHORIZED', 'unknown or malformed token');
          // A hall screen's URL is seen by many: only a read-only token belongs in it.
          if (token.role !== 'viewer') throw new ApiError('FORBIDDEN', `a kiosk needs a viewer token, not ${token.role} (village-edge token add --role viewer)`);
          if (b.site !== undefined && b.site !== site.site) throw new ApiError('NOT_FOUND', `unknown site "${b.site}"`);
          const { id, record } = this.sessions.create('kiosk', token.name, sha256(b.token));
          d.log.info({ client: token.name }, 'kiosk session started');
          return this.sessionReply(req, id, 'kiosk', { name: token.name, role: 'kiosk', site: site.site, fields: null }, record.csrf);
        },
      },
      {
        method: 'GET',
        path: '/api/session',
        role: 'viewer',
        sessionOnly: true,
        handle: ({ session }) => {
          if (!session) throw new ApiError('UNAUTHORIZED', 'not logged in');
          return { user: session.user, csrf: session.record.csrf };
        },
      },
      {
        method: 'DELETE',
        path: '/api/session',
        role: 'viewer',
        sessionOnly: true,
        handle: ({ session, req }) => {
          if (!session) throw new ApiError('UNAUTHORIZED', 'not logged in');
          this.sessions.end(session.record);
          d.log.info({ user: session.user.name }, 'logged out');
          return new Reply(200, { ok: true }, { 'set-cookie': sessionCookie('', 0, overTls(req)) });
        },
      },
      { method: 'GET', path: '/api/sites', role: 'viewer', handle: () => ({ sites: [{ site: site.site, edges: 1, online: 1 }] }) },
      {
        method: 'GET',
        path: '/api/sites/{site}/edges',
        role: 'viewer',
        handle: () => ({ site: site.site, edges: [selfView(site.edge, d.outbox.stats().lastSeq, d.clock.now())] }),
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/sensors',
        role: 'viewer',
        handle: (input) => {
          const p = who(input);
          const sensors = this
            .latest()
            .filter((r) => canSeeSensor(p, site, r.sensor))
            .map((r) => ({ sensor: r.sensor, unit: r.unit, edge: site.edge, value: r.value, ts: r.ts, quality: r.quality }));
          return { site: site.site, sensors };
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/latest',
        role: 'viewer',
        query: ['edge'],
        handle: (input) => {
          const p = who(input);
          this.checkEdge(optional(idParam)(input.query.edge, 'query.edge'));
          return { site: site.site, readings: this.latest().filter((r) => canSeeSensor(p, site, r.sensor)).map(withEdge) };
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/sensors/{sensor}/history',
        role: 'viewer',
        query: ['range', 'from', 'to', 'bucket'],
        handle: async (input) => {
          const p = who(input);
          const { sensor } = input.params as { sensor: string };
          const q = parseHistoryQuery(input.query);
          const known = this.latest().find((r) => r.sensor === sensor);
          const unit = known?.unit ?? site.sensors.get(sensor)?.unit;
          if (unit === undefined) throw new ApiError('NOT_FOUND', `unknown sensor "${sensor}" at site "${site.site}"`);
          if (!canSeeSensor(p, site, sensor)) throw new ApiError('FORBIDDEN', `sensor "${sensor}" is not in one of your fields`);
          const { from, to, bucketMs } = historyWindow(q, d.clock.now());
          const buckets = await this.history.buckets(sensor, { from, to, bucketMs });
          return { site: site.site, sensor, unit, from, to, bucketMs, buckets };
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/events',
        role: 'viewer',
        query: ['edge', 'kind', 'source', 'since', 'limit'],
        handle: (input) => {
          const p = who(input);
          const q = input.query;
          const issues: ApiIssue[] = [];
          const limit = int(1, LIMIT_MAX, 100)(q.limit, 'query.limit', issues);
          const kind = q.kind;
          if (kind !== undefined && (!/^[a-z]+(\.[a-z-]+)+$/.test(kind) || kind.length > 100)) issues.push({ path: 'query.kind', message: 'an event kind is dotted lowercase words, e.g. zone.watered' });
          if (q.source !== undefined && (q.source.length < 1 || q.source.length > 100)) issues.push({ path: 'query.source', message: '1 to 100 characters' });
          const since = q.since === undefined ? undefined : timeParam(q.since, 'query.since', issues);
          const edge = q.edge === undefined ? undefined : idParam(q.edge, 'query.edge', issues);
          if (issues.length > 0) throw badRequest(issues);
          this.checkEdge(edge);
          const all = p.fields === null;
          // A farmer's events are filtered after the query: ask for more so a page is still full.
          const events = d.outbox
            .eventsWithSeq({ limit: all ? limit : Math.min(LIMIT_MAX, limit * 5), ...(kind !== undefined && { kind }), ...(q.source !== undefined && { source: q.source }), ...(since !== undefined && { since }) })
            .filter((e) => all || canSeeEventSource(p, site, e.source))
            .slice(0, limit)
            .map(withEdge);
          return { site: site.site, events };
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/stream',
        role: 'viewer',
        queryToken: true,
        query: ['token'],
        handle: (input) => {
          const p = who(input);
          serveStream(input.res, this.feed, { keepAliveMs: d.keepAliveMs ?? 15_000, open: this.streams, filter: streamFilter(p, site) });
          return STREAMED;
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/overview',
        role: 'viewer',
        handle: async (input) => {
          const p = who(input);
          const rain24hMm = await this.rain24h(p);
          return buildOverview({ site, now: d.clock.now(), latest: this.latest(), control: d.controlState(), alerts: this.activeAlerts().alerts, rain24hMm }, p);
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/zones/{zone}/explain',
        role: 'viewer',
        query: ['limit'],
        handle: (input) => {
          const p = who(input);
          const { zone } = input.params as { zone: string };
          const issues: ApiIssue[] = [];
          const limit = int(1, LIMIT_MAX, 20)(input.query.limit, 'query.limit', issues);
          if (issues.length > 0) throw badRequest(issues);
          if (!canSeeZone(p, site, zone)) throw new ApiError('FORBIDDEN', `zone "${zone}" is not in one of your fields`);
          return { zone, events: d.outbox.eventsWithSeq({ source: zone, limit }).map(withEdge) };
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/alerts',
        role: 'viewer',
        handle: (input) => {
          const p = who(input);
          return { alerts: this.activeAlerts().alerts.filter((a) => canSeeAlert(p, a.data)) };
        },
      },
      {
        method: 'GET',
        path: '/api/sites/{site}/commands',
        role: 'viewer',
        query: ['limit'],
        handle: (input) => {
          const p = who(input);
          const issues: ApiIssue[] = [];
          const limit = int(1, LIMIT_MAX, 100)(input.query.limit, 'query.limit', issues);
          if (issues.length > 0) throw badRequest(issues);
          // Farmers see their own commands; everyone else the whole audit trail.
          return { commands: d.store.listCommands({ limit, ...(p.role === 'farmer' && { by: issuer(p) }) }).map(commandView) };
        },
      },
      // No announcements on the edge: the village hall's text is set in the cloud.
      { method: 'GET', path: '/api/sites/{site}/announcement', role: 'viewer', handle: () => null },
      {
        method: 'POST',
        path: '/api/sites/{site}/commands',
        role: 'farmer',
        body: (v) => strictBody(v, { edge: optional(idParam), action: commandAction }),
        handle: async (input) => {
          const p = who(input);
          const req = input.body as { edge?: string; action: CommandAction };
          const plan = planCommand(p, site, req);
          if (!plan.ok) throw new ApiError(plan.code, plan.message);
          const cmd: Command = { id: randomBytes(12).toString('base64url'), ts: d.clock.now(), ttl: COMMAND_TTL_MS, by: issuer(p).slice(0, 100), action: req.action };
          const result = await this.give(cmd);
          const row = d.store.getCommand(cmd.id);
          // Without an audit row (the store failed), the answer still says what happened.
          const view = row
            ? commandView(row)
            : { id: cmd.id, by: cmd.by, action: cmd.action, edge: site.edge, issuedAt: cmd.ts, status: result.status, ...(result.reason !== undefined && { reason: result.reason }), updatedAt: result.ts };
          return new Reply(202, { command: view });
        },
      },
    ];
  }
}

// ---- parameters and bodies ---------------------------------------------------------------------

type Check<T> = (value: unknown, path: string, issues: ApiIssue[]) => T | undefined;

function text(min: number, max: number): Check<string> {
  return (v, path, issues) => {
    if (typeof v === 'string' && v.length >= min && v.length <= max) return v;
    issues.push({ path, message: `a string of ${min} to ${max} characters` });
    return undefined;
  };
}

const idParam: Check<string> = (v, path, issues) => {
  if (typeof v === 'string' && ID_PATTERN.test(v)) return v;
  issues.push({ path, message: 'an id: lowercase letters, digits and dashes' });
  return undefined;
};

function optional<T>(check: Check<T>): (v: unknown, path: string, issues?: ApiIssue[]) => T | undefined {
  return (v, path, issues) => {
    if (v === undefined) return undefined;
    const found: ApiIssue[] = [];
    const out = check(v, path, found);
    if (found.length > 0) {
      if (issues) issues.push(...found);
      else throw badRequest(found);
    }
    return out;
  };
}

const commandAction: Check<CommandAction> = (v, path, issues) => {
  const parsed = commandActionSchema.safeParse(v);
  if (parsed.success) return parsed.data;
  for (const i of parsed.error.issues) issues.push({ path: [path, ...i.path.map(String)].join('.'), message: i.message });
  return undefined;
};

function int(min: number, max: number, fallback: number): (v: string | undefined, path: string, issues: ApiIssue[]) => number {
  return (v, path, issues) => {
    if (v === undefined) return fallback;
    const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
    if (n >= min && n <= max) return n;
    issues.push({ path, message: `must be a whole number from ${min} to ${max}` });
    return fallback;
  };
}

function timeParam(v: string, path: string, issues: ApiIssue[]): number | undefined {
  if (/^\d{1,15}$/.test(v)) return Number(v);
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isNaN(ms)) return ms;
  issues.push({ path, message: `"${v}" is not a time (write epoch milliseconds or ISO 8601)` });
  return undefined;
}

/** A JSON object with exactly these fields (unknown ones are errors, not ignored). */
function strictBody(value: unknown, fields: Record<string, Check<unknown>>): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest([{ path: 'body', message: 'a JSON object' }]);
  const issues: ApiIssue[] = [];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) if (!(key in fields)) issues.push({ path: `body.${key}`, message: 'unknown field' });
  for (const [key, check] of Object.entries(fields)) {
    const v = check((value as Record<string, unknown>)[key], `body.${key}`, issues);
    if (v !== undefined) out[key] = v;
  }
  if (issues.length > 0) throw badRequest(issues);
  return out;
}

/** The query string as an object: a parameter given twice, or one the route does not know, is a 400. */
function queryObject(search: URLSearchParams, route: Route): Record<string, string> {
  const out: Record<string, string> = {};
  const issues: ApiIssue[] = [];
  for (const [key, value] of search) {
    if (Object.hasOwn(out, key)) issues.push({ path: `query.${key}`, message: 'given more than once' });
    else if (!(route.query ?? []).includes(key)) issues.push({ path: `query.${key}`, message: 'unknown parameter' });
    out[key] = value;
  }
  if (issues.length > 0) throw badRequest(issues);
  return out;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw badRequest([{ path: 'body', message: 'not valid JSON' }]);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-store', ...headers });
  res.end(payload);
}
