import type { ControlState, OutputState, Quality, Reading, ZoneState } from '@smart-village/shared';
import { canSeeAlert, canSeeSensor, canSeeZone, visibleControl, type Principal } from './access.js';
import type { Alert } from './alerts.js';
import type { SiteView } from './site.js';

/**
 * Everything a screen needs about the site in one answer (docs/web-api.md, overview): the cloud's
 * shape (cloud/src/api/overview.ts), from the edge's own store and control. Pure.
 */

/** Quantities shown as the village's weather (per quantity, the newest value of a visible sensor). */
export const WEATHER_QUANTITIES = ['air-temperature', 'relative-humidity', 'air-pressure', 'rain', 'wind-speed', 'wind-direction', 'solar-radiation', 'illuminance'] as const;
const TANK_QUANTITIES = new Set(['water-fill', 'water-level']);

/** A zone with the soil-moisture limits its config waters by (the app colours the moisture band with them). */
export type OverviewZone = ZoneState & { moisture?: { sensor: string; start: number; target: number } };

export interface Overview {
  site: { id: string; name: string; timezone: string; language: 'vi' | 'en'; lat: number; lon: number };
  edges: { edge: string; online: boolean; lastSeen: number | null }[];
  fields: { id: string; name: string; sensors: { id: string; name: string; quantity: string | null; unit: string; value: number | null; ts: number | null; quality: Quality | null }[]; zones: OverviewZone[] }[];
  tanks: { sensor: string; name: string; value: number | null; unit: string; ts: number | null }[];
  /** `sensor` names the source, so the app can update it from live readings. */
  weather: Record<string, { value: number | null; unit: string; ts: number; sensor: string }>;
  rain24hMm: number | null;
  outputs: OutputState[];
  lights: ControlState['lights'];
  pausedUntil?: number;
  rainDelayUntil?: number;
  announcement: null;
  alerts: Alert[];
  updatedAt: number;
}

export interface OverviewInputs {
  site: SiteView;
  now: number;
  latest: readonly Reading[];
  control: ControlState | undefined;
  alerts: readonly Alert[];
  rain24hMm: number | null;
}

export function buildOverview(input: OverviewInputs, p: Principal): Overview {
  const { site, now } = input;
  const values = new Map(input.latest.map((r) => [r.sensor, r]));
  const control = input.control ? visibleControl(p, site, input.control) : undefined;
  const zonesByField = new Map<string, OverviewZone[]>();
  for (const zone of control?.zones ?? []) {
    if (zone.field === undefined || !canSeeZone(p, site, zone.id)) continue;
    const m = site.zones.get(zone.id)?.moisture;
    const shown: OverviewZone = m ? { ...zone, moisture: { sensor: m.sensor, start: m.start, target: m.target } } : zone;
    zonesByField.set(zone.field, [...(zonesByField.get(zone.field) ?? []), shown]);
  }
  const fields = site.fields
    .filter((f) => p.fields === null || p.fields.includes(f))
    .map((id) => ({
      id,
      // A field is called what the zone that waters it is called ("Ruộng 1"), else by its id, as in the cloud.
      name: [...site.zones.values()].find((z) => z.field === id && z.name !== undefined)?.name ?? id,
      sensors: [...site.sensors.values()]
        .filter((s) => s.field === id)
        .map((s) => {
          const v = values.get(s.id);
          return { id: s.id, name: s.name ?? s.id, quantity: s.quantity ?? null, unit: s.unit, value: v?.value ?? null, ts: v?.ts ?? null, quality: v?.quality ?? null };
        }),
      zones: zonesByField.get(id) ?? [],
    }));

  const tanks = [...site.sensors.values()]
    .filter((s) => s.quantity !== undefined && TANK_QUANTITIES.has(s.quantity) && canSeeSensor(p, site, s.id))
    .map((s) => {
      const v = values.get(s.id);
      return { sensor: s.id, name: s.name ?? s.id, value: v?.value ?? null, unit: s.unit, ts: v?.ts ?? null };
    });

  const weather: Overview['weather'] = {};
  for (const s of site.sensors.values()) {
    if (s.quantity === undefined || !(WEATHER_QUANTITIES as readonly string[]).includes(s.quantity) || !canSeeSensor(p, site, s.id)) continue;
    const v = values.get(s.id);
    if (!v) continue;
    const prev = weather[s.quantity];
    if (!prev || v.ts > prev.ts) weather[s.quantity] = { value: v.value, unit: v.unit, ts: v.ts, sensor: s.id };
  }

  return {
    site: { id: site.site, ...site.info },
    // Answering is being online; lastSeen is now.
    edges: [{ edge: site.edge, online: true, lastSeen: now }],
    fields,
    tanks,
    weather,
    rain24hMm: input.rain24hMm,
    outputs: control?.outputs ?? [],
    lights: control?.lights ?? [],
    ...(control?.pausedUntil !== undefined && control.pausedUntil > now && { pausedUntil: control.pausedUntil }),
    ...(control?.rainDelayUntil !== undefined && control.rainDelayUntil > now && { rainDelayUntil: control.rainDelayUntil }),
    announcement: null,
    alerts: input.alerts.filter((a) => canSeeAlert(p, a.data)),
    updatedAt: now,
  };
}
