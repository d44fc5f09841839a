import type { Event, Reading } from '@smart-village/shared';
import type { SiteView } from './site.js';
import type { CommandRecord } from './web-store.js';

/**
 * The alerts the edge can tell by itself, with no cloud: its control's alarms (a tank below its
 * minimum, a zone without flow), sensors with no fresh reading, a low tank, and commands given
 * here that failed. The cloud's Alert shape, ids and rules (cloud/src/alerts/rules.ts). Pure.
 */

import type { Alert } from '@smart-village/shared';
export { ALERT_KINDS, type Alert, type AlertKind } from '@smart-village/shared';

/** The cloud's defaults (DEFAULT_ALERT_OPTIONS). */
export const ALERT_RULES = {
  tankLowPercent: 20,
  /** A sensor is offline after this many of its reading intervals without a reading ... */
  sensorOfflineFactor: 3,
  /** ... but never sooner than this. */
  sensorOfflineMinMs: 5 * 60_000,
  /** How far back tank.low and zone.no-flow are looked for. */
  eventLookbackMs: 7 * 86_400_000,
  /** A rejected or failed command stays an alert this long. */
  commandFailedForMs: 3_600_000,
} as const;

/** The event kinds that start or end an alert. */
export const ALERT_EVENT_KINDS = ['tank.low', 'tank.ok', 'zone.no-flow', 'zone.finished'] as const;

export interface AlertInputs {
  now: number;
  site: SiteView;
  latest: readonly Reading[];
  /** Events of ALERT_EVENT_KINDS within the lookback, newest first. */
  events: readonly Event[];
  /** Rejected or failed commands updated within commandFailedForMs. */
  failedCommands: readonly CommandRecord[];
}

const span = (ms: number): string => (ms >= 2 * 3_600_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 60_000)} min`);

/** The active alerts, sorted by id; and when the set would next change by time alone (a sensor falling silent, a command alert ageing out). */
export function computeAlerts(input: AlertInputs): { alerts: Alert[]; nextChangeAt: number | undefined } {
  const { now, site } = input;
  const edge = site.edge;
  const alerts = new Map<string, Alert>();
  let nextChangeAt: number | undefined;
  const later = (at: number): void => {
    if (at > now && (nextChangeAt === undefined || at < nextChangeAt)) nextChangeAt = at;
  };
  const add = (a: Alert): void => {
    const prev = alerts.get(a.id);
    // One alert per id; an alarm outranks a warning about the same thing.
    if (!prev || (prev.severity === 'warning' && a.severity === 'alarm')) alerts.set(a.id, a);
  };
  const fieldOf = (field: string | undefined): { field?: string } => (field === undefined ? {} : { field });

  for (const r of input.latest) {
    const info = site.sensors.get(r.sensor);
    // A sensor the config no longer lists was removed: not an outage.
    if (!info) continue;
    const scope = fieldOf(info.field);
    if (r.quality === 'error') {
      add({ id: `sensor-offline:${r.sensor}`, kind: 'sensor-offline', severity: 'warning', source: r.sensor, message: `sensor ${r.sensor} cannot be read`, since: r.ts, data: { edge, reason: 'error', lastTs: r.ts, ...scope } });
    } else {
      const interval = site.intervals.get(r.sensor) ?? 10 * 60_000;
      const limit = Math.max(ALERT_RULES.sensorOfflineFactor * interval, ALERT_RULES.sensorOfflineMinMs);
      if (now - r.ts > limit) {
        add({
          id: `sensor-offline:${r.sensor}`,
          kind: 'sensor-offline',
          severity: 'warning',
          source: r.sensor,
          message: `sensor ${r.sensor} has sent no reading for ${span(now - r.ts)}`,
          since: r.ts + limit,
          data: { edge, reason: 'silent', lastTs: r.ts, intervalMs: interval, ...scope },
        });
      } else {
        later(r.ts + limit + 1);
      }
    }
    if (info.quantity === 'water-fill' && r.value !== null && r.value < ALERT_RULES.tankLowPercent) {
      add({
        id: `tank-low:${r.sensor}`,
        kind: 'tank-low',
        severity: 'warning',
        source: r.sensor,
        message: `tank ${r.sensor} is at ${Math.round(r.value)} %, below ${ALERT_RULES.tankLowPercent} %`,
        since: r.ts,
        data: { edge, value: r.value, threshold: ALERT_RULES.tankLowPercent, ...scope },
      });
    }
  }

  // Control's own alarms: tank.low until tank.ok per tank, zone.no-flow until the zone completes a run.
  const seen = new Set<string>();
  for (const e of input.events) {
    const topic = e.kind.startsWith('tank.') ? `tank:${e.source}` : `zone:${e.source}`;
    if (seen.has(topic)) continue;
    seen.add(topic);
    if (e.kind === 'tank.low') {
      add({ id: `tank-low:${e.source}`, kind: 'tank-low', severity: 'alarm', source: e.source, message: e.message, since: e.ts, data: { edge, ...e.data, ...fieldOf(site.sensors.get(e.source)?.field) } });
    } else if (e.kind === 'zone.no-flow') {
      add({ id: `no-flow:${e.source}`, kind: 'no-flow', severity: 'alarm', source: e.source, message: e.message, since: e.ts, data: { edge, ...e.data, ...fieldOf(site.zones.get(e.source)?.field) } });
    }
  }

  for (const c of input.failedCommands) {
    const until = c.updatedAt + ALERT_RULES.commandFailedForMs;
    if (now >= until) continue;
    later(until);
    const zone = 'zone' in c.action ? c.action.zone : undefined;
    const what = zone !== undefined ? `${c.action.type} ${zone}` : c.action.type;
    add({
      id: `command-failed:${c.id}`,
      kind: 'command-failed',
      severity: 'warning',
      source: zone ?? c.edge,
      message: `command ${what} by ${c.by} was ${c.status}${c.reason ? `: ${c.reason}` : ''}`,
      since: c.updatedAt,
      data: { command: c.id, edge: c.edge, status: c.status, ...(c.reason !== undefined && { reason: c.reason }), by: c.by, action: c.action, ...(zone !== undefined ? fieldOf(site.zones.get(zone)?.field) : {}) },
    });
  }

  return { alerts: [...alerts.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), nextChangeAt };
}

/** What identifies an active set: a new, ended or re-begun alert changes it; a growing "for 12 min" does not. */
export function alertSetKey(alerts: readonly Alert[]): string {
  return alerts.map((a) => `${a.id}|${a.severity}|${a.since}`).join(',');
}
