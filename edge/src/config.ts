import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import {
  VillageError,
  formatPath,
  problemsOf,
  registerPointSchema,
  parseSiteConfig,
  type BusConfig,
  type ConfigProblem,
  type GpioDeviceConfig,
  type ModbusDeviceConfig,
  type RegisterPoint,
  type SiteConfig,
} from '@smart-village/shared';
import { findProfile, PROFILES } from './profiles.js';
import { resolvePoint, type ResolvedPoint } from './modbus/registers.js';
import { sensorCatalog } from './meta.js';

/** A Modbus device with its register map resolved: profile + overrides, defaults filled. */
export interface ResolvedModbusDevice {
  config: ModbusDeviceConfig;
  bus: BusConfig;
  points: ResolvedPoint[];
  /** Sensor id of each point. */
  sensorOf: Record<string, string>;
  interval: number;
  staleAfter: number;
}

export interface EdgeConfig {
  site: SiteConfig;
  modbus: ResolvedModbusDevice[];
  gpio: GpioDeviceConfig[];
  /** Where the file came from, for messages. */
  file?: string;
}

/** Reads, validates and resolves a site config file. Throws CONFIG_INVALID listing every problem. */
export function loadConfigFile(file: string): EdgeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new VillageError('CONFIG_UNREADABLE', `cannot read config ${file}: ${(err as Error).message}`, { file });
  }
  return { ...parseConfigText(text, file), file };
}

export function parseConfigText(text: string, file = '<config>'): EdgeConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message }));
    throw invalid(file, problems);
  }
  return resolveConfig(doc.toJS(), file);
}

export function resolveConfig(input: unknown, file = '<config>'): EdgeConfig {
  const parsed = parseSiteConfig(input);
  if (!parsed.ok) throw invalid(file, parsed.problems);
  const site = parsed.config;
  const problems: ConfigProblem[] = [];
  const modbus: ResolvedModbusDevice[] = [];
  const gpio: GpioDeviceConfig[] = [];
  const declared = new Map(site.sensors.map((s) => [s.source, s.id]));
  const usedSensorIds = new Map<string, string>();

  site.devices.forEach((dev, i) => {
    const at = (...rest: (string | number)[]): string => formatPath(['devices', i, ...rest]);
    if (dev.driver === 'gpio') {
      gpio.push(dev);
      return;
    }
    if (dev.driver === 'firmware') return; // resolved by edge/src/firmware (nodes declare their sensors at run time)
    const bus = site.buses.find((b) => b.id === dev.bus);
    let points: RegisterPoint[] = [];
    if (dev.profile !== undefined) {
      const profile = findProfile(dev.profile);
      if (!profile) {
        problems.push({ path: at('profile'), message: `unknown profile "${dev.profile}" (shipped: ${PROFILES.map((p) => p.id).join(', ')})` });
        return;
      }
      // A copy: overrides of one device must never reach the shipped profile or its other users.
      points = profile.points.map((p) => ({ ...p }));
    }
    if (dev.registers) {
      const names = new Set(points.map((p) => p.name));
      for (const r of dev.registers) {
        if (names.has(r.name)) points = points.filter((p) => p.name !== r.name);
      }
      points = [...points, ...dev.registers];
    }
    const names = points.map((p) => p.name);
    for (const [name, override] of Object.entries(dev.overrides)) {
      const idx = points.findIndex((p) => p.name === name);
      if (idx < 0) {
        problems.push({ path: at('overrides', name), message: `no point "${name}" in this device (points: ${names.join(', ')})` });
        continue;
      }
      const merged = registerPointSchema.safeParse({ ...points[idx], ...stripUndefined(override) });
      if (!merged.success) {
        for (const p of problemsOf(merged.error)) problems.push({ path: `${at('overrides', name)}.${p.path}`, message: p.message });
        continue;
      }
      points[idx] = merged.data;
    }
    if (dev.points) {
      dev.points.forEach((name, j) => {
        if (!names.includes(name)) problems.push({ path: at('points', j), message: `no point "${name}" in this device (points: ${names.join(', ')})` });
      });
      points = points.filter((p) => dev.points?.includes(p.name));
    }
    const resolved = points.map(resolvePoint);
    resolved.forEach((p) => {
      if (p.min > p.max) problems.push({ path: at('overrides', p.name), message: `min ${p.min} is above max ${p.max}` });
    });
    const sensorOf: Record<string, string> = {};
    for (const p of resolved) {
      const id = declared.get(`${dev.id}/${p.name}`) ?? `${dev.id}-${p.name}`;
      const clash = usedSensorIds.get(id);
      if (clash) problems.push({ path: at('id'), message: `sensor id "${id}" of ${dev.id}/${p.name} is also used by ${clash}; name one in sensors:` });
      usedSensorIds.set(id, `${dev.id}/${p.name}`);
      sensorOf[p.name] = id;
    }
    if (!bus) return; // reported by the schema already
    modbus.push({
      config: dev,
      bus,
      points: resolved,
      sensorOf,
      interval: dev.interval,
      staleAfter: dev.staleAfter ?? 3 * dev.interval,
    });
  });

  site.sensors.forEach((s, i) => {
    const [dev, point] = s.source.split('/') as [string, string];
    const d = modbus.find((m) => m.config.id === dev);
    if (d && !d.points.some((p) => p.name === point)) {
      problems.push({ path: formatPath(['sensors', i, 'source']), message: `device "${dev}" has no point "${point}" (points: ${d.points.map((p) => p.name).join(', ')})` });
    }
  });
  problems.push(...controlSensorProblems({ site, modbus, gpio }));
  if (problems.length > 0) throw invalid(file, problems);
  return deepFreeze({ site, modbus, gpio });
}

/** Control reads sensors by id: each one it names must exist, with a unit it can use. */
function controlSensorProblems(config: Pick<EdgeConfig, 'site' | 'modbus' | 'gpio'>): ConfigProblem[] {
  const catalog = new Map(sensorCatalog(config).map((s) => [s.id, s]));
  const known = [...catalog.keys()];
  const out: ConfigProblem[] = [];
  // Firmware nodes declare their sensors in their hello, at run time: accept their ids unchecked.
  const firmware = config.site.devices.filter((d) => d.driver === 'firmware').map((d) => d.id);
  const declaredOnFirmware = new Set(config.site.sensors.filter((s) => firmware.includes(s.source.split('/')[0] ?? '')).map((s) => s.id));
  const check = (id: string | undefined, path: PropertyKey[], units?: string[]): void => {
    if (id === undefined) return;
    if (declaredOnFirmware.has(id) || firmware.some((d) => id.startsWith(`${d}-`))) return;
    const s = catalog.get(id);
    if (!s) {
      const near = known.filter((k) => k.includes(id.split('-')[0] ?? id)).slice(0, 6);
      out.push({ path: formatPath(path), message: `unknown sensor "${id}" (${near.length > 0 ? `similar: ${near.join(', ')}` : `sensors: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', …' : ''}`})` });
    } else if (units && !units.includes(s.unit)) {
      out.push({ path: formatPath(path), message: `sensor "${id}" reads ${s.unit}; this needs ${units.join(' or ')}` });
    }
  };
  const site = config.site;
  site.zones.forEach((z, i) => {
    check(z.moisture?.sensor, ['zones', i, 'moisture', 'sensor'], ['%VWC', '%']);
    check(z.flowSensor, ['zones', i, 'flowSensor'], ['L/min']);
    check(z.tank, ['zones', i, 'tank'], ['%']);
  });
  const { rain, et } = site.irrigation;
  check(rain.switchSensor, ['irrigation', 'rain', 'switchSensor'], ['state']);
  check(rain.gaugeSensor, ['irrigation', 'rain', 'gaugeSensor'], ['mm']);
  if (et.sensors) {
    check(et.sensors.airTemperature, ['irrigation', 'et', 'sensors', 'airTemperature'], ['°C']);
    check(et.sensors.relativeHumidity, ['irrigation', 'et', 'sensors', 'relativeHumidity'], ['%RH']);
    check(et.sensors.windSpeed, ['irrigation', 'et', 'sensors', 'windSpeed'], ['m/s']);
    check(et.sensors.solarRadiation, ['irrigation', 'et', 'sensors', 'solarRadiation'], ['W/m²']);
    check(et.sensors.airPressure, ['irrigation', 'et', 'sensors', 'airPressure'], ['hPa']);
  }
  site.lighting.forEach((g, i) => check(g.lux?.sensor, ['lighting', i, 'lux', 'sensor'], ['lx']));
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function invalid(file: string, problems: ConfigProblem[]): VillageError {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
  return new VillageError('CONFIG_INVALID', `${file}: ${problems.length} problem${problems.length > 1 ? 's' : ''}\n${lines.join('\n')}`, { problems });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
