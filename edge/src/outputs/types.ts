import type { ActuatorConfig } from '@smart-village/shared';

/**
 * One switched output: a valve, pump, master valve or light, on a GPIO pin, a Modbus relay
 * coil, a firmware node's relay or the simulated twin. `on` is logical (activeLow is handled
 * inside the driver). Leases, interlocks and reasons live above this, in the control engine.
 */
export interface Output {
  readonly id: string;
  readonly kind: ActuatorConfig['kind'];
  /**
   * Claims the output and drives it to its safe state in the same step: on GPIO the pin is
   * exported with direction 'high' or 'low', which sets the level together with the direction,
   * so start-up never pulses the relay. Throws VillageError when the output cannot be claimed.
   */
  open(): Promise<void>;
  /** Drives it on or off. Rejects with a VillageError when the driver fails; `on` keeps the last confirmed state. */
  set(on: boolean): Promise<void>;
  /** The last state the driver confirmed. */
  readonly on: boolean;
  /** Drives it to its safe state and releases it. Idempotent; never throws (errors are logged). */
  close(): Promise<void>;
}
