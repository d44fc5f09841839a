import { z } from 'zod';

export const SEVERITIES = ['info', 'warning', 'alarm'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Something that happened at the edge, worth keeping and explaining: a device went offline,
 * telemetry was dropped to stay within the disk quota, a zone was watered or skipped.
 * `kind` is dotted, e.g. "device.offline", "store.dropped", "zone.skipped".
 */
export const eventSchema = z
  .object({
    ts: z.number().int().nonnegative(),
    clockSynced: z.boolean(),
    kind: z.string().regex(/^[a-z]+(\.[a-z-]+)+$/),
    severity: z.enum(SEVERITIES),
    /** What it is about: a device, sensor, zone or the edge itself. */
    source: z.string().min(1),
    /** One sentence an operator can read. */
    message: z.string(),
    /** The inputs behind it, for "why?". */
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type Event = z.output<typeof eventSchema>;
export type EventInput = z.input<typeof eventSchema>;
