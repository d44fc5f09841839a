/**
 * Pure pieces of the broker's limits: a token bucket per key and an MQTT frame-length guard.
 * No sockets, no timers: the clock is passed in.
 */

export interface BucketOptions {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Bucket size: how many may come at once after a quiet spell. */
  burst: number;
  /** Most keys remembered; full buckets are forgotten first (they carry no state). */
  maxKeys?: number;
}

/** One token bucket per key (remote IP), refilled continuously from `now()`. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxKeys: number;

  constructor(
    private readonly opts: BucketOptions,
    private readonly now: () => number,
  ) {
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /** Takes one token; false when the key has none left. */
  take(key: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      bucket = { tokens: this.opts.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      const refill = (Math.max(0, now - bucket.at) / 1000) * this.opts.ratePerSec;
      bucket.tokens = Math.min(this.opts.burst, bucket.tokens + refill);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const tokens = bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.opts.ratePerSec;
      if (tokens >= this.opts.burst) this.buckets.delete(key);
    }
    // Still full (a flood from many addresses): forget the oldest half rather than grow.
    if (this.buckets.size >= this.maxKeys) {
      let drop = Math.ceil(this.buckets.size / 2);
      for (const key of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(key);
      }
    }
  }
}

export type FrameVerdict = { ok: true } | { ok: false; kind: 'oversize'; size: number } | { ok: false; kind: 'malformed' };

/**
 * Follows MQTT frame boundaries in a byte stream and reports the first frame larger than
 * `maxBytes`, as soon as its length is known, before its body is buffered anywhere.
 * mqtt-packet (aedes' parser) has no size limit for 3.1.1 and would buffer up to the
 * protocol maximum of 256 MiB per packet.
 *
 * Fixed header [MQTT-2.2]: one type byte, then Remaining Length, 1 to 4 bytes of 7 bits each,
 * least significant first, high bit = "more follows" [MQTT-2.2.3].
 */
export class FrameSizeGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private lengthBytes = 0;
  private remaining = 0;
  private failed: FrameVerdict | undefined;

  constructor(private readonly maxBytes: number) {}

  feed(chunk: Uint8Array): FrameVerdict {
    if (this.failed) return this.failed;
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * 128 ** this.lengthBytes;
      this.lengthBytes++;
      if (byte & 0x80) {
        // A fifth length byte is a malformed packet [MQTT-2.2.3].
        if (this.lengthBytes >= 4) return (this.failed = { ok: false, kind: 'malformed' });
        continue;
      }
      const size = 1 + this.lengthBytes + this.length;
      if (size > this.maxBytes) return (this.failed = { ok: false, kind: 'oversize', size });
      this.remaining = this.length;
      this.state = this.remaining === 0 ? 'type' : 'body';
    }
    return { ok: true };
  }
}
