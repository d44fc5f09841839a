import type { IncomingMessage, ServerResponse } from 'node:http';
import { realDirectory, serveFile, type StaticOptions } from '@smart-village/shared/server';

/**
 * The web app's built files (web/dist), served at `/` by @smart-village/shared/server's
 * serveFile (read-only, nothing outside the root, precompressed `.gz`).
 */

const OPTIONS: StaticOptions = {
  // Content-addressed names, cacheable for ever: esbuild's `[name]-[hash]` (8 upper-case base32
  // characters, e.g. app-5X2KQ3ZB.js) or a lower-case hex content hash (app.3f2a9c1b.js).
  hashed: /[-.](?:[A-Z0-9]{8,}|[0-9a-f]{8,})\.[a-z0-9]+$/,
};

export interface StaticFiles {
  readonly root: string;
  /** Answers the request if it is for a file of the app; false when there is no such file (the caller answers 404). */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
}

/** The files of `root`, or undefined when it is not a directory (the web app was not built). */
export function staticFiles(root: string): StaticFiles | undefined {
  const real = realDirectory(root);
  if (real === undefined) return undefined;
  return {
    root: real,
    serve: (req, res, pathname) => serveFile(real, req, res, pathname, OPTIONS) === 'served',
  };
}
