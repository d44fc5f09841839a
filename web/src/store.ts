/**
 * The one place that talks to the server: the HTTP API (docs/web-api.md) and the site's live
 * stream. Views read an immutable snapshot and subscribe to changes.
 *
 * Live updates come only from the stream (EventSource reconnects by itself). Whenever it opens
 * again after a break, the overview is fetched again: the stream does not replay what was missed.
 * When the server refuses the stream (EventSource then gives up for good) the store checks the
 * session; a lost session goes to `onSessionLost` (the hall screen signs in again with its kiosk
 * token, the farmer view shows the sign-in form), otherwise the stream is reopened with backoff.
 *
 * No browser globals here: fetch, EventSource, the clock and timers are passed in, so the
 * reducers and the recovery logic run under node in tests.
 */
import type { Alert, Announcement, CommandAction, CommandRow, CommandStatus, ControlState, Event, History, HistoryRange, LiveReading, Overview, Role, Session } from './types.js';

export interface ResponseLike {
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}

export interface RequestInitLike {
  method: string;
  headers: Record<string, string>;
  body?: string;
  credentials: 'same-origin';
}

export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (ev: { data?: unknown }) => void): void;
  close(): void;
}

export interface StoreDeps {
  fetch(url: string, init: RequestInitLike): Promise<ResponseLike>;
  /** Opens `/api/sites/{site}/stream` (same origin: the session cookie goes along). */
  openStream(url: string): EventSourceLike;
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** EventSource.readyState once it has given up (WHATWG HTML §9.2.2). */
const CLOSED = 2;
/** First and longest wait before reopening a refused stream. */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;
/** The audit list keeps this many rows in memory. */
const COMMANDS_KEPT = 100;

export type LinkState = 'connecting' | 'open' | 'down';

export interface StoreState {
  session: Session | null;
  site: string | null;
  overview: Overview | null;
  /** Audit rows, newest first. */
  commands: CommandRow[];
  link: LinkState;
  /** Client time when data last arrived (overview or a live event); 0 before any. */
  receivedAt: number;
  /** Code of the last failed load, cleared by the next good one. */
  error: string | null;
}

/** A failed request: HTTP status (0 when the network failed) and the API's error code. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`${status} ${code}`);
    this.name = 'ApiFailure';
  }
}

/** Roles that see the whole audit trail and may pause or delay a site. */
export function isOperator(role: Role | undefined): boolean {
  return role === 'operator' || role === 'admin';
}

const site = (id: string): string => `/api/sites/${encodeURIComponent(id)}`;

export class VillageStore {
  private state: StoreState = { session: null, site: null, overview: null, commands: [], link: 'down', receivedAt: 0, error: null };
  private readonly listeners = new Set<(s: StoreState) => void>();
  private stream: EventSourceLike | null = null;
  /**
   * Whether the next open of the stream must reload the overview: true once the stream has been
   * open or has failed since start(), as changes in between were not streamed to us.
   */
  private reloadOnOpen = false;
  private retryMs = 0;
  private retryTimer: unknown = undefined;
  private renewing: Promise<boolean> | null = null;
  private loading: Promise<void> | null = null;
  private loadTimer: unknown = undefined;
  private loadRetryMs = 0;
  /**
   * Called when the server no longer knows the session. Resolve true when a new session was made,
   * false when the user must sign in again; reject to try again later.
   */
  onSessionLost: (() => Promise<boolean>) | null = null;

  constructor(private readonly deps: StoreDeps) {}

  get(): StoreState {
    return this.state;
  }

  subscribe(listener: (s: StoreState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- session ----------------------------------------------------------------------------

  /** The session the cookie still holds, or null. */
  async restore(): Promise<Session | null> {
    try {
      const s = (await this.request('GET', '/api/session')) as Session;
      this.set({ session: s });
      return s;
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) return null;
      throw err;
    }
  }

  async signIn(username: string, password: string): Promise<Session> {
    const s = (await this.request('POST', '/api/session', { username, password })) as Session;
    this.set({ session: s });
    return s;
  }

  async signInKiosk(token: string): Promise<Session> {
    const s = (await this.request('POST', '/api/session/kiosk', { token })) as Session;
    this.set({ session: s });
    return s;
  }

  async signOut(): Promise<void> {
    try {
      await this.request('DELETE', '/api/session');
    } finally {
      this.stop();
      this.set({ session: null, site: null, overview: null, commands: [], receivedAt: 0 });
    }
  }

  // ---- site data --------------------------------------------------------------------------

  /** Follows one site: opens its stream and loads its overview. */
  start(siteId: string): void {
    this.stop();
    this.reloadOnOpen = false;
    this.loading = null;
    this.set({ site: siteId, overview: this.state.site === siteId ? this.state.overview : null });
    this.openStream();
    void this.load();
  }

  stop(): void {
    this.deps.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.deps.clearTimeout(this.loadTimer);
    this.loadTimer = undefined;
    this.loadRetryMs = 0;
    this.stream?.close();
    this.stream = null;
    this.retryMs = 0;
    this.set({ link: 'down' });
  }

  /** Fetches the overview (and the audit trail for those who act) again; one fetch at a time. */
  load(): Promise<void> {
    this.loading ??= this.fetchSite().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async fetchSite(): Promise<void> {
    const siteId = this.state.site;
    const role = this.state.session?.user.role;
    if (siteId === null) return;
    this.deps.clearTimeout(this.loadTimer);
    this.loadTimer = undefined;
    try {
      const withAudit = isOperator(role) || role === 'farmer';
      const [overview, audit] = await Promise.all([
        this.request('GET', `${site(siteId)}/overview`) as Promise<Overview>,
        withAudit ? (this.request('GET', `${site(siteId)}/commands`) as Promise<{ commands: CommandRow[] }>) : Promise.resolve(null),
      ]);
      if (this.state.site !== siteId) return;
      this.loadRetryMs = 0;
      this.set({ overview, commands: audit ? audit.commands.slice(0, COMMANDS_KEPT) : this.state.commands, receivedAt: this.deps.now(), error: null });
    } catch (err) {
      const failure = err instanceof ApiFailure ? err : new ApiFailure(0, 'NETWORK');
      this.set({ error: failure.code });
      // A lost session is handled by sessionLost; anything else (503, network) is tried again.
      if (failure.status !== 401 && failure.status !== 403 && failure.status !== 404) {
        this.loadRetryMs = this.loadRetryMs === 0 ? RETRY_FIRST_MS : Math.min(RETRY_MAX_MS, this.loadRetryMs * 2);
        this.loadTimer = this.deps.setTimeout(() => {
          this.loadTimer = undefined;
          void this.load();
        }, this.loadRetryMs);
      }
    }
  }

  /** Sends a command; the audit row then changes through the stream. */
  async command(action: CommandAction, edge?: string): Promise<CommandRow> {
    const siteId = this.requireSite();
    const answer = (await this.request('POST', `${site(siteId)}/commands`, edge === undefined ? { action } : { edge, action })) as { command: CommandRow };
    this.set({ commands: upsertCommand(this.state.commands, answer.command) });
    return answer.command;
  }

  async explain(zone: string): Promise<Event[]> {
    const answer = (await this.request('GET', `${site(this.requireSite())}/zones/${encodeURIComponent(zone)}/explain`)) as { events: Event[] };
    return answer.events;
  }

  async history(sensor: string, range: HistoryRange): Promise<History> {
    // The existing history route names the window `range` (see /api/openapi.json).
    return (await this.request('GET', `${site(this.requireSite())}/sensors/${encodeURIComponent(sensor)}/history?range=${range}`)) as History;
  }

  async sites(): Promise<string[]> {
    const answer = (await this.request('GET', '/api/sites')) as { sites: { site: string }[] };
    return answer.sites.map((s) => s.site);
  }

  // ---- internals --------------------------------------------------------------------------

  private requireSite(): string {
    if (this.state.site === null) throw new ApiFailure(0, 'NO_SITE');
    return this.state.site;
  }

  private set(patch: Partial<StoreState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener(this.state);
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET') {
      headers['content-type'] = 'application/json';
      if (this.state.session) headers['x-csrf-token'] = this.state.session.csrf;
    }
    let res: ResponseLike;
    try {
      res = await this.deps.fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined && { body: JSON.stringify(body) }) });
    } catch {
      throw new ApiFailure(0, 'NETWORK');
    }
    const parsed: unknown = await res.json().catch(() => null);
    if (res.ok) return parsed;
    const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code;
    const failure = new ApiFailure(res.status, typeof code === 'string' ? code : 'HTTP');
    // A 401 on the session routes is an answer (wrong password); anywhere else the session is gone.
    if (res.status === 401 && this.state.session && !path.startsWith('/api/session')) void this.sessionLost();
    throw failure;
  }

  private sessionLost(): Promise<boolean> {
    this.renewing ??= (async () => {
      const handler = this.onSessionLost;
      let renewed = false;
      try {
        renewed = handler ? await handler() : false;
      } catch {
        // Could not tell (network): try again later, as after any refused stream.
        this.scheduleReopen();
        return false;
      }
      if (renewed) {
        // The new stream's first open then reloads what the old session could not.
        this.reloadOnOpen = true;
        this.openStream();
      } else {
        this.stop();
        this.set({ session: null });
      }
      return renewed;
    })().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private openStream(): void {
    const siteId = this.state.site;
    if (siteId === null) return;
    this.stream?.close();
    this.deps.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const es = this.deps.openStream(`${site(siteId)}/stream`);
    this.stream = es;
    this.set({ link: 'connecting' });
    es.addEventListener('open', () => {
      if (this.stream !== es) return;
      this.retryMs = 0;
      const reload = this.reloadOnOpen || this.state.overview === null;
      this.reloadOnOpen = true;
      this.set({ link: 'open' });
      // Nothing missed while away is replayed: reload (also when the first load failed).
      if (reload) void this.load();
    });
    es.addEventListener('error', () => {
      if (this.stream !== es) return;
      this.reloadOnOpen = true;
      if (es.readyState !== CLOSED) {
        // The browser is already reconnecting (network loss, server restart).
        this.set({ link: 'connecting' });
        return;
      }
      es.close();
      this.stream = null;
      this.set({ link: 'down' });
      void this.recover();
    });
    for (const name of LIVE_EVENTS) {
      es.addEventListener(name, (ev) => {
        if (this.stream !== es || typeof ev.data !== 'string') return;
        let data: unknown;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        this.onLive(name, data);
      });
    }
  }

  /** The server refused the stream: is the session gone, or was it something passing? */
  private async recover(): Promise<void> {
    try {
      const s = (await this.request('GET', '/api/session')) as Session;
      this.set({ session: s });
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) {
        await this.sessionLost();
        return;
      }
    }
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.state.site === null || this.retryTimer !== undefined) return;
    this.retryMs = this.retryMs === 0 ? RETRY_FIRST_MS : Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.retryTimer = this.deps.setTimeout(() => {
      this.retryTimer = undefined;
      this.openStream();
    }, this.retryMs);
  }

  private onLive(name: LiveEventName, data: unknown): void {
    const overview = this.state.overview;
    if (name === 'command') {
      const row = unwrap<CommandRow>(data, 'command');
      if (row && typeof row.id === 'string') this.set({ commands: upsertCommand(this.state.commands, row), receivedAt: this.deps.now() });
      return;
    }
    if (!overview) return;
    const next = applyLive(overview, name, data);
    this.set({ overview: next, receivedAt: this.deps.now() });
  }
}

// ---- reducers (pure) ----------------------------------------------------------------------

export const LIVE_EVENTS = ['readings', 'edge', 'events', 'control', 'command', 'alert', 'announcement'] as const;
export type LiveEventName = (typeof LIVE_EVENTS)[number];

/** Some events may come wrapped (`{ command: {...} }`) or bare; both are read. */
function unwrap<T>(data: unknown, key: string): T | null {
  if (data === null || typeof data !== 'object') return null;
  const inner = (data as Record<string, unknown>)[key];
  return (inner !== undefined ? inner : data) as T;
}

/** The overview after one live event (the same object when nothing in it changed). */
export function applyLive(o: Overview, name: LiveEventName, data: unknown): Overview {
  switch (name) {
    case 'readings':
      return applyReadings(o, (data as { readings?: LiveReading[] }).readings ?? []);
    case 'edge': {
      const e = data as { edge?: string; state?: string; lastSeen?: number | null };
      if (typeof e.edge !== 'string') return o;
      const now = { edge: e.edge, online: e.state === 'online', lastSeen: e.lastSeen ?? null };
      return { ...o, edges: o.edges.some((x) => x.edge === e.edge) ? o.edges.map((x) => (x.edge === e.edge ? now : x)) : [...o.edges, now] };
    }
    case 'control': {
      const c = (data as { control?: ControlState }).control;
      return c ? applyControl(o, c) : o;
    }
    case 'alert': {
      const alerts = (data as { alerts?: Alert[] }).alerts;
      return Array.isArray(alerts) ? { ...o, alerts } : o;
    }
    case 'announcement': {
      const a = unwrap<Announcement>(data, 'announcement');
      return { ...o, announcement: a && typeof a.text === 'string' ? a : null };
    }
    default:
      // `events` (decisions) are read on demand through "why?"; `command` goes to the audit list.
      return o;
  }
}

export function applyReadings(o: Overview, readings: readonly LiveReading[]): Overview {
  if (readings.length === 0) return o;
  const by = new Map(readings.map((r) => [r.sensor, r]));
  const fields = o.fields.map((f) =>
    f.sensors.some((s) => by.has(s.id))
      ? { ...f, sensors: f.sensors.map((s) => {
          const r = by.get(s.id);
          return r ? { ...s, value: r.value, ts: r.ts, quality: r.quality, unit: r.unit } : s;
        }) }
      : f,
  );
  const tanks = o.tanks.map((t) => {
    const r = by.get(t.sensor);
    return r ? { ...t, value: r.value, ts: r.ts, unit: r.unit } : t;
  });
  const weather: Overview['weather'] = {};
  for (const [quantity, w] of Object.entries(o.weather)) {
    const r = w.sensor === undefined ? undefined : by.get(w.sensor);
    weather[quantity] = r ? { ...w, value: r.value, ts: r.ts, unit: r.unit } : w;
  }
  return { ...o, fields, tanks, weather };
}

/** One edge's control state: its zones, outputs and lights replace the ones with the same id. */
export function applyControl(o: Overview, c: ControlState): Overview {
  const zones = new Map(c.zones.map((z) => [z.id, z]));
  const placed = new Set<string>();
  let fields = o.fields.map((f) => ({
    ...f,
    zones: f.zones.map((z) => {
      const fresh = zones.get(z.id);
      if (!fresh) return z;
      placed.add(z.id);
      // The edge's state does not carry the moisture limits the overview gave.
      return z.moisture ? { ...fresh, moisture: z.moisture } : fresh;
    }),
  }));
  for (const z of c.zones) {
    if (placed.has(z.id) || z.field === undefined) continue;
    fields = fields.map((f) => (f.id === z.field ? { ...f, zones: [...f.zones, z] } : f));
  }
  // One village runs one edge; with several, the last edge to report sets the site switches.
  const next: Overview = { ...o, fields, outputs: mergeById(o.outputs, c.outputs), lights: mergeById(o.lights, c.lights) };
  delete next.pausedUntil;
  delete next.rainDelayUntil;
  if (c.pausedUntil !== undefined) next.pausedUntil = c.pausedUntil;
  if (c.rainDelayUntil !== undefined) next.rainDelayUntil = c.rainDelayUntil;
  return next;
}

function mergeById<T extends { id: string }>(old: readonly T[], fresh: readonly T[]): T[] {
  const by = new Map(fresh.map((x) => [x.id, x]));
  const out = old.map((x) => by.get(x.id) ?? x);
  for (const x of fresh) if (!old.some((y) => y.id === x.id)) out.push(x);
  return out;
}

const STATUS_RANK: Record<CommandStatus, number> = { sent: 0, accepted: 1, rejected: 2, done: 2, failed: 2, expired: 2 };

/**
 * The audit list with one row added or updated, newest first. A row never goes back to an
 * earlier status: the stream's "accepted" may arrive before the POST's own "sent" answer.
 */
export function upsertCommand(rows: readonly CommandRow[], row: CommandRow): CommandRow[] {
  const old = rows.find((r) => r.id === row.id);
  if (old && (STATUS_RANK[old.status] > STATUS_RANK[row.status] || (STATUS_RANK[old.status] === STATUS_RANK[row.status] && old.updatedAt > row.updatedAt))) {
    return rows as CommandRow[];
  }
  const merged = old ? rows.map((r) => (r.id === row.id ? row : r)) : [row, ...rows];
  return merged.sort((a, b) => b.issuedAt - a.issuedAt).slice(0, COMMANDS_KEPT);
}

/** Data older than this (client time since it arrived) is flagged on screen. */
export const STALE_AFTER_MS = 2 * 60_000;

/**
 * How current the picture is: `live`, `stale` (the stream is up but nothing arrived for a
 * while, e.g. the edge is offline) or `offline` (the stream is down or reconnecting).
 */
export function freshness(s: Pick<StoreState, 'link' | 'receivedAt'>, now: number): 'live' | 'stale' | 'offline' {
  if (s.link !== 'open') return 'offline';
  if (s.receivedAt === 0 || now - s.receivedAt > STALE_AFTER_MS) return 'stale';
  return 'live';
}

/** Who may water or stop a zone by hand: operators anywhere, farmers on their own fields if the zone allows it. */
export function canWater(user: Session['user'], fieldId: string, zone: { manualAllowed: boolean }): boolean {
  if (isOperator(user.role)) return true;
  return user.role === 'farmer' && zone.manualAllowed && (user.fields === null || user.fields.includes(fieldId));
}
