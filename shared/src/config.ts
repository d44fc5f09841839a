import { z } from 'zod';
import { idSchema } from './ids.js';
import { duration, durationSchema } from './duration.js';
import { quantitySchema, unitSchema } from './units.js';
import { buttonSchema, irrigationSchema, lightingSchema, programSchema, zoneSchema } from './control.js';

/** The site configuration file (YAML on the Pi). Version 1. */
export const CONFIG_VERSION = 1;

export const REGISTER_TABLES = ['holding', 'input', 'coil', 'discrete'] as const;
export const VALUE_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64'] as const;
/**
 * Byte/word order of multi-register values, named by where the bytes of the big-endian value
 * A B C D (E F G H) land on the wire. For 64-bit values the same pattern applies to 4 words:
 * ABCD = big-endian, CDAB = words swapped (little-endian word order), BADC = bytes swapped in
 * each word, DCBA = fully little-endian.
 */
export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type RegisterTable = (typeof REGISTER_TABLES)[number];
export type ValueType = (typeof VALUE_TYPES)[number];
export type ByteOrder = (typeof BYTE_ORDERS)[number];

const pointName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, { message: 'point names are lowercase letters, digits and dashes' });

const pointFields = {
  table: z.enum(REGISTER_TABLES),
  address: z.number().int().min(0).max(65535),
  type: z.enum(VALUE_TYPES).default('uint16'),
  order: z.enum(BYTE_ORDERS).default('ABCD'),
  /** A single bit (0 = least significant) of a 16-bit register. */
  bit: z.number().int().min(0).max(15).optional(),
  scale: z.number().default(1),
  offset: z.number().default(0),
  quantity: quantitySchema,
  unit: unitSchema.optional(),
  /** Plausible range; outside it a reading is kept with quality `out-of-range`. */
  min: z.number().optional(),
  max: z.number().optional(),
};

export const registerPointSchema = z.object({ name: pointName, ...pointFields }).strict();
export type RegisterPoint = z.output<typeof registerPointSchema>;
export type RegisterPointInput = z.input<typeof registerPointSchema>;
/** Per-register override in a site config: any field of a profile point. */
export const registerOverrideSchema = z
  .object({
    table: pointFields.table.optional(),
    address: pointFields.address.optional(),
    type: z.enum(VALUE_TYPES).optional(),
    order: z.enum(BYTE_ORDERS).optional(),
    bit: pointFields.bit,
    scale: z.number().optional(),
    offset: z.number().optional(),
    quantity: quantitySchema.optional(),
    unit: pointFields.unit,
    min: pointFields.min,
    max: pointFields.max,
  })
  .strict();
export type RegisterOverride = z.output<typeof registerOverrideSchema>;

const busCommon = {
  id: idSchema,
  /** Per-request timeout. */
  timeout: duration(10).default(1000),
  /** Retries of a failed request before the slave counts as failed for this cycle. */
  retries: z.number().int().min(0).max(10).default(2),
  /** Extra silence between frames; default: Modbus t3.5 for the baud rate. */
  interFrameGap: durationSchema.optional(),
  /** Registers between two points of one slave that may be read over to save a request. */
  coalesceGap: z.number().int().min(0).max(32).default(4),
  /** Requests waiting for the bus beyond this are dropped and counted. */
  queueLimit: z.number().int().min(1).max(10_000).default(64),
  /** First and longest wait before retrying a slave that stopped answering. */
  backoffMin: duration(100).default(2000),
  backoffMax: duration(100).default(300_000),
};

export const busSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('rtu'),
      ...busCommon,
      /** Serial device; prefer /dev/serial/by-id/... which survives replugging. */
      port: z.string().min(1),
      baud: z.number().int().positive().default(9600),
      parity: z.enum(['none', 'even', 'odd']).default('none'),
      dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
      stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    })
    .strict(),
  z
    .object({
      type: z.literal('tcp'),
      ...busCommon,
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(502),
    })
    .strict(),
  z
    .object({
      type: z.literal('rtu-over-tcp'),
      ...busCommon,
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535),
    })
    .strict(),
  z
    .object({
      type: z.literal('simulated'),
      ...busCommon,
      /** Simulated wire speed, used for frame timing like a real RS-485 line. */
      baud: z.number().int().positive().default(9600),
    })
    .strict(),
]);
export type BusConfig = z.output<typeof busSchema>;

const deviceCommon = {
  id: idSchema,
  name: z.string().optional(),
  interval: duration(100).default(60_000),
  /** Delay of the first poll after start; default spreads devices over their interval. */
  stagger: durationSchema.optional(),
  /** Without a good reading for this long the device is stale; default 3 intervals. */
  staleAfter: duration(100).optional(),
};

export const modbusDeviceSchema = z
  .object({
    driver: z.literal('modbus'),
    ...deviceCommon,
    bus: idSchema,
    /** Modbus unit id: 1-247 on a serial line; TCP devices may use 0-255. */
    slave: z.number().int().min(0).max(255),
    profile: z.string().optional(),
    registers: z.array(registerPointSchema).optional(),
    overrides: z.record(z.string(), registerOverrideSchema).default({}),
    /** Only these points of the profile; default all. */
    points: z.array(z.string()).optional(),
  })
  .strict();

export const gpioDeviceSchema = z
  .object({
    driver: z.literal('gpio'),
    ...deviceCommon,
    /** BCM pin number (the GPIOnn name on the Pi header), not the physical pin. */
    pin: z.number().int().min(0).max(27),
    mode: z.enum(['digital', 'rain-gauge', 'flow-meter']),
    activeLow: z.boolean().default(false),
    /** Contact bounce filter; reed switches of rain gauges bounce for a few ms. */
    debounce: durationSchema.optional(),
    /** Tipping-bucket rain gauge: rain per tip. Misol WH-SP-RG and Davis: 0.2794 mm. */
    mmPerTip: z.number().positive().default(0.2794),
    /** Hall flow meter: pulses per litre. YF-S201: 450 (F = 7.5 x L/min). */
    pulsesPerLitre: z.number().positive().default(450),
    quantity: quantitySchema.optional(),
  })
  .strict();

/** A microcontroller node on a firmware line (firmware-bridge/PROTOCOL.md). */
export const firmwareNodeSchema = z
  .object({
    /** The node id set in its firmware, 1-254. */
    node: z.number().int().min(1).max(254),
    /** Part of its sensor ids: {device}-{name}-{sensor}. Default n{node}. */
    name: pointName.optional(),
    /** Silence after which the node is offline; default 3 of its heartbeats + 2 s. */
    offlineAfter: duration(1000).optional(),
  })
  .strict();

/**
 * A serial line of firmware nodes: one ESP32/Arduino on USB, or a LoRa/RS-485 gateway relaying
 * many. Nodes push readings (no polling); each declares its sensors in its hello.
 */
export const firmwareDeviceSchema = z
  .object({
    driver: z.literal('firmware'),
    id: idSchema,
    name: z.string().optional(),
    /** Serial device; prefer /dev/serial/by-id/... which survives replugging. */
    port: z.string().min(1),
    baud: z.number().int().positive().default(115200),
    nodes: z.array(firmwareNodeSchema).min(1, { message: 'list the nodes on this line, e.g. nodes: [{ node: 1 }]' }),
    /** How long to wait for a node's ack of a command, and resends after the first. */
    ackTimeout: duration(10).default(1000),
    retries: z.number().int().min(0).max(10).default(2),
    /** First and longest wait before reopening the port after an unplug. */
    backoffMin: duration(50).default(500),
    backoffMax: duration(100).default(30_000),
  })
  .strict();

/** `driver` defaults to modbus, the common case on an RS-485 line. */
export const deviceSchema = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !('driver' in v) ? { ...v, driver: 'modbus' } : v),
  z.discriminatedUnion('driver', [modbusDeviceSchema, gpioDeviceSchema, firmwareDeviceSchema]),
);
export type ModbusDeviceConfig = z.output<typeof modbusDeviceSchema>;
export type GpioDeviceConfig = z.output<typeof gpioDeviceSchema>;
export type FirmwareDeviceConfig = z.output<typeof firmwareDeviceSchema>;
export type FirmwareNodeConfig = z.output<typeof firmwareNodeSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;

export const sensorSchema = z
  .object({
    id: idSchema,
    /** "device/point", e.g. "soil-1/moisture". */
    source: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, { message: 'write the source as "device/point", e.g. "soil-1/moisture"' }),
    name: z.string().optional(),
    /** The field (or tank, or place) it belongs to, for dashboards and control. */
    field: idSchema.optional(),
  })
  .strict();
export type SensorConfig = z.output<typeof sensorSchema>;

export const outputSchema = z.discriminatedUnion('driver', [
  z.object({ driver: z.literal('gpio'), pin: z.number().int().min(0).max(27) }).strict(),
  z.object({ driver: z.literal('modbus'), bus: idSchema, slave: z.number().int().min(0).max(255), coil: z.number().int().min(0).max(65535) }).strict(),
  z.object({ driver: z.literal('simulated') }).strict(),
  /** A relay channel of a firmware node; the node itself switches it off when an ON's time is up. */
  z.object({ driver: z.literal('firmware'), device: idSchema, node: z.number().int().min(1).max(254), channel: z.number().int().min(0).max(7) }).strict(),
]);

export const actuatorSchema = z
  .object({
    id: idSchema,
    kind: z.enum(['valve', 'pump', 'master-valve', 'light']),
    name: z.string().optional(),
    output: outputSchema,
    /** Relay boards sold for the Pi are mostly active-low: the relay closes when the pin is low. */
    activeLow: z.boolean().default(false),
    /** The state applied at start, on stop and after a crash. */
    safeState: z.enum(['off', 'on']).default('off'),
    /** No ON lasts longer than this, whatever asked for it. Default 1 h; lights 14 h (a night). */
    maxRuntime: duration(1000).optional(),
    field: idSchema.optional(),
  })
  .strict();
export type ActuatorConfig = z.output<typeof actuatorSchema>;

/** The longest one ON of this output may last: its lease limit, enforced by the edge itself. */
export function maxRuntimeOf(a: Pick<ActuatorConfig, 'kind' | 'maxRuntime'>): number {
  return a.maxRuntime ?? (a.kind === 'light' ? 14 * 3_600_000 : 3_600_000);
}

export const siteConfigSchema = z
  .object({
    version: z.literal(CONFIG_VERSION, { message: `this file is version ${CONFIG_VERSION}: add "version: ${CONFIG_VERSION}" at the top` }),
    site: z
      .object({
        id: idSchema,
        name: z.string().min(1),
        timezone: z.string().refine(isTimeZone, { message: 'unknown IANA timezone (e.g. Asia/Ho_Chi_Minh)' }),
        lat: z.number().min(-90).max(90),
        lon: z.number().min(-180).max(180),
        language: z.enum(['vi', 'en']).default('vi'),
      })
      .strict(),
    edge: z
      .object({
        id: idSchema,
        gpio: z
          .object({
            driver: z.enum(['onoff', 'simulated']).default('onoff'),
            /** sysfs number of BCM 0: "auto" reads it from /sys/class/gpio/gpiochip*. */
            chipBase: z.union([z.literal('auto'), z.number().int().min(0)]).default('auto'),
          })
          .strict()
          .default({ driver: 'onoff', chipBase: 'auto' }),
        /**
         * The local page and API (fields visible on the village LAN when the internet is down;
         * the CLI sends commands through it). Loopback by default: set host "0.0.0.0" to serve
         * the LAN. Port 0 picks a free port (written to status.json for the CLI).
         */
        http: z
          .object({
            enabled: z.boolean().default(true),
            host: z.string().min(1).default('127.0.0.1'),
            port: z.number().int().min(0).max(65535).default(8081),
          })
          .strict()
          .default({ enabled: true, host: '127.0.0.1', port: 8081 }),
      })
      .strict(),
    /** Where the edge syncs its outbox. Omitted: the edge runs offline only. */
    cloud: z
      .object({
        url: z
          .string()
          .regex(/^(mqtts?|wss?):\/\/./, { message: 'write the broker as mqtt://host:1883, mqtts://host:8883, ws://… or wss://…' })
          // A password in the URL would end up in logs; the secret belongs in secretFile.
          .refine((u) => !/^[a-z]+:\/\/[^/]*@/.test(u), { message: 'no user or password in the URL: use cloud.username and cloud.secretFile' }),
        /** Default {site}/{edge}, as `village-cloud edge add` registers it. */
        username: z.string().optional(),
        /** File holding the secret printed by `village-cloud edge add`; or env VILLAGE_CLOUD_SECRET. */
        secretFile: z.string().optional(),
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Byte budget per second for backfill after an outage (0: unlimited). 2G EDGE: ~10000. */
        bytesPerSecond: z.number().int().nonnegative().default(0),
        batchRows: z.number().int().min(1).max(5000).default(500),
        /** Without any ack for this long, everything unacknowledged is sent again. */
        ackTimeout: duration(1000).default(20_000),
      })
      .strict()
      .optional(),
    buses: z.array(busSchema).default([]),
    devices: z.array(deviceSchema).default([]),
    sensors: z.array(sensorSchema).default([]),
    actuators: z.array(actuatorSchema).default([]),
    zones: z.array(zoneSchema).default([]),
    programs: z.array(programSchema).default([]),
    irrigation: irrigationSchema.default(() => irrigationSchema.parse({})),
    lighting: z.array(lightingSchema).default([]),
    buttons: z.array(buttonSchema).default([]),
    store: z
      .object({
        /** Readings are committed in one transaction per interval to spare the SD card. */
        commitInterval: duration(50).default(1000),
        /** Telemetry older than this is deleted once sent. */
        // Compared with row ages, never put in a timer: months are fine.
        retention: duration(3_600_000, false).default(30 * 86_400_000),
        /** Disk quota of the outbox in MB; when full the oldest telemetry goes first. */
        quotaMb: z.number().positive().default(512),
      })
      .strict()
      .default({ commitInterval: 1000, retention: 30 * 86_400_000, quotaMb: 512 }),
    simulation: z
      .object({
        seed: z.number().int().default(1),
        /** Faults to inject, for demos and tests. */
        faults: z
          .array(
            z
              .object({
                device: idSchema,
                kind: z.enum(['stuck', 'dead', 'noise', 'slow']),
                amount: z.number().optional(),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

type Loose = Record<string, unknown>;
const list = (v: unknown): Loose[] => (Array.isArray(v) ? v.filter((x): x is Loose => x !== null && typeof x === 'object') : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Checks between sections (a device's bus exists, ids are unique, pins are not shared). Runs on
 * the raw input even when the schema found other problems, so one run reports everything.
 */
export function crossCheckSiteConfig(input: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (path: PropertyKey[], message: string): void => void out.push({ path: formatPath(path), message });
  const cfg = (input !== null && typeof input === 'object' ? input : {}) as Loose;
  const buses = list(cfg.buses);
  const devices = list(cfg.devices);
  const busIds = buses.map((b) => str(b.id) ?? '');
  duplicates(busIds).forEach((i) => add(['buses', i, 'id'], `duplicate bus id "${busIds[i]}"`));
  const devIds = devices.map((d) => str(d.id) ?? '');
  duplicates(devIds).forEach((i) => add(['devices', i, 'id'], `duplicate device id "${devIds[i]}"`));
  devices.forEach((d, i) => {
    if (d.driver !== undefined && d.driver !== 'modbus') return;
    const busId = str(d.bus);
    const bus = buses.find((b) => b.id === busId);
    if (busId !== undefined && !bus) {
      add(['devices', i, 'bus'], `unknown bus "${busId}" (defined: ${busIds.join(', ') || 'none; add one under buses:'})`);
    } else if (bus && (bus.type === 'rtu' || bus.type === 'rtu-over-tcp' || bus.type === 'simulated') && typeof d.slave === 'number' && (d.slave < 1 || d.slave > 247)) {
      add(['devices', i, 'slave'], `slave ${d.slave} on serial bus "${String(bus.id)}": use 1-247 (0 is broadcast)`);
    }
    if (d.profile === undefined && d.registers === undefined) {
      add(['devices', i], 'give a profile (e.g. profile: soil-th-ec-rs485) or a registers: list');
    }
  });
  const lines = new Map<string, number>();
  buses.forEach((b, i) => {
    const line = b.type === 'rtu' ? str(b.port) : b.type === 'tcp' || b.type === 'rtu-over-tcp' ? `${String(b.host)}:${String(b.port ?? 502)}` : undefined;
    if (line === undefined) return;
    const other = lines.get(line);
    // Two queues on one half-duplex line would put two requests on the wire at once.
    if (other !== undefined) add(['buses', i, b.type === 'rtu' ? 'port' : 'host'], `${line} is already bus "${busIds[other]}": put all its devices on that one bus`);
    else lines.set(line, i);
  });
  const pins = new Map<number, string>();
  const claim = (pin: unknown, owner: string, path: PropertyKey[]): void => {
    if (typeof pin !== 'number') return;
    const other = pins.get(pin);
    if (other !== undefined) add(path, `GPIO${pin} is already used by "${other}"`);
    else pins.set(pin, owner);
  };
  devices.forEach((d, i) => d.driver === 'gpio' && claim(d.pin, str(d.id) ?? `devices[${i}]`, ['devices', i, 'pin']));
  list(cfg.actuators).forEach((a, i) => {
    const output = (a.output ?? {}) as Loose;
    if (output.driver === 'gpio') claim(output.pin, str(a.id) ?? `actuators[${i}]`, ['actuators', i, 'output', 'pin']);
    if (output.driver === 'modbus' && !busIds.includes(str(output.bus) ?? '')) {
      add(['actuators', i, 'output', 'bus'], `unknown bus "${String(output.bus)}" (defined: ${busIds.join(', ') || 'none'})`);
    }
  });
  list(cfg.buttons).forEach((b, i) => claim(b.pin, str(b.id) ?? `buttons[${i}]`, ['buttons', i, 'pin']));
  crossCheckFirmware(cfg, devices, add);
  const actuators = list(cfg.actuators);
  const actIds = actuators.map((a) => str(a.id) ?? '');
  duplicates(actIds).forEach((i) => add(['actuators', i, 'id'], `duplicate actuator id "${actIds[i]}"`));
  const kindOf = new Map(actuators.map((a) => [str(a.id) ?? '', str(a.kind) ?? '']));
  const needActuator = (id: unknown, kinds: string[], path: PropertyKey[]): void => {
    if (typeof id !== 'string') return;
    const kind = kindOf.get(id);
    const ofKind = actuators.filter((a) => kinds.includes(str(a.kind) ?? '')).map((a) => str(a.id));
    if (kind === undefined) add(path, `unknown actuator "${id}" (${kinds.join('/')} actuators defined: ${ofKind.join(', ') || 'none; add one under actuators:'})`);
    else if (!kinds.includes(kind)) add(path, `actuator "${id}" is a ${kind}; use a ${kinds.join(' or ')}`);
  };
  const zones = list(cfg.zones);
  const zoneIds = zones.map((z) => str(z.id) ?? '');
  duplicates(zoneIds).forEach((i) => add(['zones', i, 'id'], `duplicate zone id "${zoneIds[i]}"`));
  zones.forEach((z, i) => {
    needActuator(z.valve, ['valve'], ['zones', i, 'valve']);
    needActuator(z.pump, ['pump'], ['zones', i, 'pump']);
    needActuator(z.masterValve, ['master-valve'], ['zones', i, 'masterValve']);
  });
  const knownZone = (id: unknown, path: PropertyKey[]): void => {
    if (typeof id === 'string' && !zoneIds.includes(id)) add(path, `unknown zone "${id}" (defined: ${zoneIds.join(', ') || 'none; add one under zones:'})`);
  };
  const programs = list(cfg.programs);
  const programIds = programs.map((p) => str(p.id) ?? '');
  duplicates(programIds).forEach((i) => add(['programs', i, 'id'], `duplicate program id "${programIds[i]}"`));
  programs.forEach((p, i) =>
    list(p.zones).forEach((step, j) => {
      knownZone(step.zone, ['programs', i, 'zones', j, 'zone']);
      const zone = zones.find((z) => z.id === step.zone);
      if (step.litres !== undefined && zone && zone.flowLpm === undefined && zone.flowSensor === undefined) {
        add(['programs', i, 'zones', j, 'litres'], `zone "${String(step.zone)}" has no flowLpm or flowSensor: give a duration, or the zone's flow`);
      }
    }),
  );
  list(cfg.buttons).forEach((b, i) => knownZone(b.zone, ['buttons', i, 'zone']));
  const groups = list(cfg.lighting);
  const groupIds = groups.map((g) => str(g.id) ?? '');
  duplicates(groupIds).forEach((i) => add(['lighting', i, 'id'], `duplicate lighting id "${groupIds[i]}"`));
  groups.forEach((g, i) => {
    (Array.isArray(g.lights) ? g.lights : []).forEach((l: unknown, j: number) => needActuator(l, ['light'], ['lighting', i, 'lights', j]));
    if (g.mode === 'lux' && g.lux === undefined) add(['lighting', i, 'lux'], 'mode "lux" needs lux: { sensor, onBelow, offAbove }');
  });
  const sensors = list(cfg.sensors);
  const sensorIds = sensors.map((s) => str(s.id) ?? '');
  duplicates(sensorIds).forEach((i) => add(['sensors', i, 'id'], `duplicate sensor id "${sensorIds[i]}"`));
  sensors.forEach((s, i) => {
    const dev = str(s.source)?.split('/')[0];
    if (dev !== undefined && !devIds.includes(dev)) add(['sensors', i, 'source'], `unknown device "${dev}" (defined: ${devIds.join(', ') || 'none'})`);
  });
  return out;
}

/**
 * Firmware lines: one owner per serial port (not a Modbus bus too), unique node ids and names on
 * a line, actuators on a node of the line, each relay channel driven by one actuator only.
 */
function crossCheckFirmware(cfg: Loose, devices: Loose[], add: (path: PropertyKey[], message: string) => void): void {
  const ports = new Map<string, string>();
  list(cfg.buses).forEach((b) => b.type === 'rtu' && typeof b.port === 'string' && ports.set(b.port, `bus "${String(b.id)}"`));
  const lines = new Map<string, Loose>();
  devices.forEach((d, i) => {
    if (d.driver !== 'firmware') return;
    const id = str(d.id) ?? `devices[${i}]`;
    lines.set(id, d);
    const port = str(d.port);
    if (port !== undefined) {
      const other = ports.get(port);
      // Two readers of one serial port would each get half of the bytes.
      if (other !== undefined) add(['devices', i, 'port'], `${port} is already used by ${other}`);
      else ports.set(port, `firmware device "${id}"`);
    }
    const nodes = list(d.nodes);
    const nodeIds = nodes.map((n) => (typeof n.node === 'number' ? String(n.node) : ''));
    duplicates(nodeIds).forEach((j) => add(['devices', i, 'nodes', j, 'node'], `node ${nodeIds[j]} is listed twice on "${id}"`));
    const names = nodes.map((n) => str(n.name) ?? `n${String(n.node)}`);
    duplicates(names).forEach((j) => add(['devices', i, 'nodes', j, 'name'], `node name "${names[j]}" is used twice on "${id}" (sensor ids would clash)`));
  });
  const channels = new Map<string, string>();
  list(cfg.actuators).forEach((a, i) => {
    const output = (a.output ?? {}) as Loose;
    if (output.driver !== 'firmware') return;
    const at = (...rest: PropertyKey[]): PropertyKey[] => ['actuators', i, ...rest];
    const dev = str(output.device);
    const line = dev !== undefined ? lines.get(dev) : undefined;
    if (dev !== undefined && !line) add(at('output', 'device'), `unknown firmware device "${dev}" (defined: ${[...lines.keys()].join(', ') || 'none; add one under devices: with driver: firmware'})`);
    if (line && typeof output.node === 'number' && !list(line.nodes).some((n) => n.node === output.node)) {
      add(at('output', 'node'), `node ${output.node} is not listed under the nodes of "${dev}"`);
    }
    const key = `${dev}/${String(output.node)}/${String(output.channel)}`;
    const other = channels.get(key);
    if (other !== undefined) add(at('output', 'channel'), `channel ${String(output.channel)} of node ${String(output.node)} on "${dev}" is already actuator "${other}"`);
    else channels.set(key, str(a.id) ?? `actuators[${i}]`);
    // The node knows its relay's polarity and boots with it off; the edge cannot change either.
    if (a.activeLow === true) add(at('activeLow'), 'a firmware node handles its relay polarity itself: remove activeLow');
    if (a.safeState === 'on') add(at('safeState'), 'a firmware node relay is off whenever its ON time runs out: its safe state is off');
  });
  list(cfg.sensors).forEach((s, i) => {
    const [dev, point] = (str(s.source) ?? '').split('/');
    const line = dev !== undefined ? lines.get(dev) : undefined;
    if (!line || point === undefined) return;
    const names = list(line.nodes).map((n) => str(n.name) ?? `n${String(n.node)}`);
    if (!names.some((n) => point.startsWith(`${n}-`))) add(['sensors', i, 'source'], `"${point}" names no node of "${dev}": write "${dev}/{node name}-{sensor}", e.g. "${dev}/${names[0] ?? 'n1'}-moisture"`);
  });
}

/** Validates a site config: the schema and the cross-section checks, every problem at once. */
export function parseSiteConfig(input: unknown): { ok: true; config: SiteConfig } | { ok: false; problems: ConfigProblem[] } {
  const parsed = siteConfigSchema.safeParse(input);
  const cross = crossCheckSiteConfig(input);
  const problems = [...(parsed.success ? [] : problemsOf(parsed.error)), ...cross];
  // A device whose bus is unknown must not also be reported as a schema failure twice.
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (parsed.success && unique.length === 0) return { ok: true, config: parsed.data };
  return { ok: false, problems: unique };
}

export type SiteConfigInput = z.input<typeof siteConfigSchema>;
export type SiteConfig = z.output<typeof siteConfigSchema>;

function duplicates(ids: string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  ids.forEach((id, i) => {
    if (seen.has(id)) out.push(i);
    seen.add(id);
  });
  return out;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** One problem in a config file: where, and what to do about it. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Renders a zod path as the user wrote it: devices[2].bus */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

export function problemsOf(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: hintFor(issue) }));
}

function hintFor(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check spelling; see the configuration reference in README.md)`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') return `${issue.message}: set type/driver to one of the documented values`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing (required ${issue.expected})`;
  return issue.message;
}
