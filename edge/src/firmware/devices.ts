import { FirmwareBridge, type BridgeStats, type NodeChange } from '@smart-village/firmware-bridge';
import type { ActuatorConfig, EventInput, FirmwareDeviceConfig, Reading } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { EdgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/types.js';
import { FirmwareOutput, type FirmwareOutputDeps } from './output.js';
import { firmwareSensorIds, nodeName } from './sensors.js';

export interface FirmwareDevicesDeps {
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  /** Whether the wall clock is synced (stamped on readings and events); default true. */
  clockSynced?: () => boolean;
  /** Where readings go; default the outbox (the edge app also hands them to control). */
  onReadings?: (readings: Reading[]) => void;
}

export type FirmwareDeviceStats = BridgeStats;

/**
 * The firmware lines of the site config (devices with driver: firmware), one FirmwareBridge
 * each: their readings go to the outbox, node online/offline/restart become events, and their
 * relays are outputs (output()). A line whose port is missing keeps retrying without holding up
 * the others or the edge.
 */
export class FirmwareDevices {
  private readonly bridges = new Map<string, FirmwareBridge>();
  private running = false;

  constructor(
    private readonly config: EdgeConfig,
    private readonly deps: FirmwareDevicesDeps,
  ) {}

  /** The firmware devices of the config. */
  get devices(): FirmwareDeviceConfig[] {
    return this.config.site.devices.filter((d): d is FirmwareDeviceConfig => d.driver === 'firmware');
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { clock, log, outbox } = this.deps;
    const synced = this.deps.clockSynced ?? (() => true);
    for (const dev of this.devices) {
      const bridge = new FirmwareBridge({
        id: dev.id,
        path: dev.port,
        baudRate: dev.baud,
        clock,
        log: log.child({ module: 'firmware', device: dev.id }),
        clockSynced: synced,
        sensorId: firmwareSensorIds(this.config.site, dev),
        offlineAfter: (node, heartbeatS) => dev.nodes.find((n) => n.node === node)?.offlineAfter ?? (heartbeatS !== undefined ? 3 * heartbeatS * 1000 + 2000 : 90_000),
        ackTimeout: dev.ackTimeout,
        retries: dev.retries,
        backoffMin: dev.backoffMin,
        backoffMax: dev.backoffMax,
      });
      bridge.on('readings', (readings) => (this.deps.onReadings ? this.deps.onReadings(readings) : outbox.addReadings(readings)));
      bridge.on('node', (change) => {
        const event = nodeEvent(dev, change, clock.now(), synced());
        if (event) outbox.addEvent(event);
      });
      this.bridges.set(dev.id, bridge);
      await bridge.start();
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await Promise.all([...this.bridges.values()].map((b) => b.stop()));
    this.bridges.clear();
  }

  stats(): FirmwareDeviceStats[] {
    return [...this.bridges.values()].map((b) => b.stats());
  }

  /** The bridge of a firmware device (after start()). */
  bridge(device: string): FirmwareBridge | undefined {
    return this.bridges.get(device);
  }

  /** The output of an actuator on a firmware node relay (its bridge must be started to open it). */
  output(actuator: ActuatorConfig, opts: Pick<FirmwareOutputDeps, 'leaseEnd'> = {}): FirmwareOutput {
    const device = actuator.output.driver === 'firmware' ? actuator.output.device : '';
    return new FirmwareOutput(actuator, { bridge: this.bridges.get(device), clock: this.deps.clock, log: this.deps.log.child({ module: 'outputs' }), ...opts });
  }
}

/** The outbox event of a node's change; hellos are logged only. */
export function nodeEvent(dev: FirmwareDeviceConfig, change: NodeChange, ts: number, clockSynced: boolean): EventInput | undefined {
  const name = nodeName(dev, change.node) ?? `n${change.node}`;
  const source = `${dev.id}/${name}`;
  const what = `node ${name} (id ${change.node}) on ${dev.id}`;
  switch (change.kind) {
    case 'online':
      return { ts, clockSynced, kind: 'node.online', severity: 'info', source, message: `${what} online`, data: { device: dev.id, node: change.node } };
    case 'offline':
      return { ts, clockSynced, kind: 'node.offline', severity: 'warning', source, message: `${what} offline: silent for ${Math.round(change.silentMs / 1000)} s`, data: { device: dev.id, node: change.node, silentMs: change.silentMs } };
    case 'restarted':
      // Often a brown-out or a watchdog: worth seeing when it repeats.
      return { ts, clockSynced, kind: 'node.restarted', severity: 'warning', source, message: `${what} restarted`, data: { device: dev.id, node: change.node } };
    case 'hello':
      return undefined;
  }
}
