import type { ActuatorConfig } from '@smart-village/shared';
import type { Level } from '../gpio/inputs.js';

/**
 * What "on", "off" and "safe" mean on the wire for one actuator. Pure, shared by the drivers
 * and the systemd stop hook so both put a relay in exactly the same state.
 */

/** The logical state the actuator must rest in: at start, on stop, after a crash. */
export function safeOn(actuator: Pick<ActuatorConfig, 'safeState'>): boolean {
  return actuator.safeState === 'on';
}

/**
 * The electrical level that makes the actuator `on`: relay boards sold for the Pi are mostly
 * active-low (the relay closes when the pin is low), so level = on XOR activeLow.
 */
export function levelOf(actuator: Pick<ActuatorConfig, 'activeLow'>, on: boolean): Level {
  return on !== actuator.activeLow ? 1 : 0;
}

/** The level of the safe state: (safeState === 'on') XOR activeLow. */
export function safeLevel(actuator: Pick<ActuatorConfig, 'activeLow' | 'safeState'>): Level {
  return levelOf(actuator, safeOn(actuator));
}

/** The coil value (FC05: true = 0xFF00) that makes a Modbus relay `on`; activeLow inverts it as on GPIO. */
export function coilOf(actuator: Pick<ActuatorConfig, 'activeLow'>, on: boolean): boolean {
  return on !== actuator.activeLow;
}

/** The logical state a coil value means. */
export function onOfCoil(actuator: Pick<ActuatorConfig, 'activeLow'>, coil: boolean): boolean {
  return coil !== actuator.activeLow;
}

export type GpioOutputConfig = Extract<ActuatorConfig['output'], { driver: 'gpio' }>;
export type ModbusOutputConfig = Extract<ActuatorConfig['output'], { driver: 'modbus' }>;

/** How an output is named in logs and errors: `valve-1 (GPIO17)`, `pump-1 (bus rs485-1 slave 3 coil 0)`. */
export function describeOutput(actuator: Pick<ActuatorConfig, 'id' | 'output'>): string {
  const o = actuator.output;
  switch (o.driver) {
    case 'gpio':
      return `${actuator.id} (GPIO${o.pin})`;
    case 'modbus':
      return `${actuator.id} (bus ${o.bus} slave ${o.slave} coil ${o.coil})`;
    case 'simulated':
      return `${actuator.id} (simulated)`;
    case 'firmware':
      return `${actuator.id} (${o.device} node ${o.node} channel ${o.channel})`;
  }
}
