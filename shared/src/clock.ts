/**
 * Time is a dependency: services use the system clock, tests and the simulated village a
 * manual one (edge/src/clock.ts). One interface for the edge and the firmware bridge.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Wall time, epoch ms: what readings are stamped with. It jumps when NTP syncs. */
  now(): number;
  /**
   * Milliseconds on a clock that never jumps: what schedules, backoffs and timeouts are measured
   * on, so an NTP step at boot neither floods the bus nor stops it.
   */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = (() => {
  let next = 1;
  const handles = new Map<number, ReturnType<typeof setTimeout>>();
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout(fn, ms) {
      const id = next++;
      const t = setTimeout(() => {
        handles.delete(id);
        fn();
      }, Math.max(0, ms));
      handles.set(id, t);
      return { id };
    },
    clearTimeout(handle) {
      if (!handle) return;
      const t = handles.get(handle.id);
      if (t) clearTimeout(t);
      handles.delete(handle.id);
    },
  };
})();
