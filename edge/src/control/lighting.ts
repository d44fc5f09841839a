import { parseTimeOfDay, type LightingConfig } from '@smart-village/shared';
import type { SiteCalendar } from './calendar.js';
import { freshValue, type SensorView } from './inputs.js';

/** A lux reading older than this is not trusted; the group falls back to the sun. */
export const LUX_MAX_AGE_MS = 10 * 60_000;
/** Lux-mode lights are leased for this long and renewed while the decision holds. */
export const LUX_LEASE_MS = 15 * 60_000;

export interface LightOverride {
  on: boolean;
  until: number;
  by: string;
}

export interface LightDecision {
  on: boolean;
  reason: string;
  /** When ON: the lease end (the planned switch-off, or a renewal point). */
  until?: number;
  /** For lux hysteresis: the lux decision in force. */
  luxOn?: boolean;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** The off window [a, b) containing local minute m, wrapping midnight ("23:00"-"04:30"). */
function offWindowAt(windows: LightingConfig['offWindows'], m: number): [string, string] | undefined {
  return windows.find(([a, b]) => {
    const x = minutesOf(a);
    const y = minutesOf(b);
    return x < y ? m >= x && m < y : m >= x || m < y;
  });
}

/** The night interval (lights-on time to lights-off time) containing now, if any. */
export function nightAt(group: Pick<LightingConfig, 'on' | 'off'>, cal: SiteCalendar, now: number): { from: number; to: number } | undefined {
  const on = parseTimeOfDay(group.on);
  const off = parseTimeOfDay(group.off);
  if (!on || !off) return undefined;
  const today = cal.localDate(now);
  for (const d of [cal.addDays(today, -1), today]) {
    const from = cal.resolve(on, d);
    if (from === undefined) continue;
    // "sunset" to "23:00" ends the same evening; "sunset" to "sunrise" ends the next morning.
    let to = cal.resolve(off, d);
    if (to === undefined || to <= from) to = cal.resolve(off, cal.addDays(d, 1));
    if (to !== undefined && now >= from && now < to) return { from, to };
  }
  return undefined;
}

const hhmm = (cal: SiteCalendar, ms: number): string => {
  const m = cal.localParts(ms).minutes;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

/** What a lighting group should do now: override, off window, lux or the sun, in that order. */
export function decideLight(group: LightingConfig, prev: { luxOn?: boolean } | undefined, override: LightOverride | undefined, cal: SiteCalendar, sensors: SensorView, now: number): LightDecision {
  if (override && now < override.until) {
    return { on: override.on, reason: `manual ${override.on ? 'on' : 'off'} by ${override.by} until ${hhmm(cal, override.until)}`, ...(override.on && { until: override.until }) };
  }
  const minute = cal.localParts(now).minutes;
  const window = offWindowAt(group.offWindows, minute);
  if (window) return { on: false, reason: `night off window ${window[0]}-${window[1]}` };

  if (group.mode === 'lux' && group.lux) {
    const lux = freshValue(sensors.latest(group.lux.sensor), now, LUX_MAX_AGE_MS);
    if (lux !== undefined) {
      const wasOn = prev?.luxOn ?? false;
      const luxOn = wasOn ? lux <= group.lux.offAbove : lux < group.lux.onBelow;
      const reason = luxOn
        ? `${Math.round(lux)} lx ${wasOn ? `<= ${group.lux.offAbove}` : `< ${group.lux.onBelow}`} lx`
        : `${Math.round(lux)} lx ${wasOn ? `> ${group.lux.offAbove}` : `>= ${group.lux.onBelow}`} lx`;
      return { on: luxOn, reason, luxOn, ...(luxOn && { until: now + LUX_LEASE_MS }) };
    }
    const night = nightAt(group, cal, now);
    return night
      ? { on: true, reason: `lux sensor ${group.lux.sensor} has no fresh reading: by the sun until ${hhmm(cal, night.to)}`, until: night.to }
      : { on: false, reason: `lux sensor ${group.lux.sensor} has no fresh reading: by the sun, daytime` };
  }

  const night = nightAt(group, cal, now);
  if (!night) return { on: false, reason: `daytime (${group.on} to ${group.off})` };
  // The lease ends at the next off window if one starts before the planned switch-off.
  let until = night.to;
  for (const [a] of group.offWindows) {
    const today = cal.localDate(now);
    for (const d of [today, cal.addDays(today, 1)]) {
      const at = cal.at(d, minutesOf(a));
      if (at > now && at < until) until = at;
    }
  }
  return { on: true, reason: `${group.on} to ${group.off}: on until ${hhmm(cal, until)}`, until };
}
