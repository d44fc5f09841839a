import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ApiRole, ApiTokenRecord, CloudStore, EdgeRecord } from '../store/types.js';
import { ApiError } from './errors.js';
import type { LiveFeed } from './live.js';
import { OPENAPI } from './openapi.js';
import {
  eventsQuery,
  historyQuery,
  historyWindow,
  latestQuery,
  noParams,
  noQuery,
  quarantineQuery,
  sensorParams,
  siteParams,
  streamQuery,
} from './params.js';
import { serveStream } from './stream.js';
import { edgeView } from './views.js';

/** What handlers need; built once by buildApi. */
export interface ApiDeps {
  store: CloudStore;
  live: LiveFeed;
  log: Logger;
  now: () => number;
  version: string;
  keepAliveMs: number;
  streams: Set<ServerResponse>;
}

export interface RouteInput<P, Q> {
  params: P;
  query: Q;
  /** The caller's token (undefined on public routes). */
  token: ApiTokenRecord | undefined;
  res: ServerResponse;
}

/** Returned by a handler that wrote the response itself (the event stream). */
export const STREAMED = Symbol('streamed');

export interface Route {
  method: 'GET';
  /** OpenAPI path template: `/api/sites/{site}/edges`. */
  path: string;
  /** The least role allowed; `public` needs no token. */
  role: ApiRole | 'public';
  /** Also takes the token as ?token= (EventSource cannot set headers); nowhere else, as URLs end up in logs. */
  queryToken: boolean;
  params: z.ZodType;
  query: z.ZodObject;
  handle(input: RouteInput<unknown, unknown>, deps: ApiDeps): Promise<unknown>;
}

function route<P extends z.ZodType, Q extends z.ZodObject>(def: {
  path: string;
  role: ApiRole | 'public';
  queryToken?: boolean;
  params: P;
  query: Q;
  handle(input: RouteInput<z.output<P>, z.output<Q>>, deps: ApiDeps): Promise<unknown>;
}): Route {
  return { method: 'GET', queryToken: false, ...def, handle: def.handle as Route['handle'] };
}

/** The site's edges; a site is known by having at least one. */
async function siteEdges(store: CloudStore, site: string): Promise<EdgeRecord[]> {
  const edges = await store.listEdges(site);
  if (edges.length === 0) throw new ApiError('NOT_FOUND', `unknown site "${site}"`);
  return edges;
}

function checkEdge(edges: readonly EdgeRecord[], site: string, edge: string | undefined): void {
  if (edge !== undefined && !edges.some((e) => e.edge === edge)) throw new ApiError('NOT_FOUND', `unknown edge "${edge}" at site "${site}"`);
}

/** Every route the API serves; the OpenAPI document must describe exactly these (tested). */
export const ROUTES: readonly Route[] = [
  route({
    path: '/api/health',
    role: 'public',
    params: noParams,
    query: noQuery,
    handle: async (_, d) => ({ ok: true, version: d.version }),
  }),
  route({
    path: '/api/openapi.json',
    role: 'viewer',
    params: noParams,
    query: noQuery,
    handle: async () => OPENAPI,
  }),
  route({
    path: '/api/sites',
    role: 'viewer',
    params: noParams,
    query: noQuery,
    handle: async (_, d) => {
      const sites = new Map<string, { site: string; edges: number; online: number }>();
      for (const e of await d.store.listEdges()) {
        const s = sites.get(e.site) ?? { site: e.site, edges: 0, online: 0 };
        s.edges++;
        if (e.state === 'online') s.online++;
        sites.set(e.site, s);
      }
      return { sites: [...sites.values()] };
    },
  }),
  route({
    path: '/api/sites/{site}/edges',
    role: 'viewer',
    params: siteParams,
    query: noQuery,
    handle: async ({ params }, d) => {
      const now = d.now();
      return { site: params.site, edges: (await siteEdges(d.store, params.site)).map((e) => edgeView(e, now)) };
    },
  }),
  route({
    path: '/api/sites/{site}/sensors',
    role: 'viewer',
    params: siteParams,
    query: noQuery,
    handle: async ({ params }, d) => {
      await siteEdges(d.store, params.site);
      const sensors = (await d.store.latest(params.site)).map((r) => ({ sensor: r.sensor, unit: r.unit, edge: r.edge, value: r.value, ts: r.ts, quality: r.quality }));
      return { site: params.site, sensors };
    },
  }),
  route({
    path: '/api/sites/{site}/latest',
    role: 'viewer',
    params: siteParams,
    query: latestQuery,
    handle: async ({ params, query }, d) => {
      checkEdge(await siteEdges(d.store, params.site), params.site, query.edge);
      return { site: params.site, readings: await d.store.latest(params.site, query.edge) };
    },
  }),
  route({
    path: '/api/sites/{site}/sensors/{sensor}/history',
    role: 'viewer',
    params: sensorParams,
    query: historyQuery,
    handle: async ({ params, query }, d) => {
      await siteEdges(d.store, params.site);
      const known = (await d.store.latest(params.site)).find((r) => r.sensor === params.sensor);
      if (!known) throw new ApiError('NOT_FOUND', `unknown sensor "${params.sensor}" at site "${params.site}"`);
      const { from, to, bucketMs } = historyWindow(query, d.now());
      const buckets = await d.store.history(params.site, params.sensor, from, to, bucketMs);
      return { site: params.site, sensor: params.sensor, unit: known.unit, from, to, bucketMs, buckets };
    },
  }),
  route({
    path: '/api/sites/{site}/events',
    role: 'viewer',
    params: siteParams,
    query: eventsQuery,
    handle: async ({ params, query }, d) => {
      checkEdge(await siteEdges(d.store, params.site), params.site, query.edge);
      const events = await d.store.events(params.site, {
        limit: query.limit,
        ...(query.edge !== undefined && { edge: query.edge }),
        ...(query.kind !== undefined && { kind: query.kind }),
        ...(query.source !== undefined && { source: query.source }),
        ...(query.since !== undefined && { since: query.since }),
      });
      return { site: params.site, events };
    },
  }),
  route({
    path: '/api/sites/{site}/stream',
    role: 'viewer',
    queryToken: true,
    params: siteParams,
    query: streamQuery,
    handle: async ({ params, res }, d) => {
      await siteEdges(d.store, params.site);
      await serveStream(res, { live: d.live, site: params.site, keepAliveMs: d.keepAliveMs, open: d.streams });
      return STREAMED;
    },
  }),
  route({
    // Payloads that failed validation may hold anything an edge sent: not for hall screens.
    path: '/api/quarantine',
    role: 'operator',
    params: noParams,
    query: quarantineQuery,
    handle: async ({ query }, d) => ({ items: await d.store.listQuarantine(query.limit, query.site) }),
  }),
];
