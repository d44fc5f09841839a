import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { VillageError } from '@smart-village/shared';
import type { IngestChange } from '../ingest/ingest.js';
import type { ApiTokenRecord, CloudStore } from '../store/types.js';
import { ApiError, toApiError } from './errors.js';
import { LiveFeed } from './live.js';
import { parseParams, queryObject } from './params.js';
import { ROUTES, STREAMED, type ApiDeps, type Route } from './routes.js';
import { authenticate, roleAllows } from './tokens.js';

export const CLOUD_VERSION = '0.1.0';
export const KEEP_ALIVE_MS = 15_000;

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
}

/** A request listener for node:http, plus the site feeds behind its streams. */
export interface ApiHandler extends RequestListener {
  /** Feed the ingest's changes here (IngestOptions.onChange). */
  readonly live: LiveFeed;
  /** Ends every open event stream (before the server closes). */
  closeStreams(): void;
}

interface Compiled {
  route: Route;
  segments: string[];
}

const COMPILED: readonly Compiled[] = ROUTES.map((route) => ({ route, segments: route.path.split('/') }));

/** The route whose template the path fits, with its raw path parameters. */
function match(pathname: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = pathname.split('/');
  for (const { route, segments } of COMPILED) {
    if (segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const fits = segments.every((seg, i) => {
      const part = parts[i] as string;
      if (!seg.startsWith('{')) return seg === part;
      if (part === '') return false;
      try {
        params[seg.slice(1, -1)] = decodeURIComponent(part);
      } catch {
        params[seg.slice(1, -1)] = part;
      }
      return true;
    });
    if (fits) return { route, params };
  }
  return undefined;
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

async function authorize(deps: ApiDeps, req: IncomingMessage, url: URL, route: Route): Promise<ApiTokenRecord | undefined> {
  if (route.role === 'public') return undefined;
  const token = bearer(req, url, route);
  if (token === undefined) {
    throw new ApiError('UNAUTHORIZED', route.queryToken ? 'send Authorization: Bearer <token> (or ?token=<token>)' : 'send Authorization: Bearer <token>');
  }
  const record = await authenticate(deps.store, token);
  if (!record) throw new ApiError('UNAUTHORIZED', 'unknown or malformed token');
  return record;
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

/**
 * The cloud's HTTP API as a request listener, separate from any port: tests and embedders mount
 * it on their own server. JSON in and out; errors are `{error: {code, message[, issues]}}`.
 */
export function buildApi(opts: ApiOptions): ApiHandler {
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const deps: ApiDeps = {
    store: opts.store,
    live: new LiveFeed({ store: opts.store, log, now }),
    log,
    now,
    version: opts.version ?? CLOUD_VERSION,
    keepAliveMs: opts.keepAliveMs ?? KEEP_ALIVE_MS,
    streams: new Set(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    // Parsed against a fixed base: the Host header is the client's to choose and means nothing here.
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    let token: ApiTokenRecord | undefined;
    try {
      const found = match(url.pathname);
      if (!found) throw new ApiError('NOT_FOUND', `no route ${url.pathname}`);
      const { route } = found;
      if (req.method !== route.method) {
        res.setHeader('allow', route.method);
        throw new ApiError('METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed on ${url.pathname} (use ${route.method})`);
      }
      token = await authorize(deps, req, url, route);
      if (token && route.role !== 'public' && !roleAllows(token.role, route.role)) {
        throw new ApiError('FORBIDDEN', `role ${token.role} may not do this (needs ${route.role})`);
      }
      const params = parseParams(route.params, found.params, 'path');
      const query = parseParams(route.query, queryObject(url.searchParams), 'query');
      const body = await route.handle({ params, query, token, res }, deps);
      if (body !== STREAMED) sendJson(res, 200, body);
    } catch (err) {
      const e = toApiError(err);
      if (e.code === 'INTERNAL' || e.code === 'STORE_UNAVAILABLE') log.error({ err, path: url.pathname }, 'API request failed');
      if (res.headersSent) res.destroy();
      else sendJson(res, e.status, e.body(), e.code === 'UNAUTHORIZED' ? { 'www-authenticate': 'Bearer' } : {});
    } finally {
      // The path only: a query string may hold a token.
      log.debug({ method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started, ...(token && { client: token.name }) }, 'api request');
    }
  }

  const handler: RequestListener = (req, res) => {
    void handle(req, res);
  };
  return Object.assign(handler, {
    live: deps.live,
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
    this.handler?.live.publish(change);
  };

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
  }

  async stop(): Promise<void> {
    const { server, handler } = this;
    this.server = undefined;
    this.handler = undefined;
    if (!server || !handler) return;
    handler.closeStreams();
    handler.live.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Idle keep-alive sockets would hold close() open until they time out.
      server.closeIdleConnections();
    });
  }
}
