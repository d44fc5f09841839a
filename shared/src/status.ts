import { z } from 'zod';
import { idSchema } from './ids.js';

/**
 * Retained on …/status and used as the MQTT last will. `birth` grows with every connection,
 * so a late will (offline, birth n) never overwrites a newer birth (online, n+1).
 */
export const statusSchema = z
  .object({
    site: idSchema,
    edge: idSchema,
    state: z.enum(['online', 'offline']),
    birth: z.number().int().nonnegative(),
    ts: z.number().int().nonnegative(),
    versions: z.object({ edge: z.string(), protocol: z.number().int() }).strict(),
  })
  .strict();
export type Status = z.output<typeof statusSchema>;
