import type { Clock, TimerHandle } from './clock.js';
import { nodeRefused, nodeTimeout, portClosed, superseded } from './errors.js';
import { encodeFrame, type AckMessage, type CommandMessage, type Frame, type HostMessage } from './frame.js';
import type { VillageError } from '@smart-village/shared';

export interface CommandAck {
  node: number;
  /** The host seq the node acknowledged. */
  seq: number;
  /** Relay bitmap after the command. */
  relays: number;
  /** Sends it took (1 = no retry). */
  attempts: number;
}

export interface CommandCounters {
  sent: number;
  retries: number;
  acked: number;
  refused: number;
  timeouts: number;
  superseded: number;
  /** Acks matching no pending command (late, after a timeout, or a node confused about seqs). */
  strayAcks: number;
}

export interface CommandSenderOptions {
  device: string;
  path: string;
  clock: Clock;
  /** Puts bytes on the line; false when the port is not open. */
  write(bytes: Uint8Array): boolean;
  /** The host's boot id (changes every time the edge starts). */
  hostBoot: number;
  firstSeq: number;
  ackTimeout: number;
  retries: number;
}

interface Pending {
  node: number;
  channel: number;
  seq: number;
  wire: Uint8Array;
  attempts: number;
  what: string;
  timer: TimerHandle | undefined;
  resolve(ack: CommandAck): void;
  reject(err: VillageError): void;
}

/**
 * Host frames to nodes: seq numbering (one 16-bit counter for the host, starting at a random
 * value), COMMAND with ack, timeout and retry. A retry resends the same bytes (same boot and
 * seq), so a node that did act but whose ack was lost acks again without acting twice
 * (PROTOCOL.md §8). A newer command for the same node and channel supersedes an older one
 * still waiting: retrying an old ON after a newer OFF would switch the relay back on.
 */
export class CommandSender {
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private readonly counts: CommandCounters = { sent: 0, retries: 0, acked: 0, refused: 0, timeouts: 0, superseded: 0, strayAcks: 0 };

  constructor(private readonly opts: CommandSenderOptions) {
    this.seq = opts.firstSeq & 0xffff;
  }

  /** A DESCRIBE (ask for a hello); fire and forget, the hello is the answer. */
  describe(node: number): boolean {
    return this.opts.write(this.frame(node, { type: 'describe' }).wire);
  }

  command(node: number, message: CommandMessage): Promise<CommandAck> {
    const what = message.on ? `channel ${message.channel} ON for ${message.durationMs} ms` : `channel ${message.channel} OFF`;
    for (const p of this.pending.values()) {
      if (p.node === node && p.channel === message.channel) {
        this.settle(p);
        this.counts.superseded++;
        p.reject(superseded(this.opts.device, node, p.what, what));
      }
    }
    const { seq, wire } = this.frame(node, message);
    return new Promise<CommandAck>((resolve, reject) => {
      const p: Pending = { node, channel: message.channel, seq, wire, attempts: 0, what, timer: undefined, resolve, reject };
      this.pending.set(seq, p);
      this.attempt(p);
    });
  }

  /** An ACK from a node; true when it settled a pending command. */
  ack(frame: Frame<AckMessage>): boolean {
    const p = this.pending.get(frame.message.ackSeq);
    if (!p || p.node !== frame.node) {
      this.counts.strayAcks++;
      return false;
    }
    this.settle(p);
    if (frame.message.status === 'done') {
      this.counts.acked++;
      p.resolve({ node: p.node, seq: p.seq, relays: frame.message.relays, attempts: p.attempts });
    } else {
      this.counts.refused++;
      p.reject(nodeRefused(this.opts.device, p.node, frame.message.status, p.what));
    }
    return true;
  }

  /** Rejects everything waiting (the bridge stops). */
  cancelAll(): void {
    for (const p of [...this.pending.values()]) {
      this.settle(p);
      p.reject(portClosed(this.opts.device, this.opts.path));
    }
  }

  counters(): CommandCounters {
    return { ...this.counts };
  }

  get waiting(): number {
    return this.pending.size;
  }

  private frame(node: number, message: HostMessage): { seq: number; wire: Uint8Array } {
    this.seq = (this.seq + 1) & 0xffff;
    const frame: Frame<HostMessage> = { node, boot: this.opts.hostBoot, seq: this.seq, message };
    return { seq: this.seq, wire: encodeFrame(frame) };
  }

  private attempt(p: Pending): void {
    if (p.attempts > 0) this.counts.retries++;
    else this.counts.sent++;
    p.attempts++;
    if (!this.opts.write(p.wire)) {
      this.settle(p);
      p.reject(portClosed(this.opts.device, this.opts.path));
      return;
    }
    p.timer = this.opts.clock.setTimeout(() => {
      p.timer = undefined;
      if (p.attempts <= this.opts.retries) return this.attempt(p);
      this.settle(p);
      this.counts.timeouts++;
      p.reject(nodeTimeout(this.opts.device, p.node, p.attempts, p.what));
    }, this.opts.ackTimeout);
  }

  private settle(p: Pending): void {
    this.opts.clock.clearTimeout(p.timer);
    p.timer = undefined;
    this.pending.delete(p.seq);
  }
}
