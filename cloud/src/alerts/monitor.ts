import type { Logger } from 'pino';
import { RateLimitedLog, toVillageError, type Event } from '@smart-village/shared';
import type { SiteModels } from '../site/models.js';
import type { CloudStore } from '../store/types.js';
import { computeAlerts, drySoilCandidates, quietSensors, usualInterval, type Alert, type AlertOptions } from './rules.js';

export interface AlertMonitorOptions {
  store: CloudStore;
  models: SiteModels;
  log: Logger;
  now: () => number;
  options: AlertOptions;
  /** How often every site is evaluated (default 60 s); changes reported by the ingest evaluate sooner. */
  intervalMs?: number;
  /** The active set of a site changed (ids or severities). */
  onChange?: (site: string, alerts: Alert[]) => void;
  /** An alert that was not active before. At a site's first evaluation, only those that began after the monitor was made. */
  onNew?: (site: string, alert: Alert) => void;
}

interface SiteAlerts {
  alerts: Alert[];
  /** Earliest `since` seen per active id, so a time derived from the latest reading does not creep. */
  since: Map<string, number>;
  at: number;
  key: string;
  /** Something changed since: the next answer is evaluated afresh. */
  stale: boolean;
}

/** A soil sensor's history is looked at in about this many buckets. */
const SOIL_BUCKETS = 200;
/** The usual interval of a sensor is measured again after this long. */
const INTERVAL_TTL_MS = 3_600_000;
/** An answer this fresh is served as it is. */
const FRESH_MS = 2000;
/** Ingest changes are folded into one evaluation per site per this long. */
const DEBOUNCE_MS = 1000;

/**
 * Keeps each site's active alerts: evaluates the rules (rules.ts) on a timer and soon after the
 * ingest reports a change, tells the streams when the set changes and the webhook what is new.
 * Every input comes from the store, so a restarted cloud (or another worker) reaches the same set.
 */
export class AlertMonitor {
  private readonly sites = new Map<string, SiteAlerts>();
  private readonly queues = new Map<string, Promise<Alert[]>>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly intervals = new Map<string, { ms: number | undefined; at: number }>();
  /** Changes reported per site, so an evaluation that began before one is not taken as current. */
  private readonly changes = new Map<string, number>();
  private readonly limited: RateLimitedLog;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt: number;

  constructor(private readonly opts: AlertMonitorOptions) {
    this.limited = new RateLimitedLog(opts.log, opts.now);
    this.startedAt = opts.now();
  }

  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      void this.evaluateAll();
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  /** Something changed at a site: evaluate it soon (several changes, one evaluation). */
  poke(site: string): void {
    this.changes.set(site, (this.changes.get(site) ?? 0) + 1);
    const known = this.sites.get(site);
    if (known) known.stale = true;
    if (this.pending.has(site)) return;
    const t = setTimeout(() => {
      this.pending.delete(site);
      void this.evaluate(site).catch(() => undefined);
    }, DEBOUNCE_MS);
    t.unref();
    this.pending.set(site, t);
  }

  /** The active alerts of a site, evaluated now unless the last answer is fresh. */
  async active(site: string): Promise<Alert[]> {
    const known = this.sites.get(site);
    const now = this.opts.now();
    if (known && !known.stale && now - known.at < FRESH_MS && now >= known.at) return known.alerts;
    return this.evaluate(site);
  }

  async evaluateAll(): Promise<void> {
    try {
      const sites = new Set((await this.opts.store.listEdges()).map((e) => e.site));
      for (const site of sites) await this.evaluate(site).catch(() => undefined);
    } catch (err) {
      this.limited.warn('alerts:all', { err: toVillageError(err).message }, 'alert evaluation failed; next try at the next tick');
    }
  }

  /** Evaluates one site now (one evaluation of a site at a time, in order). */
  evaluate(site: string): Promise<Alert[]> {
    const prev = this.queues.get(site) ?? Promise.resolve([]);
    const next = prev.catch(() => []).then(() => this.run(site));
    this.queues.set(site, next);
    void next.finally(() => {
      if (this.queues.get(site) === next) this.queues.delete(site);
    }).catch(() => undefined);
    return next;
  }

  private async run(site: string): Promise<Alert[]> {
    const { store, options } = this.opts;
    const now = this.opts.now();
    const generation = this.changes.get(site) ?? 0;
    let computed: Alert[];
    try {
      const [model, edges, latest] = await Promise.all([this.opts.models.get(site), store.listEdges(site), store.latest(site)]);
      const since = now - options.eventLookbackMs;
      const [tankEvents, flowEvents, commands] = await Promise.all([
        this.openEvents(site, 'tank.low', 'tank.ok', since),
        this.openEvents(site, 'zone.no-flow', 'zone.finished', since),
        store.listCommands(site, { updatedSince: now - options.commandFailedForMs, limit: 200 }),
      ]);
      const intervals = new Map<string, number>();
      for (const sensor of quietSensors(latest, now, options)) {
        const ms = await this.intervalOf(site, sensor, latest.find((r) => r.sensor === sensor)?.ts ?? now, now);
        if (ms !== undefined) intervals.set(sensor, ms);
      }
      const soilHistory = new Map<string, Awaited<ReturnType<CloudStore['history']>>>();
      const window = 2 * options.soilDryForMs;
      const bucket = Math.max(5 * 60_000, Math.ceil(window / SOIL_BUCKETS / 60_000) * 60_000);
      for (const sensor of drySoilCandidates(latest, options)) {
        soilHistory.set(sensor, await store.history(site, sensor, now - window, now + 1, bucket));
      }
      computed = computeAlerts(
        {
          now,
          model,
          edges,
          latest,
          intervals,
          soilHistory,
          tankEvents,
          flowEvents,
          failedCommands: commands.filter((c) => c.status === 'rejected' || c.status === 'failed' || c.status === 'expired'),
        },
        options,
      );
    } catch (err) {
      this.limited.warn(`alerts:${site}`, { site, err: toVillageError(err).message }, 'alert evaluation failed; keeping the last known alerts');
      return this.sites.get(site)?.alerts ?? [];
    }

    const before = this.sites.get(site);
    const since = new Map<string, number>();
    const alerts = computed.map((a) => {
      const earliest = Math.min(a.since, before?.since.get(a.id) ?? a.since);
      since.set(a.id, earliest);
      return earliest === a.since ? a : { ...a, since: earliest };
    });
    const key = alerts.map((a) => `${a.id}|${a.severity}`).join('\n');
    this.sites.set(site, { alerts, since, at: now, key, stale: (this.changes.get(site) ?? 0) !== generation });
    if (before?.key === key || (!before && alerts.length === 0)) return alerts;
    const known = new Set(before?.alerts.map((a) => a.id));
    // At a site's first evaluation, what began before this process started was the previous
    // run's to forward (or is old news); what began since is new.
    const fresh = alerts.filter((a) => !known.has(a.id) && (before !== undefined || a.since >= this.startedAt));
    for (const a of fresh) this.tell('onNew', () => this.opts.onNew?.(site, a));
    if (!before && fresh.length < alerts.length) this.opts.log.info({ site, active: alerts.length, forwarded: fresh.length }, 'alerts already active at start are not forwarded again');
    this.tell('onChange', () => this.opts.onChange?.(site, alerts));
    return alerts;
  }

  /**
   * The newest `raise` event per source since `since`, each followed by the first `clear` event
   * of that source after it, if any (newest first): one small query per raised source, however
   * many clearing events (every finished run) the site has.
   */
  private async openEvents(site: string, raise: string, clear: string, since: number): Promise<(Event & { edge: string })[]> {
    const raised = new Map<string, Event & { edge: string }>();
    for (const e of await this.opts.store.events(site, { kind: raise, since, limit: 500 })) if (!raised.has(e.source)) raised.set(e.source, e);
    const out: (Event & { edge: string })[] = [];
    for (const e of raised.values()) {
      out.push(e);
      const cleared = await this.opts.store.events(site, { kind: clear, source: e.source, since: e.ts, limit: 1 });
      out.push(...cleared);
    }
    return out.sort((a, b) => b.ts - a.ts);
  }

  /** A sensor's usual interval, from its readings of the day before its latest; cached for an hour. */
  private async intervalOf(site: string, sensor: string, latestTs: number, now: number): Promise<number | undefined> {
    const key = `${site}/${sensor}`;
    const cached = this.intervals.get(key);
    if (cached && now - cached.at < INTERVAL_TTL_MS && now >= cached.at) return cached.ms;
    const rows = await this.opts.store.readings(site, sensor, latestTs - 86_400_000, latestTs + 1, 64);
    const ms = usualInterval(rows.map((r) => r.ts));
    this.intervals.set(key, { ms, at: now });
    return ms;
  }

  private tell(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.limited.warn(`alerts:${what}`, { err: toVillageError(err).message }, 'alert listener failed');
    }
  }
}
