import type { Logger } from 'pino';
import type { Alert } from './rules.js';

export interface AlertWebhookOptions {
  /** http(s) URL that receives `POST {site, alert}` as JSON for each new alert. */
  url: string;
  log: Logger;
  /** Tries per alert, the first included (default 4). */
  attempts?: number;
  /** Wait before each retry, growing: backoffMs, 2×, 4×… (default 2 s). */
  backoffMs?: number;
  /** One try gives up after this long (default 10 s). */
  timeoutMs?: number;
  /** Alerts waiting to be sent; past this the oldest are dropped (default 100). */
  maxQueue?: number;
}

export interface WebhookStats {
  delivered: number;
  failed: number;
  dropped: number;
}

/**
 * Forwards new alerts to a webhook (a chat bot, an SMS gateway), one at a time and in order.
 * A failing endpoint costs a bounded number of tries per alert and a bounded queue, never the
 * cloud's memory. The URL may carry a secret (chat webhooks do): only its origin is logged.
 */
export class AlertWebhook {
  private readonly queue: { site: string; alert: Alert }[] = [];
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly counters: WebhookStats = { delivered: 0, failed: 0, dropped: 0 };
  private readonly origin: string;

  constructor(private readonly opts: AlertWebhookOptions) {
    const url = new URL(opts.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`alert webhook must be an http(s) URL, got ${url.protocol}`);
    this.origin = url.origin;
  }

  /** Queues an alert; returns at once. */
  send(site: string, alert: Alert): void {
    if (this.closed) return;
    this.queue.push({ site, alert });
    const max = this.opts.maxQueue ?? 100;
    while (this.queue.length > max) {
      const gone = this.queue.shift();
      this.counters.dropped++;
      this.opts.log.warn({ webhook: this.origin, alert: gone?.alert.id }, 'alert webhook queue full: oldest alert dropped');
    }
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  stats(): WebhookStats {
    return { ...this.counters };
  }

  /** Resolves when the queue is empty (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops sending; what is queued is dropped. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async drain(): Promise<void> {
    for (let item = this.queue.shift(); item && !this.closed; item = this.queue.shift()) await this.deliver(item.site, item.alert);
  }

  private async deliver(site: string, alert: Alert): Promise<void> {
    const attempts = this.opts.attempts ?? 4;
    const body = JSON.stringify({ site, alert });
    let problem = '';
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      if (attempt > 1) await this.sleep((this.opts.backoffMs ?? 2000) * 2 ** (attempt - 2));
      if (this.closed) break;
      try {
        const res = await fetch(this.opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'village-cloud' },
          body,
          redirect: 'error',
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.timeoutMs ?? 10_000)]),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          this.counters.delivered++;
          this.opts.log.info({ webhook: this.origin, alert: alert.id, attempt }, 'alert forwarded');
          return;
        }
        problem = `HTTP ${res.status}`;
      } catch (err) {
        problem = (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message;
      }
    }
    if (this.closed) return;
    this.counters.failed++;
    this.opts.log.warn({ webhook: this.origin, alert: alert.id, attempts, problem }, 'alert webhook failed; giving up on this alert');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}
