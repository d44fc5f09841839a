import type { Clock, TimerHandle } from '../../src/clock.js';

/** A clock that moves only when told; timers fire in due order during advance(). */
export class ManualClock implements Clock {
  private t: number;
  private seq = 1;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  constructor(start = 1_750_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.seq++;
    this.timers.set(id, { due: this.t + Math.max(0, ms), fn });
    return { id };
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].due <= target && (!next || e[1].due < next[1].due)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].due;
      next[1].fn();
    }
    this.t = target;
  }
  pending(): number {
    return this.timers.size;
  }
}
