import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventInput, Reading } from '@smart-village/shared';
import type { Clock, TimerHandle } from './clock.js';
import type { EdgeConfig } from './config.js';
import type { Logger } from './log.js';
import { ModbusSerialLink, type ModbusLink } from './modbus/link.js';
import { BusQueue, Poller, type BusStats, type DeviceStats } from './poller.js';
import { RateLimitedLog } from './log.js';
import { SqliteOutbox } from './store/sqlite-outbox.js';
import type { Outbox, OutboxStats } from './store/types.js';
import type { SimulatedField } from './sim/devices.js';
import { GpioInputDriver } from './gpio/driver.js';
import type { SyncClient, SyncStats } from './sync/client.js';
import { ClockWatch } from './timesync.js';
import { readFileSync } from 'node:fs';
import type { OutputPinBackend, PinBackend } from './gpio/backend.js';
import { setupGpio } from './gpio/setup.js';
import { createOutputs, openOutputs, closeOutputs } from './outputs/create.js';
import type { WatchedOutput } from './outputs/watch.js';
import { ControlEngine } from './control/engine.js';
import { Buttons } from './control/buttons.js';
import { FirmwareDevices } from './firmware/devices.js';
import { CONTROL_FILE, SqliteControlStore, type ControlStore } from './control/store.js';
import { edgeMeta } from './meta.js';
import { bindSimulatedIrrigation } from './sim/irrigation.js';
import { LocalServer } from './http/server.js';
import { ensureLocalToken } from './http/local-token.js';
import type { ActuatorConfig, Command, CommandResult, ControlState } from '@smart-village/shared';

export const EDGE_VERSION = '0.1.0';

export interface EdgeDeps {
  config: EdgeConfig;
  clock: Clock;
  log: Logger;
  dataDir: string;
  /** The simulated village behind `type: simulated` buses and the simulated GPIO twin. */
  field?: SimulatedField;
  /** GPIO backend; default from config (onoff, or the field's simulated pins). */
  pins?: PinBackend & OutputPinBackend;
  clockSynced?: () => boolean;
  /** Overrides link creation (tests). */
  linkFor?: (busId: string) => ModbusLink | undefined;
  /** The cloud secret; default from cloud.secretFile or env VILLAGE_CLOUD_SECRET. */
  cloudSecret?: string;
}

export interface EdgeSnapshot {
  site: string;
  edge: string;
  version: string;
  at: number;
  startedAt: number;
  outbox: OutboxStats;
  buses: BusStats[];
  devices: DeviceStats[];
  sync?: SyncStats;
  control?: ControlState;
  firmware?: ReturnType<FirmwareDevices['stats']>;
  /** Where the local page and API listen (the CLI finds the service here). */
  http?: { host: string; port: number };
}

/** File the running service writes for `village-edge status` (a separate process). */
export const SNAPSHOT_FILE = 'status.json';
export const OUTBOX_FILE = 'outbox.sqlite';

/**
 * The edge service, assembled from its parts. Tests build it with a manual clock and a
 * simulated field; only main/cli touch process, signals and real ports.
 */
export class EdgeApp {
  outbox!: Outbox;
  private poller!: Poller;
  private gpio: GpioInputDriver | undefined;
  sync: SyncClient | undefined;
  control: ControlEngine | undefined;
  outputs = new Map<string, WatchedOutput>();
  private controlStore: ControlStore | undefined;
  private http: LocalServer | undefined;
  private unbindIrrigation: (() => void) | undefined;
  private buttons: Buttons | undefined;
  private firmware: FirmwareDevices | undefined;
  private pinSetup: { pins: PinBackend & OutputPinBackend; chipBase: number } | undefined;
  private resultListeners: ((r: CommandResult) => void)[] = [];
  private readonly queues = new Map<string, BusQueue>();
  private snapshotTimer: TimerHandle | undefined;
  private startedAt = 0;
  private running = false;

  constructor(private readonly deps: EdgeDeps) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { config, clock, log, dataDir } = this.deps;
    const site = config.site;
    const isSynced = this.deps.clockSynced ?? (() => true);
    // Every reading asks whether the clock is synced; the watch notices the moment it becomes so.
    const watch = new ClockWatch(isSynced);
    watch.observe();
    const synced = (): boolean => {
      watch.observe();
      return isSynced();
    };
    this.startedAt = clock.now();
    mkdirSync(dataDir, { recursive: true });
    this.outbox = new SqliteOutbox({
      path: join(dataDir, OUTBOX_FILE),
      clock,
      log: log.child({ module: 'outbox' }),
      clockSynced: synced,
      commitInterval: site.store.commitInterval,
      retentionMs: site.store.retention,
      quotaBytes: site.store.quotaMb * 1024 * 1024,
    });
    this.outbox.start();
    const onEvent = (e: EventInput): void => this.outbox.addEvent(e);

    const limited = new RateLimitedLog(log, () => clock.monotonic());
    for (const bus of site.buses) {
      const link =
        this.deps.linkFor?.(bus.id) ??
        new ModbusSerialLink(bus, bus.type === 'simulated' ? () => this.requireField().portFor(bus.id) : undefined);
      this.queues.set(bus.id, new BusQueue(bus, link, clock, log.child({ module: 'bus', bus: bus.id }), limited));
    }
    const toControl = (r: Reading[]): void => {
      this.outbox.addReadings(r);
      this.control?.onReadings(r);
    };
    if (site.devices.some((d) => d.driver === 'firmware')) {
      // Nodes push readings; their relays are outputs, so the lines open before the outputs.
      this.firmware = new FirmwareDevices(config, { outbox: this.outbox, clock, log, clockSynced: synced, onReadings: toControl });
      await this.firmware.start();
    }
    // Outputs first, before any polling: every valve, pump and light goes to its safe state
    // the moment the service starts (after a crash mid-irrigation the valve closes here).
    if (site.actuators.length > 0) {
      await this.openOutputs(synced);
      // In the simulated village the valves and the pump really water the model's fields.
      if (this.deps.field && site.zones.length > 0) this.unbindIrrigation = bindSimulatedIrrigation(this.deps.field, site.zones, site.actuators, this.outputs);
    }
    const onReadings = toControl;
    this.poller = new Poller({ clock, log: log.child({ module: 'poller' }), devices: config.modbus, queues: this.queues, onReadings, onEvent, clockSynced: synced });
    this.deps.field?.start();
    this.poller.start();

    if (config.gpio.length > 0) {
      const backend = this.deps.pins ?? (site.edge.gpio.driver === 'simulated' ? this.requireField().pins : undefined);
      this.gpio = new GpioInputDriver({
        devices: config.gpio,
        clock,
        log: log.child({ module: 'gpio' }),
        onReadings,
        clockSynced: synced,
        ...(backend ? { backend } : { chipBase: site.edge.gpio.chipBase }),
      });
      await this.gpio.start();
    }

    if (site.actuators.length > 0) {
      this.controlStore = new SqliteControlStore(join(dataDir, CONTROL_FILE));
      this.control = new ControlEngine({
        config: site,
        clock,
        log: log.child({ module: 'control' }),
        outputs: this.outputs,
        store: this.controlStore,
        record: (events) => {
          events.forEach(onEvent);
          // A decision is rare and must survive a crash right after it: commit now, not in 1 s.
          this.outbox.flush();
        },
        clockSynced: synced,
        onResult: (r) => {
          this.sync?.sendResult(r);
          for (const l of this.resultListeners) l(r);
        },
        onChange: () => {
          this.sync?.stateChanged();
          this.http?.controlChanged();
          // `village-edge status` and `explain` read the snapshot: show a valve change at once.
          if (this.running) this.writeSnapshot();
        },
        preload: (sensors, from) => {
          this.outbox.flush();
          return this.outbox.readingsSince(sensors, from);
        },
      });
      await this.control.start();
      if (site.buttons.length > 0) {
        const { pins, chipBase } = await this.pinsFor();
        const control = this.control;
        this.buttons = new Buttons(site.buttons, {
          pins,
          chipBase,
          clock,
          log: log.child({ module: 'buttons' }),
          running: (zone) => control.core.active.some((r) => r.zone === zone),
          command: (cmd) => this.command(cmd),
        });
        this.buttons.start();
      }
    }

    if (site.cloud) {
      const cloud = site.cloud;
      let secret = this.deps.cloudSecret ?? process.env.VILLAGE_CLOUD_SECRET;
      if (!this.deps.cloudSecret && cloud.secretFile) {
        try {
          secret = readFileSync(cloud.secretFile, 'utf8').trim();
        } catch (err) {
          // Keep reading the field: a wrong file mode must not stop the edge from recording.
          log.error({ file: cloud.secretFile, err: (err as Error).message }, 'cloud: cannot read the secret file (it must be readable by the service user, e.g. chown root:village, chmod 0640); running offline');
          secret = undefined;
        }
      }
      if (!secret) {
        log.error({ url: cloud.url }, 'cloud: no secret (set cloud.secretFile or VILLAGE_CLOUD_SECRET); running offline');
      } else {
        // Loaded only when the edge syncs: mqtt.js costs ~5 MB of RSS on an offline edge.
        const { SyncClient } = await import('./sync/client.js');
        this.sync = new SyncClient({
          broker: {
            url: cloud.url,
            username: cloud.username ?? `${site.site.id}/${site.edge.id}`,
            password: secret,
            ...(cloud.caFile ? { caFile: cloud.caFile } : {}),
            ...(cloud.certFile ? { certFile: cloud.certFile } : {}),
            ...(cloud.keyFile ? { keyFile: cloud.keyFile } : {}),
          },
          site: site.site.id,
          edge: site.edge.id,
          outbox: this.outbox,
          clock,
          log: log.child({ module: 'sync' }),
          version: EDGE_VERSION,
          bytesPerSecond: cloud.bytesPerSecond,
          correctTime: (row) => watch.correct(row),
          ...(this.control && { onCommand: (cmd: Command) => void this.command(cmd) }),
          stateExtras: () => ({ ...(this.control && { control: this.control.state() }), meta: edgeMeta(config, this.outbox.latest()) }),
          batchRows: cloud.batchRows,
          ackTimeout: cloud.ackTimeout,
        });
        this.sync.start();
      }
    }

    const httpCfg = site.edge.http;
    if (httpCfg.enabled) {
      const http = new LocalServer({
        host: httpCfg.host,
        port: httpCfg.port,
        log: log.child({ module: 'http' }),
        clock,
        localToken: ensureLocalToken(dataDir),
        command: (cmd) => this.command(cmd),
        controlState: () => this.control?.state(),
        // The web app on the village LAN, from this edge's own store.
        web: { config, outbox: this.outbox, dataDir },
      });
      this.http = http;
      this.onCommandResult((r) => http.commandResult(r));
      try {
        await this.http.start();
      } catch (err) {
        // The field must keep being watered and recorded even if the port is taken.
        log.error({ err: (err as Error).message, port: httpCfg.port }, 'local page: cannot listen (port in use?); running without it');
        this.http = undefined;
      }
    }

    onEvent({ ts: clock.now(), clockSynced: synced(), kind: 'edge.started', severity: 'info', source: site.edge.id, message: `edge ${site.edge.id} started (${config.modbus.length} Modbus devices, ${config.gpio.length} GPIO inputs)`, data: { version: EDGE_VERSION } });
    if (this.deps.field) {
      // Simulated data synced as if real would mislead farmers: say so where it is recorded.
      log.warn('this edge reads a SIMULATED village, not real sensors (simulated buses or edge.gpio.driver: simulated)');
      onEvent({ ts: clock.now(), clockSynced: synced(), kind: 'edge.simulated', severity: 'warning', source: site.edge.id, message: 'readings come from the simulated village, not real sensors', data: {} });
    }
    // At once, not in 10 s: the CLI finds the service (its local port) in the snapshot.
    this.writeSnapshot();
    this.scheduleSnapshot();
    log.info({ site: site.site.id, edge: site.edge.id, devices: config.modbus.length + config.gpio.length, buses: site.buses.length, dataDir }, 'edge started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const { clock, log, config } = this.deps;
    clock.clearTimeout(this.snapshotTimer);
    await this.http?.stop();
    this.poller.stop();
    this.buttons?.stop();
    // Control stops before the buses: Modbus relay coils are put in their safe state through them.
    await this.control?.stop();
    await closeOutputs(this.outputs);
    this.unbindIrrigation?.();
    await this.firmware?.stop();
    this.controlStore?.close();
    await this.gpio?.stop();
    await Promise.all([...this.queues.values()].map((q) => q.stop()));
    this.deps.field?.stop();
    this.outbox.addEvent({ ts: clock.now(), clockSynced: (this.deps.clockSynced ?? (() => true))(), kind: 'edge.stopped', severity: 'info', source: config.site.edge.id, message: `edge ${config.site.edge.id} stopped`, data: {} });
    this.writeSnapshot();
    this.outbox.flush();
    // Last chance to hand the final rows to the cloud; whatever is not acked goes next start.
    await this.sync?.stop();
    this.outbox.stop();
    log.info('edge stopped');
  }

  snapshot(): EdgeSnapshot {
    const site = this.deps.config.site;
    return {
      site: site.site.id,
      edge: site.edge.id,
      version: EDGE_VERSION,
      at: this.deps.clock.now(),
      startedAt: this.startedAt,
      outbox: this.outbox.stats(),
      buses: [...this.queues.values()].map((q) => q.stats()),
      devices: this.poller.stats(),
      ...(this.sync ? { sync: this.sync.stats() } : {}),
      ...(this.firmware ? { firmware: this.firmware.stats() } : {}),
      ...(this.control ? { control: this.control.state() } : {}),
      ...(this.http ? { http: { host: site.edge.http.host, port: this.http.port } } : {}),
    };
  }

  /** Carries out a command (cloud, CLI, button, local page); resolves with its first result. */
  async command(cmd: Command): Promise<CommandResult> {
    if (!this.control) return { id: cmd.id, status: 'rejected', reason: 'this edge runs no local control (no actuators configured)', ts: this.deps.clock.now() };
    return this.control.command(cmd);
  }

  /** Every command result as it happens (the local page's live view). */
  onCommandResult(listener: (r: CommandResult) => void): void {
    this.resultListeners.push(listener);
  }

  private async openOutputs(synced: () => boolean): Promise<void> {
    const { config, clock, log } = this.deps;
    const site = config.site;
    const needsPins = site.actuators.some((a) => a.output.driver === 'gpio');
    let pins: OutputPinBackend | undefined;
    let chipBase = 0;
    if (needsPins) ({ pins, chipBase } = await this.pinsFor());
    this.outputs = createOutputs(site.actuators, {
      ...(pins && { pins }),
      chipBase,
      busQueues: this.queues,
      ...(this.firmware && { firmware: (a: ActuatorConfig) => (this.firmware as FirmwareDevices).output(a, { leaseEnd: (id) => this.control?.leases.leaseEndOf(id) }) }),
      clock,
      log: log.child({ module: 'outputs' }),
    });
    const failed = await openOutputs(this.outputs, log.child({ module: 'outputs' }));
    for (const [id, err] of failed) {
      this.outbox.addEvent({ ts: clock.now(), clockSynced: synced(), kind: 'output.fault', severity: 'alarm', source: id, message: `output ${id} could not be put in its safe state at start: ${err.message}`, data: { code: err.code } });
    }
  }

  /** Resolves when every bus queue is idle (tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.whenIdle()));
  }

  /** The GPIO lines for outputs and buttons (inputs set up their own through GpioInputDriver). */
  private async pinsFor(): Promise<{ pins: PinBackend & OutputPinBackend; chipBase: number }> {
    if (this.pinSetup) return this.pinSetup;
    const site = this.deps.config.site;
    if (this.deps.pins) this.pinSetup = { pins: this.deps.pins, chipBase: 0 };
    else if (site.edge.gpio.driver === 'simulated') this.pinSetup = { pins: this.requireField().pins, chipBase: 0 };
    else {
      const setup = await setupGpio(site.edge.gpio, { clock: this.deps.clock });
      this.pinSetup = { pins: setup.backend, chipBase: setup.chipBase };
    }
    return this.pinSetup;
  }

  private requireField(): SimulatedField {
    if (!this.deps.field) throw new Error('this config uses simulated buses or pins, but no simulated field was given');
    return this.deps.field;
  }

  private scheduleSnapshot(): void {
    this.snapshotTimer = this.deps.clock.setTimeout(() => {
      if (!this.running) return;
      this.writeSnapshot();
      this.scheduleSnapshot();
    }, 10_000);
  }

  /** Atomic write (temp + rename) so `status` never reads half a file. */
  private writeSnapshot(): void {
    try {
      const file = join(this.deps.dataDir, SNAPSHOT_FILE);
      writeFileSync(`${file}.tmp`, JSON.stringify(this.snapshot()));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot write status snapshot');
    }
  }
}
