import { createReadStream, realpathSync, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';

/**
 * The web app's built files (web/dist), served at `/`. Read-only, GET and HEAD, no directory
 * listings, nothing outside the root (`..`, encoded slashes, symlinks out of it), precompressed
 * `.gz` siblings when the client accepts gzip.
 */

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
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Content-addressed names, cacheable for ever: esbuild's `[name]-[hash]` (8 upper-case base32
 * characters, e.g. app-5X2KQ3ZB.js) or a lower-case hex content hash (app.3f2a9c1b.js).
 */
const HASHED = /[-.](?:[A-Z0-9]{8,}|[0-9a-f]{8,})\.[a-z0-9]+$/;

/** Pages served for paths without an extension: `/hall` is the hall screen, anything else the app. */
const PAGES: Record<string, string> = { '/': 'index.html', '/hall': 'hall.html', '/hall/': 'hall.html' };

export interface StaticFiles {
  readonly root: string;
  /** Answers the request if it is for a file of the app; false when there is no such file (the caller answers 404). */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
}

/** The files of `root`, or undefined when it is not a directory (the web app was not built). */
export function staticFiles(root: string): StaticFiles | undefined {
  let real: string;
  try {
    real = realpathSync(root);
    if (!statSync(real).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return {
    root: real,
    serve: (req, res, pathname) => serve(real, req, res, pathname),
  };
}

/** The regular file at `rel` inside root, following no link out of it. */
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

function relativePath(pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  // No NUL, no backslash (a separator on Windows), no dot segments (an encoded slash can hide one
  // from the URL parser's normalisation). fileIn() checks containment again after links.
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  return segments.join('/');
}

function serve(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  const rel = relativePath(pathname);
  if (rel === undefined) return false;
  let name = PAGES[pathname] ?? rel;
  let file = name === '' ? undefined : fileIn(root, name);
  // Client-side routes (/farmer, /fields/ruong-1) load the app, which routes itself; /hall falls
  // back to the app too when there is no separate hall page.
  if (!file && extname(rel) === '') {
    name = 'index.html';
    file = fileIn(root, name);
  }
  if (!file) return false;

  const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
  const html = type.startsWith('text/html');
  const base = name.slice(name.lastIndexOf('/') + 1);
  const immutable = !html && HASHED.test(base);
  const headers: Record<string, string | number> = {
    'content-type': type,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'Accept-Encoding',
  };
  let body = file;
  const gz = acceptsGzip(req) ? fileIn(root, `${name}.gz`) : undefined;
  if (gz) {
    body = gz;
    headers['content-encoding'] = 'gzip';
  }
  const etag = `W/"${body.stat.size.toString(16)}-${Math.floor(body.stat.mtimeMs).toString(16)}${gz ? '-gz' : ''}"`;
  headers.etag = etag;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  headers['content-length'] = body.stat.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  const stream = createReadStream(body.path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
  return true;
}

/** RFC 9110 §12.5.3: gzip accepted unless its q is 0. */
function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip' && coding?.trim() !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
