import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localCommandSchema, type Command, type CommandResult, type ControlState } from '@smart-village/shared';
import type { Logger } from '../log.js';
import { sameSecret } from './local-token.js';

/** What the local server needs from the edge service. */
export interface LocalServerDeps {
  host: string;
  port: number;
  log: Logger;
  now: () => number;
  localToken: string;
  command: (cmd: Command) => Promise<CommandResult>;
  controlState: () => ControlState | undefined;
}

const MAX_BODY = 16 * 1024;

/**
 * The edge's own HTTP server on the village LAN (loopback by default). The CLI sends commands
 * through it with the local token from the data directory.
 */
export class LocalServer {
  private server: Server | undefined;

  constructor(private readonly deps: LocalServerDeps) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.deps.log.error({ err }, 'local http: request failed');
        if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.deps.port, this.deps.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.deps.log.info({ host: this.deps.host, port: this.port }, 'local page and API listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname === '/api/local/health' && req.method === 'GET') return send(res, 200, { ok: true });
    if (!url.pathname.startsWith('/api/local/')) return send(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!sameSecret(token, this.deps.localToken)) return send(res, 401, { error: { code: 'UNAUTHORIZED', message: 'give the local token (file local-token in the data directory)' } });
    if (url.pathname === '/api/local/control' && req.method === 'GET') {
      const state = this.deps.controlState();
      return state ? send(res, 200, state) : send(res, 404, { error: { code: 'NOT_FOUND', message: 'this edge runs no local control' } });
    }
    if (url.pathname === '/api/local/commands' && req.method === 'POST') {
      const body = await readJson(req);
      const parsed = localCommandSchema.safeParse(body);
      if (!parsed.success) return send(res, 400, { error: { code: 'BAD_REQUEST', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } });
      const cmd: Command = { id: randomUUID(), ts: this.deps.now(), ttl: 60_000, by: parsed.data.by, action: parsed.data.action };
      const result = await this.deps.command(cmd);
      return send(res, result.status === 'rejected' ? 409 : 200, result);
    }
    return send(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
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
