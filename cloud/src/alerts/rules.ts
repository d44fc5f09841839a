import type { Event, Reading } from '@smart-village/shared';
import type { SiteModel } from '../site/model.js';
import type { CommandRecord, EdgeRecord, HistoryBucket } from '../store/types.js';

/**
 * Which alerts are active at a site, from what the cloud stores. Pure: the monitor (monitor.ts)
 * gathers the inputs; nothing here reads a store or a clock.
 */

import type { Alert } from '@smart-village/shared';
export { ALERT_KINDS, type Alert, type AlertKind } from '@smart-village/shared';

export interface AlertOptions {
  /** A water-fill sensor (quantity water-fill, %) below this is a tank-low warning. 0 turns it off. */
  tankLowPercent: number;
  /** A soil-moisture sensor (%VWC) below this ... */
  soilDryPercent: number;
  /** ... for at least this long is a soil-dry warning. */
  soilDryForMs: number;
  /** A sensor is offline after this many of its usual reading intervals without a reading ... */
  sensorOfflineFactor: number;
  /** ... but never sooner than this (edges send in batches). */
  sensorOfflineMinMs: number;
  /** The usual interval of a sensor whose history is too short to tell. */
  sensorIntervalDefaultMs: number;
  /** An edge whose status is online but that sent nothing for this long is offline (a dead link before its will). */
  edgeSilentMs: number;
  /** How far back an edge's tank.low / zone.no-flow events are looked for. */
  eventLookbackMs: number;
  /** A rejected, failed or expired command stays an alert this long. */
  commandFailedForMs: number;
}

export const DEFAULT_ALERT_OPTIONS: Readonly<AlertOptions> = Object.freeze({
  tankLowPercent: 20,
  // Sandy loam wilting point is around 10-15 %VWC; 15 % for half a day means the crop is stressed.
  soilDryPercent: 15,
  soilDryForMs: 12 * 3_600_000,
  sensorOfflineFactor: 3,
  sensorOfflineMinMs: 5 * 60_000,
  sensorIntervalDefaultMs: 10 * 60_000,
  edgeSilentMs: 30 * 60_000,
  eventLookbackMs: 7 * 86_400_000,
  commandFailedForMs: 3_600_000,
});

export interface AlertInputs {
  now: number;
  model: SiteModel;
  edges: readonly EdgeRecord[];
  latest: readonly (Reading & { edge: string })[];
  /** Sensor -> its usual interval between readings (ms), where known. */
  intervals: ReadonlyMap<string, number>;
  /** Soil sensor -> buckets over the dry window, oldest first (only sensors whose latest value is dry). */
  soilHistory: ReadonlyMap<string, readonly HistoryBucket[]>;
  /** tank.low and tank.ok events within the lookback, newest first. */
  tankEvents: readonly (Event & { edge: string })[];
  /** zone.no-flow and zone.finished events within the lookback, newest first. */
  flowEvents: readonly (Event & { edge: string })[];
  /** Rejected, failed or expired commands updated within commandFailedForMs. */
  failedCommands: readonly CommandRecord[];
}

/** Sensors whose latest value may be dry: the monitor fetches history for these only. */
export function drySoilCandidates(latest: AlertInputs['latest'], opts: AlertOptions): string[] {
  return latest.filter((r) => r.unit === '%VWC' && r.value !== null && r.value < opts.soilDryPercent).map((r) => r.sensor);
}

/** Sensors quiet long enough that their usual interval matters. */
export function quietSensors(latest: AlertInputs['latest'], now: number, opts: AlertOptions): string[] {
  return latest.filter((r) => r.quality !== 'error' && now - r.ts > opts.sensorOfflineMinMs).map((r) => r.sensor);
}

/** The median gap between consecutive timestamps; undefined with fewer than two. */
export function usualInterval(ts: readonly number[]): number | undefined {
  const gaps: number[] = [];
  for (let i = 1; i < ts.length; i++) {
    const gap = (ts[i] as number) - (ts[i - 1] as number);
    if (gap > 0) gaps.push(gap);
  }
  if (gaps.length === 0) return undefined;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

const minutes = (ms: number): string => (ms >= 2 * 3_600_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 60_000)} min`);

/** Every active alert, sorted by id. */
export function computeAlerts(input: AlertInputs, opts: AlertOptions): Alert[] {
  const { now, model } = input;
  const alerts = new Map<string, Alert>();
  const add = (a: Alert): void => {
    const prev = alerts.get(a.id);
    // One alert per id; an alarm outranks a warning about the same thing.
    if (!prev || (prev.severity === 'warning' && a.severity === 'alarm')) alerts.set(a.id, a);
  };
  const fieldOfSensor = (sensor: string): { field?: string } => {
    const field = model.sensors.get(sensor)?.field;
    return field === undefined ? {} : { field };
  };
  const fieldOfZone = (zone: string): { field?: string } => {
    const field = model.zones.get(zone)?.zone.field;
    return field === undefined ? {} : { field };
  };

  // Edges.
  const offline = new Set<string>();
  for (const e of input.edges) {
    if (e.state === 'offline') {
      offline.add(e.edge);
      add({ id: `edge-offline:${e.edge}`, kind: 'edge-offline', severity: 'alarm', source: e.edge, message: `edge ${e.edge} is offline`, since: e.lastSeen || now, data: { edge: e.edge, lastSeen: e.lastSeen || null } });
    } else if (e.state === 'online' && e.lastSeen > 0 && now - e.lastSeen > opts.edgeSilentMs) {
      offline.add(e.edge);
      add({
        id: `edge-offline:${e.edge}`,
        kind: 'edge-offline',
        severity: 'alarm',
        source: e.edge,
        message: `edge ${e.edge} has sent nothing for ${minutes(now - e.lastSeen)}`,
        since: e.lastSeen + opts.edgeSilentMs,
        data: { edge: e.edge, lastSeen: e.lastSeen },
      });
    }
  }

  // Sensors: offline (silent, or reading errors), low tank by threshold. A sensor its edge no
  // longer lists was removed from the config: nothing about it is an alert.
  const metaEdges = new Set([...model.sensors.values()].map((s) => s.edge));
  const removed = new Set(input.latest.filter((r) => metaEdges.has(r.edge) && !model.sensors.has(r.sensor)).map((r) => r.sensor));
  for (const r of input.latest) {
    if (removed.has(r.sensor)) continue;
    const scope = fieldOfSensor(r.sensor);
    // An offline edge is one alert, not one per sensor behind it.
    if (!offline.has(r.edge)) {
      if (r.quality === 'error') {
        add({ id: `sensor-offline:${r.sensor}`, kind: 'sensor-offline', severity: 'warning', source: r.sensor, message: `sensor ${r.sensor} cannot be read`, since: r.ts, data: { edge: r.edge, reason: 'error', lastTs: r.ts, ...scope } });
      } else {
        const interval = input.intervals.get(r.sensor) ?? opts.sensorIntervalDefaultMs;
        const limit = Math.max(opts.sensorOfflineFactor * interval, opts.sensorOfflineMinMs);
        if (now - r.ts > limit) {
          add({
            id: `sensor-offline:${r.sensor}`,
            kind: 'sensor-offline',
            severity: 'warning',
            source: r.sensor,
            message: `sensor ${r.sensor} has sent no reading for ${minutes(now - r.ts)}`,
            since: r.ts + limit,
            data: { edge: r.edge, reason: 'silent', lastTs: r.ts, intervalMs: interval, ...scope },
          });
        }
      }
    }
    const quantity = model.sensors.get(r.sensor)?.quantity;
    if (quantity === 'water-fill' && r.value !== null && opts.tankLowPercent > 0 && r.value < opts.tankLowPercent) {
      add({
        id: `tank-low:${r.sensor}`,
        kind: 'tank-low',
        severity: 'warning',
        source: r.sensor,
        message: `tank ${r.sensor} is at ${Math.round(r.value)} %, below ${opts.tankLowPercent} %`,
        since: r.ts,
        data: { edge: r.edge, value: r.value, threshold: opts.tankLowPercent, ...scope },
      });
    }
  }

  for (const [sensor, buckets] of input.soilHistory) {
    if (removed.has(sensor)) continue;
    // The dry spell: newest buckets back to the last one that reached the threshold.
    let since: number | undefined;
    for (let i = buckets.length - 1; i >= 0; i--) {
      const b = buckets[i] as HistoryBucket;
      if (b.max >= opts.soilDryPercent) break;
      since = b.t;
    }
    if (since === undefined || now - since < opts.soilDryForMs) continue;
    const last = buckets[buckets.length - 1] as HistoryBucket;
    add({
      id: `soil-dry:${sensor}`,
      kind: 'soil-dry',
      severity: 'warning',
      source: sensor,
      message: `soil at ${sensor} has been below ${opts.soilDryPercent} % for ${minutes(now - since)}`,
      since,
      data: { value: last.last, threshold: opts.soilDryPercent, ...fieldOfSensor(sensor) },
    });
  }

  // The edge's own interlock: tank.low until tank.ok, per tank sensor.
  const tankSeen = new Set<string>();
  for (const e of input.tankEvents) {
    if (tankSeen.has(e.source)) continue;
    tankSeen.add(e.source);
    if (e.kind !== 'tank.low') continue;
    add({ id: `tank-low:${e.source}`, kind: 'tank-low', severity: 'alarm', source: e.source, message: e.message, since: e.ts, data: { edge: e.edge, ...e.data, ...fieldOfSensor(e.source) } });
  }

  // No flow after a valve opened: until the zone completes a run again.
  const zoneSeen = new Set<string>();
  for (const e of input.flowEvents) {
    if (zoneSeen.has(e.source)) continue;
    zoneSeen.add(e.source);
    if (e.kind !== 'zone.no-flow') continue;
    add({ id: `no-flow:${e.source}`, kind: 'no-flow', severity: 'alarm', source: e.source, message: e.message, since: e.ts, data: { edge: e.edge, ...e.data, ...fieldOfZone(e.source) } });
  }

  for (const c of input.failedCommands) {
    if (now - c.updatedAt > opts.commandFailedForMs) continue;
    const zone = 'zone' in c.action ? c.action.zone : undefined;
    const what = zone !== undefined ? `${c.action.type} ${zone}` : c.action.type;
    const how = c.status === 'expired' ? 'got no answer from the edge' : `was ${c.status}${c.reason ? `: ${c.reason}` : ''}`;
    add({
      id: `command-failed:${c.id}`,
      kind: 'command-failed',
      severity: 'warning',
      source: zone ?? c.edge,
      message: `command ${what} by ${c.by} ${how}`,
      since: c.updatedAt,
      data: { command: c.id, edge: c.edge, status: c.status, ...(c.reason !== undefined && { reason: c.reason }), by: c.by, action: c.action, ...(zone !== undefined ? fieldOfZone(zone) : {}) },
    });
  }

  return [...alerts.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
