import type { Logger } from 'pino';
import { toVillageError, type ControlState, type Event, type Reading } from '@smart-village/shared';
import type { Alert } from '../alerts/rules.js';
import type { IngestChange } from '../ingest/ingest.js';
import type { Announcement, CloudStore } from '../store/types.js';
import { commandView, edgeView, type CommandView, type EdgeView } from './views.js';

/** What a site's stream pushes. */
export type LiveEvent =
  | { event: 'readings'; data: { site: string; readings: (Reading & { edge: string })[] } }
  | { event: 'edge'; data: { site: string } & EdgeView }
  | { event: 'events'; data: { site: string; edge: string; events: (Event & { seq: number })[] } }
  | { event: 'control'; data: { site: string; edge: string; control: ControlState } }
  | { event: 'command'; data: { site: string; command: CommandView } }
  | { event: 'alert'; data: { site: string; alerts: Alert[] } }
  | { event: 'announcement'; data: { site: string; announcement: Announcement | null } };

export type LiveListener = (e: LiveEvent) => void;

export interface LiveFeedOptions {
  store: CloudStore;
  log: Logger;
  now: () => number;
}

/** One site with at least one listener: what its listeners were last told, to send only changes. */
interface SiteFeed {
  listeners: Set<LiveListener>;
  /** sensor -> "edge|ts|value|quality" of the latest value sent. */
  latest: Map<string, string>;
  /** edge -> "state|birth" of the status sent. */
  edges: Map<string, string>;
  readingsDirty: boolean;
  edgesDirty: boolean;
  scheduled: boolean;
  /** Refreshes of one site run one after another, in order. */
  queue: Promise<void>;
}

/**
 * Turns the ingest's change notices into per-site live events. Event-driven only: nothing runs
 * unless the ingest reports a change for a site someone is watching. A burst of batches while a
 * refresh is under way is folded into one more refresh (one latest() query), so a backfill after
 * an outage costs a few queries, not one per batch.
 */
export class LiveFeed {
  private readonly sites = new Map<string, SiteFeed>();
  private lastWarn = 0;

  constructor(private readonly opts: LiveFeedOptions) {}

  /** For IngestOptions.onChange: never throws, never blocks. */
  publish(change: IngestChange): void {
    const feed = this.sites.get(change.site);
    if (!feed) return;
    if (change.kind === 'events') {
      this.emit(feed, { event: 'events', data: { site: change.site, edge: change.edge, events: change.events } });
      return;
    }
    if (change.kind === 'state') {
      if (change.control) this.emit(feed, { event: 'control', data: { site: change.site, edge: change.edge, control: change.control } });
      return;
    }
    if (change.kind === 'command') {
      this.emit(feed, { event: 'command', data: { site: change.site, command: commandView(change.command) } });
      return;
    }
    if (change.kind === 'readings') feed.readingsDirty = true;
    else feed.edgesDirty = true;
    this.schedule(change.site, feed);
  }

  /** Sends an event that is not the ingest's (alerts, announcements) to a site's listeners. */
  push(e: LiveEvent): void {
    const feed = this.sites.get(e.data.site);
    if (feed) this.emit(feed, e);
  }

  /**
   * Listens to one site; resolves once the site's current state is known (so only later changes
   * are sent). Returns the function that stops listening.
   */
  async subscribe(site: string, listener: LiveListener): Promise<() => void> {
    let feed = this.sites.get(site);
    if (!feed) {
      feed = { listeners: new Set(), latest: new Map(), edges: new Map(), readingsDirty: true, edgesDirty: true, scheduled: false, queue: Promise.resolve() };
      this.sites.set(site, feed);
      const fresh = feed;
      fresh.queue = this.refresh(site, fresh, false);
    }
    const joined = feed;
    joined.listeners.add(listener);
    await joined.queue;
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.sites.get(site) === joined) this.sites.delete(site);
    };
  }

  /** Listeners of a site (tests, and to see that closed streams let go). */
  listenerCount(site?: string): number {
    if (site !== undefined) return this.sites.get(site)?.listeners.size ?? 0;
    let n = 0;
    for (const f of this.sites.values()) n += f.listeners.size;
    return n;
  }

  /** Resolves when every refresh asked for so far has run (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.sites.values()].map((f) => f.queue));
  }

  close(): void {
    this.sites.clear();
  }

  private schedule(site: string, feed: SiteFeed): void {
    if (feed.scheduled) return;
    feed.scheduled = true;
    feed.queue = feed.queue.then(() => {
      feed.scheduled = false;
      return this.refresh(site, feed, true);
    });
  }

  /** Reads what is dirty and sends what differs from what was sent (or, first time, just records it). */
  private async refresh(site: string, feed: SiteFeed, send: boolean): Promise<void> {
    const { readingsDirty, edgesDirty } = feed;
    feed.readingsDirty = false;
    feed.edgesDirty = false;
    try {
      if (readingsDirty) {
        const changed = (await this.opts.store.latest(site)).filter((r) => remember(feed.latest, r.sensor, `${r.edge}|${r.ts}|${r.value}|${r.quality}`));
        if (send && changed.length > 0) this.emit(feed, { event: 'readings', data: { site, readings: changed } });
      }
      if (edgesDirty) {
        const now = this.opts.now();
        for (const e of await this.opts.store.listEdges(site)) {
          if (remember(feed.edges, e.edge, `${e.state}|${e.birth}`) && send) this.emit(feed, { event: 'edge', data: { site, ...edgeView(e, now) } });
        }
      }
    } catch (err) {
      // The store may be briefly unavailable; the next change tries again. Once a minute at most.
      const now = this.opts.now();
      if (now - this.lastWarn >= 60_000) {
        this.lastWarn = now;
        this.opts.log.warn({ site, err: toVillageError(err).message }, 'live update failed');
      }
    }
  }

  private emit(feed: SiteFeed, e: LiveEvent): void {
    for (const listener of feed.listeners) {
      try {
        listener(e);
      } catch (err) {
        this.opts.log.warn({ err: toVillageError(err).message }, 'live listener failed');
      }
    }
  }
}

/** Records key -> value; true if that is new. */
function remember(seen: Map<string, string>, key: string, value: string): boolean {
  if (seen.get(key) === value) return false;
  seen.set(key, value);
  return true;
}
