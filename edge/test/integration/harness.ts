/**
 * The real acquisition stack for the integration tests: a config parsed from YAML, one
 * ModbusSerialLink + BusQueue per bus, the Poller, all on the system clock. Readings and
 * events are collected in memory so tests can assert on them.
 */
import type { EventInput, Reading } from '@smart-village/shared';
import { systemClock } from '../../src/clock.js';
import { parseConfigText, type EdgeConfig } from '../../src/config.js';
import { createLogger, RateLimitedLog } from '../../src/log.js';
import { ModbusSerialLink } from '../../src/modbus/link.js';
import { BusQueue, Poller, type DeviceStats } from '../../src/poller.js';

export const SITE_HEADER = `
version: 1
site: { id: it, name: Integration, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi-it, gpio: { driver: simulated }, http: { port: 0 } }
`;

export interface Stack {
  config: EdgeConfig;
  poller: Poller;
  queues: Map<string, BusQueue>;
  readings: Reading[];
  events: EventInput[];
  device(id: string): DeviceStats;
  /** Readings of one sensor, oldest first. */
  of(sensor: string): Reading[];
  /** Health events of one device, in order (kinds without the `device.` prefix). */
  health(device: string): string[];
  stop(): Promise<void>;
}

export function startStack(yaml: string): Stack {
  const config = parseConfigText(SITE_HEADER + yaml);
  const log = createLogger({ level: 'silent' });
  const limited = new RateLimitedLog(log, () => systemClock.now());
  const queues = new Map<string, BusQueue>();
  for (const bus of config.site.buses) queues.set(bus.id, new BusQueue(bus, new ModbusSerialLink(bus), systemClock, log, limited));
  const readings: Reading[] = [];
  const events: EventInput[] = [];
  const poller = new Poller({
    clock: systemClock,
    log,
    devices: config.modbus,
    queues,
    onReadings: (r) => readings.push(...r),
    onEvent: (e) => events.push(e),
    clockSynced: () => true,
  });
  poller.start();
  let stopped = false;
  return {
    config,
    poller,
    queues,
    readings,
    events,
    device(id) {
      const d = poller.stats().find((s) => s.id === id);
      if (!d) throw new Error(`no device ${id}`);
      return d;
    },
    of: (sensor) => readings.filter((r) => r.sensor === sensor),
    health: (device) => events.filter((e) => e.source === device && e.kind.startsWith('device.')).map((e) => e.kind.slice('device.'.length)),
    async stop() {
      if (stopped) return;
      stopped = true;
      poller.stop();
      await Promise.all([...queues.values()].map((q) => q.stop()));
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `done` until it holds; throws (with `what`) after `withinMs`. */
export async function until(what: string, done: () => boolean, withinMs = 8000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}
