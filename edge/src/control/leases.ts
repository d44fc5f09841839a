import { maxRuntimeOf, toVillageError, type ActuatorConfig, type OutputState } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../log.js';
import type { Output } from '../outputs/types.js';
import type { DesiredOutput } from './core.js';

/** A renewal must reach this far past an expired lease to be a new lease, not the old one. */
const RENEW_AFTER_MS = 60_000;

/** Switching order: feed water last and cut it first (pump before valves before master valve). */
const ON_ORDER: Record<ActuatorConfig['kind'], number> = { 'master-valve': 0, valve: 1, pump: 2, light: 3 };

interface Held {
  on: boolean;
  /** When it went on (for the maxRuntime cap). */
  since?: number;
  /** The lease end the timer is set for. */
  leaseEnd?: number;
  timer?: TimerHandle;
  reason?: string;
  fault?: string;
  /** The lease ran out while control still wanted it on: stays off until control lets go. */
  expired?: boolean;
  /** The lease end that ran out. */
  expiredAt?: number;
  /** The lease ran out at control's own planned end: reported only if control still wants it on. */
  endedAtPlan?: number;
  /** The lease ends before control's planned end (maxRuntime cut it short). */
  capped?: boolean;
}

export interface LeaseEvents {
  fault(id: string, message: string): void;
  ok(id: string): void;
  /** The edge turned an output off because its lease ended, not because control asked. */
  expired(id: string, heldMs: number): void;
}

/**
 * Every ON of an output is a lease: an end time the keeper enforces with its own timer,
 * whatever the control core does next, and never longer than the output's maxRuntime
 * [DESIGN principle 5]. Applies control's wishes in a safe order, one pass at a time.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private readonly configs: ReadonlyMap<string, ActuatorConfig>;
  private pending: Map<string, DesiredOutput> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly outputs: ReadonlyMap<string, Output>,
    actuators: readonly ActuatorConfig[],
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly events: LeaseEvents,
  ) {
    this.configs = new Map(actuators.map((a) => [a.id, a]));
    for (const a of actuators) this.held.set(a.id, { on: outputs.get(a.id)?.on ?? false });
  }

  /** Applies the wanted states; calls made while one runs are merged into the next pass. */
  apply(want: Map<string, DesiredOutput>): Promise<void> {
    this.pending = want;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending && !this.stopped) {
      const want = this.pending;
      this.pending = undefined;
      await this.pass(want);
    }
  }

  private async pass(want: Map<string, DesiredOutput>): Promise<void> {
    const now = this.clock.now();
    const offs: string[] = [];
    const ons: string[] = [];
    for (const [id, held] of this.held) {
      const w = want.get(id) ?? { on: false, reason: 'idle' };
      if (!w.on) {
        held.expired = false;
        delete held.endedAtPlan;
        if (held.on || held.fault !== undefined) offs.push(id);
        held.reason = w.reason;
        continue;
      }
      // A lease that ran out at its planned end (control stalled past it) may be granted again
      // when control asks with a later end — a lux-driven light renews its lease this way. A
      // valve's run has a fixed end and never re-opens; a maxRuntime cut waits for an off.
      if (held.expired && !held.capped && !held.on && held.expiredAt !== undefined && (w.until ?? now) > held.expiredAt + RENEW_AFTER_MS) {
        held.expired = false;
        delete held.endedAtPlan;
      }
      if (held.expired) {
        if (held.endedAtPlan !== undefined && (w.until ?? now) > now) this.reportExpired(id, held.endedAtPlan);
        delete held.endedAtPlan;
        // Its lease ended but the off failed (driver error): it is still on past its lease, so
        // retry the off on every pass, not only once control lets go.
        if (held.on) offs.push(id);
        continue;
      }
      const cfg = this.configs.get(id) as ActuatorConfig;
      const since = held.on ? (held.since ?? now) : now;
      const leaseEnd = Math.min(w.until ?? now, since + maxRuntimeOf(cfg));
      if (leaseEnd <= now) continue;
      held.reason = w.reason;
      held.capped = leaseEnd < (w.until ?? now);
      if (!held.on) ons.push(id);
      if (held.leaseEnd !== leaseEnd) this.arm(id, held, leaseEnd);
    }
    const kind = (id: string): number => ON_ORDER[(this.configs.get(id) as ActuatorConfig).kind];
    for (const id of offs.sort((a, b) => kind(b) - kind(a))) await this.drive(id, false);
    for (const id of ons.sort((a, b) => kind(a) - kind(b))) {
      if (this.stopped) return;
      await this.drive(id, true);
    }
  }

  private arm(id: string, held: Held, leaseEnd: number): void {
    this.clock.clearTimeout(held.timer);
    held.leaseEnd = leaseEnd;
    held.timer = this.clock.setTimeout(() => void this.expire(id), Math.max(0, leaseEnd - this.clock.now()));
  }

  private async expire(id: string): Promise<void> {
    const held = this.held.get(id) as Held;
    held.timer = undefined;
    if (!held.on) return;
    held.expired = true;
    held.expiredAt = held.leaseEnd ?? this.clock.now();
    const heldMs = this.clock.now() - (held.since ?? this.clock.now());
    // At the end control planned, this timer and control's own pass fall due together and
    // either may run first: it is an expiry only if control's next pass still wants it on.
    if (held.capped) this.reportExpired(id, heldMs);
    else held.endedAtPlan = heldMs;
    await this.drive(id, false);
  }

  private reportExpired(id: string, heldMs: number): void {
    this.log.warn({ output: id, heldMs }, `output ${id}: lease ended, turning it off`);
    this.events.expired(id, heldMs);
  }

  private async drive(id: string, on: boolean): Promise<void> {
    const held = this.held.get(id) as Held;
    const output = this.outputs.get(id);
    if (!output) return;
    try {
      await output.set(on);
      if (on && !held.on) held.since = this.clock.now();
      held.on = on;
      if (!on) {
        this.clock.clearTimeout(held.timer);
        held.timer = undefined;
        delete held.leaseEnd;
        delete held.since;
      }
      if (held.fault !== undefined) {
        delete held.fault;
        this.events.ok(id);
      }
    } catch (err) {
      const message = toVillageError(err).message;
      const first = held.fault === undefined;
      held.fault = message;
      // An output that cannot be turned OFF is the dangerous case: say it loudly.
      if (first) this.log.error({ output: id, on, err: message }, `output ${id}: cannot turn ${on ? 'on' : 'off'}`);
      this.events.fault(id, message);
    }
  }

  /** Lease ends by output (tests assert no output outlives its lease). */
  leaseEndOf(id: string): number | undefined {
    return this.held.get(id)?.leaseEnd;
  }

  state(): OutputState[] {
    return [...this.held].map(([id, h]) => {
      const cfg = this.configs.get(id) as ActuatorConfig;
      return {
        id,
        kind: cfg.kind,
        on: h.on,
        ...(h.on && h.leaseEnd !== undefined && { until: h.leaseEnd }),
        ...(h.reason !== undefined && { reason: h.reason }),
        ...(h.fault !== undefined && { fault: h.fault }),
      };
    });
  }

  /** Stops applying; every output goes to its safe state (close() does that) and is released. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
    for (const [id, held] of this.held) {
      this.clock.clearTimeout(held.timer);
      held.on = false;
      await this.outputs.get(id)?.close();
    }
  }
}
