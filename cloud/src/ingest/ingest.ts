import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  commandResultSchema,
  decodeEvents,
  decodeTelemetry,
  parseTopic,
  RateLimitedLog,
  stateSchema,
  statusSchema,
  toVillageError,
  topic,
  type ControlState,
  type EdgeState,
  type Event,
  type Reading,
} from '@smart-village/shared';
import type { z } from 'zod';
import type { CloudStore, CommandRecord, EdgeRef } from '../store/types.js';

/**
 * Readings timed before this cannot be real: a Pi whose clock never synced starts near 1970 (or
 * at fake-hwclock's last save). They are quarantined, not stored [DESIGN: Time].
 */
export const EARLIEST_PLAUSIBLE_TS = Date.UTC(2024, 0, 1);
/** Nor more than this far in the future. */
export const FUTURE_TOLERANCE_MS = 24 * 3_600_000;

export interface IngestOptions {
  store: CloudStore;
  /** A connected client logged in as an ingest service account. */
  mqtt: MqttClient;
  log: Logger;
  now: () => number;
  /** Shared-subscription group; several workers in one group split the edges' messages. */
  group?: string;
  /** Told after each successful store or status (live views: the HTTP API's stream). Must not block. */
  onChange?: (change: IngestChange) => void;
}

/** What just changed; events carry the rows of the batch (replays included: dedupe on edge+seq). */
export type IngestChange =
  | { kind: 'readings'; site: string; edge: string; inserted: number }
  | { kind: 'events'; site: string; edge: string; events: (Event & { seq: number })[] }
  | { kind: 'status'; site: string; edge: string; state: 'online' | 'offline' }
  /** An edge's …/state whose control or meta changed; `control` is set when the control part did. */
  | { kind: 'state'; site: string; edge: string; control?: ControlState }
  /** A command's audit row moved (a result from the edge). */
  | { kind: 'command'; site: string; edge: string; command: CommandRecord };

export interface IngestStats {
  messages: number;
  readings: number;
  events: number;
  duplicates: number;
  quarantined: number;
  acks: number;
  /** …/state messages stored and command results applied. */
  states: number;
  results: number;
  errors: number;
}

/** Stored once by one worker of the group: shared subscriptions. */
const SHARED_CHANNELS = ['telemetry', 'events', 'status', 'cmd-result'] as const;
/**
 * …/state is retained and small: every worker subscribes to it directly, so each learns every
 * edge's state at start (retained messages are not sent to shared subscriptions, MQTT 5.0 §4.8.2)
 * and can tell its own API's streams when control changes. Writing the same row from N workers is
 * harmless.
 */
const DIRECT_CHANNELS = ['state'] as const;

/**
 * Validates what edges send, stores it idempotently keyed by (edge, seq), and acknowledges the
 * highest contiguous stored seq; what fails validation is quarantined with its reason. Stateless
 * apart from per-edge ordering, so N workers can share one subscription group.
 */
export class Ingest {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly counters: IngestStats = { messages: 0, readings: 0, events: 0, duplicates: 0, quarantined: 0, acks: 0, states: 0, results: 0, errors: 0 };
  /** Edge -> fingerprints of the control and meta parts of the state last stored. */
  private readonly states = new Map<string, { control: string; meta: string }>();
  private readonly limited: RateLimitedLog;
  private readonly touched = new Map<string, number>();
  private started = false;
  private readonly onMessage = (t: string, payload: Buffer): void => this.enqueue(t, payload);

  constructor(private readonly opts: IngestOptions) {
    this.limited = new RateLimitedLog(opts.log, opts.now);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const group = this.opts.group ?? 'ingest';
    this.opts.mqtt.on('message', this.onMessage);
    // [MQTT 5 §4.8.2 / broker extension for 3.1.1] $share/{group}/filter: one worker per message.
    const granted = await this.opts.mqtt.subscribeAsync(
      [...SHARED_CHANNELS.map((c) => `$share/${group}/sv/v1/+/+/${c}`), ...DIRECT_CHANNELS.map((c) => `sv/v1/+/+/${c}`)],
      { qos: 1 },
    );
    // [MQTT-3.9.3] 0x80 in SUBACK: the broker's ACL refused that filter. The rest still works.
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) this.opts.log.warn({ refused }, 'the broker refused some subscriptions: allow the ingest to read them in its ACL (docs/scale-out.md)');
    this.opts.log.info({ group }, 'ingest subscribed');
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.opts.mqtt.removeListener('message', this.onMessage);
    await Promise.all(this.chains.values());
  }

  stats(): IngestStats {
    return { ...this.counters };
  }

  /** Resolves when everything received so far is handled (tests). */
  async idle(): Promise<void> {
    await Promise.all(this.chains.values());
  }

  /** Messages of one edge are handled in arrival order; edges are independent. */
  private enqueue(t: string, payload: Buffer): void {
    this.counters.messages++;
    const parts = parseTopic(t);
    const key = parts ? `${parts.site}/${parts.edge}` : '?';
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev
      .then(() => this.handle(t, payload))
      .catch((err: unknown) => {
        this.counters.errors++;
        this.warn(`error:${key}`, { err: toVillageError(err).message, topic: t }, 'ingest failed; the edge will resend');
      });
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async handle(t: string, payload: Buffer): Promise<void> {
    const parts = parseTopic(t);
    if (!parts) return this.quarantine(undefined, t, payload, 'topic is not sv/v1/{site}/{edge}/{channel}');
    const ref: EdgeRef = { site: parts.site, edge: parts.edge };
    const { store } = this.opts;
    const edge = await store.getEdge(ref);
    if (!edge) return this.quarantine(ref, t, payload, `unknown edge ${ref.site}/${ref.edge}`);
    const now = this.opts.now();

    if (parts.channel === 'status') {
      const parsed = statusSchema.safeParse(safeJson(payload));
      if (!parsed.success || parsed.data.site !== ref.site || parsed.data.edge !== ref.edge) {
        return this.quarantine(ref, t, payload, parsed.success ? 'status names another edge' : `invalid status: ${parsed.error.issues[0]?.message ?? 'bad JSON'}`);
      }
      await store.touchEdge(ref, now, { state: parsed.data.state, birth: parsed.data.birth });
      this.changed({ kind: 'status', ...ref, state: parsed.data.state });
      // Handshake: a new session learns where the cloud stands before it sends anything.
      if (parsed.data.state === 'online') await this.ack(ref, edge.contiguousSeq);
      return;
    }

    let result: { inserted: number; duplicates: number; contiguousSeq: number };
    if (parts.channel === 'telemetry') {
      let batch: { seqs: number[]; readings: Reading[] };
      try {
        batch = decodeTelemetry(payload);
      } catch (err) {
        return this.quarantine(ref, t, payload, toVillageError(err).message);
      }
      const { keep, rejected } = split(batch.seqs, batch.readings, (r) => implausibleTime(r.ts, now));
      for (const r of rejected) await this.quarantine(ref, t, Buffer.from(JSON.stringify({ seq: r.seq, reading: r.row })), r.reason);
      const stored = await store.storeReadings(ref, keep.seqs, keep.rows);
      if (stored.inserted > 0) this.changed({ kind: 'readings', ...ref, inserted: stored.inserted });
      result = stored;
      // Quarantined rows are accounted for, so the ack can move past them.
      for (const r of rejected) result = { ...stored, contiguousSeq: (await store.markSkipped(ref, r.seq, r.seq)).contiguousSeq };
      this.counters.readings += stored.inserted;
    } else if (parts.channel === 'events') {
      let batch: { seqs: number[]; events: Event[] };
      try {
        batch = decodeEvents(payload);
      } catch (err) {
        return this.quarantine(ref, t, payload, toVillageError(err).message);
      }
      const { keep, rejected } = split(batch.seqs, batch.events, (e) => implausibleTime(e.ts, now));
      for (const r of rejected) await this.quarantine(ref, t, Buffer.from(JSON.stringify({ seq: r.seq, event: r.row })), r.reason);
      const stored = await store.storeEvents(ref, keep.seqs, keep.rows);
      if (stored.inserted > 0) this.changed({ kind: 'events', ...ref, events: keep.rows.map((e, i) => ({ ...e, seq: keep.seqs[i] as number })) });
      result = stored;
      for (const r of rejected) result = { ...stored, contiguousSeq: (await store.markSkipped(ref, r.seq, r.seq)).contiguousSeq };
      // Telemetry the edge deleted unsent to stay within its disk quota will never come: count it as done.
      for (const e of keep.rows) {
        if (e.kind !== 'store.dropped') continue;
        const from = Number(e.data.fromSeq);
        const to = Number(e.data.toSeq);
        if (Number.isSafeInteger(from) && Number.isSafeInteger(to) && from <= to) result = { ...stored, contiguousSeq: (await store.markSkipped(ref, from, to)).contiguousSeq };
      }
      this.counters.events += stored.inserted;
    } else if (parts.channel === 'state') {
      return this.storeState(ref, t, payload, now);
    } else if (parts.channel === 'cmd-result') {
      const parsed = commandResultSchema.safeParse(safeJson(payload));
      if (!parsed.success) return this.quarantine(ref, t, payload, `invalid command result: ${describeIssue(parsed.error)}`);
      const r = parsed.data;
      // Cloud time, not the edge's: the audit trail orders by one clock.
      const updated = await store.commandResult(ref, r.id, r.status, r.reason, now);
      this.counters.results++;
      // An unknown id is a local command (CLI, button) or a repeat: nothing to update.
      if (updated) this.changed({ kind: 'command', ...ref, command: updated });
      return;
    } else {
      return;
    }
    this.counters.duplicates += result.duplicates;
    // lastSeen to the second is plenty; a write transaction (an fsync) per message is not.
    const key = `${ref.site}/${ref.edge}`;
    if ((this.touched.get(key) ?? 0) <= now - 5000) {
      this.touched.set(key, now);
      await store.touchEdge(ref, now);
    }
    await this.ack(ref, result.contiguousSeq);
  }

  /** Keeps the edge's latest state (persisted: names and fields survive a restart); tells when control or meta changed. */
  private async storeState(ref: EdgeRef, t: string, payload: Buffer, now: number): Promise<void> {
    const parsed = stateSchema.safeParse(safeJson(payload));
    if (!parsed.success) return this.quarantine(ref, t, payload, `invalid state: ${describeIssue(parsed.error)}`);
    const state = parsed.data;
    const key = `${ref.site}/${ref.edge}`;
    let before = this.states.get(key);
    if (!before) {
      // First state since start (often the retained one): compare with what was stored before.
      const stored = (await this.opts.store.edgeStates(ref.site)).find((s) => s.edge === ref.edge);
      before = stored ? fingerprint(stored.state) : { control: '', meta: '' };
    }
    const after = fingerprint(state);
    await this.opts.store.putEdgeState(ref, state, now);
    this.states.set(key, after);
    this.counters.states++;
    const controlChanged = after.control !== before.control;
    if (controlChanged || after.meta !== before.meta) this.changed({ kind: 'state', ...ref, ...(controlChanged && state.control && { control: state.control }) });
  }

  private async ack(ref: EdgeRef, seq: number): Promise<void> {
    await this.opts.mqtt.publishAsync(topic(ref.site, ref.edge, 'ack'), JSON.stringify({ seq }), { qos: 1 });
    this.counters.acks++;
  }

  private async quarantine(ref: EdgeRef | undefined, t: string, payload: Buffer, reason: string): Promise<void> {
    this.counters.quarantined++;
    await this.opts.store.quarantine({ at: this.opts.now(), ...(ref ?? {}), topic: t, reason, payload: payload.toString('base64') });
    this.warn(`quarantine:${ref?.site}/${ref?.edge}`, { topic: t, reason, bytes: payload.length }, 'payload quarantined');
  }

  /** A failing listener must never fail (and so leave unacknowledged) a stored batch. */
  private changed(change: IngestChange): void {
    try {
      this.opts.onChange?.(change);
    } catch (err) {
      this.warn('onChange', { err: toVillageError(err).message }, 'change listener failed');
    }
  }

  /** One line per key per minute: a broken edge must not flood the log. */
  private warn(key: string, obj: Record<string, unknown>, msg: string): void {
    this.limited.warn(key, obj, msg);
  }
}

function implausibleTime(ts: number, now: number): string | undefined {
  if (ts < EARLIEST_PLAUSIBLE_TS) return `timestamp ${new Date(ts).toISOString()} is before ${new Date(EARLIEST_PLAUSIBLE_TS).toISOString()}: the edge clock was not set`;
  if (ts > now + FUTURE_TOLERANCE_MS) return `timestamp ${new Date(ts).toISOString()} is in the future`;
  return undefined;
}

function split<T>(seqs: number[], rows: T[], reject: (row: T) => string | undefined) {
  const keep = { seqs: [] as number[], rows: [] as T[] };
  const rejected: { seq: number; row: T; reason: string }[] = [];
  rows.forEach((row, i) => {
    const reason = reject(row);
    const seq = seqs[i] as number;
    if (reason) rejected.push({ seq, row, reason });
    else {
      keep.seqs.push(seq);
      keep.rows.push(row);
    }
  });
  return { keep, rejected };
}

function fingerprint(state: EdgeState): { control: string; meta: string } {
  return { control: state.control ? JSON.stringify(state.control) : '', meta: state.meta ? JSON.stringify(state.meta) : '' };
}

/** The first problem, with where it is ("control.zones.0.state: …"). */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}
