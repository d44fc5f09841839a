import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { streamPair } from './pipe.js';
import { burnVerify, verifySecret, MAX_SECRET_LENGTH } from '../auth/secret.js';
import { parseUsername, type CredentialSource } from '../auth/credentials.js';
import { canPublish, canSubscribe, describeIdentity, parseShared, MAX_TOPIC_LEVELS, type Identity } from './acl.js';
import { GuardedConnection } from './connection.js';
import { TokenBuckets } from './limits.js';
import { RateLimitedLog } from '@smart-village/shared';
import { SharedSubscriptions } from './shared.js';

export interface BrokerLimits {
  /** Largest MQTT packet a client may send, fixed header included. Bigger: disconnected. */
  maxPacketBytes: number;
  /** Bytes queued towards a client that stopped reading before it is disconnected. */
  maxOutboundBytes: number;
  /** New connections per second per remote address (token bucket), and the burst allowed. */
  connectRatePerSec: number;
  connectBurst: number;
  /** A socket that sends no CONNECT within this time is closed. */
  connectTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  // A telemetry batch of a few hundred readings in the compact codec is a few KiB; 256 KiB
  // leaves room for a week-long backlog batch while keeping a hostile client's cost bounded.
  maxPacketBytes: 256 * 1024,
  maxOutboundBytes: 4 * 1024 * 1024,
  connectRatePerSec: 10,
  connectBurst: 20,
  connectTimeoutMs: 10_000,
});

export interface BrokerStats {
  clients: number;
  authFailures: number;
  publishDenied: number;
  subscribeDenied: number;
  oversize: number;
  rateLimited: number;
  slowConsumers: number;
}

export interface BrokerOptions {
  credentials: CredentialSource;
  log: Logger;
  limits?: Partial<BrokerLimits>;
  now?: () => number;
}

export interface ListenOptions {
  host: string;
  tcpPort: number;
  /**
   * MQTT over TLS on tcpPort (mqtts://). `ca` with `requestCert` asks edges for a client
   * certificate signed by that CA, on top of their password.
   */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  /** MQTT over WebSocket on path /mqtt; omitted: no WebSocket listener. */
  wsPort?: number;
}

export interface VillageBroker {
  readonly aedes: Aedes;
  listen(opts: ListenOptions): Promise<{ tcpPort: number; wsPort?: number }>;
  /** An in-process connection (the embedded ingest): same login and ACL as any client. */
  connectInternal(): Duplex;
  close(): Promise<void>;
  stats(): BrokerStats;
}

export const WS_PATH = '/mqtt';

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;
const IDENTIFIER_REJECTED = 2;

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** Usernames come from the network: keep log lines short and printable. */
function printable(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

/**
 * The embedded broker: aedes with authentication, topic ACLs and limits on by default.
 * `createBroker` only builds; `listen` opens the ports; tests may also feed streams to
 * `aedes.handle` directly.
 */
export function createBroker(opts: BrokerOptions): VillageBroker {
  const limits: Readonly<BrokerLimits> = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
  const now = opts.now ?? Date.now;
  const log = opts.log.child({ module: 'broker' });
  const warn = new RateLimitedLog(log, now);
  const counters = { authFailures: 0, publishDenied: 0, subscribeDenied: 0, oversize: 0, rateLimited: 0, slowConsumers: 0 };
  const identities = new WeakMap<Client, Identity>();
  const requestedIds = new WeakMap<Client, string>();
  const buckets = new TokenBuckets({ ratePerSec: limits.connectRatePerSec, burst: limits.connectBurst }, now);

  const remoteOf = (client: Client | null): string => {
    const conn = client?.conn as { remoteAddress?: string } | undefined;
    return conn?.remoteAddress ?? 'unknown';
  };
  const who = (client: Client | null): string => {
    const identity = client ? identities.get(client) : undefined;
    return identity ? describeIdentity(identity) : `unauthenticated ${remoteOf(client)}`;
  };

  const aedes = new Aedes({
    connectTimeout: limits.connectTimeoutMs,
    // [MQTT-4.7.1] our deepest filter has 7 levels; aedes checks this before its topic trie.
    maxTopicLevels: MAX_TOPIC_LEVELS,
    // Packets queued before CONNECT completes (authentication is async scrypt); small is enough.
    queueLimit: 42,

    preConnect(client, packet, callback) {
      requestedIds.set(client, packet.clientId ?? '');
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      const ip = remoteOf(client);
      const fail = (returnCode: number, reason: string): void => {
        counters.authFailures++;
        // Never the password: only who tried, from where, and why it failed.
        warn.warn(`auth:${ip}`, { remote: ip, username: printable(username), reason }, 'broker login refused');
        done(refusal(returnCode, reason), false);
      };
      const check = async (): Promise<void> => {
        // No anonymous access (MQTT 3.1.1 §5.4.1 leaves authentication to the server);
        // 0x05 Not authorized, §3.2.2.3.
        if (username === undefined || username.length === 0) return fail(NOT_AUTHORIZED, 'anonymous');
        const secret = password?.toString('utf8') ?? '';
        if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return fail(BAD_USERNAME_OR_PASSWORD, 'missing or invalid password');
        const name = parseUsername(username);
        let stored: { secretHash: string; role?: 'ingest' } | undefined;
        if (name?.kind === 'edge') stored = await opts.credentials.edge(name.site, name.edge);
        else if (name?.kind === 'service') stored = await opts.credentials.service(name.name);
        // Unknown user and wrong password cost the same scrypt time and give the same code.
        const ok = name && stored ? await verifySecret(secret, stored.secretHash) : await burnVerify(secret);
        if (!ok || !name || !stored) return fail(BAD_USERNAME_OR_PASSWORD, name && stored ? 'wrong secret' : 'unknown user');
        // Client ids are namespaced by username so no one can take over another's session
        // ([MQTT-3.1.4-2] a new connection with the same id disconnects the old one).
        // Empty id: aedes assigns a random one ([MQTT-3.1.3-6]).
        const requested = requestedIds.get(client) ?? '';
        if (requested !== '' && requested !== username && !requested.startsWith(`${username}/`)) {
          return fail(IDENTIFIER_REJECTED, 'client id outside the username namespace');
        }
        const identity: Identity =
          name.kind === 'edge' ? { kind: 'edge', site: name.site, edge: name.edge } : { kind: 'service', name: name.name, role: 'ingest' };
        identities.set(client, identity);
        log.debug({ remote: ip, who: describeIdentity(identity) }, 'broker login');
        done(null, true);
      };
      check().catch((err: unknown) => {
        log.error({ err, remote: ip }, 'credential lookup failed');
        counters.authFailures++;
        done(refusal(SERVER_UNAVAILABLE, 'credential lookup failed'), false);
      });
    },

    authorizePublish(client, packet, callback) {
      // client is null only for wills left by a dead broker of a cluster; we cannot tell
      // whose they are, so they are dropped.
      const identity = client ? identities.get(client) : undefined;
      const decision = identity ? canPublish(identity, packet.topic, { retain: packet.retain }) : ({ ok: false, reason: 'not-own-topic' } as const);
      if (decision.ok) {
        callback(null);
        return;
      }
      counters.publishDenied++;
      warn.warn(`publish:${who(client)}`, { who: who(client), topic: printable(packet.topic), reason: decision.reason }, 'publish refused');
      // [MQTT-3.3.5-2] the server must either acknowledge or close the connection; we close,
      // so a misbehaving client notices at once instead of believing it was delivered.
      callback(Object.assign(new Error(`publish refused: ${decision.reason}`), { code: 'PUBLISH_DENIED' }));
    },

    authorizeSubscribe(client, subscription, callback) {
      const identity = identities.get(client);
      const decision = identity ? canSubscribe(identity, subscription.topic) : ({ ok: false, reason: 'not-own-topic' } as const);
      if (!decision.ok) {
        counters.subscribeDenied++;
        warn.warn(`subscribe:${who(client)}`, { who: who(client), topic: printable(subscription.topic), reason: decision.reason }, 'subscribe refused');
        // null = failure 0x80 for this filter in SUBACK [MQTT-3.9.3], the connection stays.
        callback(null, null);
        return;
      }
      const shared = parseShared(subscription.topic);
      if (shared) sharedSubs.add(client, shared.group, shared.filter, subscription.qos);
      callback(null, subscription);
    },
  });

  const sharedSubs = new SharedSubscriptions(aedes, (err, client) => log.debug({ err, who: who(client) }, 'shared delivery failed'));
  aedes.on('unsubscribe', (topics, client) => {
    for (const topic of topics) {
      const shared = parseShared(topic);
      if (shared) sharedSubs.remove(client, shared);
    }
  });
  aedes.on('clientDisconnect', (client) => sharedSubs.remove(client));
  aedes.on('clientError', (client, err) => log.debug({ who: who(client), err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.debug({ remote: remoteOf(client), err: err.message }, 'connection error'));

  let tcpServer: NetServer | undefined;
  let httpServer: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  const sockets = new Set<Socket>();

  /** Admission of one transport connection: rate limit by address, then guard and hand over. */
  const admit = (stream: Duplex, remote: string): boolean => {
    if (!buckets.take(remote)) {
      counters.rateLimited++;
      warn.warn(`rate:${remote}`, { remote }, 'connection rate limit hit, refusing connections');
      return false;
    }
    // The guard is created per connection; `client` is known once aedes has it.
    let client: Client | null = null;
    const conn = new GuardedConnection(stream, remote, limits, {
      onOversize(size) {
        counters.oversize++;
        warn.warn(`oversize:${remote}`, { who: who(client), size, max: limits.maxPacketBytes }, 'oversized packet, disconnecting');
      },
      onSlowConsumer(queued) {
        counters.slowConsumers++;
        warn.warn(`slow:${who(client)}`, { who: who(client), queuedBytes: queued }, 'client stopped reading, disconnecting');
      },
    });
    client = aedes.handle(conn);
    return true;
  };

  const listenOn = (server: NetServer | HttpServer, port: number, host: string): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });

  return {
    aedes,

    async listen({ host, tcpPort, wsPort, tls }) {
      if (tcpServer) throw new Error('broker already listening');
      await aedes.listen();
      const onSocket = (socket: Socket): void => {
        // Counted before any MQTT parsing: the cheapest place to turn a flood away, and it
        // also catches sockets that never send CONNECT.
        if (!admit(socket, socket.remoteAddress ?? 'unknown')) {
          socket.destroy();
          return;
        }
        socket.setNoDelay(true);
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      };
      tcpServer = tls
        ? createTlsServer(
            { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.requestCert === true, rejectUnauthorized: tls.requestCert === true },
            onSocket,
          )
        : createNetServer(onSocket);
      const boundTcp = await listenOn(tcpServer, tcpPort, host);
      if (wsPort === undefined) return { tcpPort: boundTcp };

      httpServer = createHttpServer((_req, res) => {
        res.writeHead(404).end();
      });
      httpServer.on('connection', (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      // maxPayload bounds one WebSocket message; the MQTT packet limit is enforced on the
      // byte stream behind it, which may carry several packets per message.
      wss = new WebSocketServer({ server: httpServer, path: WS_PATH, maxPayload: limits.maxPacketBytes * 4, perMessageDeflate: false });
      wss.on('connection', (ws, req) => {
        const remote = req.socket.remoteAddress ?? 'unknown';
        if (!admit(createWebSocketStream(ws), remote)) ws.terminate();
      });
      const boundWs = await listenOn(httpServer, wsPort, host);
      return { tcpPort: boundTcp, wsPort: boundWs };
    },

    async close() {
      const closeServer = (server: NetServer | HttpServer | undefined): Promise<void> =>
        new Promise((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
      const tcpClosed = closeServer(tcpServer);
      const httpClosed = closeServer(httpServer);
      for (const client of wss?.clients ?? []) client.terminate();
      wss?.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await Promise.all([tcpClosed, httpClosed]);
      tcpServer = undefined;
      httpServer = undefined;
      wss = undefined;
    },

    connectInternal() {
      const [inside, outside] = streamPair();
      const conn = new GuardedConnection(inside, 'in-process', limits, { onOversize() {}, onSlowConsumer() {} });
      aedes.handle(conn);
      return outside;
    },

    stats() {
      return { clients: aedes.connectedClients ?? 0, ...counters };
    },
  };
}
