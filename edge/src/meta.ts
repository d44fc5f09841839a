import { QUANTITIES, type EdgeMeta, type Quantity, type Reading, type Unit } from '@smart-village/shared';
import type { EdgeConfig } from './config.js';
import { GPIO_POINTS, sensorIdOf } from './gpio/inputs.js';

export type SensorInfo = EdgeMeta['sensors'][number];

const QUANTITY_OF_GPIO_POINT: Record<string, Quantity | undefined> = { rain: 'rain', 'rain-total': 'rain', flow: 'flow', volume: 'volume' };

/** Every sensor this edge reads, with the name and field the site config gives it. */
export function sensorCatalog(config: Pick<EdgeConfig, 'site' | 'modbus' | 'gpio'>): SensorInfo[] {
  const named = new Map(config.site.sensors.map((s) => [s.id, s]));
  const out: SensorInfo[] = [];
  const add = (id: string, unit: Unit, quantity: string | undefined): void => {
    const n = named.get(id);
    out.push({
      id,
      unit,
      ...(quantity !== undefined && quantity in QUANTITIES && { quantity: quantity as Quantity }),
      ...(n?.name !== undefined && { name: n.name }),
      ...(n?.field !== undefined && { field: n.field }),
    });
  };
  for (const d of config.modbus) for (const p of d.points) add(d.sensorOf[p.name] as string, p.unit, p.quantity);
  for (const d of config.gpio) {
    for (const p of GPIO_POINTS[d.mode]) add(sensorIdOf(d.id, p.point), p.unit, d.mode === 'digital' ? d.quantity : QUANTITY_OF_GPIO_POINT[p.point]);
  }
  return out;
}

/**
 * What dashboards need to label this edge's data (sent inside …/state). Firmware nodes declare
 * their sensors at run time (in their hello): those named under `sensors:` are added once a
 * reading shows their unit.
 */
export function edgeMeta(config: Pick<EdgeConfig, 'site' | 'modbus' | 'gpio'>, latest: readonly Pick<Reading, 'sensor' | 'unit'>[] = []): EdgeMeta {
  const s = config.site.site;
  const sensors = sensorCatalog(config);
  const known = new Set(sensors.map((x) => x.id));
  for (const r of latest) {
    const named = config.site.sensors.find((n) => n.id === r.sensor);
    if (!named || known.has(r.sensor)) continue;
    known.add(r.sensor);
    sensors.push({ id: r.sensor, unit: r.unit, ...(named.name !== undefined && { name: named.name }), ...(named.field !== undefined && { field: named.field }) });
  }
  return { site: { name: s.name, timezone: s.timezone, language: s.language, lat: s.lat, lon: s.lon }, sensors };
}
