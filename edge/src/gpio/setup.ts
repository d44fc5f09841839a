import type { SiteConfig } from '@smart-village/shared';
import type { Clock } from '../clock.js';
import type { OutputPinBackend, PinBackend } from './backend.js';
import { DEFAULT_SYSFS_ROOT, detectChipBase } from './chip.js';
import { OnoffBackend } from './onoff.js';
import { SimulatedPinBackend } from './simulated.js';

export type GpioSettings = SiteConfig['edge']['gpio'];

export interface GpioSetup {
  readonly backend: PinBackend & OutputPinBackend;
  /** sysfs number of BCM 0, for GpioInputDriver's `chipBase`. */
  readonly chipBase: number;
}

/**
 * Turns `edge.gpio` of the site config into a backend and chip base. Throws
 * GPIO_UNAVAILABLE (with the fix in the message) when onoff is asked for on a machine whose
 * GPIO cannot be used.
 */
export async function setupGpio(settings: GpioSettings, deps: { clock: Clock; sysfsRoot?: string }): Promise<GpioSetup> {
  if (settings.driver === 'simulated') {
    return { backend: new SimulatedPinBackend(deps.clock), chipBase: settings.chipBase === 'auto' ? 0 : settings.chipBase };
  }
  const chipBase = settings.chipBase === 'auto' ? await detectChipBase(deps.sysfsRoot ?? DEFAULT_SYSFS_ROOT) : settings.chipBase;
  return { backend: await OnoffBackend.load(), chipBase };
}
