import { connectAsync, MqttClient, type IClientOptions } from 'mqtt';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { topic, type Command } from '@smart-village/shared';
import type { Alert, AlertOptions } from './alerts/rules.js';
import { AlertWebhook, type AlertWebhookOptions } from './alerts/webhook.js';
import type { CommandPublisher } from './api/route.js';
import { ApiServer } from './api/server.js';
import type { SessionOptions } from './auth/sessions.js';
import { hashSecret, newSecret } from './auth/secret.js';
import { serviceUsername, storeCredentials } from './auth/credentials.js';
import { createBroker, type VillageBroker } from './broker/broker.js';
import { Ingest } from './ingest/ingest.js';
import { openCloudStore } from './store/index.js';
import type { CloudStore } from './store/types.js';

export interface CloudOptions {
  /** SQLite file path (default) or postgres://… */
  db: string;
  log: Logger;
  /**
   * External broker (Mosquitto, EMQX) for scale-out: `mqtt://host:port`; the ingest logs in
   * as `service:ingest` with `ingestSecret`. Omitted: the embedded aedes broker.
   */
  broker?: { url: string; username: string; password: string };
  host?: string;
  mqttPort?: number;
  wsPort?: number;
  /**
   * HTTP API port (`village-cloud run` defaults to 8080; 0 picks a free one). Omitted: no API, so
   * embedders and tests that do not need one never collide on a fixed port.
   */
  httpPort?: number;
  /**
   * Raw readings older than this are folded into hourly min/avg/max/last and deleted (history
   * queries read both). Default 90 days; 0 keeps raw readings for ever.
   */
  rawRetentionMs?: number;
  /** PEM cert and key (and CA for client certificates): the MQTT port speaks TLS (mqtts://). */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  /** Run the ingest (default true); a broker-only process sets false. */
  ingest?: boolean;
  group?: string;
  now?: () => number;
  /**
   * The built web app served at `/` with the API. Default: web/dist next to this package (skipped
   * when it was not built); false: API only.
   */
  webRoot?: string | false;
  /** Alert thresholds; defaults in DEFAULT_ALERT_OPTIONS (alerts/rules.ts). */
  alerts?: Partial<AlertOptions>;
  /** POST each new alert as JSON to this URL (retries bounded); a string is the URL. */
  alertWebhook?: string | Omit<AlertWebhookOptions, 'log'>;
  /** Session lifetimes (defaults: 30 days sliding; kiosks 400 days). */
  sessions?: Partial<SessionOptions>;
  /** Behind a reverse proxy: trust X-Forwarded-For (login rate limits) and X-Forwarded-Host (origin checks). */
  trustProxy?: boolean;
  /** How long after issue an edge may still carry out a command (default 60 s). */
  commandTtlMs?: number;
}

/** web/dist of this checkout or install: ../../web/dist from cloud/dist (and from cloud/src under tests). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** A command publish whose PUBACK is this late is left to its ttl rather than called failed. */
const PUBLISH_WAIT_MS = 5000;

/**
 * One village's cloud in one process: the embedded broker (security on by default), the ingest
 * and the store. With `broker` set, only the ingest runs, as one of N stateless workers.
 */
export class CloudApp {
  store!: CloudStore;
  broker: VillageBroker | undefined;
  ingest: Ingest | undefined;
  api: ApiServer | undefined;
  webhook: AlertWebhook | undefined;
  private client: MqttClient | undefined;
  ports: { mqtt?: number; ws?: number; http?: number } = {};

  constructor(private readonly opts: CloudOptions) {}

  async start(): Promise<void> {
    const { log } = this.opts;
    const now = this.opts.now ?? Date.now;
    this.store = openCloudStore(this.opts.db, log.child({ module: 'store' }));
    await this.store.init();
    let username: string;
    let password: string;
    if (this.opts.broker) {
      ({ username, password } = this.opts.broker);
    } else {
      // The embedded ingest logs in like any client, with a secret that lives only in this process.
      password = newSecret();
      username = serviceUsername('ingest');
      const services = new Map([['ingest', { secretHash: await hashSecret(password), role: 'ingest' as const }]]);
      this.broker = createBroker({ credentials: storeCredentials(this.store, services), log: log.child({ module: 'broker' }), now });
      const bound = await this.broker.listen({ host: this.opts.host ?? '0.0.0.0', tcpPort: this.opts.mqttPort ?? 1883, ...(this.opts.wsPort !== undefined ? { wsPort: this.opts.wsPort } : {}), ...(this.opts.tls ? { tls: this.opts.tls } : {}) });
      this.ports = { mqtt: bound.tcpPort, ...(bound.wsPort !== undefined ? { ws: bound.wsPort } : {}) };
      log.info({ mqtt: bound.tcpPort, ws: bound.wsPort }, 'embedded broker listening');
    }
    if (this.opts.httpPort !== undefined) {
      const hook = this.opts.alertWebhook;
      if (hook !== undefined) {
        this.webhook = new AlertWebhook({ ...(typeof hook === 'string' ? { url: hook } : hook), log: log.child({ module: 'webhook' }) });
      }
      const webhook = this.webhook;
      const webRoot = this.opts.webRoot === false ? undefined : (this.opts.webRoot ?? DEFAULT_WEB_ROOT);
      this.api = new ApiServer({
        store: this.store,
        log: log.child({ module: 'api' }),
        now,
        host: this.opts.host ?? '0.0.0.0',
        port: this.opts.httpPort,
        ...(webRoot !== undefined && { webRoot }),
        ...(this.opts.alerts && { alerts: this.opts.alerts }),
        ...(webhook && { onAlert: (site: string, alert: Alert) => webhook.send(site, alert) }),
        ...(this.opts.sessions && { sessions: this.opts.sessions }),
        ...(this.opts.trustProxy !== undefined && { trustProxy: this.opts.trustProxy }),
        ...(this.opts.commandTtlMs !== undefined && { commandTtlMs: this.opts.commandTtlMs }),
        ...(this.opts.ingest !== false && { publishCommand: this.publishCommand }),
      });
      await this.api.start();
      this.ports.http = this.api.port;
      log.info({ url: this.api.url }, 'HTTP API listening');
    }
    if (this.opts.ingest !== false) {
      const options: IClientOptions = {
        username,
        password,
        clientId: `${username}/${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        clean: true,
        reconnectPeriod: 2000,
        protocolVersion: 4,
      };
      const { broker } = this;
      const external = this.opts.broker;
      // Embedded: an in-process stream to our own broker (no port, no TLS client certificate).
      this.client = external ? await connectAsync(external.url, options) : await connectInProcess(() => (broker as VillageBroker).connectInternal(), options);
      this.ingest = new Ingest({ store: this.store, mqtt: this.client, log: log.child({ module: 'ingest' }), now, group: this.opts.group ?? 'ingest', ...(this.api && { onChange: this.api.notify }) });
      await this.ingest.start();
    }
    this.scheduleDownsampling(now);
  }

  /**
   * Commands go out through the ingest's own broker connection (in-process, or the external
   * broker's, whose ACL must let the ingest write …/cmd). QoS 1, never retained [DESIGN §5].
   */
  private readonly publishCommand: CommandPublisher = async (site: string, edge: string, command: Command) => {
    const client = this.client;
    if (!client?.connected) throw new Error('not connected to the broker');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), PUBLISH_WAIT_MS);
    });
    try {
      const outcome = await Promise.race([client.publishAsync(topic(site, edge, 'cmd'), JSON.stringify(command), { qos: 1, retain: false }), late]);
      // Queued in the client: it may still go; its ttl decides, and expiry reports it if not.
      if (outcome === 'late') this.opts.log.warn({ site, edge, command: command.id }, 'the broker has not acknowledged a command yet');
    } finally {
      clearTimeout(timer);
    }
  };

  private downsampleTimer: NodeJS.Timeout | undefined;

  /** Hourly: raw readings past the retention become hourly aggregates. */
  private scheduleDownsampling(now: () => number): void {
    const keep = this.opts.rawRetentionMs ?? 90 * 86_400_000;
    if (keep <= 0) return;
    const run = (): void => {
      this.store.downsample(now() - keep).catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'downsampling failed; will retry in an hour'));
    };
    run();
    this.downsampleTimer = setInterval(run, 3_600_000);
    this.downsampleTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.downsampleTimer);
    await this.api?.stop();
    await this.webhook?.close();
    await this.ingest?.stop();
    await this.client?.endAsync().catch(() => undefined);
    await this.broker?.close();
    await this.store?.close();
  }
}

function connectInProcess(stream: () => Duplex, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = new MqttClient(stream, options);
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

/** Registers an edge and returns its secret; only the hash is stored. */
export async function addEdge(store: CloudStore, site: string, edge: string, now: number): Promise<string> {
  const secret = newSecret();
  const hash = await hashSecret(secret);
  const existing = await store.getEdge({ site, edge });
  if (existing) await store.setEdgeSecret({ site, edge }, hash);
  else await store.addEdge({ site, edge }, hash, now);
  return secret;
}
