import { z } from 'zod';
import { readingSchema } from './reading.js';

/**
 * …/ack (cloud -> edge): every seq up to and including `seq` is durably stored. The edge moves
 * its outbox cursor only on this, never on an MQTT PUBACK [DESIGN §4].
 */
export const ackSchema = z.object({ seq: z.number().int().nonnegative() }).strict();
export type Ack = z.output<typeof ackSchema>;

/**
 * …/state (edge -> cloud, retained): the latest value of every sensor, for dashboards. Small,
 * sent apart from the backlog so it is never stuck behind a week of backfill.
 */
export const stateSchema = z
  .object({
    ts: z.number().int().nonnegative(),
    readings: z.array(readingSchema),
  })
  .strict();
export type EdgeState = z.output<typeof stateSchema>;
