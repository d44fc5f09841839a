import { VillageError, type ActuatorConfig } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { safeOn } from './levels.js';
import { OutputState, type OutputListener, type WatchedOutput } from './watch.js';

/** One state a simulated output took, and when (wall ms of its clock). */
export interface StateChange {
  readonly at: number;
  readonly on: boolean;
}

export interface SimulatedOutputDeps {
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * The in-memory twin of an output, for `driver: simulated` actuators, the demo and tests of
 * the control engine. It records every state it takes from open() on, so a test can prove an
 * output never pulsed, and can be told to fail like a driver whose relay board went away.
 */
export class SimulatedOutput implements WatchedOutput {
  readonly id: string;
  readonly kind: ActuatorConfig['kind'];
  private opened = false;
  private failure: VillageError | undefined;
  private readonly changes: StateChange[] = [];
  private readonly state: OutputState;

  constructor(
    private readonly actuator: ActuatorConfig,
    private readonly deps: SimulatedOutputDeps,
  ) {
    this.id = actuator.id;
    this.kind = actuator.kind;
    this.state = new OutputState(actuator.id, deps.log);
  }

  get on(): boolean {
    return this.state.on;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  onChange(listener: OutputListener): () => void {
    return this.state.add(listener);
  }

  /** Every state taken, oldest first (a copy): open() adds the safe state, set() and close() each change. */
  history(): StateChange[] {
    return [...this.changes];
  }

  /** While set, open() and set() reject with this error and nothing changes; `undefined` heals it. */
  fail(error: VillageError | undefined): void {
    this.failure = error;
  }

  async open(): Promise<void> {
    if (this.opened) return;
    if (this.failure) throw this.failure;
    this.opened = true;
    this.take(safeOn(this.actuator), true);
  }

  async set(on: boolean): Promise<void> {
    if (!this.opened) throw new VillageError('INTERNAL', `output ${this.id} (simulated) is not open: call open() first`, { output: this.id });
    if (this.failure) throw this.failure;
    this.take(on, false);
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    // Closing always reaches the safe state: the twin has no wire that could refuse it.
    this.take(safeOn(this.actuator), false);
  }

  private take(on: boolean, opening: boolean): void {
    const at = this.deps.clock.now();
    if (opening || on !== this.state.on) this.changes.push({ at, on });
    this.state.confirm(on, at);
  }
}
