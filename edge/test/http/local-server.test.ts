/**
 * The local server's own parts, without the field: the built web app's files (types, caching,
 * gzip, no way out of the root), the login rate limit, secrets kept out of the logs, an
 * unavailable accounts store, and the streams being told when the edge goes away.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { addToken, addUser } from '../../src/http/accounts.js';
import { LocalServer } from '../../src/http/server.js';
import { DEFAULT_WEB_ROOT } from '../../src/http/static.js';
import { WebStore } from '../../src/http/web-store.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { Browser, openStream } from './helpers.js';

const CONFIG = `
version: 1
site: { id: thon-dong, name: Thôn Đông, timezone: Asia/Ho_Chi_Minh, lat: 10.1, lon: 105.7 }
edge: { id: pi-dong, http: { port: 0 } }
`;

const APP_JS = 'console.log("farmer view");\n'.repeat(40);

/** A raw GET: fetch would normalise `..` away before it leaves. */
function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the local server', () => {
  let dir: string | undefined;
  let server: LocalServer | undefined;
  let outbox: SqliteOutbox | undefined;

  afterEach(async () => {
    await server?.stop();
    outbox?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = server = outbox = undefined;
  });

  async function start(opts: { webRoot?: string; lines?: string[]; burst?: number } = {}): Promise<{ server: LocalServer; base: string; port: number; data: string; web: string }> {
    dir = mkdtempSync(join(tmpdir(), 'sv-local-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    const web = join(dir, 'web');
    mkdirSync(web);
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>farmer</title>');
    writeFileSync(join(web, 'hall.html'), '<!doctype html><title>hall</title>');
    writeFileSync(join(web, 'farmer-UQQXNWAG.js'), APP_JS);
    writeFileSync(join(web, 'farmer-UQQXNWAG.js.gz'), gzipSync(APP_JS));
    writeFileSync(join(web, 'style-RW3YUBTG.css'), 'body{margin:0}');
    writeFileSync(join(web, 'manifest.json'), '{"files":[]}');
    // Secrets beside the app, and a link from inside the app to them.
    writeFileSync(join(dir, 'secret.txt'), 'the pump house key');
    symlinkSync(join(dir, 'secret.txt'), join(web, 'link.txt'));
    const config = parseConfigText(CONFIG);
    const lines = opts.lines;
    const log = createLogger({
      level: lines ? 'debug' : 'silent',
      ...(lines && {
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
            done();
          },
        }),
      }),
    });
    outbox = new SqliteOutbox({ path: join(data, 'outbox.sqlite'), clock: systemClock, log });
    outbox.start();
    server = new LocalServer({
      host: '127.0.0.1',
      port: 0,
      log,
      clock: systemClock,
      localToken: 'l'.repeat(32),
      command: async (cmd) => ({ id: cmd.id, status: 'rejected', reason: 'this edge runs no local control', ts: Date.now() }),
      controlState: () => undefined,
      web: { config, outbox, dataDir: data, webRoot: opts.webRoot ?? web, loginLimit: { burst: opts.burst ?? 10, perMinute: 1 } },
    });
    await server.start();
    return { server, base: `http://127.0.0.1:${server.port}`, port: server.port, data, web };
  }

  it('serves the built app: pages revalidate, hashed files are immutable, gzip when taken, security headers on all', async () => {
    const { base } = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<!doctype html><title>farmer</title>');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self';.*frame-ancestors 'none'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await (await fetch(`${base}/hall`)).text()).toBe('<!doctype html><title>hall</title>');
    // The app's own routes load the app.
    expect(await (await fetch(`${base}/fields/ruong-1`)).text()).toContain('farmer');

    const gz = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve) => {
      request(`${base}/farmer-UQQXNWAG.js`, { headers: { 'accept-encoding': 'br;q=1, gzip;q=0.8' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).end();
    });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(gz.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gunzipSync(gz.body).toString('utf8')).toBe(APP_JS);
    const plain = await rawGet(Number(new URL(base).port), '/farmer-UQQXNWAG.js', { 'accept-encoding': 'gzip;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe(APP_JS);

    expect((await fetch(`${base}/style-RW3YUBTG.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const manifest = await fetch(`${base}/manifest.json`);
    expect([manifest.headers.get('content-type'), manifest.headers.get('cache-control')]).toEqual(['application/json; charset=utf-8', 'no-cache']);
    const etag = page.headers.get('etag') ?? '';
    expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(`${base}/hall`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect((await fetch(`${base}/no-such-file.js`)).status).toBe(404);
    const post = await fetch(`${base}/`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  it('never serves anything outside the app', async () => {
    const { port } = await start();
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/link.txt', '/..\\secret.txt', '/%00index.html', '/../data/web.sqlite']) {
      const a = await rawGet(port, path);
      expect(a.status, path).toBe(404);
      expect(a.body.toString('utf8'), path).not.toContain('pump house');
    }
  });

  it('says how to build the app when it is not built, and keeps serving the API', async () => {
    const { base } = await start({ webRoot: '/nonexistent/web/dist' });
    const a = await fetch(`${base}/`);
    expect(a.status).toBe(404);
    expect(await a.text()).toMatch(/not built.*node web\/build\.mjs/s);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    // By default the app is looked for in web/dist of this checkout.
    expect(DEFAULT_WEB_ROOT).toBe(join(new URL('../../../', import.meta.url).pathname, 'web', 'dist') + '/');
  });

  it('limits login attempts per address, and keeps passwords, tokens and session ids out of the logs', async () => {
    const lines: string[] = [];
    const { base, data } = await start({ lines, burst: 4 });
    const store = new WebStore(data);
    await addUser(store, { name: 'lan', role: 'viewer' }, 'lan-secret-password', [], Date.now());
    const token = addToken(store, 'hall', 'viewer', Date.now());
    store.close();
    const b = new Browser(base);
    expect((await b.login('lan', 'wrong-password-1')).status).toBe(401);
    // Names are matched lowercased and trimmed, as typed on a phone.
    expect((await b.login(' LAN ', 'lan-secret-password')).status).toBe(200);
    expect((await new Browser(base).kiosk('svt_' + 'A'.repeat(43))).status).toBe(401);
    const hall = new Browser(base);
    expect((await hall.kiosk(token)).status).toBe(200);
    const stream = await openStream(`${base}/api/sites/thon-dong/stream?token=${token}`);
    stream.close();
    const limited = await b.login('lan', 'lan-secret-password');
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'TOO_MANY_REQUESTS' } } });
    expect(limited.headers.get('retry-after')).toBe('60');

    const secrets = ['lan-secret-password', 'wrong-password-1', token, b.csrf, hall.csrf, b.cookie?.slice('sv_session='.length), hall.cookie?.slice('sv_session='.length)];
    expect(lines.some((l) => l.includes('logged in'))).toBe(true);
    for (const s of secrets) {
      expect(s).toBeTruthy();
      expect(lines.filter((l) => l.includes(s as string))).toEqual([]);
    }
  });

  it('serves the CLI API when the accounts store cannot be opened, and says why the app API cannot', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sv-local-'));
    const data = join(dir, 'data');
    // A directory where the file should be: the store cannot open.
    mkdirSync(join(data, 'web.sqlite'), { recursive: true });
    outbox = new SqliteOutbox({ path: join(data, 'outbox.sqlite'), clock: systemClock, log: createLogger({ level: 'silent' }) });
    outbox.start();
    server = new LocalServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ level: 'silent' }),
      clock: systemClock,
      localToken: 'l'.repeat(32),
      command: async (cmd) => ({ id: cmd.id, status: 'done', ts: Date.now() }),
      controlState: () => undefined,
      web: { config: parseConfigText(CONFIG), outbox, dataDir: data },
    });
    await server.start();
    const base = `http://127.0.0.1:${server.port}`;
    expect(await (await fetch(`${base}/api/sites`)).json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/^accounts are unavailable: cannot open/) as unknown } });
    const cmd = await fetch(`${base}/api/local/commands`, { method: 'POST', headers: { authorization: `Bearer ${'l'.repeat(32)}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: { type: 'resume' } }) });
    expect(cmd.status).toBe(200);
  });

  it('learns a sensor a firmware node declares at run time and shows it to the farmer of its field', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sv-local-'));
    const config = parseConfigText(`${CONFIG}
devices:
  - { id: vuon-rau, driver: firmware, port: /nonexistent/tty-vuon-rau, nodes: [{ node: 1, name: n1 }] }
sensors:
  - { id: vuon-rau-do-am, source: vuon-rau/n1-moisture, name: "Vườn rau — độ ẩm đất", field: vuon-rau }
`);
    const store = new WebStore(dir);
    await addUser(store, { name: 'lan', role: 'farmer', fields: ['vuon-rau'] }, 'lan-password', ['vuon-rau'], Date.now());
    store.close();
    outbox = new SqliteOutbox({ path: join(dir, 'outbox.sqlite'), clock: systemClock, log: createLogger({ level: 'silent' }) });
    outbox.start();
    server = new LocalServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ level: 'silent' }),
      clock: systemClock,
      localToken: 'l'.repeat(32),
      command: async (cmd) => ({ id: cmd.id, status: 'rejected', ts: Date.now() }),
      controlState: () => undefined,
      web: { config, outbox, dataDir: dir },
    });
    await server.start();
    const lan = new Browser(`http://127.0.0.1:${server.port}`);
    expect((await lan.login('lan', 'lan-password')).status).toBe(200);
    type Fields = { fields: { id: string; sensors: { id: string; name: string; value: number | null }[] }[] };
    // The field exists before the node has said a word; its sensor appears with its first reading.
    expect(((await lan.get('/api/sites/thon-dong/overview')).body as Fields).fields).toEqual([{ id: 'vuon-rau', name: 'vuon-rau', sensors: [], zones: [] }]);
    const stream = await openStream(`http://127.0.0.1:${server.port}/api/sites/thon-dong/stream`, { cookie: lan.cookie as string });
    outbox.addReadings([{ sensor: 'vuon-rau-do-am', ts: Date.now(), value: 41.5, unit: '%VWC', quality: 'good', clockSynced: true }]);
    outbox.flush();
    const live = await stream.next('readings');
    stream.close();
    expect((live.data as { readings: { sensor: string; value: number }[] }).readings).toEqual([expect.objectContaining({ sensor: 'vuon-rau-do-am', value: 41.5 })]);
    const o = (await lan.get('/api/sites/thon-dong/overview')).body as Fields;
    expect(o.fields[0]?.sensors).toEqual([expect.objectContaining({ id: 'vuon-rau-do-am', name: 'Vườn rau — độ ẩm đất', value: 41.5 })]);
  });

  it('tells open streams the edge goes offline when it stops, then ends them', async () => {
    const { base, data } = await start();
    const store = new WebStore(data);
    const token = addToken(store, 'hall', 'viewer', Date.now());
    store.close();
    const stream = await openStream(`${base}/api/sites/thon-dong/stream`, { authorization: `Bearer ${token}` });
    expect(stream.status).toBe(200);
    expect((await fetch(`${base}/api/sites/thon-dong/stream`)).status).toBe(401);
    await server?.stop();
    server = undefined;
    const edge = await stream.next('edge');
    expect(edge.data).toMatchObject({ site: 'thon-dong', edge: 'pi-dong', state: 'offline' });
    await stream.ended;
  });
});
