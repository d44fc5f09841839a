import { SerialPort } from 'serialport';
import { RateLimitedLog } from '@smart-village/shared';
import type { BridgeLogger, Clock, TimerHandle } from './clock.js';

export interface SerialLineOptions {
  /** Prefer /dev/serial/by-id/...: it names the adapter, and survives replugging into another socket. */
  path: string;
  baudRate: number;
  clock: Clock;
  log: BridgeLogger;
  /** First and longest wait before reopening a port that closed or could not be opened, ms. */
  backoffMin?: number;
  backoffMax?: number;
  onData(chunk: Buffer): void;
  /** The port (re)opened. */
  onOpen?(): void;
  /** The port closed under us (unplugged); not called by stop(). */
  onClose?(reason: string): void;
}

export interface SerialLineStats {
  path: string;
  open: boolean;
  /** Successful opens, the first included. */
  opens: number;
  /** Opens after the port had been lost. */
  reconnects: number;
  openFailures: number;
  bytesIn: number;
  bytesOut: number;
  lastError?: string;
}

/**
 * One serial port kept open: opened by path, reopened with backoff (250 ms doubling to 30 s by
 * default) after an unplug or a failed open, until stop(). The real `serialport` code path, the
 * same over a USB adapter and over a socat pty in the tests.
 */
export class SerialLine {
  private port: SerialPort | undefined;
  private running = false;
  private retryTimer: TimerHandle | undefined;
  private failures = 0;
  private lost = false;
  private readonly limited: RateLimitedLog;
  private readonly counts = { opens: 0, reconnects: 0, openFailures: 0, bytesIn: 0, bytesOut: 0 };
  private lastError: string | undefined;

  constructor(private readonly opts: SerialLineOptions) {
    this.limited = new RateLimitedLog(opts.log, () => opts.clock.monotonic());
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  /** Opens the port (or schedules retries when it is not there yet); resolves after the first try. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (/^\/dev\/tty(USB|ACM)\d+$/.test(this.opts.path)) {
      this.opts.log.warn({ path: this.opts.path }, `${this.opts.path} may get another number after a replug: use its /dev/serial/by-id/... name`);
    }
    await this.open();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.opts.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) {
      await new Promise<void>((resolve) => {
        // A port that vanished may never call back.
        const t = setTimeout(resolve, 500);
        port.close(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    port?.removeAllListeners();
  }

  /** Queues bytes for the port; false when it is not open (nothing is queued then). */
  write(bytes: Uint8Array): boolean {
    const port = this.port;
    if (!port?.isOpen) return false;
    this.counts.bytesOut += bytes.length;
    port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (err) => {
      if (err) this.limited.warn(`write:${this.opts.path}`, { path: this.opts.path, err: err.message }, `${this.opts.path}: write failed`);
    });
    return true;
  }

  stats(): SerialLineStats {
    return { path: this.opts.path, open: this.isOpen, ...this.counts, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private async open(): Promise<void> {
    if (!this.running) return;
    const port = new SerialPort({ path: this.opts.path, baudRate: this.opts.baudRate, autoOpen: false });
    const err = await new Promise<Error | null>((resolve) => port.open((e) => resolve(e ?? null)));
    if (!this.running) {
      if (!err) port.close();
      return;
    }
    if (err) {
      this.counts.openFailures++;
      this.lastError = err.message;
      this.limited.warn(`open:${this.opts.path}`, { path: this.opts.path, err: err.message, failures: this.failures + 1 }, `cannot open ${this.opts.path}; retrying`);
      this.retry();
      return;
    }
    this.port = port;
    this.counts.opens++;
    if (this.lost) {
      this.counts.reconnects++;
      this.opts.log.info({ path: this.opts.path, after: this.failures }, `${this.opts.path} reopened`);
    }
    this.failures = 0;
    this.lost = false;
    port.on('data', (chunk: Buffer) => {
      this.counts.bytesIn += chunk.length;
      this.opts.onData(chunk);
    });
    port.on('error', (e: Error) => {
      this.lastError = e.message;
      this.limited.warn(`error:${this.opts.path}`, { path: this.opts.path, err: e.message }, `${this.opts.path}: ${e.message}`);
      if (!port.isOpen) this.closed(port, e.message);
    });
    port.on('close', (e?: Error | null) => this.closed(port, e?.message ?? 'closed'));
    this.opts.onOpen?.();
  }

  private closed(port: SerialPort, reason: string): void {
    if (this.port !== port || !this.running) return;
    this.port = undefined;
    this.lost = true;
    port.removeAllListeners();
    // Keep an 'error' listener: a late error from a dead port must not become an uncaught exception.
    port.on('error', () => {});
    this.lastError = reason;
    this.opts.log.warn({ path: this.opts.path, reason }, `${this.opts.path} closed (${reason}); reopening`);
    this.opts.onClose?.(reason);
    this.retry();
  }

  private retry(): void {
    const min = this.opts.backoffMin ?? 250;
    const max = this.opts.backoffMax ?? 30_000;
    const wait = Math.min(max, min * 2 ** this.failures);
    this.failures++;
    this.opts.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, wait);
  }
}
