import type { ActuatorConfig, EdgeMeta, Reading, ZoneConfig } from '@smart-village/shared';
import type { EdgeConfig } from '../config.js';
import { sensorIdOf, GPIO_POINTS } from '../gpio/inputs.js';
import { edgeMeta, type SensorInfo } from '../meta.js';

/**
 * The edge's one site as the web app sees it, from the site config alone: names, which field each
 * sensor, zone and output belongs to, how often each sensor is read. The cloud learns the same from
 * the edges' …/state; the edge knows it first hand, and that is what lets it answer with no
 * internet. Built when the server starts; sensors that firmware nodes declare at run time are
 * learnt from their first readings (`learnSensors`).
 */
export interface SiteView {
  site: string;
  edge: string;
  info: EdgeMeta['site'];
  /** Grows when a firmware node's sensor named under `sensors:` first reports. */
  sensors: Map<string, SensorInfo>;
  /** Sensor -> how often it is read (ms), for "no fresh reading". */
  intervals: ReadonlyMap<string, number>;
  zones: ReadonlyMap<string, ZoneConfig>;
  actuators: ReadonlyMap<string, ActuatorConfig>;
  /** Every field named by a sensor, zone or output, sorted. */
  fields: readonly string[];
  /** The rain gauge's running total (mm) that gives "rain in 24 h", if there is one. */
  rainGauge: string | undefined;
}

export function siteView(config: EdgeConfig): SiteView {
  const site = config.site;
  const meta = edgeMeta(config);
  const sensors = new Map(meta.sensors.map((s) => [s.id, s]));
  const intervals = new Map<string, number>();
  for (const d of config.modbus) for (const id of Object.values(d.sensorOf)) intervals.set(id, d.interval);
  for (const d of config.gpio) for (const p of GPIO_POINTS[d.mode]) intervals.set(sensorIdOf(d.id, p.point), d.interval);
  const fields = new Set<string>();
  // Named sensors count even before a firmware node reports them: their field exists.
  for (const s of site.sensors) if (s.field !== undefined) fields.add(s.field);
  for (const s of sensors.values()) if (s.field !== undefined) fields.add(s.field);
  for (const z of site.zones) if (z.field !== undefined) fields.add(z.field);
  for (const a of site.actuators) if (a.field !== undefined) fields.add(a.field);
  // The gauge irrigation skips rain by; else, as the cloud chooses: a rain total in mm, "total" first.
  const gauges = [...sensors.values()].filter((s) => s.quantity === 'rain' && s.unit === 'mm').map((s) => s.id).sort();
  const configured = site.irrigation.rain.gaugeSensor;
  return {
    site: site.site.id,
    edge: site.edge.id,
    info: meta.site,
    sensors,
    intervals,
    zones: new Map(site.zones.map((z) => [z.id, z])),
    actuators: new Map(site.actuators.map((a) => [a.id, a])),
    fields: [...fields].sort(),
    rainGauge: configured !== undefined && sensors.has(configured) ? configured : (gauges.find((id) => id.includes('total')) ?? gauges[0]),
  };
}

/**
 * Adds the sensors firmware nodes declared since (named under `sensors:`, known once a reading
 * shows their unit: edgeMeta's rule). Returns whether any was new.
 */
export function learnSensors(view: SiteView, config: EdgeConfig, latest: readonly Reading[]): boolean {
  if (latest.every((r) => view.sensors.has(r.sensor))) return false;
  let learnt = false;
  for (const s of edgeMeta(config, latest).sensors) {
    if (view.sensors.has(s.id)) continue;
    view.sensors.set(s.id, s);
    learnt = true;
  }
  return learnt;
}
