import type { Logger } from '../log.js';
import type { Output } from './types.js';

/** A confirmed change of an output's state. */
export interface OutputChange {
  readonly id: string;
  readonly on: boolean;
  /** Wall ms (the output's clock) when the driver confirmed it. */
  readonly at: number;
}

export type OutputListener = (change: OutputChange) => void;

/** An output that tells when its confirmed state changes: every driver here is one. */
export interface WatchedOutput extends Output {
  /**
   * Calls `listener` after each confirmed change of `on` (including the one open() makes when
   * the safe state is on). Returns a function that removes it. A listener that throws is
   * logged and does not stop the others.
   */
  onChange(listener: OutputListener): () => void;
}

export function isWatched(output: Output): output is WatchedOutput {
  return typeof (output as Partial<WatchedOutput>).onChange === 'function';
}

/** The confirmed state of one output and who listens to it; the drivers share it. */
export class OutputState {
  private current = false;
  private readonly listeners = new Set<OutputListener>();

  constructor(
    private readonly id: string,
    private readonly log: Logger,
  ) {}

  get on(): boolean {
    return this.current;
  }

  /** Records a state the driver confirmed at `at`; tells the listeners when it changed. */
  confirm(on: boolean, at: number): boolean {
    if (on === this.current) return false;
    this.current = on;
    for (const listener of [...this.listeners]) {
      try {
        listener({ id: this.id, on, at });
      } catch (err) {
        this.log.error({ output: this.id, err }, `output ${this.id}: a change listener failed`);
      }
    }
    return true;
  }

  add(listener: OutputListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
