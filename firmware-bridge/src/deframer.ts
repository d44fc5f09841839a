import { cobsDecodeInto } from './cobs.js';
import { decodeBody, FRAME_ERRORS, MAX_ENCODED, type DecodeResult, type FrameError } from './frame.js';

export type DeframerStats = {
  /** Bytes pushed in. */
  bytes: number;
  /** Frames that decoded (CRC, version, type and payload good). */
  frames: number;
  /** Bytes of every segment that did not decode to a frame: line noise, debug prints, torn frames. */
  garbageBytes: number;
  /** Segments that did not decode, all kinds. */
  errors: number;
} & Record<FrameError, number>;

/** What a bad segment looked like, for a rate-limited log line. */
export interface BadSegment {
  error: FrameError;
  detail: string;
  /** The first bytes of the segment (hex). */
  head: string;
  length: number;
}

export type DeframeResult = { ok: true; frame: Extract<DecodeResult, { ok: true }>['frame'] } | ({ ok: false } & BadSegment);

/**
 * Cuts a byte stream into frames at each 0x00 and decodes them. Pure and incremental: feed it
 * chunks as the serial port delivers them (a frame may arrive in several). Resynchronisation
 * is free: whatever garbage came before, the next 0x00 ends it, and senders put a 0x00 before
 * every frame as well as after it, so garbage never glues onto a good frame. A segment longer
 * than a frame can be is dropped as it grows (bounded memory), up to the next 0x00.
 */
export class Deframer {
  private readonly buf = new Uint8Array(MAX_ENCODED);
  private readonly body = new Uint8Array(MAX_ENCODED);
  private len = 0;
  /** Bytes of an oversize segment beyond what the buffer kept. */
  private overflow = 0;
  private readonly counts: DeframerStats;

  constructor() {
    const errors = Object.fromEntries(FRAME_ERRORS.map((e) => [e, 0])) as Record<FrameError, number>;
    this.counts = { bytes: 0, frames: 0, garbageBytes: 0, errors: 0, ...errors };
  }

  push(chunk: Uint8Array): DeframeResult[] {
    const out: DeframeResult[] = [];
    this.counts.bytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b !== 0) {
        if (this.len < MAX_ENCODED) this.buf[this.len++] = b;
        else this.overflow++;
        continue;
      }
      if (this.len > 0) out.push(this.segment());
    }
    return out;
  }

  /** Drops a partial segment (the port closed in the middle of a frame); counted as garbage. */
  reset(): void {
    if (this.len > 0) {
      this.counts.garbageBytes += this.len + this.overflow;
      this.counts.errors++;
      this.counts.short++;
    }
    this.len = 0;
    this.overflow = 0;
  }

  stats(): DeframerStats {
    return { ...this.counts };
  }

  private segment(): DeframeResult {
    const length = this.len + this.overflow;
    const head = (): string => Buffer.from(this.buf.buffer, 0, Math.min(this.len, 16)).toString('hex');
    let result: DeframeResult;
    if (this.overflow > 0) {
      result = { ok: false, error: 'oversize', detail: `${length} bytes between delimiters, at most ${MAX_ENCODED}`, head: head(), length };
    } else {
      const n = cobsDecodeInto(this.buf, 0, this.len, this.body);
      const decoded: DecodeResult = n < 0 ? { ok: false, error: 'cobs', detail: 'not a valid COBS block' } : decodeBody(this.body, 0, n);
      result = decoded.ok ? { ok: true, frame: decoded.frame } : { ok: false, error: decoded.error, detail: decoded.detail, head: head(), length };
    }
    this.len = 0;
    this.overflow = 0;
    if (result.ok) {
      this.counts.frames++;
    } else {
      this.counts.errors++;
      this.counts[result.error]++;
      this.counts.garbageBytes += length;
    }
    return result;
  }
}
