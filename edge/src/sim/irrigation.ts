/**
 * Closes the loop of the simulated village: what the outputs do reaches the fields. A zone
 * whose valve is on (and its pump and master valve, when it has them) waters its field at the
 * zone's flowLpm from the tank its `tank` sensor measures, or from the canal when it has none.
 * Lights have nothing to simulate beyond their state.
 */
import type { ActuatorConfig, ZoneConfig } from '@smart-village/shared';
import { sensorIdOf } from '../gpio/inputs.js';
import type { Output } from '../outputs/types.js';
import { isWatched, type WatchedOutput } from '../outputs/watch.js';
import type { SimulatedField } from './devices.js';

/** Nominal flow of a zone without flowLpm: a 25 mm drip main or two small sprinklers. */
export const DEFAULT_ZONE_LPM = 20;

interface BoundZone {
  readonly zone: ZoneConfig;
  /** The village field it waters and the tank it draws from (undefined: the canal). */
  readonly field: string;
  readonly tank: string | undefined;
  readonly lpm: number;
  readonly needs: readonly WatchedOutput[];
}

/**
 * Follows the outputs of `zones` into `field.village`. Throws an Error naming the zone when an
 * output, field or tank cannot be found. Returns a function that unbinds and stops the water
 * it started.
 */
export function bindSimulatedIrrigation(
  field: SimulatedField,
  zones: readonly ZoneConfig[],
  actuators: readonly ActuatorConfig[],
  outputs: ReadonlyMap<string, Output>,
): () => void {
  const village = field.village;
  const { fields, tanks } = village.things();
  const output = (zone: ZoneConfig, role: string, id: string): WatchedOutput => {
    if (!actuators.some((a) => a.id === id)) throw new Error(`zone "${zone.id}": its ${role} "${id}" is not among the actuators`);
    const o = outputs.get(id);
    if (!o) throw new Error(`zone "${zone.id}": no output for its ${role} "${id}"`);
    if (!isWatched(o)) throw new Error(`zone "${zone.id}": output "${id}" cannot be watched (it has no onChange)`);
    return o;
  };
  const bound: BoundZone[] = zones.map((zone) => {
    const fieldId = [zone.field, zone.moisture && field.thingOfSensor(zone.moisture.sensor)].find((f) => f !== undefined && fields.includes(f));
    if (fieldId === undefined) {
      throw new Error(
        `zone "${zone.id}": the simulated village has no field "${zone.field ?? '(none given)'}" (fields: ${fields.join(', ') || 'none'}); ` +
          'set the zone\'s field: to the field of one of its soil sensors (sensors[].field)',
      );
    }
    let tank: string | undefined;
    if (zone.tank !== undefined) {
      tank = field.thingOfSensor(zone.tank);
      if (tank === undefined || !tanks.includes(tank)) {
        throw new Error(`zone "${zone.id}": tank sensor "${zone.tank}" measures no simulated tank (tanks: ${tanks.join(', ') || 'none'})`);
      }
    }
    const needs = [output(zone, 'valve', zone.valve)];
    if (zone.pump !== undefined) needs.push(output(zone, 'pump', zone.pump));
    if (zone.masterValve !== undefined) needs.push(output(zone, 'master valve', zone.masterValve));
    return { zone, field: fieldId, tank, lpm: zone.flowLpm ?? DEFAULT_ZONE_LPM, needs };
  });

  const running = (z: BoundZone): boolean => z.needs.every((o) => o.on);
  // Two zones may water one field: its flow is their sum (from the first running one's tank).
  const applied = new Map<string, { lpm: number; tank: string | undefined }>();
  const update = (at: number): void => {
    village.advanceTo(at);
    for (const fieldId of new Set(bound.map((z) => z.field))) {
      const on = bound.filter((z) => z.field === fieldId && running(z));
      const next = { lpm: on.reduce((sum, z) => sum + z.lpm, 0), tank: on[0]?.tank };
      const last = applied.get(fieldId) ?? { lpm: 0, tank: undefined };
      if (next.lpm === last.lpm && next.tank === last.tank) continue;
      village.irrigate(fieldId, next.lpm, next.tank);
      applied.set(fieldId, next);
    }
  };

  const unsubscribe: (() => void)[] = [];
  for (const o of new Set(bound.flatMap((z) => z.needs))) unsubscribe.push(o.onChange((change) => update(change.at)));

  // GPIO flow meters: the one a zone names as flowSensor measures that zone; with none named,
  // a meter is taken to sit on the pump and measures every pumped zone.
  const meters = field.config.gpio.filter((g) => g.mode === 'flow-meter');
  const declared = field.config.site.sensors;
  const measures = (meterId: string, sensor: string | undefined): boolean =>
    sensor !== undefined && (sensor === sensorIdOf(meterId, 'flow') || declared.some((s) => s.id === sensor && s.source === `${meterId}/flow`));
  const anyNamed = bound.some((z) => meters.some((m) => measures(m.id, z.zone.flowSensor)));
  const metered: string[] = [];
  for (const m of meters) {
    const through = anyNamed ? bound.filter((z) => measures(m.id, z.zone.flowSensor)) : bound.filter((z) => z.zone.pump !== undefined);
    if (through.length === 0) continue;
    // A pump tripped by a dry tank delivers nothing, whatever the outputs say.
    field.meterFlow(m.id, () => through.reduce((sum, z) => sum + (running(z) && village.value(z.field, 'flow') > 0 ? z.lpm : 0), 0));
    metered.push(m.id);
  }

  update(village.now);
  return () => {
    unsubscribe.splice(0).forEach((u) => u());
    for (const id of metered) field.meterFlow(id, undefined);
    for (const [fieldId, s] of applied) if (s.lpm > 0) village.irrigate(fieldId, 0);
    applied.clear();
  };
}
