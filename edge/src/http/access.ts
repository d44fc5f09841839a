import type { CommandAction, ControlState } from '@smart-village/shared';
import type { SiteView } from './site.js';
import type { TokenRole, UserRole } from './web-store.js';

/**
 * Who is asking and what that lets them see and do: the cloud's rules (cloud/src/auth/access.ts,
 * cloud/src/commands/plan.ts) over the edge's own site. Pure.
 */

export type Role = UserRole | 'kiosk';

export interface Principal {
  via: 'token' | 'session';
  /** User name, token name, or (kiosk) the viewer token's name. */
  name: string;
  role: Role;
  /** The fields a farmer owns; null = every field. */
  fields: readonly string[] | null;
}

const RANK: Record<Role, number> = { viewer: 0, kiosk: 0, farmer: 1, operator: 2, admin: 3 };

export function allows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

export function tokenPrincipal(token: { name: string; role: TokenRole }): Principal {
  return { via: 'token', name: token.name, role: token.role, fields: null };
}

/** The audit trail's "by": user names as they are, tokens marked (a token and a user may share a name). */
export function issuer(p: Principal): string {
  return p.via === 'token' ? `token:${p.name}` : p.name;
}

const inFields = (p: Principal, field: string | undefined): boolean => field === undefined || p.fields === null || p.fields.includes(field);

/**
 * A sensor is a farmer's to see when it belongs to one of their fields or to none (weather, the
 * tank: the whole village's). One the config does not describe is not shown: nobody said whose it is.
 */
export function canSeeSensor(p: Principal, site: SiteView, sensor: string): boolean {
  if (p.fields === null) return true;
  const info = site.sensors.get(sensor);
  return info !== undefined && inFields(p, info.field);
}

/** Zones are always someone's: a farmer sees only the zones of their own fields. */
export function canSeeZone(p: Principal, site: SiteView, zone: string): boolean {
  if (p.fields === null) return true;
  const field = site.zones.get(zone)?.field;
  return field !== undefined && p.fields.includes(field);
}

/** A valve of another farmer's field is theirs; the pump and the lights are everyone's. */
export function canSeeOutput(p: Principal, site: SiteView, output: string): boolean {
  return inFields(p, site.actuators.get(output)?.field);
}

/** Events about another farmer's zone, sensor or valve are hidden; those about devices and the edge concern everyone. */
export function canSeeEventSource(p: Principal, site: SiteView, source: string): boolean {
  if (p.fields === null) return true;
  if (site.zones.has(source)) return canSeeZone(p, site, source);
  if (site.sensors.has(source)) return canSeeSensor(p, site, source);
  if (site.actuators.has(source)) return canSeeOutput(p, site, source);
  return true;
}

/** Alerts carry the field they concern (when any) and, for commands, who gave them. */
export function canSeeAlert(p: Principal, data: { field?: unknown; by?: unknown }): boolean {
  if (p.fields === null) return true;
  if (data.by !== undefined) return data.by === p.name;
  return typeof data.field !== 'string' || p.fields.includes(data.field);
}

/** The control state as a farmer may see it: their zones and valves, the shared pump and lights. */
export function visibleControl(p: Principal, site: SiteView, control: ControlState): ControlState {
  if (p.fields === null) return control;
  return { ...control, zones: control.zones.filter((z) => canSeeZone(p, site, z.id)), outputs: control.outputs.filter((o) => canSeeOutput(p, site, o.id)) };
}

export type Plan = { ok: true } | { ok: false; code: 'FORBIDDEN' | 'BAD_REQUEST' | 'NOT_FOUND'; message: string };

/**
 * Whether this command may be given: operators and admins anything; farmers water or stop a zone
 * of their own fields that allows manual watering; viewers and kiosks nothing.
 */
export function planCommand(p: Principal, site: SiteView, req: { edge?: string; action: CommandAction }): Plan {
  const deny = (message: string): Plan => ({ ok: false, code: 'FORBIDDEN', message });
  if (p.role === 'viewer' || p.role === 'kiosk') return deny(`a ${p.role} may not send commands`);
  if (req.edge !== undefined && req.edge !== site.edge) return { ok: false, code: 'NOT_FOUND', message: `unknown edge "${req.edge}" at site "${site.site}"` };
  if (p.role !== 'farmer') return { ok: true };
  const { action } = req;
  if (action.type !== 'water' && action.type !== 'stop') return deny(`a farmer may only water or stop a zone, not ${action.type}`);
  if (action.zone === undefined) return deny('a farmer must name the zone to stop');
  const zone = site.zones.get(action.zone);
  if (!zone || zone.field === undefined || !(p.fields ?? []).includes(zone.field)) return deny(`zone "${action.zone}" is not in one of your fields`);
  if (!zone.manualAllowed) return deny(`zone "${action.zone}" does not allow manual watering`);
  return { ok: true };
}
