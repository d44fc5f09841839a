/**
 * Time is a dependency: the service uses the system clock, tests and the simulated village
 * a manual one that runs days of field behaviour in milliseconds.
 */
import type { Clock, TimerHandle } from '@smart-village/shared';

export { systemClock, type Clock, type TimerHandle } from '@smart-village/shared';

/** Sleeps on the given clock; rejects with the signal's reason when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A clock that only moves when told. Timers fire in time order during `advance`, each seeing
 * `now()` equal to its due time.
 */
export class ManualClock implements Clock {
  private current: number;
  private wallOffset = 0;
  private seq = 1;
  private readonly timers = new Map<number, { due: number; fn: () => void; order: number }>();

  constructor(start: number) {
    this.current = start;
  }

  now(): number {
    return this.current + this.wallOffset;
  }

  monotonic(): number {
    return this.current;
  }

  /** Steps the wall clock only (an NTP correction): timers and monotonic time do not move. */
  stepWall(ms: number): void {
    this.wallOffset += ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.seq++;
    this.timers.set(id, { due: this.current + Math.max(0, ms), fn, order: id });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId: number | undefined;
      let next: { due: number; fn: () => void; order: number } | undefined;
      for (const [id, t] of this.timers) {
        if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.order < next.order))) {
          next = t;
          nextId = id;
        }
      }
      if (!next || nextId === undefined) break;
      this.timers.delete(nextId);
      this.current = Math.max(this.current, next.due);
      next.fn();
    }
    this.current = target;
  }

  /** Moves forward, letting promise callbacks run between timers (for async code under test). */
  async advanceAsync(ms: number, step = 1000): Promise<void> {
    let left = ms;
    while (left > 0) {
      const d = Math.min(step, left);
      this.advance(d);
      left -= d;
      for (let i = 0; i < 10; i++) await Promise.resolve();
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  pending(): number {
    return this.timers.size;
  }
}
