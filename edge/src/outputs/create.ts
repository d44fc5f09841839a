import { toVillageError, type ActuatorConfig, type VillageError } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { OutputPinBackend } from '../gpio/backend.js';
import type { Logger } from '../log.js';
import type { BusQueue } from '../poller.js';
import { GpioOutput } from './gpio.js';
import { ModbusCoilOutput } from './modbus.js';
import { SimulatedOutput } from './simulated.js';
import type { Output } from './types.js';
import type { WatchedOutput } from './watch.js';

export interface OutputDeps {
  /** GPIO lines (setupGpio's backend, or the simulated field's pins); needed by gpio outputs only. */
  readonly pins?: OutputPinBackend;
  /** sysfs number of BCM 0 (setupGpio's chipBase); default 0. */
  readonly chipBase?: number;
  /** The bus queues the poller uses: outputs write through them, never beside them. */
  readonly busQueues: ReadonlyMap<string, BusQueue>;
  readonly clock: Clock;
  /** The caller names the module (e.g. log.child({ module: 'outputs' })). */
  readonly log: Logger;
  /** Makes the outputs of firmware node relays (their bridges must be started). */
  readonly firmware?: (actuator: ActuatorConfig) => Output & WatchedOutput;
}

/**
 * One output per actuator, keyed by actuator id. Constructors only assign: nothing is touched
 * until open(), which applies the safe state (see openOutputs). A gpio output without `pins`,
 * or a modbus output on a bus without a queue, fails at open() with the reason, alone.
 */
export function createOutputs(actuators: readonly ActuatorConfig[], deps: OutputDeps): Map<string, WatchedOutput> {
  const { clock, log } = deps;
  const outputs = new Map<string, WatchedOutput>();
  for (const a of actuators) {
    switch (a.output.driver) {
      case 'gpio':
        outputs.set(a.id, new GpioOutput(a, { pins: deps.pins, chipBase: deps.chipBase ?? 0, clock, log }));
        break;
      case 'modbus':
        outputs.set(a.id, new ModbusCoilOutput(a, { queue: deps.busQueues.get(a.output.bus), clock, log }));
        break;
      case 'simulated':
        outputs.set(a.id, new SimulatedOutput(a, { clock, log }));
        break;
      case 'firmware':
        if (!deps.firmware) throw new Error(`output ${a.id}: firmware outputs need the firmware devices`);
        outputs.set(a.id, deps.firmware(a));
        break;
    }
  }
  return outputs;
}

/**
 * Opens every output, each into its safe state; one that fails is logged and reported by id
 * while the others open. GPIO lines open at once; Modbus writes wait their turn on their bus.
 */
export async function openOutputs(outputs: ReadonlyMap<string, Output>, log: Logger): Promise<Map<string, VillageError>> {
  const failed = new Map<string, VillageError>();
  await Promise.all(
    [...outputs].map(async ([id, output]) => {
      try {
        await output.open();
      } catch (err) {
        const e = toVillageError(err);
        failed.set(id, e);
        log.error({ output: id, code: e.code, err: e.message }, `output ${id} could not be put in its safe state at start`);
      }
    }),
  );
  return failed;
}

/** Puts every output in its safe state and releases it. Never throws (close() logs its own errors). */
export async function closeOutputs(outputs: ReadonlyMap<string, Output>): Promise<void> {
  await Promise.all([...outputs.values()].map((o) => o.close().catch(() => undefined)));
}

