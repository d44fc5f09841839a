import type { ActuatorConfig, Quantity, Unit } from '@smart-village/shared';

/**
 * The code tables of protocol v1 (PROTOCOL.md §6). Codes are fixed forever: new quantities and
 * units get new codes at the end, nothing is ever renumbered, so an old node keeps meaning the
 * same thing to a new edge. 0 is never a valid code (an erased EEPROM or a zeroed struct).
 */
export const UNIT_CODES = [
  [1, '%VWC'],
  [2, '°C'],
  [3, 'µS/cm'],
  [4, 'pH'],
  [5, 'cm'],
  [6, '%'],
  [7, '%RH'],
  [8, 'mm'],
  [9, 'm/s'],
  [10, '°'],
  [11, 'W/m²'],
  [12, 'lx'],
  [13, 'L/min'],
  [14, 'L'],
  [15, 'V'],
  [16, 'hPa'],
  [17, 'mg/kg'],
  [18, 'state'],
  [19, 'count'],
] as const satisfies readonly (readonly [number, Unit])[];

export const QUANTITY_CODES = [
  [1, 'soil-moisture'],
  [2, 'soil-temperature'],
  [3, 'soil-ec'],
  [4, 'soil-ph'],
  [5, 'soil-nitrogen'],
  [6, 'soil-phosphorus'],
  [7, 'soil-potassium'],
  [8, 'water-level'],
  [9, 'water-fill'],
  [10, 'air-temperature'],
  [11, 'relative-humidity'],
  [12, 'air-pressure'],
  [13, 'rain'],
  [14, 'wind-speed'],
  [15, 'wind-direction'],
  [16, 'solar-radiation'],
  [17, 'illuminance'],
  [18, 'flow'],
  [19, 'volume'],
  [20, 'battery'],
  [21, 'switch'],
  [22, 'pulses'],
] as const satisfies readonly (readonly [number, Quantity])[];

/** What a node's actuator channel drives; 0 is a relay whose use the node does not know. */
export type ActuatorKind = 'relay' | ActuatorConfig['kind'];
export const ACTUATOR_KIND_CODES = [
  [0, 'relay'],
  [1, 'valve'],
  [2, 'pump'],
  [3, 'master-valve'],
  [4, 'light'],
] as const satisfies readonly (readonly [number, ActuatorKind])[];

function tables<T extends string>(pairs: readonly (readonly [number, T])[]): { byCode: ReadonlyMap<number, T>; byName: ReadonlyMap<T, number> } {
  return { byCode: new Map(pairs.map(([c, n]) => [c, n])), byName: new Map(pairs.map(([c, n]) => [n, c])) };
}

const UNITS = tables<Unit>(UNIT_CODES);
const QUANTITIES = tables<Quantity>(QUANTITY_CODES);
const KINDS = tables<ActuatorKind>(ACTUATOR_KIND_CODES);

/** null: a code this edge does not know (a newer node); the caller rejects just that item. */
export const unitOfCode = (code: number): Unit | null => UNITS.byCode.get(code) ?? null;
export const quantityOfCode = (code: number): Quantity | null => QUANTITIES.byCode.get(code) ?? null;
export const kindOfCode = (code: number): ActuatorKind | null => KINDS.byCode.get(code) ?? null;

export function unitCode(unit: Unit): number {
  return UNITS.byName.get(unit) as number;
}
export function quantityCode(quantity: Quantity): number {
  return QUANTITIES.byName.get(quantity) as number;
}
export function kindCode(kind: ActuatorKind): number {
  return KINDS.byName.get(kind) as number;
}
