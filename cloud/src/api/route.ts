import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Command, RateLimitedLog } from '@smart-village/shared';
import type { AlertMonitor } from '../alerts/monitor.js';
import type { Principal, RouteRole } from '../auth/access.js';
import type { ActiveSession, Sessions } from '../auth/sessions.js';
import type { TokenBuckets } from '../broker/limits.js';
import type { SiteModels } from '../site/models.js';
import type { CloudStore, EdgeRecord } from '../store/types.js';
import { ApiError } from '@smart-village/shared/server';
import type { LiveFeed } from './live.js';

/** Sends a command to an edge (QoS 1, not retained); throws when the broker cannot be reached. */
export type CommandPublisher = (site: string, edge: string, command: Command) => Promise<void>;

/** What handlers need; built once by buildApi. */
export interface ApiDeps {
  store: CloudStore;
  live: LiveFeed;
  log: Logger;
  /** For what a client can repeat at will (refused logins): one line per key per minute. */
  limited: RateLimitedLog;
  now: () => number;
  version: string;
  keepAliveMs: number;
  streams: Set<ServerResponse>;
  sessions: Sessions;
  models: SiteModels;
  alerts: AlertMonitor;
  /** Login attempts per client address. */
  logins: TokenBuckets;
  /** Believe X-Forwarded-For / -Host (behind a reverse proxy). */
  trustProxy: boolean;
  publishCommand: CommandPublisher | undefined;
  commandTtlMs: number;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Who asks (undefined on public routes). */
  principal: Principal | undefined;
  /** Set when the request came with a session cookie rather than a token. */
  session: ActiveSession | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

/** Returned by a handler that wrote the response itself (the event stream). */
export const STREAMED = Symbol('streamed');

/** A response other than 200 with a JSON body, or with extra headers (cookies). */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: Method;
  /** OpenAPI path template: `/api/sites/{site}/edges`. */
  path: string;
  /** The least role allowed; `public` needs no token or session. */
  role: RouteRole | 'public';
  /** Also takes the token as ?token= (EventSource cannot set headers); nowhere else, as URLs end up in logs. */
  queryToken: boolean;
  /** Only a browser session will do (the session routes themselves). */
  sessionOnly: boolean;
  params: z.ZodType;
  query: z.ZodObject;
  /** The JSON body's schema; undefined: the route takes no body. */
  body: z.ZodType | undefined;
  handle(input: RouteInput<unknown, unknown, unknown>, deps: ApiDeps): Promise<unknown>;
}

export function route<P extends z.ZodType, Q extends z.ZodObject, B extends z.ZodType | undefined = undefined>(def: {
  method?: Method;
  path: string;
  role: RouteRole | 'public';
  queryToken?: boolean;
  sessionOnly?: boolean;
  params: P;
  query: Q;
  body?: B;
  handle(input: RouteInput<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>, deps: ApiDeps): Promise<unknown>;
}): Route {
  return { method: 'GET', queryToken: false, sessionOnly: false, body: undefined, ...def, handle: def.handle as Route['handle'] };
}

/** The principal of an authenticated route (the server checked it exists). */
export function who(input: { principal: Principal | undefined }): Principal {
  if (!input.principal) throw new ApiError('UNAUTHORIZED', 'log in or send a token');
  return input.principal;
}

/** The site's edges; a site is known by having at least one. */
export async function siteEdges(store: CloudStore, site: string): Promise<EdgeRecord[]> {
  const edges = await store.listEdges(site);
  if (edges.length === 0) throw new ApiError('NOT_FOUND', `unknown site "${site}"`);
  return edges;
}

export function checkEdge(edges: readonly EdgeRecord[], site: string, edge: string | undefined): void {
  if (edge !== undefined && !edges.some((e) => e.edge === edge)) throw new ApiError('NOT_FOUND', `unknown edge "${edge}" at site "${site}"`);
}
