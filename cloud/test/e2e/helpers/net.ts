import { createServer, type Server, type Socket } from 'node:net';

/** A port that was free a moment ago on loopback (listen(0), then close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until `check` returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes held while the link is blackholed, per direction. */
  held: { up: Buffer[]; down: Buffer[] };
  /** A side ended while blackholed: its close reaches the other side only on restore. */
  ended: { up: boolean; down: boolean };
}

/**
 * A TCP proxy on loopback between an edge and its broker. `blackhole()` models a link that
 * silently stops carrying packets (a 3G cell that lost its backhaul): nothing is forwarded in
 * either direction, nothing is closed, new connections hang. `restore()` delivers what was held
 * (TCP would have retransmitted it) and passes on closes that happened meanwhile.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private dark = false;
  port = 0;
  connections = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async start(port = 0): Promise<number> {
    const { createConnection } = await import('node:net');
    this.server = createServer((client) => {
      this.connections++;
      const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
      const pair: Pair = { client, upstream, held: { up: [], down: [] }, ended: { up: false, down: false } };
      this.pairs.add(pair);
      const forget = (): void => {
        this.pairs.delete(pair);
      };
      client.on('data', (b: Buffer) => (this.dark ? pair.held.up.push(b) : upstream.write(b)));
      upstream.on('data', (b: Buffer) => (this.dark ? pair.held.down.push(b) : client.write(b)));
      const close = (from: 'up' | 'down'): void => {
        if (this.dark) {
          pair.ended[from] = true;
          return;
        }
        (from === 'up' ? upstream : client).destroy();
        forget();
      };
      client.on('close', () => close('up'));
      upstream.on('close', () => close('down'));
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this.port;
  }

  blackhole(): void {
    this.dark = true;
  }

  restore(): void {
    this.dark = false;
    for (const pair of [...this.pairs]) {
      for (const b of pair.held.up.splice(0)) if (!pair.upstream.destroyed) pair.upstream.write(b);
      for (const b of pair.held.down.splice(0)) if (!pair.client.destroyed) pair.client.write(b);
      if (pair.ended.up || pair.ended.down) {
        pair.client.destroy();
        pair.upstream.destroy();
        this.pairs.delete(pair);
      }
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}
