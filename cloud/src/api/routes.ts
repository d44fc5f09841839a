import { canSeeEventSource, canSeeSensor, canUseSite, seesAllFields, type Principal } from '../auth/access.js';
import { ApiError } from '@smart-village/shared/server';
import { OPENAPI } from './openapi.js';
import {
  eventsQuery,
  historyQuery,
  historyWindow,
  latestQuery,
  LIMIT_MAX,
  noParams,
  noQuery,
  quarantineQuery,
  sensorParams,
  siteParams,
  streamQuery,
} from './params.js';
import { ACTING_ROUTES, SITE_ROUTES } from './site-routes.js';
import { SESSION_ROUTES } from './session-routes.js';
import { checkEdge, route, siteEdges, STREAMED, who, type ApiDeps, type Route } from './route.js';
import { serveStream } from './stream.js';
import { streamFilter } from './stream-filter.js';
import { edgeView } from './views.js';

export { STREAMED, type ApiDeps, type Route } from './route.js';

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
    handle: async (input, d) => {
      const p = who(input);
      const sites = new Map<string, { site: string; edges: number; online: number }>();
      for (const e of await d.store.listEdges()) {
        if (!canUseSite(p, e.site)) continue;
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
    handle: async (input, d) => {
      const { params } = input;
      await siteEdges(d.store, params.site);
      const visible = await sensorFilter(input, d, params.site);
      const sensors = (await d.store.latest(params.site)).filter((r) => visible(r.sensor)).map((r) => ({ sensor: r.sensor, unit: r.unit, edge: r.edge, value: r.value, ts: r.ts, quality: r.quality }));
      return { site: params.site, sensors };
    },
  }),
  route({
    path: '/api/sites/{site}/latest',
    role: 'viewer',
    params: siteParams,
    query: latestQuery,
    handle: async (input, d) => {
      const { params, query } = input;
      checkEdge(await siteEdges(d.store, params.site), params.site, query.edge);
      const visible = await sensorFilter(input, d, params.site);
      return { site: params.site, readings: (await d.store.latest(params.site, query.edge)).filter((r) => visible(r.sensor)) };
    },
  }),
  route({
    path: '/api/sites/{site}/sensors/{sensor}/history',
    role: 'viewer',
    params: sensorParams,
    query: historyQuery,
    handle: async (input, d) => {
      const { params, query } = input;
      await siteEdges(d.store, params.site);
      const known = (await d.store.latest(params.site)).find((r) => r.sensor === params.sensor);
      if (!known) throw new ApiError('NOT_FOUND', `unknown sensor "${params.sensor}" at site "${params.site}"`);
      if (!(await sensorFilter(input, d, params.site))(params.sensor)) throw new ApiError('FORBIDDEN', `sensor "${params.sensor}" is not in one of your fields`);
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
    handle: async (input, d) => {
      const { params, query } = input;
      const p = who(input);
      checkEdge(await siteEdges(d.store, params.site), params.site, query.edge);
      const all = seesAllFields(p);
      // A farmer's events are filtered after the query: ask for more so a page is still full.
      const events = await d.store.events(params.site, {
        limit: all ? query.limit : Math.min(LIMIT_MAX, query.limit * 5),
        ...(query.edge !== undefined && { edge: query.edge }),
        ...(query.kind !== undefined && { kind: query.kind }),
        ...(query.source !== undefined && { source: query.source }),
        ...(query.since !== undefined && { since: query.since }),
      });
      if (all) return { site: params.site, events };
      const model = await d.models.get(params.site);
      return { site: params.site, events: events.filter((e) => canSeeEventSource(p, model, e.source)).slice(0, query.limit) };
    },
  }),
  route({
    path: '/api/sites/{site}/stream',
    role: 'viewer',
    queryToken: true,
    params: siteParams,
    query: streamQuery,
    handle: async (input, d) => {
      const { params, res } = input;
      await siteEdges(d.store, params.site);
      const p = who(input);
      // The model is loaded before the stream opens, so the filter can answer at once.
      if (!seesAllFields(p)) await d.models.get(params.site);
      await serveStream(res, { live: d.live, site: params.site, keepAliveMs: d.keepAliveMs, open: d.streams, filter: streamFilter(p, () => d.models.peek(params.site)) });
      return STREAMED;
    },
  }),
  route({
    // Payloads that failed validation may hold anything an edge sent: not for hall screens.
    path: '/api/quarantine',
    role: 'operator',
    params: noParams,
    query: quarantineQuery,
    handle: async (input, d) => {
      const { query } = input;
      const p = who(input);
      // A session belongs to one site: its quarantine only.
      if (p.site !== null && query.site !== undefined && query.site !== p.site) throw new ApiError('FORBIDDEN', `this account is for site "${p.site}"`);
      return { items: await d.store.listQuarantine(query.limit, p.site ?? query.site) };
    },
  }),
  ...SITE_ROUTES,
  ...ACTING_ROUTES,
  ...SESSION_ROUTES,
];

/** Which sensors of a site the caller may see. */
async function sensorFilter(input: { principal: Principal | undefined }, d: ApiDeps, site: string): Promise<(sensor: string) => boolean> {
  const p = who(input);
  if (seesAllFields(p)) return () => true;
  const model = await d.models.get(site);
  return (sensor) => canSeeSensor(p, model, sensor);
}
