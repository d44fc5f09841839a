import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { realDirectory, serveFile, type StaticOptions } from '@smart-village/shared/server';

/**
 * The built web app (web/dist, made by `node web/build.mjs`) served at `/` by
 * @smart-village/shared/server's serveFile: GET and HEAD only, nothing outside the root, the `.gz`
 * made at build time when the client takes gzip (no compression work on the Pi).
 */

/** web/dist beside the edge package: edge/dist/http/ (built) and edge/src/http/ (tests) are both three levels down. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const OPTIONS: StaticOptions = {
  /** esbuild's `[name]-[hash]` (8+ upper-case base32 characters, farmer-UQQXNWAG.js): the content never changes under that name. */
  hashed: /-[A-Z0-9]{8,}\.[a-z0-9]+$/,
};

export type StaticAnswer = 'served' | 'not-found' | 'not-built';

/** Answers a GET or HEAD for a file of the app, or says why it cannot. */
export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): StaticAnswer {
  // Looked up each time: building the app while the edge runs makes it appear without a restart.
  const realRoot = realDirectory(root);
  if (realRoot === undefined) return 'not-built';
  const answer = serveFile(realRoot, req, res, pathname, OPTIONS);
  return answer === 'no-app' ? 'not-built' : answer;
}
