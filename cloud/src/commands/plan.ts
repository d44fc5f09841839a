import { randomBytes } from 'node:crypto';
import { commandSchema, type Command, type CommandAction } from '@smart-village/shared';
import type { Principal } from '../auth/access.js';
import type { SiteModel } from '../site/model.js';

/**
 * Who may send which command to which edge. Pure: a function of the principal, the site model
 * and the request. DESIGN.md: browsers never publish to the broker; the API checks the role.
 */

export type Plan = { ok: true; edge: string } | { ok: false; code: 'FORBIDDEN' | 'BAD_REQUEST' | 'NOT_FOUND'; message: string };

export interface CommandRequest {
  edge?: string;
  action: CommandAction;
}

const deny = (message: string): Plan => ({ ok: false, code: 'FORBIDDEN', message });
const bad = (message: string): Plan => ({ ok: false, code: 'BAD_REQUEST', message });

/** The edge a command goes to, or why it may not be sent. `edges` are the site's registered edges. */
export function planCommand(p: Principal, model: SiteModel, edges: readonly string[], req: CommandRequest): Plan {
  const { action } = req;
  if (p.role === 'viewer' || p.role === 'kiosk') return deny(`a ${p.role} may not send commands`);
  if (req.edge !== undefined && !edges.includes(req.edge)) return { ok: false, code: 'NOT_FOUND', message: `unknown edge "${req.edge}" at site "${model.site}"` };
  const zoneId = action.type === 'water' || action.type === 'stop' ? action.zone : undefined;
  const zone = zoneId !== undefined ? model.zones.get(zoneId) : undefined;

  if (p.role === 'farmer') {
    // Farmers water and stop their own zones, where the edge's config allows manual runs.
    if (action.type !== 'water' && action.type !== 'stop') return deny(`a farmer may only water or stop a zone, not ${action.type}`);
    if (zoneId === undefined) return deny('a farmer must name the zone to stop');
    const field = zone?.zone.field;
    if (!zone || field === undefined || !(p.fields ?? []).includes(field)) return deny(`zone "${zoneId}" is not in one of your fields`);
    if (!zone.zone.manualAllowed) return deny(`zone "${zoneId}" does not allow manual watering`);
    if (req.edge !== undefined && req.edge !== zone.edge) return bad(`zone "${zoneId}" is run by edge "${zone.edge}", not "${req.edge}"`);
    return { ok: true, edge: zone.edge };
  }

  if (req.edge !== undefined) return { ok: true, edge: req.edge };
  if (zoneId !== undefined) {
    if (zone) return { ok: true, edge: zone.edge };
    return bad(`no edge has reported zone "${zoneId}" yet: name the edge`);
  }
  if (action.type === 'light') {
    const edge = model.lights.get(action.group);
    return edge !== undefined ? { ok: true, edge } : bad(`no edge has reported lighting group "${action.group}" yet: name the edge`);
  }
  // Site-wide switches (pause, rain delay, stop all): the one edge running control, or the only edge.
  const controlling = [...model.controls.keys()];
  if (controlling.length === 1) return { ok: true, edge: controlling[0] as string };
  if (controlling.length === 0 && edges.length === 1) return { ok: true, edge: edges[0] as string };
  return bad(`this site has ${controlling.length || edges.length} edges that could take "${action.type}": name the edge`);
}

/** A new command id: 96 random bits, base64url (16 characters, within commandSchema's id rule). */
export function newCommandId(): string {
  return randomBytes(12).toString('base64url');
}

/** The command as it goes on the wire, checked against the edge's own schema. */
export function makeCommand(action: CommandAction, by: string, now: number, ttlMs: number): Command {
  return commandSchema.parse({ id: newCommandId(), ts: now, ttl: ttlMs, by: by.slice(0, 100), action });
}
