/**
 * The kiosk token arrives in the URL fragment (`hall.html#token=…`), which browsers never send to
 * a server. It is kept in sessionStorage for this tab, so the screen can sign in again after the
 * server forgot its session, and removed from the address bar at once.
 */
import { tokenFromHash } from './hash.js';

const KEY = 'sv.kiosk-token';

/** The token from the address (then gone from it), else the one kept for this tab. */
export function takeToken(): string | null {
  const fromHash = tokenFromHash(location.hash);
  if (fromHash === null) return keptToken();
  try {
    sessionStorage.setItem(KEY, fromHash);
  } catch {
    // Storage disabled: this page still works; a lost session then needs the address again.
  }
  history.replaceState(history.state, '', location.pathname + location.search);
  return fromHash;
}

export function keptToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}
