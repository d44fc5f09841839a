import { createReadStream, realpathSync, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The built web app (web/dist, made by `node web/build.mjs`) served at `/`: GET and HEAD only, no
 * listings, nothing outside the root (dot segments, encoded slashes, links out of it), the `.gz`
 * made at build time when the client takes gzip (no compression work on the Pi).
 */

/** web/dist beside the edge package: edge/dist/http/ (built) and edge/src/http/ (tests) are both three levels down. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]` (8+ upper-case base32 characters, farmer-UQQXNWAG.js): the content never changes under that name. */
const HASHED = /-[A-Z0-9]{8,}\.[a-z0-9]+$/;

/** Pages without an extension: `/hall` is the hall screen; other paths without one are the app's own routes. */
const PAGES: Record<string, string> = { '/': 'index.html', '/hall': 'hall.html', '/hall/': 'hall.html' };

export type StaticAnswer = 'served' | 'not-found' | 'not-built';

/** A regular file inside root, following no link out of it. */
function fileIn(root: string, rel: string): { path: string; stat: Stats } | undefined {
  try {
    const path = realpathSync(join(root, rel));
    if (!path.startsWith(root + sep)) return undefined;
    const stat = statSync(path);
    return stat.isFile() ? { path, stat } : undefined;
  } catch {
    return undefined;
  }
}

/** The path below the root, or undefined for anything that tries to leave it. */
function relativePath(pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').slice(1);
  // Dot segments that survived URL normalisation (hidden behind %2e or %2f) are refused outright.
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  return segments.join('/');
}

/** RFC 9110 §12.5.3: gzip is accepted unless its q is 0. */
function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    const name = coding?.trim().toLowerCase();
    if (name !== 'gzip' && name !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Answers a GET or HEAD for a file of the app, or says why it cannot. */
export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): StaticAnswer {
  let realRoot: string;
  try {
    // Looked up each time: building the app while the edge runs makes it appear without a restart.
    realRoot = realpathSync(root);
    if (!statSync(realRoot).isDirectory()) return 'not-built';
  } catch {
    return 'not-built';
  }
  const rel = relativePath(pathname);
  if (rel === undefined) return 'not-found';
  let name = PAGES[pathname] ?? rel;
  let file = name === '' ? undefined : fileIn(realRoot, name);
  // The app routes itself (/fields/ruong-1): a path without an extension loads it.
  if (!file && extname(rel) === '') {
    name = 'index.html';
    file = fileIn(realRoot, name);
    if (!file) return 'not-built';
  }
  if (!file) return 'not-found';

  const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
  const immutable = !type.startsWith('text/html') && HASHED.test(name);
  const headers: Record<string, string | number> = {
    'content-type': type,
    // Pages revalidate, so a new build is picked up at once; hashed files are the same for ever.
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'Accept-Encoding',
  };
  const gz = acceptsGzip(req) ? fileIn(realRoot, `${name}.gz`) : undefined;
  const body = gz ?? file;
  if (gz) headers['content-encoding'] = 'gzip';
  const etag = `W/"${body.stat.size.toString(16)}-${Math.floor(body.stat.mtimeMs).toString(16)}${gz ? '-gz' : ''}"`;
  headers.etag = etag;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return 'served';
  }
  headers['content-length'] = body.stat.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return 'served';
  }
  const stream = createReadStream(body.path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
  return 'served';
}
