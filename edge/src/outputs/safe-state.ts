/**
 * The systemd stop hook: `ExecStopPost=` runs `village-edge safe-outputs` after the service
 * is gone, whether it stopped or crashed, and puts every output in its safe state without the
 * service's help. GPIO is written straight to sysfs (no onoff: this must work even where the
 * native module does not load); Modbus relays get one FC05 per coil on a briefly opened bus.
 */
import { access, constants, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toVillageError, VillageError, type ActuatorConfig, type BusConfig } from '@smart-village/shared';
import { sleep, systemClock, type Clock } from '../clock.js';
import type { EdgeConfig } from '../config.js';
import { DEFAULT_SYSFS_ROOT, detectChipBase, sysfsPinOf } from '../gpio/chip.js';
import type { Logger } from '../log.js';
import { ModbusSerialLink, describe, type ModbusLink } from '../modbus/link.js';
import { coilOf, describeOutput, safeLevel } from './levels.js';
import { writeCoilConfirmed } from './modbus.js';

export interface SafeStateDeps {
  readonly log: Logger;
  /** Root of the sysfs GPIO interface; default /sys/class/gpio (tests: a temp tree). */
  readonly sysfsRoot?: string;
  /** How long a freshly exported line may take to appear with writable files (udev sets their group); default 3000 ms. */
  readonly exportTimeoutMs?: number;
  /** The link to a bus; default the real client (ModbusSerialLink). */
  readonly linkFor?: (bus: BusConfig) => ModbusLink;
  /** Default the system clock. */
  readonly clock?: Clock;
}

export interface SafeStateResult {
  readonly id: string;
  readonly kind: ActuatorConfig['kind'];
  readonly driver: ActuatorConfig['output']['driver'];
  readonly safeState: ActuatorConfig['safeState'];
  /** applied: written (and for Modbus read back); skipped: nothing real to write (simulated). */
  readonly status: 'applied' | 'failed' | 'skipped';
  /** What was written where, or why it was skipped: "sysfs 529 direction low", "coil 3 of slave 2 off". */
  readonly detail: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * Writes the safe state of every actuator in `config`. GPIO lines first (a direction write
 * each, quick), then the Modbus buses side by side, coils of one bus one after the other.
 * Never throws for one output: each result says applied, failed (with the error) or skipped.
 */
export async function applySafeStates(config: EdgeConfig, deps: SafeStateDeps): Promise<SafeStateResult[]> {
  const actuators = config.site.actuators;
  const results = new Map<string, SafeStateResult>();
  const gpio = actuators.filter((a) => a.output.driver === 'gpio');
  for (const r of await gpioSafeStates(config, gpio, deps)) results.set(r.id, r);
  const byBus = new Map<string, ActuatorConfig[]>();
  for (const a of actuators) {
    if (a.output.driver === 'simulated') results.set(a.id, result(a, 'skipped', 'simulated output: nothing outside this process to write'));
    if (a.output.driver !== 'modbus') continue;
    const list = byBus.get(a.output.bus) ?? [];
    list.push(a);
    byBus.set(a.output.bus, list);
  }
  const perBus = await Promise.all([...byBus].map(([busId, list]) => busSafeStates(config, busId, list, deps)));
  for (const r of perBus.flat()) results.set(r.id, r);
  const ordered = actuators.map((a) => results.get(a.id)).filter((r): r is SafeStateResult => r !== undefined);
  for (const r of ordered) {
    if (r.status === 'failed') deps.log.error({ output: r.id, code: r.error?.code, err: r.error?.message }, `safe state NOT applied to ${r.id}: ${r.detail}`);
    else deps.log.info({ output: r.id, status: r.status }, `${r.id}: ${r.status === 'applied' ? 'safe state applied' : 'skipped'} (${r.detail})`);
  }
  return ordered;
}

/** One line per output, for the CLI: "ok   valve-1 off  sysfs 529 direction high". */
export function formatSafeStateReport(results: readonly SafeStateResult[]): string {
  const mark = { applied: 'ok  ', failed: 'FAIL', skipped: 'skip' } as const;
  return results
    .map((r) => `${mark[r.status]} ${r.id} ${r.safeState}  ${r.detail}${r.error ? `: ${r.error.code}: ${r.error.message}` : ''}`)
    .join('\n');
}

function result(a: ActuatorConfig, status: SafeStateResult['status'], detail: string, err?: unknown): SafeStateResult {
  const base = { id: a.id, kind: a.kind, driver: a.output.driver, safeState: a.safeState, status, detail };
  if (err === undefined) return base;
  const e = toVillageError(err);
  return { ...base, error: { code: e.code, message: e.message } };
}

async function gpioSafeStates(config: EdgeConfig, actuators: ActuatorConfig[], deps: SafeStateDeps): Promise<SafeStateResult[]> {
  if (actuators.length === 0) return [];
  const settings = config.site.edge.gpio;
  if (settings.driver === 'simulated') return actuators.map((a) => result(a, 'skipped', 'edge.gpio.driver is simulated'));
  const root = deps.sysfsRoot ?? DEFAULT_SYSFS_ROOT;
  let base: number;
  try {
    base = settings.chipBase === 'auto' ? await detectChipBase(root) : settings.chipBase;
  } catch (err) {
    return actuators.map((a) => result(a, 'failed', `GPIO${pinOf(a)}: cannot find the GPIO chip`, err));
  }
  const out: SafeStateResult[] = [];
  for (const a of actuators) {
    const sysfsPin = sysfsPinOf(base, pinOf(a));
    const direction = safeLevel(a) === 1 ? 'high' : 'low';
    const detail = `GPIO${pinOf(a)} = sysfs ${sysfsPin} direction ${direction}`;
    try {
      await writeSafeDirection(root, sysfsPin, direction, deps);
      out.push(result(a, 'applied', detail));
    } catch (err) {
      out.push(result(a, 'failed', detail, err));
    }
  }
  return out;
}

function pinOf(a: ActuatorConfig): number {
  return a.output.driver === 'gpio' ? a.output.pin : -1;
}

/**
 * Exports the line if needed and writes its direction as "high" or "low": the kernel sets the
 * level with the direction (gpiod_direction_output_raw), so the relay goes straight to safe
 * whatever the line was (an input left floating, or an output at the other level). The line
 * stays exported on purpose: unexported, a kernel without persist_gpio_outputs would turn it
 * back into a floating input.
 */
async function writeSafeDirection(root: string, sysfsPin: number, direction: 'high' | 'low', deps: SafeStateDeps): Promise<void> {
  const dir = join(root, `gpio${sysfsPin}`);
  const directionFile = join(dir, 'direction');
  if (!(await exists(dir))) {
    try {
      await writeFile(join(root, 'export'), String(sysfsPin));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EBUSY: exported meanwhile (or claimed by a kernel driver: the wait below tells which).
      if (code !== 'EBUSY') {
        const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied: the service user needs the gpio group' : code === 'EINVAL' ? 'the kernel does not know this number: check edge.gpio.chipBase' : (err as Error).message;
        throw new VillageError('GPIO_UNAVAILABLE', `cannot export GPIO sysfs ${sysfsPin}: ${why}`, { sysfsPin, code }, { cause: err });
      }
    }
  }
  await writable(directionFile, sysfsPin, deps);
  try {
    await writeFile(directionFile, direction);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VillageError('GPIO_UNAVAILABLE', `cannot write ${directionFile}: ${(err as Error).message}`, { sysfsPin, code }, { cause: err });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Waits until udev has given the new line's files to the gpio group (raspberrypi/linux#553). */
async function writable(file: string, sysfsPin: number, deps: SafeStateDeps): Promise<void> {
  const clock = deps.clock ?? systemClock;
  const timeout = deps.exportTimeoutMs ?? 3000;
  const start = clock.monotonic();
  for (;;) {
    try {
      await access(file, constants.W_OK);
      return;
    } catch (err) {
      if (clock.monotonic() - start >= timeout) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new VillageError('GPIO_UNAVAILABLE', `GPIO sysfs ${sysfsPin}: ${file} ${code === 'ENOENT' ? 'did not appear after export' : 'is not writable'} within ${timeout} ms`, { sysfsPin, code }, { cause: err });
      }
    }
    await sleep(clock, 10);
  }
}

async function busSafeStates(config: EdgeConfig, busId: string, actuators: ActuatorConfig[], deps: SafeStateDeps): Promise<SafeStateResult[]> {
  const clock = deps.clock ?? systemClock;
  const coilDetail = (a: ActuatorConfig): string => {
    const o = a.output;
    return o.driver === 'modbus' ? `bus ${o.bus} slave ${o.slave} coil ${o.coil} ${coilOf(a, a.safeState === 'on') ? 'on' : 'off'}` : describeOutput(a);
  };
  const bus = config.site.buses.find((b) => b.id === busId);
  if (!bus) return actuators.map((a) => result(a, 'failed', coilDetail(a), new VillageError('CONFIG_INVALID', `no bus "${busId}"`)));
  if (bus.type === 'simulated') return actuators.map((a) => result(a, 'skipped', `${coilDetail(a)}: simulated bus`));
  const link = deps.linkFor?.(bus) ?? new ModbusSerialLink(bus);
  try {
    await link.open();
  } catch (err) {
    return actuators.map((a) => result(a, 'failed', `${coilDetail(a)}: cannot open ${describe(bus)}`, err));
  }
  const out: SafeStateResult[] = [];
  // A slave that did not answer one coil will not answer the next: report its other coils
  // at once instead of holding the stop for retries × timeout each.
  const silent = new Map<number, VillageError>();
  try {
    for (const a of actuators) {
      if (a.output.driver !== 'modbus') continue;
      const { slave, coil } = a.output;
      const dead = silent.get(slave);
      if (dead) {
        out.push(result(a, 'failed', coilDetail(a), dead));
        continue;
      }
      try {
        const done = await writeCoilConfirmed({ link, bus, slave, coil, value: coilOf(a, a.safeState === 'on'), clock, ensureOpen: () => link.open() });
        out.push(result(a, 'applied', done.readBack ? coilDetail(a) : `${coilDetail(a)} (slave cannot read coils back)`));
      } catch (err) {
        const e = toVillageError(err);
        if (e.code === 'MODBUS_TIMEOUT') silent.set(slave, e);
        out.push(result(a, 'failed', coilDetail(a), e));
      }
    }
  } finally {
    await link.close();
  }
  return out;
}
