export type { Output } from './types.js';
export { isWatched, OutputState, type OutputChange, type OutputListener, type WatchedOutput } from './watch.js';
export { coilOf, describeOutput, levelOf, onOfCoil, safeLevel, safeOn, type GpioOutputConfig, type ModbusOutputConfig } from './levels.js';
export { GpioOutput, type GpioOutputDeps } from './gpio.js';
export { ModbusCoilOutput, writeCoilConfirmed, type CoilWrite, type CoilWritten, type ModbusCoilOutputDeps } from './modbus.js';
export { SimulatedOutput, type SimulatedOutputDeps, type StateChange } from './simulated.js';
export { closeOutputs, createOutputs, openOutputs, type OutputDeps } from './create.js';
export { applySafeStates, formatSafeStateReport, type SafeStateDeps, type SafeStateResult } from './safe-state.js';
