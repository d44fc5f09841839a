import { createReadStream, realpathSync, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';

/**
 * The web app's built files (web/dist) served at `/`: GET and HEAD, no directory listings,
 * nothing outside the root (dot segments, encoded slashes, links out of it), the precompressed
 * `.gz` sibling when the client accepts gzip (no compression work at request time).
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

/** Pages served for paths without an extension: `/hall` is the hall screen, anything else the app. */
const PAGES: Record<string, string> = { '/': 'index.html', '/hall': 'hall.html', '/hall/': 'hall.html' };

/** `served`; `not-found` (the caller answers 404); `no-app`: an app route, but no index.html to load. */
export type StaticAnswer = 'served' | 'not-found' | 'no-app';

export interface StaticOptions {
  /** File names (without directory) whose content never changes under that name: cached for ever. */
  readonly hashed: RegExp;
}

/** The real path of `root`, or undefined when it is not a directory (the web app was not built). */
export function realDirectory(root: string): string | undefined {
  try {
    const real = realpathSync(root);
    return statSync(real).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
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

/** The path below the root, or undefined for anything that tries to leave it. */
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

/** RFC 9110 §12.5.3: gzip accepted unless its q is 0. */
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

/** Answers a GET or HEAD for a file of the app under `realRoot` (see realDirectory), or says why it cannot. */
export function serveFile(realRoot: string, req: IncomingMessage, res: ServerResponse, pathname: string, opts: StaticOptions): StaticAnswer {
  const rel = relativePath(pathname);
  if (rel === undefined) return 'not-found';
  let name = PAGES[pathname] ?? rel;
  let file = name === '' ? undefined : fileIn(realRoot, name);
  // Client-side routes (/farmer, /fields/ruong-1) load the app, which routes itself; /hall falls
  // back to the app too when there is no separate hall page.
  if (!file && extname(rel) === '') {
    name = 'index.html';
    file = fileIn(realRoot, name);
    if (!file) return 'no-app';
  }
  if (!file) return 'not-found';

  const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
  const base = name.slice(name.lastIndexOf('/') + 1);
  const immutable = !type.startsWith('text/html') && opts.hashed.test(base);
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
