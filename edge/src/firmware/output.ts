import { maxRuntimeOf, toVillageError, VillageError, type ActuatorConfig } from '@smart-village/shared';
import type { FirmwareBridge } from '@smart-village/firmware-bridge';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import { OutputState, type OutputListener, type WatchedOutput } from '../outputs/watch.js';

export type FirmwareOutputConfig = Extract<ActuatorConfig['output'], { driver: 'firmware' }>;

export interface FirmwareOutputDeps {
  /** The bridge of the actuator's firmware device; absent when the device is unknown (open() then says so). */
  readonly bridge: FirmwareBridge | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * When the current ON's lease ends (wall ms, the control engine's LeaseKeeper.leaseEndOf).
   * Without it, or when it says nothing, an ON lasts the actuator's maxRuntime.
   */
  readonly leaseEnd?: (id: string) => number | undefined;
}

/** Renew a running ON this long before the node's own timer would end it (at most a quarter of it). */
const RENEW_MARGIN_MS = 3000;

/**
 * A relay channel of a firmware node (firmware-bridge/PROTOCOL.md §9). set(true) sends the
 * ON with the remaining lease as its duration, so the node switches the relay off by itself
 * when the lease ends, even if the edge is gone; while the lease goes on past that, the ON is
 * renewed shortly before the node's timer runs out. `on` follows what the node confirms: its
 * ack, its heartbeats' relay bits, its restart (relays off at power-up), and the end of the
 * duration it was given.
 */
export class FirmwareOutput implements WatchedOutput {
  readonly id: string;
  readonly kind: ActuatorConfig['kind'];
  private readonly output: FirmwareOutputConfig;
  private readonly state: OutputState;
  private opened = false;
  private unsubscribe: (() => void)[] = [];
  private expiry: TimerHandle | undefined;
  private renewal: TimerHandle | undefined;

  constructor(
    private readonly actuator: ActuatorConfig,
    private readonly deps: FirmwareOutputDeps,
  ) {
    if (actuator.output.driver !== 'firmware') throw new VillageError('INTERNAL', `actuator ${actuator.id} is not a firmware output`);
    this.id = actuator.id;
    this.kind = actuator.kind;
    this.output = actuator.output;
    this.state = new OutputState(actuator.id, deps.log);
  }

  get on(): boolean {
    return this.state.on;
  }

  get where(): string {
    const o = this.output;
    return `${this.id} (${o.device} node ${o.node} channel ${o.channel})`;
  }

  onChange(listener: OutputListener): () => void {
    return this.state.add(listener);
  }

  /**
   * Sends OFF (the only safe state of a node relay). A node that does not answer yet (still
   * booting, out of radio reach) makes open() reject, but the output stays open: it boots with
   * its relays off anyway, and set()/close() try again.
   */
  async open(): Promise<void> {
    const bridge = this.deps.bridge;
    if (!bridge) throw new VillageError('PORT_UNAVAILABLE', `output ${this.where}: no firmware device "${this.output.device}"`, { output: this.id, device: this.output.device });
    if (!this.opened) {
      this.opened = true;
      this.unsubscribe = [
        bridge.on('frame', (f) => {
          if (f.node !== this.output.node) return;
          const m = f.message;
          if (m.type === 'heartbeat' || m.type === 'ack') this.observed(((m.relays >> this.output.channel) & 1) === 1);
        }),
        bridge.on('node', (c) => {
          if (c.node === this.output.node && c.kind === 'restarted') this.observed(false);
        }),
      ];
    }
    await this.send(false);
    this.deps.log.info({ output: this.id }, `output ${this.where} in its safe state (off)`);
  }

  async set(on: boolean): Promise<void> {
    if (!this.opened) throw new VillageError('INTERNAL', `output ${this.where} is not open: call open() first`, { output: this.id });
    await this.send(on);
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    try {
      await this.send(false);
    } catch (err) {
      const e = toVillageError(err);
      // The node still turns it off when its duration ends.
      this.deps.log.error({ output: this.id, code: e.code, err: e.message }, `output ${this.where}: cannot switch it off on close; the node will when its ON time ends`);
    } finally {
      this.clearTimers();
      for (const u of this.unsubscribe.splice(0)) u();
    }
  }

  private get maxRuntime(): number {
    return maxRuntimeOf(this.actuator);
  }

  /** How long the next ON may last: the remaining lease, at most maxRuntime, at least 1 ms. */
  private durationMs(): number {
    const end = this.deps.leaseEnd?.(this.id);
    const remaining = end === undefined ? this.maxRuntime : end - this.deps.clock.now();
    return Math.max(1, Math.min(this.maxRuntime, Math.ceil(remaining)));
  }

  private async send(on: boolean): Promise<void> {
    const bridge = this.deps.bridge;
    if (!bridge) throw new VillageError('PORT_UNAVAILABLE', `output ${this.where}: no firmware device "${this.output.device}"`, { output: this.id });
    const duration = on ? this.durationMs() : 0;
    let relays: number;
    try {
      relays = (await bridge.command(this.output.node, this.output.channel, on, duration)).relays;
    } catch (err) {
      const e = toVillageError(err);
      throw new VillageError(e.code, `output ${this.where}: cannot switch ${on ? 'on' : 'off'}: ${e.message}`, { ...e.details, output: this.id }, { cause: e });
    }
    const confirmed = ((relays >> this.output.channel) & 1) === 1;
    this.clearTimers();
    this.state.confirm(confirmed, this.deps.clock.now());
    if (confirmed !== on) {
      throw new VillageError('PAYLOAD_INVALID', `output ${this.where}: node reports the relay ${confirmed ? 'on' : 'off'} after switching it ${on ? 'on' : 'off'}`, { output: this.id, expected: on, actual: confirmed });
    }
    if (!on) return;
    // The node switches it off when `duration` ends (clamped to its max_on_s: the ack came
    // after our asking, so that is an upper bound); so does our record of it.
    const { clock } = this.deps;
    const max = bridge.node(this.output.node)?.hello?.actuators.get(this.output.channel)?.maxOnS;
    const given = max !== undefined && max > 0 ? Math.min(duration, max * 1000) : duration;
    this.expiry = clock.setTimeout(() => {
      this.expiry = undefined;
      this.observed(false);
    }, given);
    const margin = Math.min(RENEW_MARGIN_MS, given / 4);
    this.renewal = clock.setTimeout(() => {
      this.renewal = undefined;
      void this.renew(margin);
    }, given - margin);
  }

  /** The lease outlasts the node's timer: send a new ON for what remains of it. */
  private async renew(margin: number): Promise<void> {
    if (!this.opened || !this.state.on) return;
    const end = this.deps.leaseEnd?.(this.id);
    if (end === undefined || end - this.deps.clock.now() <= margin) return; // it ends with the node's timer
    try {
      await this.send(true);
      this.deps.log.debug({ output: this.id, ms: this.durationMs() }, `output ${this.where}: ON renewed for the rest of its lease`);
    } catch (err) {
      const e = toVillageError(err);
      this.deps.log.warn({ output: this.id, code: e.code, err: e.message }, `output ${this.where}: could not renew the ON; the node switches it off when its time ends`);
    }
  }

  private observed(on: boolean): void {
    if (!on) this.clearTimers();
    this.state.confirm(on, this.deps.clock.now());
  }

  private clearTimers(): void {
    this.deps.clock.clearTimeout(this.expiry);
    this.deps.clock.clearTimeout(this.renewal);
    this.expiry = this.renewal = undefined;
  }
}
