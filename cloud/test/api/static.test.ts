import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WEB_ROOT } from '../../src/app.js';
import { startVillage, type Village } from './fixture.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw request: the path is sent exactly as written (no URL normalisation by the client). */
function raw(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let dir: string;
let v: Village;
const INDEX = '<!doctype html><title>Làng</title><script type="module" src="/assets/app-5X2KQ3ZB.js"></script>';
const APP_JS = 'console.log("xin chào");'.repeat(50);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-web-'));
  const root = join(dir, 'dist');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'hall.html'), '<!doctype html><title>Nhà văn hoá</title>');
  writeFileSync(join(root, 'assets', 'app-5X2KQ3ZB.js'), APP_JS);
  writeFileSync(join(root, 'assets', 'app-5X2KQ3ZB.js.gz'), gzipSync(APP_JS));
  writeFileSync(join(root, 'assets', 'style.css'), 'body{margin:0}');
  writeFileSync(join(root, 'assets', 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(root, 'manifest.webmanifest'), '{}');
  // Outside the root: what traversal would be after.
  writeFileSync(join(dir, 'secret.txt'), 'TOP-SECRET');
  symlinkSync(join(dir, 'secret.txt'), join(root, 'assets', 'link.txt'));
  v = await startVillage({ api: { webRoot: root } });
});
afterAll(async () => {
  await v?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web app at /', () => {
  it('serves index.html for / and hall.html for /hall, not cached, as HTML', async () => {
    const index = await raw(v.base, '/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toBe(INDEX);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    const hall = await raw(v.base, '/hall');
    expect(hall.body.toString()).toContain('Nhà văn hoá');
    // App routes without a file load the app, which routes itself.
    expect((await raw(v.base, '/fields/ruong-1')).body.toString()).toBe(INDEX);
  });

  it('sends security headers with every file: CSP default-src self, no framing, nosniff', async () => {
    const r = await raw(v.base, '/');
    expect(r.headers['content-security-policy']).toMatch(/^default-src 'self';.*frame-ancestors 'none'/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });

  it('caches hashed assets for ever, others revalidate; content types by extension', async () => {
    const js = await raw(v.base, '/assets/app-5X2KQ3ZB.js');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await raw(v.base, '/assets/style.css');
    expect(css.headers['cache-control']).toBe('no-cache');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await raw(v.base, '/assets/icon.svg')).headers['content-type']).toBe('image/svg+xml');
    expect((await raw(v.base, '/manifest.webmanifest')).headers['content-type']).toBe('application/manifest+json; charset=utf-8');
  });

  it('serves the precompressed .gz when the client accepts gzip, the plain file otherwise', async () => {
    const gz = await raw(v.base, '/assets/app-5X2KQ3ZB.js', { 'accept-encoding': 'br, gzip;q=0.8' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gunzipSync(gz.body).toString()).toBe(APP_JS);
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    const plain = await raw(v.base, '/assets/app-5X2KQ3ZB.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(APP_JS);
    expect((await raw(v.base, '/assets/app-5X2KQ3ZB.js', { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding']).toBeUndefined();
    // No .gz sibling: the plain file.
    expect((await raw(v.base, '/assets/style.css', { 'accept-encoding': 'gzip' })).headers['content-encoding']).toBeUndefined();
  });

  it('answers If-None-Match with 304, and HEAD without a body', async () => {
    const first = await raw(v.base, '/');
    const again = await raw(v.base, '/', { 'if-none-match': first.headers.etag as string });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const head = await raw(v.base, '/assets/style.css', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('14');
    expect(head.body.length).toBe(0);
  });

  it.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/assets/..%5c..%5csecret.txt',
    '/assets/link.txt',
    '/%00index.html',
    '/assets/%ff.js',
  ])('never serves anything outside the root: %s', async (path) => {
    const r = await raw(v.base, path);
    expect(r.body.toString()).not.toContain('TOP-SECRET');
    expect([200, 404]).toContain(r.status);
    // A 200 is the app itself (an app route), never another file.
    if (r.status === 200) expect(r.body.toString()).toBe(INDEX);
  });

  it('a missing asset is 404, not the app; /api stays the API', async () => {
    expect((await raw(v.base, '/assets/missing-ABCDEFGH.js')).status).toBe(404);
    expect((await raw(v.base, '/api/nope')).status).toBe(404);
    const health = await raw(v.base, '/api/health');
    expect(JSON.parse(health.body.toString())).toMatchObject({ ok: true });
    expect((await raw(v.base, '/', {}, 'POST')).status).toBe(404);
  });

  it('without a built web app the API runs alone', async () => {
    const bare = await startVillage({ api: { webRoot: join(dir, 'not-built') } });
    try {
      expect((await raw(bare.base, '/')).status).toBe(404);
      expect((await raw(bare.base, '/api/health')).status).toBe(200);
    } finally {
      await bare.close();
    }
  });

  it('by default looks for web/dist of this checkout', () => {
    expect(DEFAULT_WEB_ROOT.replace(/\\/g, '/')).toMatch(/\/web\/dist\/$/);
  });
});
