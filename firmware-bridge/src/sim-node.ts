/**
 * Simulated firmware nodes speaking protocol v1 on a serial port: one node, or a gateway
 * relaying many. The node side of the protocol (hello at start, readings, heartbeats, commands
 * with ack, relays switched off by the node itself when an ON's duration ends) plus faults a real
 * line has: garbage between and inside frames, bit errors (CRC), duplicated frames, restarts
 * with or without a hello. Every frame it sends and every command it carries out is reported,
 * so a test can check exactly what arrived.
 */
import { QUANTITIES, type Quantity, type Unit } from '@smart-village/shared';
import type { BridgeLogger, Clock, TimerHandle } from './clock.js';
import { Deframer } from './deframer.js';
import { BROADCAST, encodeBody, wrapBody, type AckMessage, type ActuatorDecl, type CommandMessage, type Frame, type HostMessage, type NodeMessage, type WireReading } from './frame.js';
import { SerialLine } from './serial.js';

export interface SimSensorSpec {
  name: string;
  quantity: Quantity;
  /** Decimal places sent (value = mantissa × 10^-decimals). Default 1. */
  decimals?: number;
  /** Send readings in this unit instead of the quantity's (a firmware bug the edge must catch). */
  wrongUnit?: boolean;
}

export interface SimNodeSpec {
  id: number;
  sensors: SimSensorSpec[];
  /** Relay channels 0..relays-1. */
  relays: number;
  heartbeatS: number;
  /** The node's cap on one ON, s. */
  maxOnS: number;
  firmware: string;
  /**
   * 'walk': values wander around a plausible level. 'seq': sensor i of the readings frame with
   * seq s sends s + i/10 exactly, so a test can tell every frame's values apart.
   */
  values: 'walk' | 'seq';
}

/** mulberry32: the same seed gives the same line, faults included. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPICAL: Partial<Record<Quantity, number>> = {
  'soil-moisture': 32,
  'soil-temperature': 27,
  'air-temperature': 31,
  'relative-humidity': 80,
  'water-level': 150,
  'water-fill': 60,
  battery: 3.9,
  illuminance: 20000,
  'air-pressure': 1008,
  'soil-ec': 850,
  'soil-ph': 6.5,
};

export type CommandOutcome = { kind: 'executed'; command: CommandMessage; status: AckMessage['status'] } | { kind: 'repeat' } | { kind: 'stale' };

/**
 * The protocol state of one node, without I/O: what it sends and how it answers, given `now`
 * (monotonic ms). The reference firmware (firmware/node/src/sv_node.cpp) follows the same rules.
 */
export class SimNode {
  boot: number;
  private seq = 0;
  relays = 0;
  private readonly offAt: (number | undefined)[] = [];
  private lastCommand: { boot: number; seq: number; status: AckMessage['status'] } | undefined;
  private startedAt: number;
  private readonly walk: number[];

  constructor(
    readonly spec: SimNodeSpec,
    private readonly rand: () => number,
    now: number,
  ) {
    this.boot = Math.floor(rand() * 256);
    this.startedAt = now;
    this.walk = spec.sensors.map((s) => TYPICAL[s.quantity] ?? QUANTITIES[s.quantity].min + 1);
  }

  /** A restart: a new boot id, seq from 0, every relay off (its state at power-up). */
  restart(now: number): void {
    this.boot = (this.boot + 1 + Math.floor(this.rand() * 255)) & 0xff;
    this.seq = 0;
    this.relays = 0;
    this.offAt.length = 0;
    this.lastCommand = undefined;
    this.startedAt = now;
  }

  private frame(message: NodeMessage): Frame<NodeMessage> {
    const f = { node: this.spec.id, boot: this.boot, seq: this.seq, message };
    this.seq = (this.seq + 1) & 0xffff;
    return f;
  }

  hello(): Frame<NodeMessage> {
    const actuators: ActuatorDecl[] = [];
    for (let c = 0; c < this.spec.relays; c++) actuators.push({ channel: c, kind: 'valve', maxOnS: this.spec.maxOnS, name: `relay-${c}` });
    return this.frame({
      type: 'hello',
      heartbeatS: this.spec.heartbeatS,
      firmware: this.spec.firmware,
      sensors: this.spec.sensors.map((s, index) => ({ index, quantity: s.quantity, unit: QUANTITIES[s.quantity].unit, name: s.name })),
      actuators,
    });
  }

  readings(): Frame<NodeMessage> {
    const seq = this.seq;
    const readings: WireReading[] = this.spec.sensors.map((s, index) => {
      const unit: Unit = s.wrongUnit ? (QUANTITIES[s.quantity].unit === '%' ? 'V' : '%') : QUANTITIES[s.quantity].unit;
      if (this.spec.values === 'seq') return { sensor: index, unit, mantissa: seq * 10 + index, exp: -1 };
      const decimals = s.decimals ?? 1;
      const q = QUANTITIES[s.quantity];
      const step = 10 ** -decimals;
      const r = this.rand();
      const next = (this.walk[index] as number) + (r < 0.3 ? -step : r > 0.7 ? step : 0);
      this.walk[index] = Math.min(q.max, Math.max(q.min, next));
      return { sensor: index, unit, mantissa: Math.round((this.walk[index] as number) * 10 ** decimals), exp: -decimals };
    });
    return this.frame({ type: 'readings', ageDs: 0, readings });
  }

  heartbeat(now: number, rxErrors: number): Frame<NodeMessage> {
    return this.frame({ type: 'heartbeat', uptimeS: Math.floor((now - this.startedAt) / 1000), relays: this.relays, rxErrors: Math.min(0xffff, rxErrors) });
  }

  /** Switches off the relays whose ON has run out; returns their channels. */
  expire(now: number): number[] {
    const off: number[] = [];
    this.offAt.forEach((at, c) => {
      if (at !== undefined && now >= at) {
        this.offAt[c] = undefined;
        this.relays &= ~(1 << c);
        off.push(c);
      }
    });
    return off;
  }

  /** When the next relay runs out (monotonic ms), if any is on. */
  nextExpiry(): number | undefined {
    const due = this.offAt.filter((t): t is number => t !== undefined);
    return due.length ? Math.min(...due) : undefined;
  }

  /**
   * A host frame addressed to this node (or broadcast). PROTOCOL.md §8: a COMMAND with the
   * (boot, seq) of the last one is a retransmission — acked again, not carried out again; one
   * older than the last of the same host boot is stale and ignored.
   */
  handle(frame: Frame<HostMessage>, now: number): { reply?: Frame<NodeMessage>; outcome?: CommandOutcome } {
    const m = frame.message;
    if (frame.node !== this.spec.id && frame.node !== BROADCAST) return {};
    if (m.type === 'describe') return { reply: this.hello() };
    if (frame.node === BROADCAST) return {};
    const last = this.lastCommand;
    if (last && last.boot === frame.boot) {
      const ahead = (frame.seq - last.seq) & 0xffff;
      if (ahead === 0) return { reply: this.frame({ type: 'ack', ackSeq: frame.seq, status: last.status, relays: this.relays }), outcome: { kind: 'repeat' } };
      if (ahead >= 0x8000) return { outcome: { kind: 'stale' } };
    }
    let status: AckMessage['status'] = 'done';
    if (m.channel >= this.spec.relays) status = 'unknown-channel';
    else if (m.on && (m.durationMs < 1 || m.durationMs > this.spec.maxOnS * 1000)) status = 'bad-duration';
    else if (m.on) {
      this.relays |= 1 << m.channel;
      this.offAt[m.channel] = now + m.durationMs;
    } else {
      this.relays &= ~(1 << m.channel);
      this.offAt[m.channel] = undefined;
    }
    this.lastCommand = { boot: frame.boot, seq: frame.seq, status };
    return { reply: this.frame({ type: 'ack', ackSeq: frame.seq, status, relays: this.relays }), outcome: { kind: 'executed', command: m, status } };
  }
}

export interface SimFaults {
  /** Probability of a burst of random bytes before a frame (between frames). */
  garbage: number;
  /** Probability of random bytes spliced into a frame (the frame is lost). */
  inside: number;
  /** Probability of one flipped bit in a frame's body (a CRC error; framing stays intact). */
  crc: number;
  /** Probability of a frame sent twice. */
  duplicate: number;
  /** Carry out no command and answer none. */
  ignoreCommands: boolean;
  /** Acks lost per node before one gets through (the host must retry). */
  dropAcks: number;
}

export const NO_FAULTS: SimFaults = { garbage: 0, inside: 0, crc: 0, duplicate: 0, ignoreCommands: false, dropAcks: 0 };

/** One line of the simulation's report (the CLI prints them as JSON lines). */
export type SimReport =
  | { ev: 'open' }
  | { ev: 'closed' }
  | { ev: 'sent'; node: number; boot: number; seq: number; type: NodeMessage['type']; fault: 'none' | 'inside' | 'crc' | 'duplicate'; values?: (number | null)[] }
  | { ev: 'garbage'; bytes: number }
  | { ev: 'command'; node: number; seq: number; boot: number; outcome: CommandOutcome['kind']; channel?: number; on?: boolean; durationMs?: number; status?: string }
  | { ev: 'relay'; node: number; channel: number; on: false; reason: 'expired' }
  | { ev: 'restart'; node: number; boot: number; hello: boolean }
  | { ev: 'done'; node: number };

export interface SimLineOptions {
  path: string;
  baudRate?: number;
  nodes: SimNodeSpec[];
  /** Readings interval per node, ms; nodes are spread evenly over it. */
  intervalMs: number;
  /** Stop sending readings after this many readings frames per node (heartbeats go on). */
  count?: number;
  seed?: number;
  faults?: Partial<SimFaults>;
  clock: Clock;
  log: BridgeLogger;
  report(r: SimReport): void;
}

/** SimNodes on one serial line, with timers and the line's faults. */
export class SimLine {
  private readonly line: SerialLine;
  private readonly deframer = new Deframer();
  readonly nodes: SimNode[];
  private readonly rand: () => number;
  private readonly faults: SimFaults;
  private readonly timers = new Map<string, TimerHandle>();
  private readonly sentReadings = new Map<number, number>();
  private readonly droppedAcks = new Map<number, number>();
  private paused = false;
  private running = false;

  constructor(private readonly opts: SimLineOptions) {
    this.rand = prng(opts.seed ?? 1);
    this.faults = { ...NO_FAULTS, ...opts.faults };
    const now = opts.clock.monotonic();
    this.nodes = opts.nodes.map((spec) => new SimNode(spec, this.rand, now));
    this.line = new SerialLine({
      path: opts.path,
      baudRate: opts.baudRate ?? 115200,
      clock: opts.clock,
      log: opts.log,
      backoffMin: 100,
      backoffMax: 1000,
      onData: (chunk) => this.receive(chunk),
      onOpen: () => opts.report({ ev: 'open' }),
      onClose: () => opts.report({ ev: 'closed' }),
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.line.start();
    const n = this.nodes.length;
    this.nodes.forEach((node, i) => {
      this.send(node.hello());
      this.every(`readings:${node.spec.id}`, Math.floor(((i + 1) * this.opts.intervalMs) / n), this.opts.intervalMs, () => this.sendReadings(node));
      this.every(`heartbeat:${node.spec.id}`, node.spec.heartbeatS * 1000, node.spec.heartbeatS * 1000, () => this.send(node.heartbeat(this.opts.clock.monotonic(), this.deframer.stats().errors)));
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.values()) this.opts.clock.clearTimeout(t);
    this.timers.clear();
    await this.line.stop();
  }

  /** Stops (or resumes) all sending, as a node whose radio is out of reach. */
  pause(paused: boolean): void {
    this.paused = paused;
  }

  /** Restarts a node: hello with seq 0 of a new boot (unless `hello` is false: that hello got lost). */
  restart(id: number, hello = true): void {
    const node = this.nodes.find((n) => n.spec.id === id);
    if (!node) return;
    node.restart(this.opts.clock.monotonic());
    this.clearTimer(`relay:${id}`);
    this.opts.report({ ev: 'restart', node: id, boot: node.boot, hello });
    const frame = node.hello();
    if (hello) this.send(frame);
  }

  /** Puts `n` random bytes on the line now. */
  garbage(n: number): void {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = Math.floor(this.rand() * 256);
    this.line.write(bytes);
    this.opts.report({ ev: 'garbage', bytes: n });
  }

  private sendReadings(node: SimNode): void {
    const sent = this.sentReadings.get(node.spec.id) ?? 0;
    if (this.opts.count !== undefined && sent >= this.opts.count) return;
    this.sentReadings.set(node.spec.id, sent + 1);
    this.send(node.readings());
    if (this.opts.count !== undefined && sent + 1 === this.opts.count) this.opts.report({ ev: 'done', node: node.spec.id });
  }

  private send(frame: Frame<NodeMessage>): void {
    if (this.paused || !this.running) return;
    const f = this.faults;
    if (this.rand() < f.garbage) this.garbage(1 + Math.floor(this.rand() * 24));
    let body = encodeBody(frame);
    let fault: 'none' | 'inside' | 'crc' | 'duplicate' = 'none';
    let wire: Uint8Array;
    if (this.rand() < f.crc) {
      body = body.slice();
      const bit = Math.floor(this.rand() * body.length * 8);
      body[bit >> 3] = (body[bit >> 3] as number) ^ (1 << (bit & 7));
      fault = 'crc';
      wire = wrapBody(body);
    } else if (this.rand() < f.inside) {
      const clean = wrapBody(body);
      const at = 2 + Math.floor(this.rand() * (clean.length - 3));
      const noise = new Uint8Array(1 + Math.floor(this.rand() * 8));
      // Non-zero noise, so the torn frame stays one segment: exactly one frame is lost.
      for (let i = 0; i < noise.length; i++) noise[i] = 1 + Math.floor(this.rand() * 255);
      wire = new Uint8Array([...clean.subarray(0, at), ...noise, ...clean.subarray(at)]);
      fault = 'inside';
    } else {
      wire = wrapBody(body);
      if (this.rand() < f.duplicate) fault = 'duplicate';
    }
    if (!this.line.write(wire)) return;
    if (fault === 'duplicate') this.line.write(wire);
    const m = frame.message;
    this.opts.report({
      ev: 'sent',
      node: frame.node,
      boot: frame.boot,
      seq: frame.seq,
      type: m.type,
      fault,
      ...(m.type === 'readings' ? { values: m.readings.map((r) => (r.exp === -128 ? null : r.mantissa / 10 ** -r.exp)) } : {}),
    });
  }

  private receive(chunk: Buffer): void {
    for (const r of this.deframer.push(chunk)) {
      if (!r.ok || (r.frame.message.type !== 'describe' && r.frame.message.type !== 'command')) continue;
      if (this.faults.ignoreCommands || this.paused) continue;
      const frame = r.frame as Frame<HostMessage>;
      const now = this.opts.clock.monotonic();
      for (const node of this.nodes) {
        const { reply, outcome } = node.handle(frame, now);
        if (outcome) {
          const m = frame.message;
          this.opts.report({
            ev: 'command',
            node: node.spec.id,
            seq: frame.seq,
            boot: frame.boot,
            outcome: outcome.kind,
            ...(m.type === 'command' ? { channel: m.channel, on: m.on, durationMs: m.durationMs } : {}),
            ...(outcome.kind === 'executed' ? { status: outcome.status } : {}),
          });
          this.armRelay(node);
        }
        if (!reply) continue;
        if (reply.message.type === 'ack') {
          const dropped = this.droppedAcks.get(node.spec.id) ?? 0;
          if (dropped < this.faults.dropAcks) {
            this.droppedAcks.set(node.spec.id, dropped + 1);
            continue;
          }
        }
        this.send(reply);
      }
    }
  }

  /** A timer at the node's next relay expiry: the node switches off by itself, host or not. */
  private armRelay(node: SimNode): void {
    const key = `relay:${node.spec.id}`;
    this.clearTimer(key);
    const due = node.nextExpiry();
    if (due === undefined) return;
    this.timers.set(
      key,
      this.opts.clock.setTimeout(() => {
        this.timers.delete(key);
        for (const channel of node.expire(this.opts.clock.monotonic())) this.opts.report({ ev: 'relay', node: node.spec.id, channel, on: false, reason: 'expired' });
        this.armRelay(node);
      }, due - this.opts.clock.monotonic()),
    );
  }

  private every(key: string, first: number, period: number, fn: () => void): void {
    const start = this.opts.clock.monotonic() + first;
    let n = 0;
    const tick = (): void => {
      if (!this.running) return;
      fn();
      n++;
      // Drift-free: the n-th run is due at start + n × period.
      this.timers.set(key, this.opts.clock.setTimeout(tick, Math.max(0, start + n * period - this.opts.clock.monotonic())));
    };
    this.timers.set(key, this.opts.clock.setTimeout(tick, first));
  }

  private clearTimer(key: string): void {
    this.opts.clock.clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }
}
