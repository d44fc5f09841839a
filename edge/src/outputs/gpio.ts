import { VillageError, toVillageError, type ActuatorConfig } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { OutputPin, OutputPinBackend } from '../gpio/backend.js';
import { sysfsPinOf } from '../gpio/chip.js';
import type { Logger } from '../log.js';
import { describeOutput, levelOf, safeOn, type GpioOutputConfig } from './levels.js';
import { OutputState, type OutputListener, type WatchedOutput } from './watch.js';

export interface GpioOutputDeps {
  /** Where lines come from; absent when GPIO could not be set up (open() then says so). */
  readonly pins: OutputPinBackend | undefined;
  /** sysfs number of BCM 0 (gpio/chip.ts). */
  readonly chipBase: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * A relay on a GPIO pin. open() exports the line with its direction written as the safe level
 * ("high"/"low"), so the relay never pulses at start; activeLow is applied here, the same for
 * every backend.
 */
export class GpioOutput implements WatchedOutput {
  readonly id: string;
  readonly kind: ActuatorConfig['kind'];
  private pin: OutputPin | undefined;
  private readonly state: OutputState;
  private readonly output: GpioOutputConfig;

  constructor(
    private readonly actuator: ActuatorConfig,
    private readonly deps: GpioOutputDeps,
  ) {
    if (actuator.output.driver !== 'gpio') throw new VillageError('INTERNAL', `actuator ${actuator.id} is not a GPIO output`);
    this.id = actuator.id;
    this.kind = actuator.kind;
    this.output = actuator.output;
    this.state = new OutputState(actuator.id, deps.log);
  }

  get on(): boolean {
    return this.state.on;
  }

  /** The kernel's number of the line. */
  get sysfsPin(): number {
    return sysfsPinOf(this.deps.chipBase, this.output.pin);
  }

  onChange(listener: OutputListener): () => void {
    return this.state.add(listener);
  }

  async open(): Promise<void> {
    if (this.pin) return;
    const { pins, log } = this.deps;
    const safe = safeOn(this.actuator);
    if (!pins) throw new VillageError('GPIO_UNAVAILABLE', `output ${describeOutput(this.actuator)}: GPIO is not available`, { output: this.id });
    try {
      this.pin = pins.openOutput(this.sysfsPin, levelOf(this.actuator, safe));
    } catch (err) {
      throw toVillageError(err);
    }
    this.state.confirm(safe, this.deps.clock.now());
    log.info({ output: this.id, sysfsPin: this.sysfsPin, level: levelOf(this.actuator, safe) }, `output ${describeOutput(this.actuator)} claimed in its safe state (${this.actuator.safeState})`);
  }

  async set(on: boolean): Promise<void> {
    const pin = this.pin;
    if (!pin) throw new VillageError('GPIO_UNAVAILABLE', `output ${describeOutput(this.actuator)} is not open`, { output: this.id });
    try {
      pin.write(levelOf(this.actuator, on));
    } catch (err) {
      throw toVillageError(err);
    }
    this.state.confirm(on, this.deps.clock.now());
  }

  async close(): Promise<void> {
    const pin = this.pin;
    if (!pin) return;
    this.pin = undefined;
    const safe = safeOn(this.actuator);
    try {
      pin.write(levelOf(this.actuator, safe));
      this.state.confirm(safe, this.deps.clock.now());
    } catch (err) {
      this.deps.log.error({ output: this.id, err: toVillageError(err).message }, `output ${describeOutput(this.actuator)}: cannot write its safe state on close`);
    }
    try {
      pin.close();
    } catch (err) {
      this.deps.log.warn({ output: this.id, err: toVillageError(err).message }, `output ${describeOutput(this.actuator)}: cannot release the line`);
    }
  }
}
