// Shared set-up for the broker tests: the real MQTT.js client, a fake credential store,
// a broker on loopback with its pino lines captured.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
// MQTT.js is a dependency of edge, not of cloud: load it through edge's package.json.
import type * as Mqtt from '../../../edge/node_modules/mqtt/build/index.js';
import { hashSecret, newSecret } from '../../src/auth/secret.js';
import { storeCredentials, type ServiceCredential } from '../../src/auth/credentials.js';
import { createBroker, type BrokerLimits, type VillageBroker } from '../../src/broker/broker.js';
import type { EdgeRecord, EdgeRef } from '../../src/store/types.js';

const requireFromEdge = createRequire(new URL('../../../edge/package.json', import.meta.url));
export const mqtt = requireFromEdge('mqtt') as typeof Mqtt;
export type MqttClient = Mqtt.MqttClient;

export interface Fixture {
  secrets: Map<string, string>;
  credentials: ReturnType<typeof storeCredentials>;
}

/** Edges s1/e1, s1/e2, s2/e1 and service accounts ingest, ingest-2, each with a fresh secret. */
export async function makeFixture(): Promise<Fixture> {
  const secrets = new Map<string, string>();
  const edges = new Map<string, EdgeRecord>();
  for (const [site, edge] of [['s1', 'e1'], ['s1', 'e2'], ['s2', 'e1']] as const) {
    const secret = newSecret();
    secrets.set(`${site}/${edge}`, secret);
    edges.set(`${site}/${edge}`, {
      site, edge, secretHash: await hashSecret(secret), createdAt: 0, lastSeen: 0, state: 'unknown', birth: 0, contiguousSeq: 0, maxSeq: 0,
    });
  }
  const services = new Map<string, ServiceCredential>();
  for (const name of ['ingest', 'ingest-2']) {
    const secret = newSecret();
    secrets.set(`service:${name}`, secret);
    services.set(name, { secretHash: await hashSecret(secret), role: 'ingest' });
  }
  const fakeStore = { getEdge: async (ref: EdgeRef) => edges.get(`${ref.site}/${ref.edge}`) };
  return { secrets, credentials: storeCredentials(fakeStore, services) };
}

export interface Running {
  broker: VillageBroker;
  tcpUrl: string;
  wsUrl: string;
  lines: string[];
}

export async function startBroker(fixture: Fixture, limits: Partial<BrokerLimits> = {}): Promise<Running> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  // Tests open many connections from 127.0.0.1; only the flood test keeps the real rate.
  const broker = createBroker({ credentials: fixture.credentials, log, limits: { connectRatePerSec: 1000, connectBurst: 1000, ...limits } });
  const ports = await broker.listen({ host: '127.0.0.1', tcpPort: 0, wsPort: 0 });
  return { broker, lines, tcpUrl: `mqtt://127.0.0.1:${ports.tcpPort}`, wsUrl: `ws://127.0.0.1:${ports.wsPort}/mqtt` };
}

/** Connects with MQTT 3.1.1, no reconnects; the client id sits in the username's namespace. */
export function connect(url: string, username?: string, password?: string, extra: Mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    clientId: username ? `${username}/${randomUUID().slice(0, 8)}` : `anon-${randomUUID().slice(0, 8)}`,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...extra,
  });
}

export function login(running: Running, fixture: Fixture, username: string, extra: Mqtt.IClientOptions = {}): Promise<MqttClient> {
  return connect(running.tcpUrl, username, fixture.secrets.get(username), extra);
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

export function collect(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString('utf8'), retain: packet.retain }));
  return got;
}

export async function waitFor(cond: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when the client's connection closes (or at once if it already has). */
export function closed(client: MqttClient, timeoutMs = 5_000): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('client was not disconnected')), timeoutMs);
    client.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export async function end(...clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => c?.endAsync(true).catch(() => undefined)));
}

// A hand-written MQTT 3.1.1 client for what MQTT.js will not do: never read its socket.
function str(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}
function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    out.push(digit);
  } while (n > 0);
  return Buffer.from(out);
}
export function rawPacket(typeAndFlags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([typeAndFlags]), remainingLength(body.length), body]);
}
/** CONNECT [MQTT-3.1]: protocol "MQTT" level 4, flags username+password+clean session. */
export function rawConnect(clientId: string, username: string, password: string): Buffer {
  return rawPacket(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(clientId), str(username), str(password)]));
}
/** SUBSCRIBE [MQTT-3.8]: fixed header flags 0010, packet id 1, one filter at QoS 1. */
export function rawSubscribe(filter: string): Buffer {
  return rawPacket(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([1])]));
}
