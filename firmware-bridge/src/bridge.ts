import { randomInt } from 'node:crypto';
import { RateLimitedLog, VillageError, type Reading } from '@smart-village/shared';
import type { BridgeLogger, Clock, TimerHandle } from './clock.js';
import { CommandSender, type CommandAck, type CommandCounters } from './commands.js';
import { Deframer, type DeframerStats } from './deframer.js';
import { BROADCAST, isNodeMessage, NODE_ERROR_NAMES, type Frame, type NodeMessage } from './frame.js';
import { mapReadings, REJECTIONS, type Rejection } from './readings.js';
import { SerialLine } from './serial.js';
import { NodeTable, type NodeCounters, type NodeHello, type NodeState } from './session.js';

export interface FirmwareBridgeOptions {
  /** The device id of this line, for logs, errors and events. */
  id: string;
  /** Serial port; prefer /dev/serial/by-id/... */
  path: string;
  baudRate?: number;
  clock: Clock;
  log: BridgeLogger;
  clockSynced?: () => boolean;
  /** The edge sensor id of a node's sensor; undefined: not mapped (counted, logged). Default `n{node}-{sensor}`. */
  sensorId?: (node: number, sensor: string) => string | undefined;
  /** Silence after which a node is offline, ms. Default: 3 heartbeats + 2 s; 90 s before its hello. */
  offlineAfter?: (node: number, heartbeatS: number | undefined) => number;
  /** Wait for a command's ack, ms (default 1000), and resends after the first (default 2). */
  ackTimeout?: number;
  retries?: number;
  /** Reopen backoff after an unplug, ms. */
  backoffMin?: number;
  backoffMax?: number;
  /** At most one DESCRIBE per node this often, ms (default 5000). */
  describeEvery?: number;
  /** How often silence is checked, ms (default 1000). */
  sweepEvery?: number;
}

export type NodeChange =
  | { kind: 'online'; node: number }
  | { kind: 'offline'; node: number; silentMs: number }
  | { kind: 'restarted'; node: number }
  | { kind: 'hello'; node: number; hello: NodeHello };

export interface BridgeEvents {
  /** Readings of one frame, mapped to edge readings. */
  readings: (readings: Reading[], from: { node: number; seq: number }) => void;
  node: (change: NodeChange) => void;
  /** Every node frame accepted (after duplicate suppression). */
  frame: (frame: Frame<NodeMessage>) => void;
  port: (open: boolean) => void;
}

export interface NodeStats {
  node: number;
  online: boolean;
  firmware?: string;
  heartbeatS?: number;
  sensors: string[];
  actuators: number[];
  relays: number;
  uptimeS?: number;
  /** Monotonic ms since the last accepted frame. */
  silentMs: number;
  counters: NodeCounters;
}

export interface BridgeStats {
  id: string;
  path: string;
  open: boolean;
  opens: number;
  reconnects: number;
  openFailures: number;
  lastError?: string;
  deframer: DeframerStats;
  /** Node frames accepted, duplicates dropped, and the rest, summed over nodes. */
  frames: { accepted: number; duplicates: number; late: number; gaps: number; restarts: number; fromHost: number };
  readings: number;
  rejected: Record<Rejection, number>;
  commands: CommandCounters;
  nodeErrors: number;
  nodes: NodeStats[];
}

type Listener<K extends keyof BridgeEvents> = BridgeEvents[K];

/**
 * One serial line of firmware nodes (one node on USB, or a gateway relaying many): frames in,
 * sessions, readings out as edge readings; commands out with ack, timeout and retry. Start and
 * stop are idempotent; a listener that throws is logged and cannot stop the others.
 */
export class FirmwareBridge {
  private readonly line: SerialLine;
  private readonly deframer = new Deframer();
  private readonly table = new NodeTable();
  private readonly sender: CommandSender;
  private readonly limited: RateLimitedLog;
  private readonly listeners: { [K in keyof BridgeEvents]: Listener<K>[] } = { readings: [], node: [], frame: [], port: [] };
  private readonly describedAt = new Map<number, number>();
  private readonly rejected = Object.fromEntries(REJECTIONS.map((r) => [r, 0])) as Record<Rejection, number>;
  private readings = 0;
  private nodeErrors = 0;
  private fromHost = 0;
  private sweepTimer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly opts: FirmwareBridgeOptions) {
    this.limited = new RateLimitedLog(opts.log, () => opts.clock.monotonic());
    this.line = new SerialLine({
      path: opts.path,
      baudRate: opts.baudRate ?? 115200,
      clock: opts.clock,
      log: opts.log,
      ...(opts.backoffMin !== undefined ? { backoffMin: opts.backoffMin } : {}),
      ...(opts.backoffMax !== undefined ? { backoffMax: opts.backoffMax } : {}),
      onData: (chunk) => this.receive(chunk),
      onOpen: () => this.opened(),
      onClose: () => this.emit('port', false),
    });
    this.sender = new CommandSender({
      device: opts.id,
      path: opts.path,
      clock: opts.clock,
      write: (bytes) => this.line.write(bytes),
      // A new boot id and a random first seq each start: a node must not take this session's
      // first command for a retransmission of the last one before the edge restarted.
      hostBoot: randomInt(256),
      firstSeq: randomInt(0x10000),
      ackTimeout: opts.ackTimeout ?? 1000,
      retries: opts.retries ?? 2,
    });
  }

  on<K extends keyof BridgeEvents>(event: K, listener: BridgeEvents[K]): () => void {
    const list = this.listeners[event] as BridgeEvents[K][];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  get isOpen(): boolean {
    return this.line.isOpen;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.sweep();
    await this.line.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.opts.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sender.cancelAll();
    await this.line.stop();
  }

  /**
   * Switches a node's actuator channel. ON carries a duration after which the node switches it
   * off by itself (clamped to the node's declared maximum). Resolves on the node's ack; rejects
   * with a VillageError when it refuses, does not answer after the retries, or the port is closed.
   */
  command(node: number, channel: number, on: boolean, durationMs = 0): Promise<CommandAck> {
    if (!Number.isInteger(node) || node < 1 || node > 254) return Promise.reject(new VillageError('PAYLOAD_INVALID', `${this.opts.id}: node ${node} is not 1-254`));
    if (!Number.isInteger(channel) || channel < 0 || channel > 7) return Promise.reject(new VillageError('PAYLOAD_INVALID', `${this.opts.id}: channel ${channel} is not 0-7`));
    let ms = on ? Math.ceil(durationMs) : 0;
    if (on && (!(ms >= 1) || ms > 0xffffffff)) return Promise.reject(new VillageError('PAYLOAD_INVALID', `${this.opts.id}: an ON needs a duration of 1 ms to 49 days, got ${durationMs}`));
    const max = this.table.get(node)?.hello?.actuators.get(channel)?.maxOnS;
    if (on && max !== undefined && max > 0 && ms > max * 1000) {
      this.opts.log.info({ device: this.opts.id, node, channel, asked: ms, max: max * 1000 }, `${this.opts.id}: node ${node} channel ${channel} allows at most ${max} s per ON; asking for that`);
      ms = max * 1000;
    }
    return this.sender.command(node, { type: 'command', channel, on, durationMs: ms });
  }

  /** Asks a node (or every node: 255) to send its hello. */
  describe(node: number): boolean {
    this.describedAt.set(node, this.opts.clock.monotonic());
    return this.sender.describe(node);
  }

  /** A node's session (hello, relays, counters), if it was ever heard. */
  node(node: number): NodeState | undefined {
    return this.table.get(node);
  }

  stats(): BridgeStats {
    const now = this.opts.clock.monotonic();
    const nodes = this.table.all();
    const sum = (k: keyof NodeCounters): number => nodes.reduce((s, n) => s + n.counters[k], 0);
    return {
      id: this.opts.id,
      ...this.line.stats(),
      deframer: this.deframer.stats(),
      frames: { accepted: sum('frames'), duplicates: sum('duplicates'), late: sum('late'), gaps: sum('gaps'), restarts: sum('restarts'), fromHost: this.fromHost },
      readings: this.readings,
      rejected: { ...this.rejected },
      commands: this.sender.counters(),
      nodeErrors: this.nodeErrors,
      nodes: nodes.map((n) => ({
        node: n.node,
        online: n.online,
        ...(n.hello ? { firmware: n.hello.firmware, heartbeatS: n.hello.heartbeatS } : {}),
        sensors: n.hello ? [...n.hello.sensors.values()].map((s) => s.name) : [],
        actuators: n.hello ? [...n.hello.actuators.keys()] : [],
        relays: n.relays,
        ...(n.uptimeS !== undefined ? { uptimeS: n.uptimeS } : {}),
        silentMs: Math.round(now - n.lastHeardAt),
        counters: { ...n.counters },
      })),
    };
  }

  private opened(): void {
    this.deframer.reset();
    this.emit('port', true);
    // Nodes that started while nobody listened said hello to no one: ask them all.
    this.describe(BROADCAST);
  }

  private receive(chunk: Buffer): void {
    for (const r of this.deframer.push(chunk)) {
      if (!r.ok) {
        this.limited.warn(`${this.opts.id}:frame:${r.error}`, { device: this.opts.id, error: r.error, detail: r.detail, length: r.length, head: r.head }, `${this.opts.id}: dropped a bad frame (${r.error}): ${r.detail}`);
        continue;
      }
      const frame = r.frame;
      if (!isNodeMessage(frame.message)) {
        // Our own frame echoed by a half-duplex adapter, or a second host on the line.
        this.fromHost++;
        continue;
      }
      this.accept(frame as Frame<NodeMessage>);
    }
  }

  private accept(frame: Frame<NodeMessage>): void {
    const { clock, id } = this.opts;
    const obs = this.table.observe(frame, clock.monotonic());
    if (obs.verdict === 'duplicate') return;
    const node = obs.node;
    if (obs.verdict === 'restart') {
      this.opts.log.info({ device: id, node: frame.node, boot: frame.boot, seq: frame.seq }, `${id}: node ${frame.node} restarted`);
      this.emit('node', { kind: 'restarted', node: frame.node });
    }
    if (obs.cameOnline) {
      this.opts.log.info({ device: id, node: frame.node }, `${id}: node ${frame.node} online`);
      this.emit('node', { kind: 'online', node: frame.node });
    }
    const m = frame.message;
    switch (m.type) {
      case 'hello': {
        const hello = node.hello as NodeHello;
        this.opts.log.info({ device: id, node: frame.node, firmware: m.firmware, sensors: m.sensors.map((s) => s.name), actuators: m.actuators.map((a) => a.channel) }, `${id}: node ${frame.node} says hello (${m.firmware})`);
        for (const problem of hello.problems) this.opts.log.warn({ device: id, node: frame.node, problem }, `${id}: node ${frame.node}: ${problem}; its readings are rejected`);
        this.emit('node', { kind: 'hello', node: frame.node, hello });
        break;
      }
      case 'readings': {
        if (!node.hello) this.askHello(frame.node);
        const ts = clock.now() - m.ageDs * 100;
        const mapped = mapReadings(node.hello, m, {
          node: frame.node,
          ts: Math.max(0, Math.round(ts)),
          clockSynced: this.opts.clockSynced?.() ?? true,
          sensorId: this.opts.sensorId ?? ((n, s) => `n${n}-${s}`),
        });
        for (const rej of mapped.rejected) {
          this.rejected[rej.reason]++;
          node.counters.rejected++;
          this.limited.warn(`${id}:reject:${frame.node}:${rej.reason}`, { device: id, node: frame.node, sensor: rej.sensor, reason: rej.reason }, `${id}: reading rejected: ${rej.detail}`);
        }
        if (mapped.readings.length > 0) {
          node.counters.readings += mapped.readings.length;
          this.readings += mapped.readings.length;
          this.emit('readings', mapped.readings, { node: frame.node, seq: frame.seq });
        }
        break;
      }
      case 'heartbeat':
        if (!node.hello) this.askHello(frame.node);
        break;
      case 'ack':
        this.sender.ack(frame as Frame<typeof m>);
        break;
      case 'error':
        this.nodeErrors++;
        this.limited.warn(`${id}:node-error:${frame.node}:${m.code}`, { device: id, node: frame.node, code: m.code, detail: m.detail }, `${id}: node ${frame.node} reports ${NODE_ERROR_NAMES[m.code] ?? `error ${m.code}`} (${m.detail}): ${m.text}`);
        break;
    }
    this.emit('frame', frame);
  }

  private askHello(node: number): void {
    const last = this.describedAt.get(node);
    const now = this.opts.clock.monotonic();
    if (last !== undefined && now - last < (this.opts.describeEvery ?? 5000)) return;
    this.describe(node);
  }

  private sweep(): void {
    const now = this.opts.clock.monotonic();
    const offlineAfter = (n: NodeState): number =>
      this.opts.offlineAfter?.(n.node, n.hello?.heartbeatS) ?? (n.hello ? 3 * n.hello.heartbeatS * 1000 + 2000 : 90_000);
    for (const n of this.table.expire(now, offlineAfter)) {
      const silentMs = Math.round(now - n.lastHeardAt);
      this.opts.log.warn({ device: this.opts.id, node: n.node, silentMs }, `${this.opts.id}: node ${n.node} offline (silent for ${Math.round(silentMs / 1000)} s)`);
      this.emit('node', { kind: 'offline', node: n.node, silentMs });
    }
    if (this.running) this.sweepTimer = this.opts.clock.setTimeout(() => this.sweep(), this.opts.sweepEvery ?? 1000);
  }

  private emit<K extends keyof BridgeEvents>(event: K, ...args: Parameters<BridgeEvents[K]>): void {
    for (const fn of [...this.listeners[event]]) {
      try {
        (fn as (...a: Parameters<BridgeEvents[K]>) => void)(...args);
      } catch (err) {
        this.opts.log.error({ device: this.opts.id, event, err: err instanceof Error ? err.message : String(err) }, `${this.opts.id}: a ${event} listener failed`);
      }
    }
  }
}
