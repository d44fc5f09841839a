import { z } from 'zod';
import { idSchema } from './ids.js';
import { duration } from './duration.js';

/**
 * Local control configuration: irrigation zones and programs, the interlocks that guard them,
 * and lighting. Everything here runs on the edge without the cloud [DESIGN principle 5, 6].
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * A time of day in site time: "05:30", or relative to the sun: "sunrise", "sunset+30m",
 * "sunrise-1h". The sun's times come from the site's lat/lon.
 */
export const TIME_OF_DAY_PATTERN = /^(?:(?<hh>[01]\d|2[0-3]):(?<mm>[0-5]\d)|(?<sun>sunrise|sunset)(?:(?<sign>[+-])(?<off>\d+(?:\.\d+)?)(?<unit>m|min|h))?)$/;

export type TimeOfDay = { kind: 'clock'; minutes: number } | { kind: 'sun'; event: 'sunrise' | 'sunset'; offsetMinutes: number };

export function parseTimeOfDay(text: string): TimeOfDay | undefined {
  const m = TIME_OF_DAY_PATTERN.exec(text.trim());
  if (!m?.groups) return undefined;
  const g = m.groups;
  if (g.hh !== undefined) return { kind: 'clock', minutes: Number(g.hh) * 60 + Number(g.mm) };
  const amount = g.off === undefined ? 0 : Number(g.off) * (g.unit === 'h' ? 60 : 1);
  return { kind: 'sun', event: g.sun as 'sunrise' | 'sunset', offsetMinutes: g.sign === '-' ? -amount : amount };
}

export const timeOfDaySchema = z
  .string()
  .refine((s) => parseTimeOfDay(s) !== undefined, { message: 'write a time as "05:30", "sunrise", "sunset+30m" or "sunrise-1h"' });

/** Local date "YYYY-MM-DD". */
const localDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'write a date as YYYY-MM-DD' })
  .refine((d) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    const t = new Date(Date.UTC(y, m - 1, day));
    return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
  }, { message: 'no such date (check the day of the month)' });

/**
 * Which days a program runs: "daily", "odd" or "even" day of the month (the 31st and
 * 29 Feb count as odd/even like any other day), a list of weekdays, or every N days from a date.
 */
export const programDaysSchema = z.union([
  z.enum(['daily', 'odd', 'even']),
  z.array(z.enum(WEEKDAYS)).min(1, { message: 'list at least one weekday (sun, mon, ... sat)' }),
  z.object({ every: z.number().int().min(1).max(60), from: localDate }).strict(),
]);
export type ProgramDays = z.output<typeof programDaysSchema>;

/** How much one zone gets in a program: a duration, or a volume (needs the zone's flow). */
export const programStepSchema = z.union([
  z.object({ zone: idSchema, duration: duration(1000) }).strict(),
  z.object({ zone: idSchema, litres: z.number().positive() }).strict(),
]);
export type ProgramStep = z.output<typeof programStepSchema>;

export const programSchema = z
  .object({
    id: idSchema,
    name: z.string().optional(),
    days: programDaysSchema.default('daily'),
    starts: z.array(timeOfDaySchema).min(1, { message: 'give at least one start time, e.g. starts: ["05:30"]' }),
    /** Zones run one after the other in this order, with stationDelay between them. */
    zones: z.array(programStepSchema).min(1),
    stationDelay: duration(0).default(0),
    /** Scale durations/volumes by evapotranspiration accumulated since the last watering. */
    etScaling: z.boolean().default(false),
    /** Skip a start when rain says the field needs none. */
    rainSkip: z.boolean().default(true),
    /**
     * A start not finished by this long after its start time is abandoned; after a crash an
     * interrupted run resumes only inside this window (and only if resumeAfterCrash).
     */
    window: duration(60_000).default(3 * 3_600_000),
    resumeAfterCrash: z.boolean().default(true),
    enabled: z.boolean().default(true),
  })
  .strict();
export type ProgramConfig = z.output<typeof programSchema>;

/** Soil-moisture control of one zone: start below `start`, water until `target` (or maxRuntime). */
export const moistureControlSchema = z
  .object({
    /** Sensor id (from sensors:, or "device-point") reading soil moisture in %. */
    sensor: z.string().min(1),
    start: z.number().min(0).max(100),
    target: z.number().min(0).max(100),
    /** A reading older than this is not trusted. */
    maxAge: duration(1000).default(15 * 60_000),
    /** After a run, the zone stays off at least this long (water needs time to soak in). */
    minOff: duration(0).default(3_600_000),
    /** Longest one moisture-driven run may take. */
    maxRun: duration(60_000).default(30 * 60_000),
    /** With stale readings: "program" keeps the zone's programs running, "skip" waters nothing. */
    whenStale: z.enum(['program', 'skip']).default('program'),
  })
  .strict()
  .refine((m) => m.target > m.start, { message: 'target must be above start (the gap is the hysteresis)', path: ['target'] });
export type MoistureControl = z.output<typeof moistureControlSchema>;

export const zoneSchema = z
  .object({
    id: idSchema,
    name: z.string().optional(),
    /** The field it waters (dashboards group sensors by field). */
    field: idSchema.optional(),
    /** Actuator ids (actuators:). */
    valve: idSchema,
    pump: idSchema.optional(),
    masterValve: idSchema.optional(),
    /** Pump starts this long after the valve opened (no pumping against a closed valve). */
    pumpDelay: duration(0).default(2000),
    /** Pump stops this long before the valve closes (no water hammer). */
    pumpLead: duration(0).default(2000),
    /** Nominal flow, L/min: for volume steps, capacity and the log's litres when unmetered. */
    flowLpm: z.number().positive().optional(),
    /** A flow sensor (L/min) for feedback; with it the log has metered litres. */
    flowSensor: z.string().min(1).optional(),
    /** Tank level sensor (fill %) the pump draws from. */
    tank: z.string().min(1).optional(),
    moisture: moistureControlSchema.optional(),
    /** Farmers allowed to water this zone themselves (web app). */
    manualAllowed: z.boolean().default(true),
  })
  .strict();
export type ZoneConfig = z.output<typeof zoneSchema>;

export const irrigationSchema = z
  .object({
    /** How many zones, and how many L/min, may run at once; more wait in a queue. */
    capacity: z
      .object({ zones: z.number().int().min(1).default(1), lpm: z.number().positive().optional() })
      .strict()
      .default({ zones: 1 }),
    rain: z
      .object({
        /** A rain switch (state 1 = wet): skip while it reads 1. */
        switchSensor: z.string().min(1).optional(),
        /** A rain gauge's running total (mm); skip when it rose by `mm` over the last `hours`. */
        gaugeSensor: z.string().min(1).optional(),
        mm: z.number().positive().default(5),
        hours: z.number().positive().max(168).default(24),
      })
      .strict()
      .default({ mm: 5, hours: 24 }),
    et: z
      .object({
        /** ET0 (mm/day) the programmed durations are written for; 100 % at this demand. */
        baseMmPerDay: z.number().positive().default(4.5),
        minPercent: z.number().min(0).max(100).default(30),
        maxPercent: z.number().min(100).max(300).default(150),
        /** Weather readings older than this are stale: scaling falls back to 100 %. */
        maxAge: duration(60_000).default(3 * 3_600_000),
        /** Sensor ids of the weather station; radiation is optional (Hargreaves without it). */
        sensors: z
          .object({
            airTemperature: z.string().min(1),
            relativeHumidity: z.string().min(1).optional(),
            windSpeed: z.string().min(1).optional(),
            solarRadiation: z.string().min(1).optional(),
            airPressure: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ baseMmPerDay: 4.5, minPercent: 30, maxPercent: 150, maxAge: 3 * 3_600_000 }),
    tank: z
      .object({
        /** Below this fill % the pump never starts, and stops mid-run. */
        minPercent: z.number().min(0).max(100).default(15),
        /** After a low-tank stop, pumping is allowed again only above this. */
        restartPercent: z.number().min(0).max(100).default(25),
        /** A tank reading older than this counts as unknown: pumps stay off. */
        maxAge: duration(1000).default(10 * 60_000),
      })
      .strict()
      .refine((t) => t.restartPercent > t.minPercent, { message: 'restartPercent must be above minPercent', path: ['restartPercent'] })
      .default({ minPercent: 15, restartPercent: 25, maxAge: 10 * 60_000 }),
    /** A valve ON without flow (or OFF with flow) for this long raises an alarm and stops the zone. */
    flowCheckAfter: duration(5000).default(60_000),
    /** Flow below this (L/min) counts as none. */
    noFlowBelowLpm: z.number().nonnegative().default(0.5),
  })
  .strict();
export type IrrigationConfig = z.output<typeof irrigationSchema>;

export const lightingSchema = z
  .object({
    id: idSchema,
    name: z.string().optional(),
    /** Light actuator ids switched together. */
    lights: z.array(idSchema).min(1),
    /** "sun": on at sunset, off at sunrise (with offsets); "lux": by an illuminance sensor. */
    mode: z.enum(['sun', 'lux']).default('sun'),
    /** When the lights go on and off in "sun" mode: a time like "sunset+10m", "sunrise-15m" or "18:00". */
    on: timeOfDaySchema.default('sunset'),
    off: timeOfDaySchema.default('sunrise'),
    /** Windows of the night when the lights stay off (saving the battery), e.g. ["23:00", "04:30"]. */
    offWindows: z
      .array(z.tuple([z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/), z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/)]))
      .default([]),
    lux: z
      .object({ sensor: z.string().min(1), onBelow: z.number().nonnegative(), offAbove: z.number().nonnegative() })
      .strict()
      .refine((l) => l.offAbove > l.onBelow, { message: 'offAbove must be above onBelow (hysteresis)', path: ['offAbove'] })
      .optional(),
  })
  .strict();
export type LightingConfig = z.output<typeof lightingSchema>;

/** A push button on a GPIO input that waters a zone for a fixed time (press again: stop). */
export const buttonSchema = z
  .object({
    id: idSchema,
    pin: z.number().int().min(0).max(27),
    activeLow: z.boolean().default(true),
    zone: idSchema,
    duration: duration(1000).default(10 * 60_000),
  })
  .strict();
export type ButtonConfig = z.output<typeof buttonSchema>;
