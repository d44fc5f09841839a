import type { ServerResponse } from 'node:http';
import type { LiveEvent, LiveFeed } from './live.js';

export interface StreamOptions {
  live: LiveFeed;
  site: string;
  /** Comment lines keep proxies and 3G NATs from dropping an idle connection (15 s). */
  keepAliveMs: number;
  /** Registry of open streams, so a stopping server can end them. */
  open: Set<ServerResponse>;
  /** What this client may see of each event (undefined: drop it); omitted: everything. */
  filter?: ((e: LiveEvent) => LiveEvent | undefined) | undefined;
}

/**
 * A client that cannot keep up (a phone on a dying link) is cut off rather than buffered without
 * bound; EventSource reconnects by itself and the page reloads latest values.
 */
const MAX_BUFFERED_BYTES = 1_000_000;

/**
 * Serves one Server-Sent Events stream (WHATWG HTML §9.2) of a site's live events until the
 * client goes away or the server stops. Resolves once the stream is open.
 */
export async function serveStream(res: ServerResponse, opts: StreamOptions): Promise<void> {
  let closed = false;
  const held: { unsubscribe?: () => void; timer?: ReturnType<typeof setInterval> } = {};
  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(held.timer);
    held.unsubscribe?.();
    opts.open.delete(res);
  };
  // The response's close, not the request's: a GET's request side "closes" once it is read.
  res.once('close', cleanup);
  const write = (text: string): void => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
  };
  const { filter } = opts;
  const send = (event: LiveEvent): void => {
    const e = filter ? filter(event) : event;
    if (e) write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  };

  const stop = await opts.live.subscribe(opts.site, send);
  if (closed) {
    // The client left while the site's state was loading.
    stop();
    return;
  }
  held.unsubscribe = stop;
  opts.open.add(res);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // nginx and similar proxies buffer responses by default; a live stream must not be.
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
  });
  res.flushHeaders();
  write(': connected\n\n');
  held.timer = setInterval(() => write(': keep-alive\n\n'), opts.keepAliveMs);
}
