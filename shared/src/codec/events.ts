import { z } from 'zod';
import { eventSchema, type Event, type Severity } from '../event.js';
import { payloadError } from './bytes.js';
import { open, seal } from './envelope.js';

/** One batch of outbox events of one edge; seqs[i] belongs to events[i], strictly increasing. */
export interface EventBatch {
  seqs: number[];
  events: Event[];
}

/** Wire codes of the severities, fixed here so reordering SEVERITIES cannot change old payloads. */
const SEVERITY_CODES: readonly Severity[] = ['info', 'warning', 'alarm'];

const uint = z.number().int().nonnegative();
const int = z.number().int();
const flag = z.union([z.literal(0), z.literal(1)]);

/** The events body: JSON columns. Kinds and sources repeat, so they are dictionaries. */
const bodySchema = z
  .object({
    /** First seq, then gap-1 to the previous. */
    seq: z.array(uint),
    /** First ts, then the signed delta to the previous. */
    ts: z.array(int),
    synced: z.array(flag),
    kinds: z.array(z.string()),
    kind: z.array(uint),
    severity: z.array(z.number().int().min(0).max(SEVERITY_CODES.length - 1)),
    sources: z.array(z.string()),
    source: z.array(uint),
    message: z.array(z.string()),
    data: z.array(z.record(z.string(), z.unknown())),
  })
  .strict();
type Body = z.output<typeof bodySchema>;

function issues(error: z.ZodError): string {
  return error.issues.map((x) => `${x.path.join('.') || '(root)'}: ${x.message}`).join('; ');
}

/**
 * Why `value` would not come back identical through JSON, or undefined when it would.
 * Event data is free-form; silently turning undefined into a missing key, NaN into null or a
 * Date into a string would be a quiet lie in the "why?" record, so the encoder refuses instead.
 */
function notJson(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${path} is ${value}, which JSON cannot carry`;
    return Object.is(value, -0) ? `${path} is -0, which JSON turns into 0` : undefined;
  }
  if (typeof value !== 'object') return `${path} is a ${typeof value}, which JSON cannot carry`;
  if (seen.has(value)) return `${path} is a circular reference`;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) return `${path}[${i}] is a hole`;
        const why = notJson(value[i], `${path}[${i}]`, seen);
        if (why) return why;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return `${path} is a ${(value as object).constructor?.name ?? 'non-plain object'}, not a plain object`;
    for (const [key, v] of Object.entries(value)) {
      const why = notJson(v, `${path}.${key}`, seen);
      if (why) return why;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}

export function encodeEvents(batch: EventBatch): Buffer {
  const fail = (problem: string): never => {
    throw payloadError('events', `cannot encode: ${problem}`);
  };
  if (!Array.isArray(batch?.seqs) || !Array.isArray(batch.events)) fail('batch needs seqs and events arrays');
  const { seqs, events } = batch;
  if (seqs.length !== events.length) fail(`${seqs.length} seqs for ${events.length} events`);
  const body: Body = { seq: [], ts: [], synced: [], kinds: [], kind: [], severity: [], sources: [], source: [], message: [], data: [] };
  const kinds = new Map<string, number>();
  const sources = new Map<string, number>();
  const intern = (dict: Map<string, number>, list: string[], text: string): number => {
    let i = dict.get(text);
    if (i === undefined) {
      i = list.length;
      dict.set(text, i);
      list.push(text);
    }
    return i;
  };
  for (let i = 0; i < events.length; i++) {
    const seq = seqs[i] as number;
    const prevSeq = i === 0 ? -1 : (seqs[i - 1] as number);
    if (!Number.isSafeInteger(seq) || seq < 0) fail(`seqs[${i}] = ${seq} is not a non-negative safe integer`);
    if (seq <= prevSeq) fail(`seqs[${i}] = ${seq} does not increase (previous ${prevSeq})`);
    const checked = eventSchema.safeParse(events[i]);
    if (!checked.success) fail(`events[${i}] is not a valid event: ${issues(checked.error)}`);
    const e = events[i] as Event;
    const why = notJson(e.data, `events[${i}].data`, new Set());
    if (why) fail(why);
    body.seq.push(i === 0 ? seq : seq - prevSeq - 1);
    body.ts.push(i === 0 ? e.ts : e.ts - (events[i - 1] as Event).ts);
    body.synced.push(e.clockSynced ? 1 : 0);
    body.kind.push(intern(kinds, body.kinds, e.kind));
    body.severity.push(SEVERITY_CODES.indexOf(e.severity));
    body.source.push(intern(sources, body.sources, e.source));
    body.message.push(e.message);
    body.data.push(e.data);
  }
  return seal('events', Buffer.from(JSON.stringify(body), 'utf8'));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeEvents(payload: Uint8Array): EventBatch {
  const bytes = open('events', payload);
  const fail = (problem: string): never => {
    throw payloadError('events', problem);
  };
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    return fail(`body is not UTF-8 JSON: ${(err as Error).message}`);
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) return fail(`body does not have the events columns: ${issues(parsed.error)}`);
  const body = parsed.data;
  const n = body.seq.length;
  for (const column of ['ts', 'synced', 'kind', 'severity', 'source', 'message', 'data'] as const) {
    if (body[column].length !== n) fail(`column "${column}" has ${body[column].length} entries for ${n} events`);
  }
  const seqs: number[] = [];
  const events: Event[] = [];
  for (let i = 0; i < n; i++) {
    const seq = i === 0 ? (body.seq[0] as number) : (seqs[i - 1] as number) + (body.seq[i] as number) + 1;
    if (!Number.isSafeInteger(seq)) fail(`seq of event ${i} exceeds 2^53-1`);
    const ts = i === 0 ? (body.ts[0] as number) : (events[i - 1] as Event).ts + (body.ts[i] as number);
    const kind = body.kinds[body.kind[i] as number];
    const source = body.sources[body.source[i] as number];
    if (kind === undefined) fail(`event ${i} refers to kind ${body.kind[i]}, only ${body.kinds.length} defined`);
    if (source === undefined) fail(`event ${i} refers to source ${body.source[i]}, only ${body.sources.length} defined`);
    const event: Event = {
      ts,
      clockSynced: body.synced[i] === 1,
      kind: kind as string,
      severity: SEVERITY_CODES[body.severity[i] as number] as Severity,
      source: source as string,
      message: body.message[i] as string,
      data: body.data[i] as Record<string, unknown>,
    };
    const checked = eventSchema.safeParse(event);
    if (!checked.success) fail(`event ${i} (seq ${seq}) is not a valid event: ${issues(checked.error)}`);
    seqs.push(seq);
    events.push(event);
  }
  return { seqs, events };
}
