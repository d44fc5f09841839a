import { z } from 'zod';

/**
 * Units of the field. One canonical spelling each (the one shown to farmers); ASCII aliases
 * are accepted in config files typed on a keyboard without µ or °.
 */
export const UNITS = [
  '%VWC', // soil volumetric water content
  '°C',
  'µS/cm', // soil or water electrical conductivity
  'pH',
  'cm', // water level as height
  '%', // water level as fill, battery state, generic ratio
  '%RH', // relative humidity
  'mm', // rain
  'm/s', // wind speed
  '°', // wind direction, from north, clockwise
  'W/m²', // solar radiation
  'lx', // illuminance
  'L/min', // flow
  'L', // volume
  'V', // battery or supply voltage
  'hPa', // air pressure
  'mg/kg', // soil N, P, K
  'state', // 0/1 of a switch (float switch, rain sensor, relay)
  'count', // raw pulses
] as const;

export type Unit = (typeof UNITS)[number];

const ALIASES: Record<string, Unit> = {
  'uS/cm': 'µS/cm',
  'us/cm': 'µS/cm',
  degC: '°C',
  C: '°C',
  deg: '°',
  'W/m2': 'W/m²',
  lux: 'lx',
  RH: '%RH',
  'l/min': 'L/min',
  l: 'L',
  vwc: '%VWC',
  '%vwc': '%VWC',
};

export function normaliseUnit(text: string): Unit | undefined {
  if ((UNITS as readonly string[]).includes(text)) return text as Unit;
  return ALIASES[text];
}

export const unitSchema = z.string().transform((text, ctx) => {
  const unit = normaliseUnit(text);
  if (unit === undefined) {
    ctx.addIssue({ code: 'custom', message: `unknown unit "${text}" (known: ${UNITS.join(', ')})` });
    return z.NEVER;
  }
  return unit;
});

/**
 * What a value measures, with its unit and the range a real sensor can physically report.
 * Outside that range a reading is kept with quality `out-of-range`.
 */
export const QUANTITIES = {
  'soil-moisture': { unit: '%VWC', min: 0, max: 100 },
  'soil-temperature': { unit: '°C', min: -20, max: 80 },
  'soil-ec': { unit: 'µS/cm', min: 0, max: 20000 },
  'soil-ph': { unit: 'pH', min: 3, max: 9 },
  'soil-nitrogen': { unit: 'mg/kg', min: 0, max: 1999 },
  'soil-phosphorus': { unit: 'mg/kg', min: 0, max: 1999 },
  'soil-potassium': { unit: 'mg/kg', min: 0, max: 1999 },
  'water-level': { unit: 'cm', min: 0, max: 1000 },
  'water-fill': { unit: '%', min: 0, max: 100 },
  'air-temperature': { unit: '°C', min: -40, max: 60 },
  'relative-humidity': { unit: '%RH', min: 0, max: 100 },
  'air-pressure': { unit: 'hPa', min: 300, max: 1100 },
  rain: { unit: 'mm', min: 0, max: 500 },
  'wind-speed': { unit: 'm/s', min: 0, max: 70 },
  'wind-direction': { unit: '°', min: 0, max: 360 },
  'solar-radiation': { unit: 'W/m²', min: 0, max: 1800 },
  illuminance: { unit: 'lx', min: 0, max: 200000 },
  flow: { unit: 'L/min', min: 0, max: 10000 },
  volume: { unit: 'L', min: 0, max: 1e12 },
  battery: { unit: 'V', min: 0, max: 60 },
  switch: { unit: 'state', min: 0, max: 1 },
  pulses: { unit: 'count', min: 0, max: Number.MAX_SAFE_INTEGER },
} as const satisfies Record<string, { unit: Unit; min: number; max: number }>;

export type Quantity = keyof typeof QUANTITIES;
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[];
export const quantitySchema = z.enum(QUANTITY_NAMES as [Quantity, ...Quantity[]]);
