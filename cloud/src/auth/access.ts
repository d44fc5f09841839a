import type { SiteModel } from '../site/model.js';
import type { ApiRole, UserRole } from '../store/types.js';

/**
 * Who is asking, however they proved it (a bearer token, a user session, a kiosk session), and
 * what that lets them see. Pure: the checks below are functions of the principal and the site
 * model.
 */

export type PrincipalRole = UserRole | 'kiosk';

export interface Principal {
  via: 'token' | 'session';
  /** Token name, user name, or (kiosk) the viewer token's name. */
  name: string;
  role: PrincipalRole;
  /** The one site a session may use; null = every site (API tokens). */
  site: string | null;
  /** Fields a farmer owns; null = every field. */
  fields: readonly string[] | null;
}

/** What a route asks for at least. Farmers act (water their zones) but see less. */
export type RouteRole = ApiRole | 'farmer';

const RANK: Record<PrincipalRole, number> = { viewer: 0, kiosk: 0, farmer: 1, operator: 2, admin: 3 };
const NEEDED: Record<RouteRole, number> = { viewer: 0, farmer: 1, operator: 2, admin: 3 };

export function principalAllows(role: PrincipalRole, needed: RouteRole): boolean {
  return RANK[role] >= NEEDED[needed];
}

export function principalFromToken(token: { name: string; role: ApiRole }): Principal {
  return { via: 'token', name: token.name, role: token.role, site: null, fields: null };
}

/** The audit trail's "by": user names as they are, tokens marked (a token and a user may share a name). */
export function issuer(p: Principal): string {
  return p.via === 'token' ? `token:${p.name}` : p.name;
}

export function canUseSite(p: Principal, site: string): boolean {
  return p.site === null || p.site === site;
}

export function seesAllFields(p: Principal): boolean {
  return p.fields === null;
}

/**
 * A sensor is visible to a farmer when its edge said it belongs to one of their fields, or to no
 * field at all (weather, tanks: the whole village's). A sensor no edge described is not shown:
 * nobody has said whose it is.
 */
export function canSeeSensor(p: Principal, model: SiteModel, sensor: string): boolean {
  if (p.fields === null) return true;
  const info = model.sensors.get(sensor);
  if (!info) return false;
  return info.field === undefined || p.fields.includes(info.field);
}

/** Zones are always someone's: a farmer sees only zones of their own fields. */
export function canSeeZone(p: Principal, model: SiteModel, zone: string): boolean {
  if (p.fields === null) return true;
  const field = model.zones.get(zone)?.zone.field;
  return field !== undefined && p.fields.includes(field);
}

/**
 * Events are about a zone, a sensor, a device or the edge. Those about another farmer's zone or
 * sensor are hidden; the rest (devices, the edge, the tank) concern everyone.
 */
export function canSeeEventSource(p: Principal, model: SiteModel, source: string): boolean {
  if (p.fields === null) return true;
  if (model.zones.has(source)) return canSeeZone(p, model, source);
  const sensor = model.sensors.get(source);
  if (sensor) return sensor.field === undefined || p.fields.includes(sensor.field);
  return true;
}

/** Alerts carry the field they concern (when any) and, for commands, who issued them. */
export function canSeeAlert(p: Principal, alert: { field?: string; by?: string }): boolean {
  if (p.fields === null) return true;
  if (alert.by !== undefined) return alert.by === p.name;
  return alert.field === undefined || p.fields.includes(alert.field);
}
