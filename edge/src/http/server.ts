import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localCommandSchema, toVillageError, type Command, type CommandResult, type ControlState } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { EdgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/types.js';
import { sendJson, WebApi } from './api.js';
import { sameSecret } from './local-token.js';
import { DEFAULT_WEB_ROOT, serveStatic } from './static.js';
import { WebStore } from './web-store.js';

/** What the local server needs from the edge service. */
export interface LocalServerDeps {
  host: string;
  port: number;
  log: Logger;
  clock: Clock;
  localToken: string;
  command: (cmd: Command) => Promise<CommandResult>;
  controlState: () => ControlState | undefined;
  /** The web app and its API over the edge's own store; omitted: only the CLI's /api/local/*. */
  web?: {
    config: EdgeConfig;
    outbox: Outbox;
    /** Where web.sqlite (users, tokens, sessions, the command audit) lives. */
    dataDir: string;
    /** The built web app; default web/dist beside the edge package. */
    webRoot?: string;
    loginLimit?: { burst: number; perMinute: number };
    keepAliveMs?: number;
  };
}

const MAX_BODY = 16 * 1024;

/**
 * Same-origin everything (the app's scripts, styles, fetches and event stream); inline images as
 * data: URLs; no framing, no plugins, no <base> or form tricks. The cloud's policy.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT = 'The web app is not built on this edge.\nBuild it in the smart-village directory with `node web/build.mjs` (or `pnpm build`), then reload this page.\nThe API is served at /api/ meanwhile.\n';

/**
 * The edge's own HTTP server on the village LAN (loopback by default): the web app and its API
 * for this edge's site, read from the edge's own store so the fields stay visible with no internet,
 * and /api/local/* for the CLI with the local token from the data directory.
 */
export class LocalServer {
  private server: Server | undefined;
  private api: WebApi | undefined;
  private apiProblem = 'the web API is not running';

  constructor(private readonly deps: LocalServerDeps) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { web, log } = this.deps;
    if (web) {
      try {
        const store = new WebStore(web.dataDir);
        this.api = new WebApi({
          config: web.config,
          outbox: web.outbox,
          store,
          clock: this.deps.clock,
          log,
          command: this.deps.command,
          controlState: this.deps.controlState,
          ...(web.loginLimit && { loginLimit: web.loginLimit }),
          ...(web.keepAliveMs !== undefined && { keepAliveMs: web.keepAliveMs }),
        });
        this.api.start();
      } catch (err) {
        // The CLI's local API and the field keep working; the app says what is wrong.
        this.apiProblem = `accounts are unavailable: ${toVillageError(err).message}`;
        log.error({ err: toVillageError(err).message }, 'local web API: cannot open its store; serving the CLI API only');
        this.api = undefined;
      }
    }
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        log.error({ err }, 'local http: request failed');
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
        else res.destroy();
      });
    });
    // Slow or silent clients must not hold sockets for ever (streams send keep-alives and stay).
    server.requestTimeout = 30_000;
    server.headersTimeout = 20_000;
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.deps.port, this.deps.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = undefined;
      this.api?.stop();
      this.api = undefined;
      throw err;
    }
    log.info({ host: this.deps.host, port: this.port, app: this.api !== undefined }, 'local page and API listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Streams first hear that the edge goes offline, then end.
    this.api?.stop();
    this.api = undefined;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** Every command result (EdgeApp.onCommandResult): the audit trail and live streams follow. */
  commandResult(r: CommandResult): void {
    this.api?.commandResult(r);
  }

  /** Control's outputs, zones or switches changed (ControlEngine onChange). */
  controlChanged(): void {
    this.api?.controlChanged();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Parsed against a fixed base: the Host header is the client's to choose and means nothing here.
    const url = new URL(req.url ?? '/', 'http://edge.invalid');
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    if (url.pathname === '/api/local/health' && req.method === 'GET') return sendJson(res, 200, { ok: true });
    if (url.pathname.startsWith('/api/local/')) return this.local(req, res, url);
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      if (!this.api) return sendJson(res, 503, { error: { code: 'STORE_UNAVAILABLE', message: this.apiProblem } });
      return this.api.handle(req, res, url);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method ?? '?'} is not allowed on ${url.pathname} (use GET)` } });
    }
    const answer = serveStatic(this.deps.web?.webRoot ?? DEFAULT_WEB_ROOT, req, res, url.pathname);
    if (answer === 'served') return;
    if (answer === 'not-built') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(NOT_BUILT);
      return;
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no file ${url.pathname}` } });
  }

  /** The CLI's API: the local token only (file local-token in the data directory). */
  private async local(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!sameSecret(token, this.deps.localToken)) return sendJson(res, 401, { error: { code: 'UNAUTHORIZED', message: 'give the local token (file local-token in the data directory)' } });
    if (url.pathname === '/api/local/control' && req.method === 'GET') {
      const state = this.deps.controlState();
      return state ? sendJson(res, 200, state) : sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'this edge runs no local control' } });
    }
    if (url.pathname === '/api/local/commands' && req.method === 'POST') {
      const body = await readJson(req);
      const parsed = localCommandSchema.safeParse(body);
      if (!parsed.success) return sendJson(res, 400, { error: { code: 'BAD_REQUEST', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } });
      const cmd: Command = { id: randomUUID(), ts: this.deps.clock.now(), ttl: 60_000, by: parsed.data.by, action: parsed.data.action };
      // Audited with the web app's commands: the trail is of everything asked of this edge by hand.
      const result = this.api ? await this.api.give(cmd) : await this.deps.command(cmd);
      return sendJson(res, result.status === 'rejected' ? 409 : 200, result);
    }
    return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
