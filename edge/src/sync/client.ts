import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  ackSchema,
  commandSchema,
  encodeEvents,
  encodeTelemetry,
  statusSchema,
  topic,
  type Command,
  type CommandResult,
  type EdgeState,
  type Event,
  type Reading,
  type Status,
} from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { Outbox } from '../store/types.js';

export const PROTOCOL_VERSION = 1;

export interface BrokerOptions {
  /** mqtt://, mqtts:// (TLS), ws:// or wss:// (WebSocket). */
  url: string;
  username: string;
  password: string;
  /** PEM files for TLS: the CA that signed the broker's certificate, and an optional client certificate. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized?: boolean;
}

export interface SyncOptions {
  broker: BrokerOptions;
  site: string;
  edge: string;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  version: string;
  /** Outbox rows per message. */
  batchRows?: number;
  /** Messages sent but not yet acknowledged by the cloud. */
  window?: number;
  /** Byte budget per second for the backlog (0: unlimited); sized for a 2G/3G link. */
  bytesPerSecond?: number;
  /** How often the retained latest-values snapshot is refreshed. */
  statePeriod?: number;
  /** Without any ack for this long, everything unacknowledged is sent again. */
  ackTimeout?: number;
  /** How often the outbox is checked for newly committed rows. */
  pollPeriod?: number;
  /** MQTT keepalive, seconds: a link that silently stopped carrying packets is noticed after 1.5×. */
  keepalive?: number;
  /** How long to wait for the cloud's answer to our birth before sending anyway. */
  handshakeTimeout?: number;
  /** Moves rows taken before the clock synced onto the real time scale (see ClockWatch). */
  correctTime?: <T extends { ts: number; clockSynced: boolean }>(row: T) => T;
  /** Carries out a command from …/cmd; its results are sent with `sendResult`. */
  onCommand?: (command: Command) => void;
  /** What …/state carries besides the latest readings: control state and sensor metadata. */
  stateExtras?: () => Pick<EdgeState, 'control' | 'meta'>;
}

export interface SyncStats {
  connected: boolean;
  birth: number;
  sentUpTo: number;
  ackedSeq: number;
  messages: number;
  bytes: number;
  resends: number;
  badAcks: number;
  badCommands: number;
}

interface InFlight {
  lastSeq: number;
  sentAt: number;
}

/**
 * Sends the outbox to the cloud in seq order and moves the outbox cursor only when the cloud's
 * …/ack says the rows are stored [DESIGN §3, §4]. Nothing is kept in memory that is not also
 * in SQLite: after a reconnect or a restart everything above the acked seq is sent again, and
 * the cloud drops what it already has.
 */
export class SyncClient {
  private client: MqttClient | undefined;
  private birth = 0;
  private sentUpTo = 0;
  private inFlight: InFlight[] = [];
  private pumping = false;
  private timer: TimerHandle | undefined;
  private stateTimer: TimerHandle | undefined;
  private lastStateJson = '';
  private lastAckAt = 0;
  private tokens = 0;
  private tokensAt = 0;
  private readonly limited: RateLimitedLog;
  private readonly counters = { messages: 0, bytes: 0, resends: 0, badAcks: 0, badCommands: 0 };
  private running = false;
  private listening = false;
  private handshake: 'waiting' | 'done' = 'waiting';
  private handshakeTimer: TimerHandle | undefined;
  private sent: boolean | undefined;

  /** Persisted: once this outbox has sent rows, its seqs are the cloud's seqs. */
  private sentBefore(): boolean {
    this.sent ??= this.opts.outbox.hasSent();
    return this.sent;
  }
  /** Set while stop() hands over the last rows. */
  private draining = false;

  constructor(private readonly opts: SyncOptions) {
    this.limited = new RateLimitedLog(opts.log, () => opts.clock.monotonic());
  }

  private topic(channel: 'status' | 'telemetry' | 'events' | 'state' | 'ack' | 'cmd' | 'cmd-result'): string {
    return topic(this.opts.site, this.opts.edge, channel);
  }

  private status(state: 'online' | 'offline'): Buffer {
    const s: Status = statusSchema.parse({
      site: this.opts.site,
      edge: this.opts.edge,
      state,
      birth: this.birth,
      ts: this.opts.clock.now(),
      versions: { edge: this.opts.version, protocol: PROTOCOL_VERSION },
    });
    return Buffer.from(JSON.stringify(s));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { broker, log } = this.opts;
    this.birth = this.opts.outbox.nextBirth();
    if (!this.listening) {
      this.listening = true;
      this.opts.outbox.onCommit(() => {
        if (this.running) void this.pump();
      });
    }
    const options: IClientOptions = {
      username: broker.username,
      password: broker.password,
      // The broker accepts only a client id equal to the username or under it (session takeover guard).
      clientId: broker.username,
      clean: true,
      keepalive: this.opts.keepalive ?? 30,
      reconnectPeriod: 5000,
      connectTimeout: 20_000,
      // The cloud sees "offline" with this session's birth if the link dies without a goodbye.
      will: { topic: this.topic('status'), payload: this.status('offline'), qos: 1, retain: true },
      ...(broker.caFile ? { ca: readFileSync(broker.caFile) } : {}),
      ...(broker.certFile ? { cert: readFileSync(broker.certFile) } : {}),
      ...(broker.keyFile ? { key: readFileSync(broker.keyFile) } : {}),
      ...(broker.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
    const client = connect(broker.url, options);
    this.client = client;
    client.on('connect', () => void this.onConnect());
    client.on('close', () => {
      if (!this.running) return;
      // The next session gets a newer birth, so its will can never overwrite a later birth.
      this.birth = this.opts.outbox.nextBirth();
      client.options.will = { topic: this.topic('status'), payload: this.status('offline'), qos: 1, retain: true };
      this.inFlight = [];
    });
    client.on('error', (err) => this.limited.warn(`mqtt:${(err as { code?: string }).code ?? err.message}`, { err: err.message }, `cloud link: ${err.message}`));
    client.on('message', (t, payload, packet) => this.onMessage(t, payload, packet.retain));
    this.schedule();
    log.info({ url: broker.url, username: broker.username }, 'sync started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.opts.clock.clearTimeout(this.timer);
    this.opts.clock.clearTimeout(this.stateTimer);
    this.opts.clock.clearTimeout(this.handshakeTimer);
    const client = this.client;
    if (client?.connected) {
      // Hand over the last committed rows (the edge.stopped event among them) and give the
      // cloud a moment to ack them; what is not acked goes out at the next start anyway.
      this.draining = true;
      await this.pump();
      this.draining = false;
      const outbox = this.opts.outbox;
      const until = Date.now() + 2000;
      while (client.connected && outbox.stats().ackedSeq < outbox.stats().lastSeq && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    this.client = undefined;
    if (!client) return;
    if (client.connected) {
      try {
        await withTimeout(client.publishAsync(this.topic('status'), this.status('offline'), { qos: 1, retain: true }), 2000);
      } catch {
        // Going away anyway: the will covers it.
      }
    }
    await withTimeout(client.endAsync(), 2000).catch(() => client.end(true));
  }

  stats(): SyncStats {
    return {
      connected: this.client?.connected === true,
      birth: this.birth,
      sentUpTo: this.sentUpTo,
      ackedSeq: this.opts.outbox.stats().ackedSeq,
      ...this.counters,
    };
  }

  private async onConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.opts.log.info({ birth: this.birth }, 'connected to the cloud');
    // Resend everything not acknowledged: the cloud stores idempotently.
    this.sentUpTo = this.opts.outbox.stats().ackedSeq;
    this.inFlight = [];
    this.lastAckAt = this.opts.clock.monotonic();
    // Handshake: the cloud answers our birth with the seq it holds for this edge; until then (or
    // a few seconds, for a cloud that does not) nothing is sent, so a fresh outbox can rebase.
    this.handshake = 'waiting';
    this.opts.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = this.opts.clock.setTimeout(() => {
      if (this.handshake !== 'waiting') return;
      this.handshake = 'done';
      void this.pump();
    }, this.opts.handshakeTimeout ?? 5000);
    try {
      await client.subscribeAsync([this.topic('ack'), this.topic('cmd')], { qos: 1 });
      await client.publishAsync(this.topic('status'), this.status('online'), { qos: 1, retain: true });
      this.lastStateJson = '';
      await this.publishState();
    } catch (err) {
      this.limited.warn('sync:connect', { err: (err as Error).message }, 'cloud session setup failed');
    }
    void this.pump();
  }

  private onMessage(t: string, payload: Buffer, retained: boolean): void {
    if (t === this.topic('ack')) {
      const parsed = ackSchema.safeParse(safeJson(payload));
      if (!parsed.success) {
        this.counters.badAcks++;
        this.limited.warn('sync:bad-ack', { bytes: payload.length }, 'ignored a malformed ack');
        return;
      }
      this.onAck(parsed.data.seq);
      return;
    }
    if (t === this.topic('cmd')) {
      // [DESIGN §5] retained messages never actuate anything.
      if (retained) {
        this.counters.badCommands++;
        this.limited.warn('sync:retained-cmd', {}, 'ignored a retained command');
        return;
      }
      const raw = safeJson(payload);
      const parsed = commandSchema.safeParse(raw);
      if (!parsed.success) {
        this.counters.badCommands++;
        this.limited.warn('sync:bad-cmd', { bytes: payload.length }, 'ignored a malformed command');
        // Answer when the id is readable, so the sender learns why nothing happened.
        const id = raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
        if (id !== undefined && id.length <= 64) {
          this.sendResult({ id, status: 'rejected', reason: `malformed command: ${parsed.error.issues[0]?.message ?? 'invalid'}`, ts: this.opts.clock.now() });
        }
        return;
      }
      if (!this.opts.onCommand) {
        this.sendResult({ id: parsed.data.id, status: 'rejected', reason: 'this edge runs no local control (no actuators configured)', ts: this.opts.clock.now() });
        return;
      }
      this.opts.onCommand(parsed.data);
    }
  }

  /** Publishes a command result on …/cmd-result (QoS 1; lost only if the link is down, like the command). */
  sendResult(result: CommandResult): void {
    const client = this.client;
    if (!client?.connected) {
      this.limited.warn('sync:result-offline', { id: result.id }, 'command result not sent: not connected');
      return;
    }
    client.publish(this.topic('cmd-result'), JSON.stringify(result), { qos: 1 }, (err) => {
      if (err) this.limited.warn('sync:result', { err: err.message }, 'command result not sent');
    });
  }

  /** Sends a fresh …/state soon (control changed: a valve opened). */
  stateChanged(): void {
    void this.publishState();
  }

  private onAck(seq: number): void {
    const outbox = this.opts.outbox;
    if (this.handshake === 'waiting') {
      this.handshake = 'done';
      this.opts.clock.clearTimeout(this.handshakeTimer);
      if (!this.sentBefore() && seq > outbox.stats().ackedSeq) {
        // This outbox never sent anything, yet the cloud holds seqs for this edge: they came from
        // an earlier outbox (a replaced SD card). Reusing those seqs would make the cloud drop
        // our rows as duplicates, so ours move up behind them.
        outbox.rebase(seq);
        this.sentUpTo = seq;
        this.lastAckAt = this.opts.clock.monotonic();
        void this.pump();
        return;
      }
      if (seq <= outbox.stats().ackedSeq) {
        void this.pump();
        return;
      }
    }
    if (seq <= outbox.stats().ackedSeq) return;
    // An ack beyond what was sent in this session is still the cloud's word that it has the rows.
    outbox.acknowledge(seq);
    this.lastAckAt = this.opts.clock.monotonic();
    this.inFlight = this.inFlight.filter((b) => b.lastSeq > seq);
    if (this.sentUpTo < seq) this.sentUpTo = seq;
    void this.pump();
  }

  private schedule(): void {
    const period = this.opts.pollPeriod ?? 1000;
    this.timer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      this.checkAckTimeout();
      void this.pump();
      this.schedule();
    }, period);
    if (!this.stateTimer) this.scheduleState();
  }

  private scheduleState(): void {
    this.stateTimer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      void this.publishState();
      this.scheduleState();
    }, this.opts.statePeriod ?? 10_000);
  }

  private checkAckTimeout(): void {
    const timeout = this.opts.ackTimeout ?? 20_000;
    if (this.inFlight.length === 0) return;
    if (this.opts.clock.monotonic() - this.lastAckAt < timeout) return;
    this.counters.resends++;
    this.opts.log.warn({ sentUpTo: this.sentUpTo, acked: this.opts.outbox.stats().ackedSeq }, 'no ack from the cloud: sending the unacknowledged rows again');
    this.sentUpTo = this.opts.outbox.stats().ackedSeq;
    this.inFlight = [];
    this.lastAckAt = this.opts.clock.monotonic();
  }

  /** The latest values, retained, outside the backlog and its byte budget. */
  private async publishState(): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    const readings = this.opts.outbox.latest();
    const extras = this.opts.stateExtras?.() ?? {};
    const json = JSON.stringify({ ts: this.opts.clock.now(), readings, ...extras });
    const key = JSON.stringify([readings, extras]);
    if (key === this.lastStateJson) return;
    try {
      await client.publishAsync(this.topic('state'), json, { qos: 1, retain: true });
      this.lastStateJson = key;
    } catch (err) {
      this.limited.warn('sync:state', { err: (err as Error).message }, 'state snapshot not sent');
    }
  }

  /** Sends committed rows above the cursor, in order, within the window and the byte budget. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const window = this.opts.window ?? 4;
      const batchRows = this.opts.batchRows ?? 500;
      while ((this.running || this.draining) && this.handshake === 'done' && this.client?.connected && this.inFlight.length < window) {
        const rows = this.opts.outbox.rowsAfter(this.sentUpTo, batchRows);
        if (rows.length === 0) break;
        const readings: Reading[] = [];
        const rSeqs: number[] = [];
        const events: Event[] = [];
        const eSeqs: number[] = [];
        const fix = this.opts.correctTime ?? (<T>(r: T): T => r);
        for (const row of rows) {
          if (row.kind === 'reading') {
            readings.push(fix(row.reading));
            rSeqs.push(row.seq);
          } else {
            events.push(fix(row.event));
            eSeqs.push(row.seq);
          }
        }
        const messages: [string, Buffer][] = [];
        if (readings.length) messages.push([this.topic('telemetry'), encodeTelemetry({ seqs: rSeqs, readings })]);
        if (events.length) messages.push([this.topic('events'), encodeEvents({ seqs: eSeqs, events })]);
        const lastSeq = (rows[rows.length - 1] as { seq: number }).seq;
        const bytes = messages.reduce((n, [, m]) => n + m.length, 0);
        await this.spend(bytes);
        const client = this.client;
        if (!client?.connected || !(this.running || this.draining)) break;
        if (!this.sentBefore()) {
          this.opts.outbox.markSent();
          this.sent = true;
        }
        this.sentUpTo = lastSeq;
        this.inFlight.push({ lastSeq, sentAt: this.opts.clock.monotonic() });
        for (const [t, m] of messages) {
          client.publish(t, m, { qos: 1 }, (err) => {
            if (err) this.limited.warn('sync:publish', { err: err.message }, 'publish failed; will resend after reconnect');
          });
          this.counters.messages++;
          this.counters.bytes += m.length;
        }
      }
    } catch (err) {
      this.limited.error('sync:pump', { err: (err as Error).message }, 'sending the outbox failed');
    } finally {
      this.pumping = false;
    }
  }

  /** Token bucket over the clock: at most bytesPerSecond on average, bursts of one second. */
  private async spend(bytes: number): Promise<void> {
    const rate = this.opts.bytesPerSecond ?? 0;
    if (rate <= 0) return;
    const clock = this.opts.clock;
    for (;;) {
      const now = clock.monotonic();
      this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAt) * rate) / 1000);
      this.tokensAt = now;
      // A message larger than the bucket is allowed once the bucket is full.
      if (this.tokens >= Math.min(bytes, rate)) {
        this.tokens -= bytes;
        return;
      }
      const wait = Math.ceil(((Math.min(bytes, rate) - this.tokens) * 1000) / rate);
      await new Promise<void>((r) => clock.setTimeout(r, wait));
      if (!this.running) return;
    }
  }
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}
