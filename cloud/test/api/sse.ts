import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseMessage {
  event: string;
  data: unknown;
}

/** A Server-Sent Events client on node:http: collects events and comment lines as they arrive. */
export interface SseClient {
  status: number;
  headers: IncomingMessage['headers'];
  events: SseMessage[];
  comments: string[];
  ended: Promise<void>;
  /** The next event (of a kind, if given) not yet taken. */
  next(kind?: string, timeoutMs?: number): Promise<SseMessage>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest | undefined = undefined;
    req = request(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseMessage[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let taken = 0;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        // WHATWG HTML §9.2.6: events are separated by a blank line.
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) });
        }
        for (const w of waiters) w();
      });
      const ended = new Promise<void>((done) => {
        res.on('end', () => done());
        res.on('close', () => done());
        res.on('error', () => done());
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        ended,
        next(kind, timeoutMs = 5000) {
          return new Promise((ok, fail) => {
            const check = (): void => {
              while (taken < events.length) {
                const e = events[taken++] as SseMessage;
                if (kind === undefined || e.event === kind) {
                  clearTimeout(timer);
                  waiters.delete(check);
                  ok(e);
                  return;
                }
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no ${kind ?? 'event'} within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close() {
          req?.destroy();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}
