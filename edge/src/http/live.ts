import type { ServerResponse } from 'node:http';
import { toVillageError, type ControlState, type Event, type Reading } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/types.js';
import { canSeeAlert, canSeeEventSource, canSeeSensor, visibleControl, type Principal } from './access.js';
import { ALERT_EVENT_KINDS, alertSetKey, type Alert } from './alerts.js';
import type { SiteView } from './site.js';
import type { CommandView, EdgeView } from './views.js';

/** What the site's stream pushes: the cloud's event names and shapes (cloud/src/api/live.ts). */
export type LiveEvent =
  | { event: 'readings'; data: { site: string; readings: (Reading & { edge: string })[] } }
  | { event: 'edge'; data: { site: string } & EdgeView }
  | { event: 'events'; data: { site: string; edge: string; events: (Event & { seq: number })[] } }
  | { event: 'control'; data: { site: string; edge: string; control: ControlState } }
  | { event: 'command'; data: { site: string; command: CommandView } }
  | { event: 'alert'; data: { site: string; alerts: Alert[] } };

type Listener = (e: LiveEvent) => void;

export interface LiveFeedDeps {
  site: SiteView;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  /** The active alerts and when they would next change by time alone. */
  alerts: () => { alerts: Alert[]; nextChangeAt: number | undefined };
  /** Told of new readings first (a firmware node's sensor may be new to the site). */
  learn: (readings: Reading[]) => void;
  /** Told what the feed read of the outbox: whether it held events that start or end alerts, up to which seq. */
  sawRows: (uptoSeq: number, alertEvents: boolean) => void;
}

/** Rows read per outbox query when catching up after a commit (a commit is a second of readings). */
const ROWS_PER_READ = 2000;
const ALERT_KINDS = new Set<string>(ALERT_EVENT_KINDS);

/**
 * The live side of the site, driven by the outbox's commits and control's changes, never by
 * polling: after each commit the rows it added are read once and the readings that changed, the
 * new events and a changed alert set go to every open stream. With no stream open a commit costs
 * nothing but remembering its seq. Alerts that begin by time alone (a sensor falling silent) get a
 * timer set for the moment they are due.
 */
export class LiveFeed {
  private readonly listeners = new Set<Listener>();
  private cursor = 0;
  private readonly sent = new Map<string, string>();
  private alertKey = '';
  private alertTimer: TimerHandle | undefined;

  constructor(private readonly deps: LiveFeedDeps) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Starts listening; only what changes from now on is sent. */
  subscribe(listener: Listener): () => void {
    if (this.listeners.size === 0) {
      const { outbox } = this.deps;
      this.cursor = outbox.stats().lastSeq;
      this.sent.clear();
      for (const r of outbox.latest()) this.sent.set(r.sensor, key(r));
      this.alertKey = alertSetKey(this.evaluateAlerts());
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.deps.clock.clearTimeout(this.alertTimer);
        this.alertTimer = undefined;
      }
    };
  }

  /** Outbox.onCommit: sends what the commit added. Never throws. */
  committed(lastSeq: number): void {
    if (this.listeners.size === 0) {
      this.cursor = lastSeq;
      return;
    }
    try {
      const { site, outbox } = this.deps;
      const newest = new Map<string, Reading>();
      const events: (Event & { seq: number })[] = [];
      let alertEvents = false;
      for (;;) {
        const rows = outbox.rowsAfter(this.cursor, ROWS_PER_READ);
        for (const row of rows) {
          this.cursor = Math.max(this.cursor, row.seq);
          if (row.kind === 'event') {
            events.push({ ...row.event, seq: row.seq });
            if (ALERT_KINDS.has(row.event.kind)) alertEvents = true;
          } else {
            const prev = newest.get(row.reading.sensor);
            if (!prev || row.reading.ts >= prev.ts) newest.set(row.reading.sensor, row.reading);
          }
        }
        if (rows.length < ROWS_PER_READ) break;
      }
      this.deps.sawRows(this.cursor, alertEvents);
      this.deps.learn([...newest.values()]);
      const changed: (Reading & { edge: string })[] = [];
      for (const r of newest.values()) {
        const previous = this.sent.get(r.sensor);
        // A late (backfilled) reading does not replace a newer latest value.
        if (previous !== undefined && Number(previous.split('|')[0]) > r.ts) continue;
        if (previous === key(r)) continue;
        this.sent.set(r.sensor, key(r));
        changed.push({ ...r, edge: site.edge });
      }
      if (changed.length > 0) this.emit({ event: 'readings', data: { site: site.site, readings: changed } });
      if (events.length > 0) this.emit({ event: 'events', data: { site: site.site, edge: site.edge, events } });
      this.checkAlerts();
    } catch (err) {
      this.deps.log.warn({ err: toVillageError(err).message }, 'live update failed');
    }
  }

  control(control: ControlState): void {
    const { site } = this.deps;
    this.emit({ event: 'control', data: { site: site.site, edge: site.edge, control } });
  }

  command(command: CommandView): void {
    this.emit({ event: 'command', data: { site: this.deps.site.site, command } });
    this.checkAlerts();
  }

  edge(view: EdgeView): void {
    this.emit({ event: 'edge', data: { site: this.deps.site.site, ...view } });
  }

  /** Sends the alert set if it changed since last sent. */
  checkAlerts(): void {
    if (this.listeners.size === 0) return;
    try {
      const alerts = this.evaluateAlerts();
      const k = alertSetKey(alerts);
      if (k === this.alertKey) return;
      this.alertKey = k;
      this.emit({ event: 'alert', data: { site: this.deps.site.site, alerts } });
    } catch (err) {
      this.deps.log.warn({ err: toVillageError(err).message }, 'alert evaluation failed');
    }
  }

  close(): void {
    this.listeners.clear();
    this.deps.clock.clearTimeout(this.alertTimer);
    this.alertTimer = undefined;
  }

  private evaluateAlerts(): Alert[] {
    const { alerts, nextChangeAt } = this.deps.alerts();
    const { clock } = this.deps;
    clock.clearTimeout(this.alertTimer);
    this.alertTimer = undefined;
    if (nextChangeAt !== undefined) {
      this.alertTimer = clock.setTimeout(() => {
        this.alertTimer = undefined;
        this.checkAlerts();
      }, Math.max(0, nextChangeAt - clock.now()));
    }
    return alerts;
  }

  private emit(e: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(e);
      } catch (err) {
        this.deps.log.warn({ err: toVillageError(err).message }, 'live listener failed');
      }
    }
  }
}

function key(r: Reading): string {
  return `${r.ts}|${r.value}|${r.quality}`;
}

/**
 * What a farmer's stream may carry: readings, events, zones and valves of their own fields, their
 * own commands and the alerts that concern them. Undefined for those who see the whole site.
 */
export function streamFilter(p: Principal, site: SiteView): ((e: LiveEvent) => LiveEvent | undefined) | undefined {
  if (p.fields === null) return undefined;
  return (e) => {
    switch (e.event) {
      case 'readings': {
        const readings = e.data.readings.filter((r) => canSeeSensor(p, site, r.sensor));
        return readings.length > 0 ? { event: 'readings', data: { ...e.data, readings } } : undefined;
      }
      case 'events': {
        const events = e.data.events.filter((x) => canSeeEventSource(p, site, x.source));
        return events.length > 0 ? { event: 'events', data: { ...e.data, events } } : undefined;
      }
      case 'control':
        return { event: 'control', data: { ...e.data, control: visibleControl(p, site, e.data.control) } };
      case 'command':
        return e.data.command.by === p.name ? e : undefined;
      case 'alert':
        return { event: 'alert', data: { ...e.data, alerts: e.data.alerts.filter((a) => canSeeAlert(p, a.data)) } };
      default:
        return e;
    }
  };
}

/** A client that cannot keep up (a phone on a dying link) is cut off rather than buffered without bound; it reconnects. */
const MAX_BUFFERED_BYTES = 1_000_000;

/**
 * Serves one Server-Sent Events stream (WHATWG HTML §9.2) until the client leaves or the server
 * stops; comment lines every `keepAliveMs` keep NATs and proxies from dropping an idle one.
 */
export function serveStream(res: ServerResponse, feed: LiveFeed, opts: { keepAliveMs: number; open: Set<ServerResponse>; filter: ((e: LiveEvent) => LiveEvent | undefined) | undefined }): void {
  let closed = false;
  const write = (text: string): void => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
  };
  const unsubscribe = feed.subscribe((event) => {
    const e = opts.filter ? opts.filter(event) : event;
    if (e) write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  });
  const timer = setInterval(() => write(': keep-alive\n\n'), opts.keepAliveMs);
  timer.unref();
  opts.open.add(res);
  // The response's close, not the request's: a GET's request side "closes" once it is read.
  res.once('close', () => {
    closed = true;
    clearInterval(timer);
    unsubscribe();
    opts.open.delete(res);
  });
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  write(': connected\n\n');
}
