/**
 * What the bridge needs of a clock. The edge's Clock (edge/src/clock.ts) has this shape and is
 * what the service passes in; the simulated node and the bench use `systemClock` below.
 * (The edge depends on this package, not the other way round, so the interface is restated.)
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Wall time, epoch ms: what readings are stamped with. */
  now(): number;
  /** A clock that never jumps: timeouts, backoff and silence are measured on it. */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = (() => {
  let next = 1;
  const handles = new Map<number, NodeJS.Timeout>();
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

/** What the bridge needs of a logger (pino's Logger fits). */
export interface BridgeLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything (the simulated node when asked to be quiet). */
export const silentLogger: BridgeLogger = { debug() {}, info() {}, warn() {}, error() {} };
