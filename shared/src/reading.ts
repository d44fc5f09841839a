import { z } from 'zod';
import { idSchema } from './ids.js';
import { UNITS } from './units.js';

export const QUALITIES = ['good', 'out-of-range', 'stale', 'error'] as const;
export type Quality = (typeof QUALITIES)[number];

/** One value of one sensor at one time. */
export const readingSchema = z
  .object({
    sensor: idSchema,
    /** Wall time, epoch milliseconds. */
    ts: z.number().int().nonnegative(),
    /** null when the value could not be read (quality "error"). */
    value: z.number().finite().nullable(),
    unit: z.enum(UNITS),
    quality: z.enum(QUALITIES),
    /** false when the edge clock was not yet synced (no RTC on a Pi) when this was taken. */
    clockSynced: z.boolean(),
  })
  .strict()
  .refine((r) => (r.value === null) === (r.quality === 'error'), { message: 'value is null exactly when quality is "error"' });
export type Reading = z.output<typeof readingSchema>;
