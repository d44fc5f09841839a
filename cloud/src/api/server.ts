import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { RateLimitedLog, toVillageError, VillageError } from '@smart-village/shared';
import { AlertMonitor } from '../alerts/monitor.js';
import { DEFAULT_ALERT_OPTIONS, type Alert, type AlertOptions } from '../alerts/rules.js';
import { canUseSite, principalAllows, principalFromToken, type Principal } from '../auth/access.js';
import {
  csrfMatches,
  DEFAULT_SESSION_OPTIONS,
  overTls,
  readCookie,
  sameOrigin,
  SESSION_COOKIE,
  sessionCookie,
  Sessions,
  type ActiveSession,
  type SessionOptions,
} from '../auth/sessions.js';
import { TokenBuckets } from '../broker/limits.js';
import type { IngestChange } from '../ingest/ingest.js';
import { SiteModels } from '../site/models.js';
import type { CloudStore } from '../store/types.js';
import { ApiError, badRequest, matchRoute, routeTable, toApiError } from '@smart-village/shared/server';
import { LiveFeed } from './live.js';
import { parseParams, queryObject } from './params.js';
import { Reply, STREAMED, type ApiDeps, type CommandPublisher, type Method, type Route } from './route.js';
import { ROUTES } from './routes.js';
import { staticFiles } from './static.js';
import { authenticate } from './tokens.js';
import { commandView } from './views.js';

export const CLOUD_VERSION = '0.1.0';
export const KEEP_ALIVE_MS = 15_000;
/** Bodies are small JSON (a command, an announcement of 500 characters). */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Same-origin everything (the app's scripts, styles, fetches and event streams); images may be
 * inline data: URLs; no framing (clickjacking), no plugins, no <base> or form tricks.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/**
 * Log paths pino must censor wherever the API's logger comes from. The API itself never puts a
 * token, an Authorization header or a query string in a log line; this is the second lock.
 */
export const API_REDACT_PATHS = ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization'];

export interface ApiOptions {
  store: CloudStore;
  log: Logger;
  now?: () => number;
  version?: string;
  keepAliveMs?: number;
  /** The built web app, served at `/` (omitted: API only). */
  webRoot?: string;
  /** Session lifetimes (defaults: 30 days sliding, kiosks 400 days). */
  sessions?: Partial<SessionOptions>;
  /** Alert thresholds (DEFAULT_ALERT_OPTIONS in alerts/rules.ts). */
  alerts?: Partial<AlertOptions>;
  /** How often every site's alerts are evaluated while started (default 60 s). */
  alertIntervalMs?: number;
  /** Told of each alert that becomes active (the webhook). */
  onAlert?: (site: string, alert: Alert) => void;
  /** Behind a reverse proxy: take the client address from X-Forwarded-For and the host from X-Forwarded-Host. */
  trustProxy?: boolean;
  /** Login attempts per client address: a burst, refilled at perMinute (default 10, 2 per minute). */
  loginLimit?: { burst: number; perMinute: number };
  /** Hands a command to the broker; omitted: POST …/commands answers 503. */
  publishCommand?: CommandPublisher;
  /** How long an edge may still carry out a command after it was issued (default 60 s). */
  commandTtlMs?: number;
  /** How often commands past their ttl are marked expired while started (default 5 s). */
  commandSweepMs?: number;
}

/** A request listener for node:http, plus the site feeds behind its streams. */
export interface ApiHandler extends RequestListener {
  /** Feed the ingest's changes here (IngestOptions.onChange). */
  readonly live: LiveFeed;
  readonly alerts: AlertMonitor;
  readonly models: SiteModels;
  /** The ingest's changes: live streams, site models and alerts. Never throws. */
  notify(change: IngestChange): void;
  /** Marks commands past their ttl as expired and tells the streams (the timer's work; tests call it). */
  sweepCommands(): Promise<void>;
  /** Starts the timers: alert evaluation, command expiry, session clean-up. */
  start(): void;
  /** Stops the timers. */
  stop(): void;
  /** Ends every open event stream (before the server closes). */
  closeStreams(): void;
}

const TABLE = routeTable(ROUTES);

/** The route of that path and method with its raw path parameters, or the methods the path has. */
function match(pathname: string, method: string | undefined): { route: Route; params: Record<string, string> } | { allowed: Method[] } {
  return matchRoute(TABLE, pathname, method);
}

/** The bearer token of a request: the Authorization header, or ?token= where the route allows it. */
function bearer(req: IncomingMessage, url: URL, route: Route): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return m?.[1] ?? '';
  }
  return route.queryToken ? (url.searchParams.get('token') ?? undefined) : undefined;
}

interface Caller {
  principal?: Principal;
  session?: ActiveSession;
  /** The session cookie as sent (to renew it). */
  cookie?: string;
}

/**
 * Who is calling: a bearer token wins (no cookie, no CSRF: a page on another origin cannot set
 * that header without a CORS preflight we never answer), else the session cookie.
 */
async function authorize(deps: ApiDeps, req: IncomingMessage, url: URL, route: Route): Promise<Caller> {
  if (route.role === 'public') return {};
  const token = route.sessionOnly ? undefined : bearer(req, url, route);
  if (token !== undefined) {
    const record = await authenticate(deps.store, token);
    if (!record) throw new ApiError('UNAUTHORIZED', 'unknown or malformed token');
    return { principal: principalFromToken(record) };
  }
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie !== undefined && cookie !== '') {
    const session = await deps.sessions.resolve(cookie);
    if (session) return { principal: session.principal, session, cookie };
    throw new ApiError('UNAUTHORIZED', 'the session has ended: log in again');
  }
  if (route.sessionOnly) throw new ApiError('UNAUTHORIZED', 'not logged in');
  throw new ApiError('UNAUTHORIZED', route.queryToken ? 'send Authorization: Bearer <token> (or ?token=<token>)' : 'send Authorization: Bearer <token>');
}

/** Sent with every answer, API and web app alike. */
function securityHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type.trim());
}

const tooLarge = (): ApiError => new ApiError('PAYLOAD_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);

/** The request body, at most MAX_BODY_BYTES, parsed as JSON and checked with the route's schema. */
async function readBody(req: IncomingMessage, schema: z.ZodType): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past the limit the rest is read and dropped, so the client gets the answer rather than a
    // reset connection; far past it, the connection goes.
    if (size > 16 * MAX_BODY_BYTES) {
      req.destroy();
      throw tooLarge();
    }
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw tooLarge();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest([{ path: 'body', message: 'not valid JSON' }]);
  }
  return parseParams(schema, value, 'body');
}

/**
 * The cloud's HTTP API as a request listener, separate from any port: tests and embedders mount
 * it on their own server. JSON in and out; errors are `{error: {code, message[, issues]}}`.
 * Paths outside /api/ are the web app's files when `webRoot` is given.
 */
export function buildApi(opts: ApiOptions): ApiHandler {
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const live = new LiveFeed({ store: opts.store, log, now });
  const models = new SiteModels(opts.store, now);
  const alerts = new AlertMonitor({
    store: opts.store,
    models,
    log: log.child({ module: 'alerts' }),
    now,
    options: { ...DEFAULT_ALERT_OPTIONS, ...opts.alerts },
    ...(opts.alertIntervalMs !== undefined && { intervalMs: opts.alertIntervalMs }),
    onChange: (site, active) => live.push({ event: 'alert', data: { site, alerts: active } }),
    ...(opts.onAlert && { onNew: opts.onAlert }),
  });
  const loginLimit = opts.loginLimit ?? { burst: 10, perMinute: 2 };
  const trustProxy = opts.trustProxy ?? false;
  const deps: ApiDeps = {
    store: opts.store,
    live,
    log,
    limited: new RateLimitedLog(log, now),
    now,
    version: opts.version ?? CLOUD_VERSION,
    keepAliveMs: opts.keepAliveMs ?? KEEP_ALIVE_MS,
    streams: new Set(),
    sessions: new Sessions(opts.store, now, { ...DEFAULT_SESSION_OPTIONS, ...opts.sessions }),
    models,
    alerts,
    logins: new TokenBuckets({ ratePerSec: loginLimit.perMinute / 60, burst: loginLimit.burst }, now),
    trustProxy,
    publishCommand: opts.publishCommand,
    commandTtlMs: opts.commandTtlMs ?? 60_000,
  };
  const files = opts.webRoot !== undefined ? staticFiles(opts.webRoot) : undefined;
  if (opts.webRoot !== undefined) log.info({ webRoot: opts.webRoot, found: files !== undefined }, files ? 'serving the web app' : 'no built web app: serving the API only');

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    // Parsed against a fixed base: the Host header is the client's to choose and means nothing here.
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    let caller: Caller = {};
    securityHeaders(res);
    try {
      if (!url.pathname.startsWith('/api/')) {
        if ((req.method === 'GET' || req.method === 'HEAD') && files?.serve(req, res, url.pathname)) return;
        throw new ApiError('NOT_FOUND', `no route ${url.pathname}`);
      }
      const found = match(url.pathname, req.method);
      if (!('route' in found)) {
        if (found.allowed.length === 0) throw new ApiError('NOT_FOUND', `no route ${url.pathname}`);
        res.setHeader('allow', found.allowed.join(', '));
        throw new ApiError('METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed on ${url.pathname} (use ${found.allowed.join(' or ')})`);
      }
      const { route } = found;
      caller = await authorize(deps, req, url, route);
      const { principal, session } = caller;
      if (principal && route.role !== 'public' && !principalAllows(principal.role, route.role)) {
        throw new ApiError('FORBIDDEN', `role ${principal.role} may not do this (needs ${route.role})`);
      }
      const params = parseParams(route.params, found.params, 'path') as Record<string, unknown>;
      if (principal && typeof params.site === 'string' && !canUseSite(principal, params.site)) throw new ApiError('FORBIDDEN', `this account is for site "${principal.site}"`);
      // Cookies ride along on requests other sites' pages make: anything that changes state
      // with one (or logs in) must prove it comes from our own page.
      const browser = session !== undefined || route.role === 'public';
      if (route.method !== 'GET' && browser) {
        if (session && !csrfMatches(req, session.record)) throw new ApiError('CSRF', 'send the X-CSRF-Token header with the csrf value of GET /api/session');
        if (!sameOrigin(req, trustProxy)) throw new ApiError('CSRF', 'cross-origin request refused');
      }
      const query = parseParams(route.query, queryObject(url.searchParams), 'query');
      let body: unknown;
      if (route.body) {
        if (!isJson(req)) {
          if (browser) throw new ApiError('CSRF', 'send the body as Content-Type: application/json');
          throw badRequest([{ path: 'body', message: 'send Content-Type: application/json' }]);
        }
        body = await readBody(req, route.body);
      }
      if (session?.renewed && caller.cookie) res.setHeader('set-cookie', sessionCookie(caller.cookie, deps.sessions.ttlOf(session.record.kind), overTls(req)));
      const result = await route.handle({ params, query, body, principal, session, req, res }, deps);
      if (result === STREAMED) return;
      if (result instanceof Reply) sendJson(res, result.status, result.body, result.headers);
      else sendJson(res, 200, result);
    } catch (err) {
      const e = toApiError(err);
      if (e.code === 'INTERNAL' || e.code === 'STORE_UNAVAILABLE') log.error({ err, path: url.pathname }, 'API request failed');
      if (res.headersSent) res.destroy();
      else {
        const headers: Record<string, string> = {};
        if (e.code === 'UNAUTHORIZED') {
          headers['www-authenticate'] = 'Bearer';
          // A cookie that names no live session is of no use: the browser may as well forget it.
          if (readCookie(req, SESSION_COOKIE)) headers['set-cookie'] = sessionCookie('', 0, overTls(req));
        }
        if (e.code === 'TOO_MANY_REQUESTS') headers['retry-after'] = String(Math.ceil(60 / loginLimit.perMinute));
        sendJson(res, e.status, e.body(), headers);
      }
    } finally {
      // The path only: a query string may hold a token.
      log.debug({ method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started, ...(caller.principal && { client: caller.principal.name }) }, 'api request');
    }
  }

  const sweepCommands = async (): Promise<void> => {
    try {
      for (const c of await opts.store.expireCommands(now())) {
        live.push({ event: 'command', data: { site: c.site, command: commandView(c) } });
        alerts.poke(c.site);
        log.info({ site: c.site, edge: c.edge, command: c.id }, 'command expired without an answer from the edge');
      }
    } catch (err) {
      log.warn({ err: toVillageError(err).message }, 'expiring commands failed; will retry');
    }
  };
  const timers: NodeJS.Timeout[] = [];

  const handler: RequestListener = (req, res) => {
    void handle(req, res);
  };
  return Object.assign(handler, {
    live,
    alerts,
    models,
    notify(change: IngestChange): void {
      try {
        if (change.kind === 'state') {
          // The model first, so filters and commands see the new zones when the event goes out.
          const publish = (): void => live.publish(change);
          models.refresh(change.site).then(publish, publish);
        } else {
          live.publish(change);
        }
        alerts.poke(change.site);
      } catch (err) {
        log.warn({ err: toVillageError(err).message }, 'change notice failed');
      }
    },
    sweepCommands,
    start(): void {
      if (timers.length > 0) return;
      alerts.start();
      timers.push(setInterval(() => void sweepCommands(), opts.commandSweepMs ?? 5000));
      timers.push(
        setInterval(() => {
          opts.store.removeExpiredSessions(now()).catch((err: unknown) => log.warn({ err: toVillageError(err).message }, 'removing expired sessions failed'));
        }, 3_600_000),
      );
      for (const t of timers) t.unref();
    },
    stop(): void {
      alerts.stop();
      for (const t of timers.splice(0)) clearInterval(t);
    },
    closeStreams: () => {
      for (const res of deps.streams) res.end();
      deps.streams.clear();
    },
  });
}

export interface ApiServerOptions extends ApiOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/** The API on a port, with the start/stop shape of the other parts of the cloud. */
export class ApiServer {
  private server: Server | undefined;
  private handler: ApiHandler | undefined;

  constructor(private readonly opts: ApiServerOptions) {}

  /** For IngestOptions.onChange; changes before start() or after stop() are nobody's. */
  readonly notify = (change: IngestChange): void => {
    this.handler?.notify(change);
  };

  /** The running handler (its alerts and live feed), between start() and stop(). */
  get api(): ApiHandler | undefined {
    return this.handler;
  }

  get url(): string | undefined {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    if (!addr) return undefined;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null | undefined)?.port;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const handler = buildApi(this.opts);
    const server = createServer(handler);
    // Slow or silent clients must not hold sockets forever (streams send keep-alives, so they stay).
    server.requestTimeout = 30_000;
    server.headersTimeout = 20_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new VillageError('PORT_UNAVAILABLE', `cannot serve the HTTP API on ${this.opts.host}:${this.opts.port}: ${err.code ?? err.message}`, { port: this.opts.port }, { cause: err }));
      });
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    server.on('error', (err) => this.opts.log.error({ err: err.message }, 'HTTP API server error'));
    this.server = server;
    this.handler = handler;
    handler.start();
  }

  async stop(): Promise<void> {
    const { server, handler } = this;
    this.server = undefined;
    this.handler = undefined;
    if (!server || !handler) return;
    handler.stop();
    handler.closeStreams();
    handler.live.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Idle keep-alive sockets would hold close() open until they time out.
      server.closeIdleConnections();
    });
  }
}
