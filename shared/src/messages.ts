import { z } from 'zod';
import { readingSchema } from './reading.js';
import { controlStateSchema } from './command.js';
import { idSchema } from './ids.js';
import { QUANTITY_NAMES, UNITS } from './units.js';

/**
 * …/ack (cloud -> edge): every seq up to and including `seq` is durably stored. The edge moves
 * its outbox cursor only on this, never on an MQTT PUBACK [DESIGN §4].
 */
export const ackSchema = z.object({ seq: z.number().int().nonnegative() }).strict();
export type Ack = z.output<typeof ackSchema>;

/**
 * What dashboards need to label an edge's data: site settings, sensor names and the field each
 * belongs to. Sent inside …/state, so the cloud learns it from the edge's own config.
 */
export const edgeMetaSchema = z
  .object({
    site: z
      .object({
        name: z.string(),
        timezone: z.string(),
        language: z.enum(['vi', 'en']),
        lat: z.number(),
        lon: z.number(),
      })
      .strict(),
    sensors: z.array(
      z
        .object({
          id: idSchema,
          name: z.string().optional(),
          field: idSchema.optional(),
          quantity: z.enum(QUANTITY_NAMES as [string, ...string[]]).optional(),
          unit: z.enum(UNITS),
        })
        .strict(),
    ),
  })
  .strict();
export type EdgeMeta = z.output<typeof edgeMetaSchema>;

/**
 * …/state (edge -> cloud, retained): the latest value of every sensor, for dashboards. Small,
 * sent apart from the backlog so it is never stuck behind a week of backfill.
 */
export const stateSchema = z
  .object({
    ts: z.number().int().nonnegative(),
    readings: z.array(readingSchema),
    /** Outputs, zones and lights, when the edge runs local control. */
    control: controlStateSchema.optional(),
    meta: edgeMetaSchema.optional(),
  })
  .strict();
export type EdgeState = z.output<typeof stateSchema>;
