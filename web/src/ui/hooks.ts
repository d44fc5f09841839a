import { useEffect, useState } from 'preact/hooks';
import type { StoreState, VillageStore } from '../store.js';

/** The store's current snapshot; re-renders when it changes. */
export function useStore(store: VillageStore): StoreState {
  const [state, setState] = useState(store.get());
  useEffect(() => {
    setState(store.get());
    return store.subscribe(setState);
  }, [store]);
  return state;
}

/**
 * The time, ticking every `everyMs`: relative times ("5 minutes ago"), the staleness check and
 * the hall's page rotation follow it. A clock, not a poll: it asks the server nothing.
 */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
