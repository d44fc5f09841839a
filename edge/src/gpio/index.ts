export type { Pin, PinBackend, PinOpenOptions } from './backend.js';
export {
  DEFAULT_SYSFS_ROOT,
  MAIN_CONTROLLER_LABELS,
  MIN_MAIN_CONTROLLER_LINES,
  assertGpioAccessible,
  detectChipBase,
  gpioUnavailable,
  listGpioChips,
  pickMainChip,
  sysfsPinOf,
  type GpioChipInfo,
} from './chip.js';
export { GpioInputDriver, type GpioInputDriverOptions } from './driver.js';
export {
  Debouncer,
  GPIO_POINTS,
  InputChannel,
  countPulses,
  debounceEdges,
  debounceMsOf,
  defaultDebounceMs,
  errorReadings,
  flowLitresPerMinute,
  rainMm,
  sensorIdOf,
  volumeLitres,
  type Edge,
  type GpioMode,
  type InputDevice,
  type Level,
} from './inputs.js';
export { OnoffBackend, type OnoffGpioClass } from './onoff.js';
export { setupGpio, type GpioSettings, type GpioSetup } from './setup.js';
export { SimulatedPinBackend, type SimulatedPulseOptions } from './simulated.js';
