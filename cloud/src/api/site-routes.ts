import { z } from 'zod';
import { commandActionSchema, idSchema, toVillageError } from '@smart-village/shared';
import { canSeeAlert, canSeeZone, issuer, seesAllFields } from '../auth/access.js';
import { makeCommand, planCommand } from '../commands/plan.js';
import type { CommandRecord } from '../store/types.js';
import { ApiError } from '@smart-village/shared/server';
import { buildOverview, rainFromBuckets, rainGauge } from './overview.js';
import { intParam, LIMIT_DEFAULT, LIMIT_MAX, MINUTE_MS, noQuery, siteParams } from './params.js';
import { Reply, route, siteEdges, who, type ApiDeps, type Route } from './route.js';
import { commandView } from './views.js';

export const zoneParams = z.strictObject({ site: idSchema, zone: idSchema });
export const explainQuery = z.strictObject({ limit: intParam(1, LIMIT_MAX).default(20) });
export const commandsQuery = z.strictObject({ limit: intParam(1, LIMIT_MAX).default(LIMIT_DEFAULT) });
export const commandBody = z.strictObject({ edge: idSchema.optional(), action: commandActionSchema });
export const ANNOUNCEMENT_MAX = 500;
export const announcementBody = z.strictObject({ text: z.string().max(ANNOUNCEMENT_MAX, `at most ${ANNOUNCEMENT_MAX} characters`) });

const DAY_MS = 86_400_000;
const RAIN_BUCKET_MS = 5 * MINUTE_MS;

async function rainLast24h(d: ApiDeps, site: string, gauge: string | undefined, now: number): Promise<number | null> {
  if (gauge === undefined) return null;
  // One bucket before the day as the baseline of the running total.
  const to = Math.ceil((now + 1) / RAIN_BUCKET_MS) * RAIN_BUCKET_MS;
  return rainFromBuckets(await d.store.history(site, gauge, to - DAY_MS - RAIN_BUCKET_MS, to, RAIN_BUCKET_MS));
}

/** Reading a site for screens: overview, explain, alerts, the command audit trail, the announcement. */
export const SITE_ROUTES: readonly Route[] = [
  route({
    path: '/api/sites/{site}/overview',
    role: 'viewer',
    params: siteParams,
    query: noQuery,
    handle: async (input, d) => {
      const { site } = input.params;
      const p = who(input);
      const edges = await siteEdges(d.store, site);
      const now = d.now();
      const model = await d.models.get(site);
      const [latest, announcement, alerts, rain24hMm] = await Promise.all([
        d.store.latest(site),
        d.store.getAnnouncement(site),
        d.alerts.active(site),
        rainLast24h(d, site, rainGauge(model, p), now),
      ]);
      return buildOverview({ site, now, model, edges, latest, announcement, alerts, rain24hMm }, p);
    },
  }),
  route({
    path: '/api/sites/{site}/zones/{zone}/explain',
    role: 'viewer',
    params: zoneParams,
    query: explainQuery,
    handle: async (input, d) => {
      const { site, zone } = input.params;
      const p = who(input);
      await siteEdges(d.store, site);
      if (!seesAllFields(p) && !canSeeZone(p, await d.models.get(site), zone)) throw new ApiError('FORBIDDEN', `zone "${zone}" is not in one of your fields`);
      return { zone, events: await d.store.events(site, { source: zone, limit: input.query.limit }) };
    },
  }),
  route({
    path: '/api/sites/{site}/alerts',
    role: 'viewer',
    params: siteParams,
    query: noQuery,
    handle: async (input, d) => {
      const p = who(input);
      await siteEdges(d.store, input.params.site);
      const alerts = await d.alerts.active(input.params.site);
      return { alerts: alerts.filter((a) => canSeeAlert(p, a.data as { field?: string; by?: string })) };
    },
  }),
  route({
    path: '/api/sites/{site}/commands',
    role: 'viewer',
    params: siteParams,
    query: commandsQuery,
    handle: async (input, d) => {
      const p = who(input);
      await siteEdges(d.store, input.params.site);
      // Farmers see their own commands; everyone else the site's audit trail.
      const commands = await d.store.listCommands(input.params.site, { limit: input.query.limit, ...(p.role === 'farmer' && { by: issuer(p) }) });
      return { commands: commands.map(commandView) };
    },
  }),
  route({
    path: '/api/sites/{site}/announcement',
    role: 'viewer',
    params: siteParams,
    query: noQuery,
    handle: async (input, d) => {
      await siteEdges(d.store, input.params.site);
      return (await d.store.getAnnouncement(input.params.site)) ?? null;
    },
  }),
];

/** Changing things: commands to edges and the site announcement. */
export const ACTING_ROUTES: readonly Route[] = [
  route({
    method: 'POST',
    path: '/api/sites/{site}/commands',
    role: 'farmer',
    params: siteParams,
    query: noQuery,
    body: commandBody,
    handle: async (input, d) => {
      const { site } = input.params;
      const p = who(input);
      const edges = await siteEdges(d.store, site);
      const plan = planCommand(p, await d.models.get(site), edges.map((e) => e.edge), input.body);
      if (!plan.ok) throw new ApiError(plan.code, plan.message);
      const publish = d.publishCommand;
      if (!publish) throw new ApiError('BROKER_UNAVAILABLE', 'this cloud process has no broker connection: commands go through a process that runs the ingest');
      const now = d.now();
      const command = makeCommand(input.body.action, issuer(p), now, d.commandTtlMs);
      const record: CommandRecord = { id: command.id, site, edge: plan.edge, by: command.by, action: command.action, issuedAt: command.ts, ttl: command.ttl, status: 'sent', updatedAt: now };
      await d.store.addCommand(record);
      // Told before it is published: over the in-process broker the result can be back at once.
      d.live.push({ event: 'command', data: { site, command: commandView(record) } });
      try {
        await publish(site, plan.edge, command);
      } catch (err) {
        const failed = await d.store.commandResult({ site, edge: plan.edge }, record.id, 'failed', 'the cloud could not hand the command to the broker', d.now());
        if (failed) d.live.push({ event: 'command', data: { site, command: commandView(failed) } });
        d.alerts.poke(site);
        d.log.warn({ site, edge: plan.edge, command: record.id, err: toVillageError(err).message }, 'command not published');
        throw new ApiError('BROKER_UNAVAILABLE', 'the broker cannot be reached: the command was not sent');
      }
      d.log.info({ site, edge: plan.edge, command: record.id, action: record.action.type, by: record.by }, 'command sent');
      return new Reply(202, { command: commandView(record) });
    },
  }),
  route({
    method: 'PUT',
    path: '/api/sites/{site}/announcement',
    role: 'operator',
    params: siteParams,
    query: noQuery,
    body: announcementBody,
    handle: async (input, d) => {
      const { site } = input.params;
      const p = who(input);
      await siteEdges(d.store, site);
      const text = input.body.text.trim();
      // An empty text takes the announcement down.
      const announcement = text === '' ? null : { text, by: issuer(p), updatedAt: d.now() };
      await d.store.setAnnouncement(site, announcement);
      d.live.push({ event: 'announcement', data: { site, announcement } });
      d.log.info({ site, by: issuer(p), cleared: announcement === null }, 'announcement set');
      return { announcement };
    },
  }),
];
