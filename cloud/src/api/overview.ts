import type { OutputState, Reading, ZoneState } from '@smart-village/shared';
import type { Alert } from '../alerts/rules.js';
import { canSeeAlert, canSeeSensor, canSeeZone, type Principal } from '../auth/access.js';
import { fieldsOf, type SiteModel } from '../site/model.js';
import type { Announcement, EdgeRecord, HistoryBucket } from '../store/types.js';

/**
 * Everything a screen needs about a site in one answer (docs/web-api.md, overview). Pure: the
 * route gathers the inputs.
 */

/** Quantities shown as the village's weather (the first sensor of each, newest value). */
export const WEATHER_QUANTITIES = ['air-temperature', 'relative-humidity', 'air-pressure', 'rain', 'wind-speed', 'wind-direction', 'solar-radiation', 'illuminance'] as const;
const TANK_QUANTITIES = new Set(['water-fill', 'water-level']);

export interface OverviewInputs {
  site: string;
  now: number;
  model: SiteModel;
  edges: readonly EdgeRecord[];
  latest: readonly (Reading & { edge: string })[];
  announcement: Announcement | undefined;
  alerts: readonly Alert[];
  rain24hMm: number | null;
}

type Value = { value: number | null; ts: number; quality: Reading['quality']; unit: string };

export interface Overview {
  site: { id: string; name: string; timezone: string; language: 'vi' | 'en'; lat: number | null; lon: number | null };
  edges: { edge: string; online: boolean; lastSeen: number | null }[];
  fields: { id: string; name: string; sensors: { id: string; name: string; quantity: string | null; unit: string; value: number | null; ts: number | null; quality: Reading['quality'] | null }[]; zones: ZoneState[] }[];
  tanks: { sensor: string; name: string; value: number | null; unit: string; ts: number | null }[];
  /** `sensor` names the source, so the app can update it from live readings. */
  weather: Record<string, { value: number | null; unit: string; ts: number; sensor: string }>;
  rain24hMm: number | null;
  outputs: OutputState[];
  lights: { id: string; on: boolean; reason: string; overrideUntil?: number }[];
  pausedUntil?: number;
  rainDelayUntil?: number;
  announcement: Announcement | null;
  alerts: Alert[];
  updatedAt: number;
}

/** The newest value per sensor from stored telemetry and the edges' state snapshots. */
export function newestValues(model: SiteModel, latest: OverviewInputs['latest']): Map<string, Value> {
  const values = new Map<string, Value>();
  const offer = (r: Reading): void => {
    const prev = values.get(r.sensor);
    if (!prev || r.ts > prev.ts) values.set(r.sensor, { value: r.value, ts: r.ts, quality: r.quality, unit: r.unit });
  };
  for (const r of latest) offer(r);
  for (const readings of model.stateReadings.values()) for (const r of readings) offer(r);
  return values;
}

export function buildOverview(input: OverviewInputs, p: Principal): Overview {
  const { model, now } = input;
  const values = newestValues(model, input.latest);
  const info = model.info;
  const zonesByField = new Map<string, ZoneState[]>();
  for (const { zone } of model.zones.values()) {
    if (zone.field === undefined || !canSeeZone(p, model, zone.id)) continue;
    zonesByField.set(zone.field, [...(zonesByField.get(zone.field) ?? []), zone]);
  }
  const fields = fieldsOf(model)
    .filter((f) => p.fields === null || p.fields.includes(f))
    .map((id) => ({
      id,
      // A field is called what the zone that waters it is called ("Ruộng 1"), else by its id.
      name: (zonesByField.get(id) ?? []).find((z) => z.name !== undefined)?.name ?? id,
      sensors: [...model.sensors.values()]
        .filter((s) => s.field === id)
        .map((s) => {
          const v = values.get(s.id);
          return { id: s.id, name: s.name ?? s.id, quantity: s.quantity ?? null, unit: s.unit, value: v?.value ?? null, ts: v?.ts ?? null, quality: v?.quality ?? null };
        }),
      zones: zonesByField.get(id) ?? [],
    }));

  const tanks = [...model.sensors.values()]
    .filter((s) => s.quantity !== undefined && TANK_QUANTITIES.has(s.quantity) && canSeeSensor(p, model, s.id))
    .map((s) => {
      const v = values.get(s.id);
      return { sensor: s.id, name: s.name ?? s.id, value: v?.value ?? null, unit: s.unit, ts: v?.ts ?? null };
    });

  const weather: Overview['weather'] = {};
  for (const s of model.sensors.values()) {
    if (s.quantity === undefined || !(WEATHER_QUANTITIES as readonly string[]).includes(s.quantity) || !canSeeSensor(p, model, s.id)) continue;
    const v = values.get(s.id);
    if (!v) continue;
    const prev = weather[s.quantity];
    if (!prev || v.ts > prev.ts) weather[s.quantity] = { value: v.value, unit: v.unit, ts: v.ts, sensor: s.id };
  }

  const controls = [...model.controls.values()];
  const latestOf = (xs: (number | undefined)[]): number | undefined => {
    const defined = xs.filter((x): x is number => x !== undefined);
    return defined.length > 0 ? Math.max(...defined) : undefined;
  };
  const pausedUntil = latestOf(controls.map((c) => c.pausedUntil));
  const rainDelayUntil = latestOf(controls.map((c) => c.rainDelayUntil));

  return {
    site: {
      id: input.site,
      name: info?.name ?? input.site,
      timezone: info?.timezone ?? 'UTC',
      language: info?.language ?? 'vi',
      lat: info?.lat ?? null,
      lon: info?.lon ?? null,
    },
    edges: input.edges.map((e) => ({ edge: e.edge, online: e.state === 'online', lastSeen: e.lastSeen > 0 ? e.lastSeen : null })),
    fields,
    tanks,
    weather,
    rain24hMm: input.rain24hMm,
    outputs: controls.flatMap((c) => c.outputs),
    lights: controls.flatMap((c) => c.lights),
    ...(pausedUntil !== undefined && pausedUntil > now && { pausedUntil }),
    ...(rainDelayUntil !== undefined && rainDelayUntil > now && { rainDelayUntil }),
    announcement: input.announcement ?? null,
    alerts: input.alerts.filter((a) => canSeeAlert(p, a.data as { field?: string; by?: string })),
    updatedAt: now,
  };
}

/** The rain gauge whose running total gives the last 24 h: one whose id says "total", else the first. */
export function rainGauge(model: SiteModel, p: Principal): string | undefined {
  const gauges = [...model.sensors.values()].filter((s) => s.quantity === 'rain' && s.unit === 'mm' && canSeeSensor(p, model, s.id)).map((s) => s.id).sort();
  return gauges.find((id) => id.includes('total')) ?? gauges[0];
}

/**
 * Rain from a gauge's running total in buckets (oldest first, the first one from before the
 * window as the baseline): rises of the bucket's last value are summed; a fall is a counter wrap
 * or a reset, after which the new value is rain since the reset (as the edge's rainFromTotals).
 */
export function rainFromBuckets(buckets: readonly HistoryBucket[]): number | null {
  const first = buckets[0];
  if (!first) return null;
  let sum = 0;
  let prev = first.last;
  for (const b of buckets.slice(1)) {
    sum += b.last >= prev ? b.last - prev : b.last;
    prev = b.last;
  }
  return Math.round(sum * 10) / 10;
}
