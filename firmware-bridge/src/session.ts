/**
 * Per-node sessions, pure: what a frame's (boot, seq) means given what came before, whether a
 * node's hello is usable, and when a silent node counts as offline. Functions of (state, input,
 * now); the bridge owns the timers and the port.
 */
import { QUANTITIES, type Quantity, type Unit } from '@smart-village/shared';
import type { ActuatorDecl, Frame, HelloMessage, NodeMessage } from './frame.js';

/** How many seqs behind the newest a frame may arrive and still be recognised (PROTOCOL.md §7). */
export const SEQ_WINDOW = 32;

/** The dedup state of one node: its boot id, newest seq, and which of the last 32 seqs came. */
export interface SeqState {
  readonly boot: number;
  readonly high: number;
  /** Bit i: seq (high - i) mod 2^16 was received. */
  readonly seen: number;
}

export type Verdict =
  /** Newer than anything of this boot: accepted. `gap` seqs were skipped (lost or still coming). */
  | 'new'
  /** Older than the newest but inside the window and not seen before: accepted. */
  | 'late'
  /** Seen before (a gateway or the line repeated it): dropped. */
  | 'duplicate'
  /** The node started again (a new boot id, or a seq far behind): a new session, accepted. */
  | 'restart';

export interface Judgement {
  verdict: Verdict;
  next: SeqState;
  /** Seqs skipped between the previous newest and this one ('new' only). */
  gap: number;
}

/** RFC 1982-style serial-number arithmetic on 16-bit seqs. */
export function judgeSeq(state: SeqState | undefined, boot: number, seq: number): Judgement {
  const fresh: SeqState = { boot, high: seq, seen: 1 };
  if (!state) return { verdict: 'new', next: fresh, gap: 0 };
  if (state.boot !== boot) return { verdict: 'restart', next: fresh, gap: 0 };
  const ahead = (seq - state.high) & 0xffff;
  if (ahead === 0) return { verdict: 'duplicate', next: state, gap: 0 };
  if (ahead < 0x8000) {
    const seen = ahead >= SEQ_WINDOW ? 1 : ((state.seen << ahead) | 1) >>> 0;
    return { verdict: 'new', next: { boot, high: seq, seen }, gap: ahead - 1 };
  }
  const behind = 0x10000 - ahead;
  // Far behind with the same boot id: a node that cannot change its boot id restarted.
  if (behind >= SEQ_WINDOW) return { verdict: 'restart', next: fresh, gap: 0 };
  const bit = (1 << behind) >>> 0;
  if (state.seen & bit) return { verdict: 'duplicate', next: state, gap: 0 };
  return { verdict: 'late', next: { ...state, seen: (state.seen | bit) >>> 0 }, gap: 0 };
}

/** A sensor of a hello, checked: `problem` says why its readings will be rejected. */
export interface DeclaredSensor {
  index: number;
  name: string;
  quantity: Quantity | null;
  unit: Unit | null;
  problem?: string;
}

export interface NodeHello {
  heartbeatS: number;
  firmware: string;
  sensors: ReadonlyMap<number, DeclaredSensor>;
  actuators: ReadonlyMap<number, ActuatorDecl>;
  /** One line per rejected declaration, for the log. */
  problems: string[];
}

const SENSOR_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Checks a hello's declarations: known quantity and unit codes, the unit is its quantity's
 * unit (shared/src/units.ts), names usable in sensor ids, indexes and channels unique.
 */
export function checkHello(m: HelloMessage): NodeHello {
  const problems: string[] = [];
  const sensors = new Map<number, DeclaredSensor>();
  const names = new Set<string>();
  for (const s of m.sensors) {
    let problem: string | undefined;
    if (sensors.has(s.index)) problem = `sensor index ${s.index} declared twice`;
    else if (s.quantity === null) problem = `sensor ${s.index} "${s.name}": unknown quantity code (a newer firmware? update the edge)`;
    else if (s.unit === null) problem = `sensor ${s.index} "${s.name}": unknown unit code`;
    else if (s.unit !== QUANTITIES[s.quantity].unit) problem = `sensor ${s.index} "${s.name}": ${s.quantity} is measured in ${QUANTITIES[s.quantity].unit}, the node declares ${s.unit}`;
    else if (!SENSOR_NAME.test(s.name)) problem = `sensor ${s.index}: name "${s.name}" must be lowercase letters, digits and dashes, starting with a letter`;
    else if (names.has(s.name)) problem = `sensor ${s.index}: name "${s.name}" used twice`;
    if (problem) problems.push(problem);
    names.add(s.name);
    if (!sensors.has(s.index)) sensors.set(s.index, { index: s.index, name: s.name, quantity: s.quantity, unit: s.unit, ...(problem ? { problem } : {}) });
  }
  const actuators = new Map<number, ActuatorDecl>();
  for (const a of m.actuators) {
    if (a.channel > 7) problems.push(`actuator channel ${a.channel}: channels are 0-7`);
    else if (actuators.has(a.channel)) problems.push(`actuator channel ${a.channel} declared twice`);
    else actuators.set(a.channel, a);
  }
  return { heartbeatS: m.heartbeatS, firmware: m.firmware, sensors, actuators, problems };
}

export interface NodeCounters {
  frames: number;
  duplicates: number;
  late: number;
  /** Seqs skipped: frames the node sent that never arrived (or arrived late, see `late`). */
  gaps: number;
  restarts: number;
  hellos: number;
  readings: number;
  rejected: number;
}

export interface NodeState {
  node: number;
  seq: SeqState | undefined;
  hello: NodeHello | undefined;
  online: boolean;
  /** Monotonic ms of the last accepted frame. */
  lastHeardAt: number;
  /** Relay bitmap from the last heartbeat or ack. */
  relays: number;
  uptimeS: number | undefined;
  counters: NodeCounters;
}

export interface Observation {
  verdict: Verdict;
  node: NodeState;
  /** The node was unknown or offline and is heard again. */
  cameOnline: boolean;
}

/**
 * The sessions of every node heard on one line. `observe` takes each decoded node frame;
 * `expire` says which nodes fell silent. A restart forgets the node's hello: the new firmware may
 * declare other sensors, and its hello (seq 0 of the new boot) normally comes first anyway.
 */
export class NodeTable {
  private readonly nodes = new Map<number, NodeState>();

  observe(frame: Frame<NodeMessage>, now: number): Observation {
    let node = this.nodes.get(frame.node);
    if (!node) {
      node = { node: frame.node, seq: undefined, hello: undefined, online: false, lastHeardAt: now, relays: 0, uptimeS: undefined, counters: { frames: 0, duplicates: 0, late: 0, gaps: 0, restarts: 0, hellos: 0, readings: 0, rejected: 0 } };
      this.nodes.set(frame.node, node);
    }
    const j = judgeSeq(node.seq, frame.boot, frame.seq);
    if (j.verdict === 'duplicate') {
      node.counters.duplicates++;
      return { verdict: j.verdict, node, cameOnline: false };
    }
    node.seq = j.next;
    node.counters.frames++;
    node.counters.gaps += j.gap;
    if (j.verdict === 'late') node.counters.late++;
    if (j.verdict === 'restart') {
      node.counters.restarts++;
      node.hello = undefined;
      node.relays = 0;
      node.uptimeS = undefined;
    }
    const m = frame.message;
    if (m.type === 'hello') {
      node.hello = checkHello(m);
      node.counters.hellos++;
    } else if (m.type === 'heartbeat') {
      node.relays = m.relays;
      node.uptimeS = m.uptimeS;
    } else if (m.type === 'ack') {
      node.relays = m.relays;
    }
    node.lastHeardAt = now;
    const cameOnline = !node.online;
    node.online = true;
    return { verdict: j.verdict, node, cameOnline };
  }

  /** Nodes that were online and have been silent longer than their `offlineAfter(node)`; now offline. */
  expire(now: number, offlineAfter: (node: NodeState) => number): NodeState[] {
    const gone: NodeState[] = [];
    for (const node of this.nodes.values()) {
      if (node.online && now - node.lastHeardAt > offlineAfter(node)) {
        node.online = false;
        gone.push(node);
      }
    }
    return gone;
  }

  get(node: number): NodeState | undefined {
    return this.nodes.get(node);
  }

  all(): NodeState[] {
    return [...this.nodes.values()].sort((a, b) => a.node - b.node);
  }
}

