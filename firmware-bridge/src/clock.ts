/** The clock is shared's (the edge passes its own; the simulated node and the bench use systemClock). */
export { systemClock, type Clock, type TimerHandle } from '@smart-village/shared';

/** What the bridge needs of a logger (pino's Logger fits). */
export interface BridgeLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything (the simulated node when asked to be quiet). */
export const silentLogger: BridgeLogger = { debug() {}, info() {}, warn() {}, error() {} };
