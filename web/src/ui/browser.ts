import type { StoreDeps } from '../store.js';

/** The store's dependencies in a browser: the real fetch, EventSource, clock and timers. */
export function browserDeps(): StoreDeps {
  return {
    fetch: (url, init) => fetch(url, init),
    openStream: (url) => new EventSource(url),
    now: () => Date.now(),
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (handle) => window.clearTimeout(handle as number | undefined),
  };
}
