import { Duplex } from 'node:stream';
import { FrameSizeGuard } from './limits.js';

export interface ConnectionLimits {
  /** Largest MQTT packet accepted from the client, fixed header included. */
  maxPacketBytes: number;
  /** Bytes queued towards a client that does not read before it is cut off. */
  maxOutboundBytes: number;
}

export interface ConnectionHooks {
  onOversize(size: number): void;
  onSlowConsumer(queuedBytes: number): void;
}

/**
 * What aedes reads from and writes to, in front of the real socket or WebSocket stream.
 *
 * Inbound: frame lengths are checked as bytes arrive (FrameSizeGuard), so an oversized
 * packet is refused before it is buffered.
 *
 * Outbound: writes never report backpressure to aedes. aedes waits for 'drain' on a full
 * socket while holding one of mqemitter's shared delivery slots (concurrency, default 100);
 * a client that stops reading would soon hold them all and stall every other subscriber
 * until drainTimeout (60 s). Instead we accept the write at once and cut the client off when
 * more than `maxOutboundBytes` are queued towards it. Memory per client stays bounded.
 */
export class GuardedConnection extends Duplex {
  private readonly frames: FrameSizeGuard;

  constructor(
    private readonly inner: Duplex,
    /** The peer's address, for per-address limits and log lines. */
    readonly remoteAddress: string,
    private readonly limits: ConnectionLimits,
    private readonly hooks: ConnectionHooks,
  ) {
    super({ allowHalfOpen: false });
    this.frames = new FrameSizeGuard(limits.maxPacketBytes);
    inner.on('data', (chunk: Buffer) => this.onInbound(chunk));
    inner.on('end', () => this.push(null));
    inner.on('error', (err: Error) => this.destroy(err));
    inner.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  private onInbound(chunk: Buffer): void {
    if (this.destroyed) return;
    const verdict = this.frames.feed(chunk);
    if (!verdict.ok) {
      if (verdict.kind === 'oversize') this.hooks.onOversize(verdict.size);
      this.destroy(Object.assign(new Error(`inbound packet ${verdict.kind}`), { code: verdict.kind === 'oversize' ? 'OVERSIZE' : 'MALFORMED' }));
      return;
    }
    if (!this.push(chunk)) this.inner.pause();
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner.destroyed) {
      callback(new Error('connection closed'));
      return;
    }
    this.inner.write(chunk);
    const queued = this.inner.writableLength;
    if (queued > this.limits.maxOutboundBytes) {
      this.hooks.onSlowConsumer(queued);
      this.destroy(Object.assign(new Error('client is not reading'), { code: 'SLOW_CONSUMER' }));
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(error);
  }
}
