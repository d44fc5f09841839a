import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTelemetry, topic } from '@smart-village/shared';
import { API_REDACT_PATHS, buildApi } from '../../src/api/server.js';
import { addApiToken, hashToken, newToken, roleAllows, TOKEN_PATTERN } from '../../src/api/tokens.js';
import { addEdge, CloudApp } from '../../src/app.js';
import { SQLITE_SCHEMA_VERSION, SqliteCloudStore } from '../../src/store/sqlite.js';
import { captureLog, get, reading, startVillage } from './fixture.js';
import { openSse } from './sse.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-api-tokens-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('tokens', () => {
  it('are 32 random bytes, kept as a SHA-256 hash', () => {
    const a = newToken();
    expect(a).toMatch(TOKEN_PATTERN);
    expect(Buffer.from(a.slice(4), 'base64url')).toHaveLength(32);
    expect(newToken()).not.toBe(a);
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-2 test vector
  });

  it.each([
    ['viewer', 'viewer', true],
    ['viewer', 'operator', false],
    ['operator', 'viewer', true],
    ['operator', 'admin', false],
    ['admin', 'operator', true],
  ] as const)('%s may do what %s may: %s', (role, needed, ok) => {
    expect(roleAllows(role, needed)).toBe(ok);
  });

  it('a v1 store file gains the token table when opened', async () => {
    const path = join(dir, 'v1.sqlite');
    // A file as schema 1 left it: everything but the token table (and what came after it).
    const fresh = new SqliteCloudStore({ path });
    await fresh.init();
    await fresh.close();
    const old = new Database(path);
    old.exec('DROP TABLE api_tokens; DROP TABLE users; DROP TABLE sessions; DROP TABLE commands; DROP TABLE edge_state; DROP TABLE announcements');
    old.pragma('user_version = 1');
    old.close();
    const store = new SqliteCloudStore({ path });
    await store.init();
    await store.addToken('hall-screen', 'viewer', 'h'.repeat(64), 1);
    expect(await store.listTokens()).toEqual([{ name: 'hall-screen', role: 'viewer', createdAt: 1 }]);
    await store.close();
    const db = new Database(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });
});

describe('village-cloud token', () => {
  it('add prints a token once; it authenticates with its role; list shows names, never tokens', async () => {
    const db = join(dir, 'cli.sqlite');
    const added = await run(process.execPath, [CLI, 'token', 'add', '--name', 'hall-screen', '--role', 'viewer', '--db', db]);
    const tokens = added.stdout.match(/svt_[A-Za-z0-9_-]{43}/g) ?? [];
    expect(tokens).toHaveLength(1);
    const token = tokens[0] as string;
    await run(process.execPath, [CLI, 'token', 'add', '--name', 'technician', '--role', 'operator', '--db', db]);
    const listed = await run(process.execPath, [CLI, 'token', 'list', '--db', db]);
    expect(listed.stdout).toMatch(/^hall-screen\s+viewer\s+created \d{4}-/m);
    expect(listed.stdout).toMatch(/^technician\s+operator\s+created /m);
    expect(listed.stdout).not.toContain('svt_');

    const store = new SqliteCloudStore({ path: db });
    await store.init();
    const server = createServer(buildApi({ store, log: pino({ level: 'silent' }) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await get(base, '/api/sites', token)).status).toBe(200);
      expect((await get(base, '/api/quarantine', token)).status).toBe(403);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    }
  });

  it.each([
    { args: ['--name', 'x', '--role', 'root'] },
    { args: ['--role', 'viewer'] },
    { args: ['--name', 'has space', '--role', 'viewer'] },
  ])('add refuses $args', async ({ args }) => {
    const err = await run(process.execPath, [CLI, 'token', 'add', ...args, '--db', join(dir, 'bad.sqlite')]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('token add needs --name');
  });
});

describe('logs', () => {
  it('one line per request, naming the client, never its token', async () => {
    const v = await startVillage();
    try {
      await get(v.base, '/api/sites', v.tokens.viewer);
      await get(v.base, '/api/quarantine', v.tokens.viewer);
      await get(v.base, `/api/sites?token=${v.tokens.admin}`);
      await get(v.base, '/api/sites', `${v.tokens.operator}x`);
      const sse = await openSse(`${v.base}/api/sites/village-a/stream?token=${v.tokens.operator}`);
      sse.close();
      const text = v.logs.join('\n');
      for (const t of Object.values(v.tokens)) expect(text).not.toContain(t.slice(4));
      const lines = v.logs.map((l) => JSON.parse(l) as { msg: string; path?: string; status?: number; client?: string });
      expect(lines.filter((l) => l.msg === 'api request').map((l) => [l.path, l.status, l.client])).toEqual([
        ['/api/sites', 200, 'hall-screen'],
        ['/api/quarantine', 403, 'hall-screen'],
        ['/api/sites', 401, undefined],
        ['/api/sites', 401, undefined],
        ['/api/sites/village-a/stream', 200, 'technician'],
      ]);
    } finally {
      await v.close();
    }
  });

  it('the CLI logger censors token fields if one ever gets logged', () => {
    const { lines } = captureLog();
    const sinkLog = pino({ redact: { paths: API_REDACT_PATHS, censor: '[redacted]' } }, { write: (s: string) => lines.push(s) });
    sinkLog.info({ token: 'svt_secret', req: { headers: { authorization: 'Bearer svt_secret' } }, authorization: 'Bearer svt_secret' }, 'x');
    expect(lines.join('')).not.toContain('svt_secret');
  });
});

describe('CloudApp with httpPort', () => {
  it('serves the API and streams what the real ingest stores', async () => {
    const { log, lines } = captureLog();
    const app = new CloudApp({ db: join(dir, 'app.sqlite'), log, host: '127.0.0.1', mqttPort: 0, httpPort: 0 });
    await app.start();
    const clients: { close(): void }[] = [];
    try {
      expect(app.ports.http).toBeGreaterThan(0);
      expect(lines.some((l) => l.includes('HTTP API listening') && l.includes(`http://127.0.0.1:${app.ports.http}`))).toBe(true);
      const base = `http://127.0.0.1:${app.ports.http}`;
      const secret = await addEdge(app.store, 'village-a', 'pump-house', Date.now());
      const token = await addApiToken(app.store, 'hall-screen', 'viewer', Date.now());
      const sse = await openSse(`${base}/api/sites/village-a/stream?token=${token}`);
      clients.push(sse);
      expect(sse.status).toBe(200);

      const edge = await connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'village-a/pump-house', password: secret, clientId: 'village-a/pump-house', reconnectPeriod: 0 });
      clients.push({ close: () => void edge.endAsync(true) });
      const status = { site: 'village-a', edge: 'pump-house', state: 'online', birth: 1, ts: Date.now(), versions: { edge: 'test', protocol: 1 } };
      await edge.publishAsync(topic('village-a', 'pump-house', 'status'), JSON.stringify(status), { qos: 1, retain: true });
      expect((await sse.next('edge')).data).toMatchObject({ site: 'village-a', edge: 'pump-house', state: 'online' });

      const ts = Date.now() - 1000;
      await edge.publishAsync(topic('village-a', 'pump-house', 'telemetry'), encodeTelemetry({ seqs: [1], readings: [reading('soil-1', ts, 27.5)] }), { qos: 1 });
      expect(await sse.next('readings')).toEqual({
        event: 'readings',
        data: { site: 'village-a', readings: [{ edge: 'pump-house', sensor: 'soil-1', ts, value: 27.5, unit: '%VWC', quality: 'good', clockSynced: true }] },
      });
      expect((await get(base, '/api/health')).body).toEqual({ ok: true, version: '0.1.0' });
    } finally {
      for (const c of clients) c.close();
      await app.stop();
    }
  });
});
