import type { ControlState, EdgeMeta, Reading, ZoneState } from '@smart-village/shared';
import type { EdgeStateRecord } from '../store/types.js';

/**
 * What the cloud knows about a site from its edges' …/state messages: the site's name and place,
 * each sensor's name, field and quantity, each zone and lighting group and the edge that runs it.
 * Pure: built from stored states, used by access checks, commands, alerts and the overview.
 */

export interface SensorInfo {
  id: string;
  edge: string;
  name?: string;
  field?: string;
  quantity?: string;
  unit: string;
}

export interface ZoneInfo {
  edge: string;
  zone: ZoneState;
}

export interface SiteModel {
  site: string;
  /** From the first edge (by id) that sent meta; undefined until one did. */
  info: EdgeMeta['site'] | undefined;
  sensors: ReadonlyMap<string, SensorInfo>;
  zones: ReadonlyMap<string, ZoneInfo>;
  /** Lighting group -> edge. */
  lights: ReadonlyMap<string, string>;
  /** Edge -> its control state (edges running local control only). */
  controls: ReadonlyMap<string, ControlState>;
  /** Edge -> latest values from its state (may be newer than stored telemetry during a backlog). */
  stateReadings: ReadonlyMap<string, readonly Reading[]>;
}

export function buildSiteModel(site: string, states: readonly EdgeStateRecord[]): SiteModel {
  const sensors = new Map<string, SensorInfo>();
  const zones = new Map<string, ZoneInfo>();
  const lights = new Map<string, string>();
  const controls = new Map<string, ControlState>();
  const stateReadings = new Map<string, readonly Reading[]>();
  let info: EdgeMeta['site'] | undefined;
  // By edge id, so the answer does not depend on arrival order; the first edge to name a sensor wins.
  for (const { edge, state } of [...states].sort((a, b) => (a.edge < b.edge ? -1 : a.edge > b.edge ? 1 : 0))) {
    stateReadings.set(edge, state.readings);
    if (state.meta) {
      info ??= state.meta.site;
      for (const s of state.meta.sensors) {
        if (!sensors.has(s.id)) sensors.set(s.id, { ...s, edge });
      }
    }
    if (state.control) {
      controls.set(edge, state.control);
      for (const zone of state.control.zones) if (!zones.has(zone.id)) zones.set(zone.id, { edge, zone });
      for (const light of state.control.lights) if (!lights.has(light.id)) lights.set(light.id, edge);
    }
  }
  return { site, info, sensors, zones, lights, controls, stateReadings };
}

/** Every field the site's sensors and zones name, sorted. */
export function fieldsOf(model: SiteModel): string[] {
  const fields = new Set<string>();
  for (const s of model.sensors.values()) if (s.field !== undefined) fields.add(s.field);
  for (const z of model.zones.values()) if (z.zone.field !== undefined) fields.add(z.zone.field);
  return [...fields].sort();
}
