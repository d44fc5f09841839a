import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { EdgeState, Event, Reading } from '@smart-village/shared';
import { buildApi, type ApiHandler, type ApiOptions } from '../../src/api/server.js';
import { addApiToken } from '../../src/api/tokens.js';
import { addUser } from '../../src/auth/users.js';
import { SqliteCloudStore } from '../../src/store/sqlite.js';
import type { ApiRole, EdgeRef, UserRole } from '../../src/store/types.js';

/**
 * A village in a temp-dir SQLite store, filled through the store API, and the API on a loopback
 * port. Times are fixed: T0 is a whole UTC day, NOW half a day (and a bit) later.
 */
export const MIN = 60_000;
export const H = 3_600_000;
export const T0 = Date.UTC(2024, 5, 1);
export const NOW = T0 + 12 * H + 2 * MIN;

export const PUMP: EdgeRef = { site: 'village-a', edge: 'pump-house' };
export const FIELD: EdgeRef = { site: 'village-a', edge: 'field-north' };
export const OTHER: EdgeRef = { site: 'village-b', edge: 'hall' };

export function reading(sensor: string, ts: number, value: number | null, unit: Reading['unit'] = '%VWC'): Reading {
  return { sensor, ts, value, unit, quality: value === null ? 'error' : 'good', clockSynced: true };
}

export function event(ts: number, kind: string, source: string, data: Record<string, unknown> = {}): Event {
  return { ts, clockSynced: true, kind, severity: kind === 'device.offline' ? 'warning' : 'info', source, message: `${kind} ${source}`, data };
}

export interface Village {
  dir: string;
  store: SqliteCloudStore;
  api: ApiHandler;
  server: Server;
  base: string;
  tokens: Record<ApiRole, string>;
  /** Every log line the API wrote (pino JSON), level debug. */
  logs: string[];
  log: Logger;
  close(): Promise<void>;
}

/** soil-1 every 10 min over the last 12 h from the pump house, seqs 1..72 (value = seq). */
export const SOIL_SEQS = Array.from({ length: 72 }, (_, i) => i + 1);
export const soilTs = (seq: number): number => T0 + seq * 10 * MIN;

export async function seedVillage(store: SqliteCloudStore): Promise<void> {
  await store.addEdge(PUMP, 'scrypt$x', T0 - 10 * H);
  await store.addEdge(FIELD, 'scrypt$y', T0 - 10 * H);
  await store.addEdge(OTHER, 'scrypt$z', T0 - 10 * H);
  await store.storeReadings(PUMP, SOIL_SEQS, SOIL_SEQS.map((s) => reading('soil-1', soilTs(s), s)));
  await store.storeReadings(PUMP, [73], [reading('tank-level', T0 + 12 * H, 142.5, 'cm')]);
  await store.storeEvents(PUMP, [74, 75], [event(T0 + 6 * H, 'zone.watered', 'zone-1', { mm: 4.5 }), event(T0 + 7 * H, 'device.offline', 'modbus-3')]);
  // field-north: seq 1 and 3 arrived, 2 not yet (a gap); soil-2's latest is an error reading.
  await store.storeReadings(FIELD, [1, 3], [reading('soil-2', T0 + 11 * H, 31), reading('soil-2', T0 + 11 * H + 30 * MIN, null)]);
  await store.storeEvents(FIELD, [4], [event(T0 + 8 * H, 'zone.skipped', 'zone-2', { reason: 'rain' })]);
  await store.touchEdge(PUMP, NOW - 30_000, { state: 'online', birth: 3 });
  await store.touchEdge(FIELD, NOW - 2 * H, { state: 'offline', birth: 1 });
  await store.quarantine({ at: T0 + H, site: 'village-a', edge: 'pump-house', topic: 'sv/v1/village-a/pump-house/telemetry', reason: 'bad frame', payload: 'AAEC' });
  await store.quarantine({ at: T0 + 2 * H, site: 'village-b', topic: 'sv/v1/village-b/ghost/events', reason: 'unknown edge village-b/ghost', payload: 'eyJ9' });
}

export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/**
 * What the edges told about themselves (…/state): village-a's pump house runs zone-1 and zone-3
 * (Lan's field) and the tank; field-north runs zone-2 (Bình's field). zone-3 allows no manual runs.
 */
export const PUMP_STATE: EdgeState = {
  ts: NOW - 5000,
  readings: [],
  control: {
    outputs: [
      { id: 'valve-1', kind: 'valve', on: false },
      { id: 'pump', kind: 'pump', on: false },
    ],
    zones: [
      { id: 'zone-1', name: 'Ruộng Lan trên', field: 'ruong-lan', state: 'idle', manualAllowed: true },
      { id: 'zone-3', name: 'Ruộng Lan dưới', field: 'ruong-lan', state: 'idle', manualAllowed: false },
    ],
    lights: [{ id: 'street', on: false, reason: 'day' }],
  },
  meta: {
    site: { name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21.03, lon: 105.85 },
    sensors: [
      { id: 'soil-1', name: 'Đất ruộng Lan', field: 'ruong-lan', quantity: 'soil-moisture', unit: '%VWC' },
      { id: 'tank-level', name: 'Bể nước', quantity: 'water-level', unit: 'cm' },
    ],
  },
};
export const FIELD_STATE: EdgeState = {
  ts: NOW - 4000,
  readings: [],
  control: { outputs: [{ id: 'valve-2', kind: 'valve', on: false }], zones: [{ id: 'zone-2', name: 'Ruộng Bình', field: 'ruong-binh', state: 'idle', manualAllowed: true }], lights: [] },
  meta: {
    site: { name: 'Thôn Đông', timezone: 'Asia/Ho_Chi_Minh', language: 'vi', lat: 21.03, lon: 105.85 },
    sensors: [{ id: 'soil-2', name: 'Đất ruộng Bình', field: 'ruong-binh', quantity: 'soil-moisture', unit: '%VWC' }],
  },
};

export async function seedStates(store: SqliteCloudStore): Promise<void> {
  await store.putEdgeState(PUMP, PUMP_STATE, NOW - 5000);
  await store.putEdgeState(FIELD, FIELD_STATE, NOW - 4000);
}

/** Users of the village: passwords are "{name}-password". */
export const USERS: { name: string; role: UserRole; site: string; fields?: string[] }[] = [
  { name: 'lan', role: 'farmer', site: 'village-a', fields: ['ruong-lan'] },
  { name: 'binh', role: 'farmer', site: 'village-a', fields: ['ruong-binh'] },
  { name: 'an', role: 'operator', site: 'village-a' },
  { name: 'khoa', role: 'admin', site: 'village-a' },
  { name: 'xem', role: 'viewer', site: 'village-a' },
  { name: 'bac', role: 'operator', site: 'village-b' },
];

export async function seedUsers(store: SqliteCloudStore): Promise<void> {
  for (const u of USERS) await addUser(store, u, `${u.name}-password`, T0);
}

export async function startVillage(opts: { keepAliveMs?: number; now?: () => number; states?: boolean; users?: boolean; api?: Partial<ApiOptions> } = {}): Promise<Village> {
  const dir = mkdtempSync(join(tmpdir(), 'sv-api-'));
  const store = new SqliteCloudStore({ path: join(dir, 'cloud.sqlite') });
  await store.init();
  await seedVillage(store);
  if (opts.states) await seedStates(store);
  if (opts.users) await seedUsers(store);
  const tokens = {
    viewer: await addApiToken(store, 'hall-screen', 'viewer', T0),
    operator: await addApiToken(store, 'technician', 'operator', T0),
    admin: await addApiToken(store, 'commune', 'admin', T0),
  };
  const { log, lines } = captureLog();
  const api = buildApi({ store, log, now: opts.now ?? (() => NOW), version: '9.9.9-test', ...(opts.keepAliveMs !== undefined && { keepAliveMs: opts.keepAliveMs }), loginLimit: { burst: 100, perMinute: 60 }, ...opts.api });
  const server = createServer(api);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    dir,
    store,
    api,
    server,
    base,
    tokens,
    logs: lines,
    log,
    async close() {
      api.stop();
      api.closeStreams();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface JsonReply {
  status: number;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** One request with node:http (no keep-alive agent, so nothing lingers between tests). */
export function get(base: string, path: string, token?: string, method = 'GET'): Promise<JsonReply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent: false, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface Call {
  method?: string;
  /** Sent as JSON (Content-Type: application/json unless headers say otherwise). */
  body?: unknown;
  /** Sent as it is, as JSON (malformed bodies). */
  raw?: string;
  token?: string;
  /** A session from login(): its cookie, and its CSRF token unless csrf is given. */
  session?: Session;
  csrf?: string | null;
  headers?: Record<string, string>;
}

/** One request, with a JSON body, a token or a session, as a browser page or a script sends it. */
export function call(base: string, path: string, c: Call = {}): Promise<JsonReply> {
  const headers: Record<string, string> = {};
  if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`;
  if (c.session) {
    headers.cookie = c.session.cookie;
    const csrf = c.csrf === undefined ? c.session.csrf : c.csrf;
    if (csrf !== null) headers['x-csrf-token'] = csrf;
  }
  const text = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
  if (text !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, c.headers);
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: c.method ?? (text === undefined ? 'GET' : 'POST'), agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body === '' ? undefined : JSON.parse(body) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

export interface Session {
  /** "sv_session=…", for the Cookie header. */
  cookie: string;
  csrf: string;
  user: unknown;
  /** The whole Set-Cookie line. */
  setCookie: string;
}

/** The session cookie a Set-Cookie header sets, or undefined. */
export function sessionFrom(reply: JsonReply): Session | undefined {
  const line = (reply.headers['set-cookie'] ?? []).find((l) => l.startsWith('sv_session='));
  if (!line) return undefined;
  const body = reply.body as { csrf: string; user: unknown };
  return { cookie: line.split(';')[0] as string, csrf: body.csrf, user: body.user, setCookie: line };
}

export async function login(base: string, username: string, password = `${username}-password`): Promise<Session> {
  const r = await call(base, '/api/session', { body: { username, password } });
  const session = sessionFrom(r);
  if (r.status !== 200 || !session) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return session;
}
