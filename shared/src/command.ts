import { z } from 'zod';
import { idSchema } from './ids.js';
import { duration } from './duration.js';

/**
 * …/cmd (cloud -> edge, never retained) and local commands (CLI, GPIO button). A command that
 * actuates carries a duration: the edge turns the output off itself when it ends. `ts` + `ttl`
 * bound when it may still be carried out: a command that waited in a queue while the edge was
 * offline must not open a valve hours later.
 */
export const commandActionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('water'), zone: idSchema, duration: duration(1000) }).strict(),
  z.object({ type: z.literal('stop'), zone: idSchema.optional() }).strict(),
  /** Pause all irrigation (programs and moisture control) for a while; running zones stop. */
  z.object({ type: z.literal('pause'), duration: duration(60_000) }).strict(),
  z.object({ type: z.literal('resume') }).strict(),
  /** Skip programmed and moisture-driven watering until it expires by itself. */
  z.object({ type: z.literal('rain-delay'), duration: duration(3_600_000, false).pipe(z.number().max(14 * 86_400_000)) }).strict(),
  z.object({ type: z.literal('rain-delay-clear') }).strict(),
  /** Override a lighting group (on or off) for a while; it returns to automatic after. */
  z.object({ type: z.literal('light'), group: idSchema, on: z.boolean(), duration: duration(60_000) }).strict(),
]);
export type CommandAction = z.output<typeof commandActionSchema>;

export const COMMAND_SOURCES = ['cloud', 'cli', 'button', 'local-web'] as const;

export const commandSchema = z
  .object({
    /** Unique per command; the result echoes it and a repeated id is not carried out twice. */
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'command ids are 1-64 letters, digits, _ or -' }),
    /** When it was issued (epoch ms). */
    ts: z.number().int().nonnegative(),
    /** How long after ts it may still be carried out. */
    ttl: duration(1000).default(60_000),
    /** Who asked (user name, "cli", "button:b1"), for the audit trail. */
    by: z.string().min(1).max(100),
    action: commandActionSchema,
  })
  .strict();
export type Command = z.output<typeof commandSchema>;
export type CommandInput = z.input<typeof commandSchema>;

export const COMMAND_RESULTS = ['accepted', 'rejected', 'done', 'failed'] as const;
export type CommandResultStatus = (typeof COMMAND_RESULTS)[number];

/** …/cmd-result (edge -> cloud): accepted or rejected at once, then done/failed for actuations. */
export const commandResultSchema = z
  .object({
    id: z.string().min(1).max(64),
    status: z.enum(COMMAND_RESULTS),
    /** Why it was rejected or failed, in one sentence ("tank below 15 %: bon-nuoc is at 9 %"). */
    reason: z.string().optional(),
    ts: z.number().int().nonnegative(),
  })
  .strict();
export type CommandResult = z.output<typeof commandResultSchema>;

/** One output's state as the edge drives it. */
export const outputStateSchema = z
  .object({
    id: idSchema,
    kind: z.enum(['valve', 'pump', 'master-valve', 'light']),
    on: z.boolean(),
    /** Lease end (epoch ms) while on. */
    until: z.number().int().nonnegative().optional(),
    /** Why it is in this state ("program sang-som", "manual by lan", "tank low"). */
    reason: z.string().optional(),
    /** Set when the output could not be driven (driver error). */
    fault: z.string().optional(),
  })
  .strict();
export type OutputState = z.output<typeof outputStateSchema>;

export const zoneRunSchema = z
  .object({
    start: z.number().int().nonnegative(),
    end: z.number().int().nonnegative().optional(),
    reason: z.string(),
    litres: z.number().nonnegative().optional(),
  })
  .strict();

export const zoneStateSchema = z
  .object({
    id: idSchema,
    name: z.string().optional(),
    field: idSchema.optional(),
    state: z.enum(['idle', 'queued', 'running', 'paused', 'blocked']),
    /** Why it is in this state, e.g. "tank below minimum". */
    reason: z.string().optional(),
    until: z.number().int().nonnegative().optional(),
    lastRun: zoneRunSchema.optional(),
    next: z.object({ at: z.number().int().nonnegative(), program: idSchema }).strict().optional(),
    manualAllowed: z.boolean(),
    /** The zone's soil-moisture control (dashboards colour the moisture band with it). */
    moisture: z.object({ sensor: z.string().min(1), start: z.number(), target: z.number() }).strict().optional(),
  })
  .strict();
export type ZoneState = z.output<typeof zoneStateSchema>;

/** The control part of …/state: outputs, zones and the edge-wide switches. */
export const controlStateSchema = z
  .object({
    outputs: z.array(outputStateSchema),
    zones: z.array(zoneStateSchema),
    pausedUntil: z.number().int().nonnegative().optional(),
    rainDelayUntil: z.number().int().nonnegative().optional(),
    lights: z.array(z.object({ id: idSchema, on: z.boolean(), reason: z.string(), overrideUntil: z.number().int().nonnegative().optional() }).strict()),
  })
  .strict();
export type ControlState = z.output<typeof controlStateSchema>;

/** A command sent to the edge's own API (the CLI, the local page): the edge fills id, ts and ttl. */
export const localCommandSchema = z.object({ action: commandActionSchema, by: z.string().min(1).max(100).default('cli') }).strict();
