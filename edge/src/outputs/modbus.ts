import { VillageError, toVillageError, type ActuatorConfig, type BusConfig } from '@smart-village/shared';
import { sleep, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { t35Ms, type ModbusLink } from '../modbus/link.js';
import type { BusQueue } from '../poller.js';
import { coilOf, describeOutput, onOfCoil, safeOn, type ModbusOutputConfig } from './levels.js';
import { OutputState, type OutputListener, type WatchedOutput } from './watch.js';

export interface CoilWrite {
  readonly link: ModbusLink;
  readonly bus: BusConfig;
  readonly slave: number;
  readonly coil: number;
  readonly value: boolean;
  readonly clock: Clock;
  /** Called before each request (the bus queue reopens a dropped link here). */
  readonly ensureOpen?: () => Promise<void>;
}

/** What the slave holds after a confirmed write; `readBack` false when it cannot read coils (FC01). */
export interface CoilWritten {
  readonly value: boolean;
  readonly readBack: boolean;
}

/** MBAP v1.1b3 §7 exception 01: the slave does not implement the function (write-only relay boards). */
const ILLEGAL_FUNCTION = 1;

/**
 * Writes one coil (FC05, MBAP v1.1b3 §6.5) and reads it back (FC01), with the bus's timeout
 * and retries; FC05 is idempotent, so a lost answer is simply asked again. Exceptions are the
 * slave's deliberate answer and are not retried. Rejects with a VillageError; when the read-back
 * differs from the write it rejects MODBUS_FRAME with the value found in `details.actual`.
 */
export async function writeCoilConfirmed(w: CoilWrite): Promise<CoilWritten> {
  const { link, bus, slave, coil, value } = w;
  await attempt(w, () => link.writeCoil(slave, coil, value, bus.timeout));
  let actual: number | undefined;
  try {
    actual = (await attempt(w, () => link.read(slave, 'coil', coil, 1, bus.timeout)))[0];
  } catch (err) {
    const e = toVillageError(err);
    // The write was answered; a relay board without FC01 has nothing more to say.
    if (e.code === 'MODBUS_EXCEPTION' && e.details.exception === ILLEGAL_FUNCTION) return { value, readBack: false };
    throw new VillageError(e.code, `coil ${coil} of slave ${slave} was written but could not be read back: ${e.message}`, { ...e.details, coil }, { cause: e });
  }
  if ((actual === 1) !== value) {
    throw new VillageError('MODBUS_FRAME', `coil ${coil} of slave ${slave} reads ${actual === 1 ? 'on' : 'off'} after writing ${value ? 'on' : 'off'}`, {
      bus: bus.id,
      slave,
      coil,
      expected: value,
      actual: actual === 1,
    });
  }
  return { value, readBack: true };
}

async function attempt<T>(w: CoilWrite, request: () => Promise<T>): Promise<T> {
  const gap = w.bus.interFrameGap ?? t35Ms('baud' in w.bus ? w.bus.baud : 115200);
  let error: VillageError | undefined;
  for (let i = 0; i <= w.bus.retries; i++) {
    if (i > 0) await sleep(w.clock, gap);
    try {
      await w.ensureOpen?.();
      return await request();
    } catch (err) {
      error = toVillageError(err);
      if (error.code === 'MODBUS_EXCEPTION' || error.code === 'PORT_UNAVAILABLE') break;
    }
  }
  throw error ?? new VillageError('INTERNAL', 'no attempt made');
}

export interface ModbusCoilOutputDeps {
  /** The queue of the actuator's bus; absent when the bus is unknown (open() then says so). */
  readonly queue: BusQueue | undefined;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * A relay on a Modbus coil. Every write goes through the bus's queue, ahead of queued polls,
 * so it never collides with a poll on the half-duplex line, and is confirmed by reading the
 * coil back. `on` changes only on a confirmed write; it is false until the first one.
 */
export class ModbusCoilOutput implements WatchedOutput {
  readonly id: string;
  readonly kind: ActuatorConfig['kind'];
  private opened = false;
  /** The safe state was confirmed since open(); until then open() tries again. */
  private settled = false;
  private readonly state: OutputState;
  private readonly output: ModbusOutputConfig;

  constructor(
    private readonly actuator: ActuatorConfig,
    private readonly deps: ModbusCoilOutputDeps,
  ) {
    if (actuator.output.driver !== 'modbus') throw new VillageError('INTERNAL', `actuator ${actuator.id} is not a Modbus output`);
    this.id = actuator.id;
    this.kind = actuator.kind;
    this.output = actuator.output;
    this.state = new OutputState(actuator.id, deps.log);
  }

  get on(): boolean {
    return this.state.on;
  }

  onChange(listener: OutputListener): () => void {
    return this.state.add(listener);
  }

  /**
   * Writes the safe state. Nothing is claimed on a shared bus, so the output counts as open
   * even when this write fails (a slave still booting): set(), close() and another open() try again.
   */
  async open(): Promise<void> {
    if (this.opened && this.settled) return;
    this.opened = true;
    await this.write(safeOn(this.actuator));
    this.settled = true;
    this.deps.log.info({ output: this.id }, `output ${describeOutput(this.actuator)} in its safe state (${this.actuator.safeState})`);
  }

  async set(on: boolean): Promise<void> {
    if (!this.opened) throw new VillageError('INTERNAL', `output ${describeOutput(this.actuator)} is not open: call open() first`, { output: this.id });
    await this.write(on);
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.settled = false;
    try {
      await this.write(safeOn(this.actuator));
    } catch (err) {
      this.deps.log.error({ output: this.id, code: toVillageError(err).code, err: toVillageError(err).message }, `output ${describeOutput(this.actuator)}: cannot write its safe state on close`);
    }
  }

  private write(on: boolean): Promise<void> {
    const { queue, clock } = this.deps;
    const where = describeOutput(this.actuator);
    if (!queue) return Promise.reject(new VillageError('PORT_UNAVAILABLE', `output ${where}: no bus "${this.output.bus}"`, { output: this.id, bus: this.output.bus }));
    return new Promise<void>((resolve, reject) => {
      const job = async (): Promise<void> => {
        try {
          const done = await writeCoilConfirmed({
            link: queue.link,
            bus: queue.bus,
            slave: this.output.slave,
            coil: this.output.coil,
            value: coilOf(this.actuator, on),
            clock,
            ensureOpen: () => queue.ensureOpen(),
          });
          this.state.confirm(onOfCoil(this.actuator, done.value), clock.now());
          resolve();
        } catch (err) {
          const e = toVillageError(err);
          // The slave said what it holds: that is confirmed too, just not what was asked.
          if (e.code === 'MODBUS_FRAME' && typeof e.details.actual === 'boolean') this.state.confirm(onOfCoil(this.actuator, e.details.actual), clock.now());
          reject(new VillageError(e.code, `output ${where}: cannot switch ${on ? 'on' : 'off'}: ${e.message}`, { ...e.details, output: this.id }, { cause: e }));
        }
      };
      if (!queue.enqueue(`output ${this.id}`, job, { first: true })) {
        reject(new VillageError('PORT_UNAVAILABLE', `output ${where}: bus ${queue.bus.id} is stopped`, { output: this.id, bus: queue.bus.id }));
      }
    });
  }
}
