/** Names of things as shown to people, built from messages; shared by both views. */
import type { I18n } from '../i18n.js';
import { ApiFailure } from '../store.js';
import type { CommandAction, Overview, SensorNow } from '../types.js';

/** The sensor's own name from the site config, else what it measures, else its id. */
export function sensorLabel({ t, has }: I18n, sensor: Pick<SensorNow, 'id' | 'name' | 'quantity'>): string {
  if (sensor.name) return sensor.name;
  const key = `q.${sensor.quantity ?? ''}`;
  return has(key) ? t(key) : sensor.id;
}

export function quantityLabel({ t, has }: I18n, quantity: string): string {
  const key = `q.${quantity}`;
  return has(key) ? t(key) : quantity;
}

/** A reading's value as text; switches read on/off. */
export function valueText(i18n: I18n, sensor: Pick<SensorNow, 'value' | 'unit'>): string {
  if (sensor.unit === 'state' && sensor.value !== null) return i18n.t(sensor.value ? 'value.on' : 'value.off');
  return i18n.f.value(sensor.value, sensor.unit);
}

export function zoneName(overview: Overview | null, zone: string): string {
  for (const f of overview?.fields ?? []) {
    const z = f.zones.find((x) => x.id === zone);
    if (z) return z.name ?? z.id;
  }
  return zone;
}

/** One line for a command: "Water Ruộng 1 for 10 minutes". */
export function actionLabel(i18n: I18n, overview: Overview | null, action: CommandAction): string {
  const { t, f } = i18n;
  switch (action.type) {
    case 'water':
      return t('command.action.water', { zone: zoneName(overview, action.zone), duration: f.duration(action.duration) });
    case 'stop':
      return action.zone === undefined ? t('command.action.stopAll') : t('command.action.stop', { zone: zoneName(overview, action.zone) });
    case 'pause':
      return t('command.action.pause', { duration: f.duration(action.duration) });
    case 'rain-delay':
      return t('command.action.rain-delay', { duration: f.duration(action.duration) });
    case 'light':
      return t('command.action.light', { group: action.group, state: t(action.on ? 'light.on' : 'light.off'), duration: f.duration(action.duration) });
    default:
      return t(`command.action.${action.type}`);
  }
}

/** What to tell a person about a failed request. */
export function errorText(i18n: I18n, err: unknown): string {
  if (!(err instanceof ApiFailure)) return i18n.t('error.HTTP');
  return codeText(i18n, err.status === 429 ? 'RATE_LIMITED' : err.code);
}

/** The message for an API error code (`NETWORK`, `FORBIDDEN`, …); unknown codes get a general one. */
export function codeText({ t, has }: I18n, code: string): string {
  const key = `error.${code}`;
  return has(key) ? t(key) : t('error.HTTP');
}

/** The name of what an alert is about: a sensor, tank or zone of the overview, else its id. */
export function sourceName(i18n: I18n, overview: Overview, source: string): string {
  const tank = overview.tanks.find((x) => x.sensor === source);
  if (tank) return tank.name;
  for (const f of overview.fields) {
    const sensor = f.sensors.find((x) => x.id === source);
    if (sensor) return `${f.name} · ${sensorLabel(i18n, sensor)}`;
    const zone = f.zones.find((x) => x.id === source);
    if (zone) return zone.name ?? zone.id;
    if (f.id === source) return f.name;
  }
  return source;
}
