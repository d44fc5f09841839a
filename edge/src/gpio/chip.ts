import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VillageError } from '@smart-village/shared';

/**
 * The sysfs GPIO interface numbers lines globally: a chip's lines are `base .. base+ngpio-1`.
 * The BCM number printed on the Pi header (GPIO17) is the line offset inside the main
 * controller, so the sysfs number is `base + bcm`. Raspberry Pi OS kernels before 6.6 gave the
 * main controller base 0; from 6.6 every chip gets a dynamic base from 512 up (so GPIO17 is
 * sysfs 529 on a Pi 4, and the Pi 5's RP1 sits behind the SoC's own banks at a higher base).
 * We read the base instead of guessing from the kernel version.
 */
export const DEFAULT_SYSFS_ROOT = '/sys/class/gpio';

/**
 * Labels of the controller that drives the 40-pin header: BCM2835/6/7 (Pi 1-3, Zero) register
 * as "pinctrl-bcm2835", BCM2711 (Pi 4, CM4, Pi 400) as "pinctrl-bcm2711", and on the Pi 5 the
 * header hangs off the RP1 southbridge, "pinctrl-rp1" (the BCM2712's own banks are
 * "gpio-brcmstb@…" and drive only on-board signals).
 */
export const MAIN_CONTROLLER_LABELS: readonly string[] = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'];

/**
 * Fallback when no label matches (a renamed driver in a future kernel): the header controller
 * is the only chip on any Pi with at least 54 lines (BCM2835 54, BCM2711 58, RP1 54), while
 * the firmware expander ("raspberrypi-exp-gpio", 8 lines) and the Pi 5 brcmstb banks (≤ 32)
 * are smaller.
 */
export const MIN_MAIN_CONTROLLER_LINES = 54;

export interface GpioChipInfo {
  /** Directory name, e.g. "gpiochip512". */
  readonly name: string;
  readonly base: number;
  readonly ngpio: number;
  readonly label: string;
}

/** sysfs line number of a BCM pin. */
export function sysfsPinOf(chipBase: number, bcm: number): number {
  return chipBase + bcm;
}

const HINT =
  'On a Raspberry Pi add the service user to the gpio group (sudo usermod -aG gpio <user>, then log in again); ' +
  'on a machine without GPIO set `edge.gpio.driver: simulated` in the site config.';

export function gpioUnavailable(problem: string, details: Record<string, unknown> = {}, cause?: unknown): VillageError {
  return new VillageError('GPIO_UNAVAILABLE', `GPIO is not available: ${problem}. ${HINT}`, details, cause === undefined ? undefined : { cause });
}

/**
 * Picks the chip that drives the header: a known label first, else the lowest base among chips
 * with ≥ 54 lines (the SoC controller probes before any expander, so it gets the lowest base).
 */
export function pickMainChip(chips: readonly GpioChipInfo[]): GpioChipInfo | undefined {
  const byBase = [...chips].sort((a, b) => a.base - b.base);
  return byBase.find((c) => MAIN_CONTROLLER_LABELS.includes(c.label)) ?? byBase.find((c) => c.ngpio >= MIN_MAIN_CONTROLLER_LINES);
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Reads every `gpiochip*` under the sysfs root; chips whose files cannot be read are skipped. */
export async function listGpioChips(sysfsRoot: string = DEFAULT_SYSFS_ROOT): Promise<GpioChipInfo[]> {
  const names = (await readdir(sysfsRoot)).filter((n) => n.startsWith('gpiochip'));
  const chips: GpioChipInfo[] = [];
  for (const name of names) {
    const dir = join(sysfsRoot, name);
    const base = Number(await readTrimmed(join(dir, 'base')));
    const ngpio = Number(await readTrimmed(join(dir, 'ngpio')));
    const label = (await readTrimmed(join(dir, 'label'))) ?? '';
    if (!Number.isInteger(base) || base < 0) continue;
    chips.push({ name, base, ngpio: Number.isInteger(ngpio) ? ngpio : 0, label });
  }
  return chips;
}

/**
 * Throws GPIO_UNAVAILABLE unless the sysfs GPIO root exists and its `export` file is writable
 * (onoff exports each pin by writing its number there).
 */
export async function assertGpioAccessible(sysfsRoot: string = DEFAULT_SYSFS_ROOT): Promise<void> {
  try {
    const s = await stat(sysfsRoot);
    if (!s.isDirectory()) throw gpioUnavailable(`${sysfsRoot} is not a directory`, { sysfsRoot });
  } catch (err) {
    if (err instanceof VillageError) throw err;
    throw gpioUnavailable(
      `${sysfsRoot} does not exist (this machine has no GPIO, or its kernel lacks the sysfs GPIO interface)`,
      { sysfsRoot },
      err,
    );
  }
  const exportPath = join(sysfsRoot, 'export');
  try {
    await access(exportPath, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'is not writable by this user' : `cannot be opened (${code ?? String(err)})`;
    throw gpioUnavailable(`${exportPath} ${why}`, { sysfsRoot, code }, err);
  }
}

/** The sysfs number of BCM 0 on this machine, read from the main controller's `base`. */
export async function detectChipBase(sysfsRoot: string = DEFAULT_SYSFS_ROOT): Promise<number> {
  await assertGpioAccessible(sysfsRoot);
  const chips = await listGpioChips(sysfsRoot);
  const main = pickMainChip(chips);
  if (!main) {
    const found = chips.map((c) => `${c.name} "${c.label}" (${c.ngpio} lines)`).join(', ') || 'none';
    throw new VillageError(
      'GPIO_UNAVAILABLE',
      `GPIO is not available: no Raspberry Pi GPIO controller (${MAIN_CONTROLLER_LABELS.join(', ')}) among the chips in ${sysfsRoot}: ${found}. ` +
        'Set `edge.gpio.chipBase` in the site config to the sysfs number of BCM 0, or `edge.gpio.driver: simulated` on a machine without GPIO.',
      { sysfsRoot, chips },
    );
  }
  return main.base;
}
