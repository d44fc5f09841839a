#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ID_PATTERN, parseDuration, toVillageError } from '@smart-village/shared';
import { addEdge, CloudApp } from './app.js';
import { API_REDACT_PATHS } from './api/server.js';
import { addApiToken, TOKEN_NAME_PATTERN } from './api/tokens.js';
import { addUser, generatePassword } from './auth/users.js';
import { API_ROLES, USER_ROLES, type ApiRole, type UserRole } from './store/types.js';
import { openCloudStore } from './store/index.js';

const USAGE = `village-cloud — the smart-village cloud

usage:
  village-cloud run [--db FILE|postgres://…] [--host H] [--mqtt-port 1883] [--ws-port 8083] [--http-port 8080]
        [--tls-cert PEM --tls-key PEM [--tls-ca PEM: require client certificates]]
        one process: embedded MQTT broker (TCP + WebSocket), ingest, storage, HTTP API
        [--raw-retention 90d: raw readings older than this become hourly aggregates; 0 keeps them]
        [--web-root DIR: the built web app served at / (default web/dist; --web-root none: API only)]
        [--alert-webhook URL: POST each new alert as JSON {site, alert}] [--trust-proxy: behind a reverse proxy]
  village-cloud ingest --broker mqtt://HOST:PORT --username service:ingest --password-file F [--db …] [--group ingest] [--http-port P]
        one stateless ingest worker behind an external broker (Mosquitto, EMQX); HTTP API only with --http-port
  village-cloud edge add --site S --edge E [--db …]
        registers an edge (or rotates its secret) and prints the secret once
  village-cloud edge list [--db …]
  village-cloud token add --name N --role viewer|operator|admin [--db …]
        creates an HTTP API token (or replaces the one with that name) and prints it once
  village-cloud token list [--db …]
  village-cloud user add NAME --site S --role admin|operator|farmer|viewer [--fields a,b] [--password-file F] [--db …]
        adds a web app login; farmers need --fields (the fields they own). Without --password-file
        a password is generated and printed once; only its hash is kept
  village-cloud user list [--db …]
  village-cloud user remove NAME [--db …]
        removes the login and ends its sessions

--db defaults to $VILLAGE_CLOUD_DB or ./cloud-data/cloud.sqlite`;

function badFlag(flag: string, value: string): never {
  console.error(`${flag} ${value}: write a duration such as 90d, 12h or 0 (keep for ever)`);
  process.exit(2);
}

function logger() {
  // Pretty on a terminal, JSON lines otherwise; secrets are never logged.
  const base = { level: process.env.LOG_LEVEL ?? 'info', redact: { paths: ['password', 'secret', '*.password', '*.secret', ...API_REDACT_PATHS], censor: '[redacted]' } };
  return process.stdout.isTTY ? pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } }) : pino(base);
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  const args = command === 'edge' || command === 'token' || command === 'user' ? rest : [sub, ...rest].filter((a): a is string => a !== undefined);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: command === 'user',
    options: {
      db: { type: 'string' },
      host: { type: 'string' },
      'mqtt-port': { type: 'string' },
      'ws-port': { type: 'string' },
      'http-port': { type: 'string' },
      'raw-retention': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      broker: { type: 'string' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      group: { type: 'string' },
      site: { type: 'string' },
      edge: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      fields: { type: 'string' },
      'web-root': { type: 'string' },
      'alert-webhook': { type: 'string' },
      'trust-proxy': { type: 'boolean' },
    },
  });
  const db = values.db ?? process.env.VILLAGE_CLOUD_DB ?? resolve('cloud-data', 'cloud.sqlite');
  if (!db.includes('://')) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(resolve(db, '..'), { recursive: true });
  }
  switch (command) {
    case 'run':
    case 'ingest': {
      const log = logger();
      const external = command === 'ingest';
      if (external && (!values.broker || !values.username || !values['password-file'])) {
        console.error(`ingest needs --broker, --username and --password-file\n\n${USAGE}`);
        return 2;
      }
      // The API listens by default with the embedded broker; an ingest worker serves it only when asked.
      const httpPort = values['http-port'] ?? (external ? undefined : '8080');
      if (httpPort !== undefined && !/^\d{1,5}$/.test(httpPort)) {
        console.error(`--http-port must be a port number, got "${httpPort}"`);
        return 2;
      }
      const webhook = values['alert-webhook'];
      if (webhook !== undefined && !/^https?:\/\/./.test(webhook)) {
        console.error(`--alert-webhook must be an http:// or https:// URL`);
        return 2;
      }
      const webRoot = values['web-root'];
      const app = new CloudApp({
        db,
        log,
        ...(webRoot !== undefined && { webRoot: webRoot === 'none' ? false : resolve(webRoot) }),
        ...(webhook !== undefined && { alertWebhook: webhook }),
        ...(values['trust-proxy'] === true && { trustProxy: true }),
        ...(external ? { broker: { url: values.broker as string, username: values.username as string, password: readFileSync(values['password-file'] as string, 'utf8').trim() } } : {}),
        ...(values.host ? { host: values.host } : {}),
        mqttPort: Number(values['mqtt-port'] ?? 1883),
        ...(values['raw-retention'] !== undefined ? { rawRetentionMs: parseDuration(values['raw-retention']) ?? badFlag('--raw-retention', values['raw-retention']) } : {}),
        ...(values['ws-port'] ? { wsPort: Number(values['ws-port']) } : {}),
        ...(httpPort !== undefined ? { httpPort: Number(httpPort) } : {}),
        ...(values['tls-cert'] && values['tls-key']
          ? {
              tls: {
                cert: readFileSync(values['tls-cert']),
                key: readFileSync(values['tls-key']),
                ...(values['tls-ca'] ? { ca: readFileSync(values['tls-ca']), requestCert: true } : {}),
              },
            }
          : {}),
        ...(values.group ? { group: values.group } : {}),
      });
      const stop = (code: number): void => {
        app.stop().finally(() => process.exit(code));
      };
      process.on('SIGTERM', () => stop(0));
      process.on('SIGINT', () => stop(0));
      await app.start();
      log.info({ db: db.replace(/\/\/[^@]*@/, '//***@'), ports: app.ports }, external ? 'ingest worker running' : 'village cloud running');
      return new Promise<number>(() => undefined);
    }
    case 'edge': {
      const store = openCloudStore(db);
      await store.init();
      try {
        if (sub === 'add') {
          const site = values.site;
          const edge = values.edge;
          if (!site || !edge || !ID_PATTERN.test(site) || !ID_PATTERN.test(edge)) {
            console.error('edge add needs --site and --edge: lowercase letters, digits and dashes');
            return 2;
          }
          const secret = await addEdge(store, site, edge, Date.now());
          console.log(`edge ${site}/${edge} registered. Its MQTT login (shown once, only a hash is kept):`);
          console.log(`  username: ${site}/${edge}`);
          console.log(`  secret:   ${secret}`);
          return 0;
        }
        if (sub === 'list') {
          for (const e of await store.listEdges()) {
            console.log(`${`${e.site}/${e.edge}`.padEnd(32)} ${e.state.padEnd(8)} last seen ${e.lastSeen ? new Date(e.lastSeen).toISOString() : 'never'}  stored up to seq ${e.contiguousSeq}`);
          }
          return 0;
        }
        console.error(USAGE);
        return 2;
      } finally {
        await store.close();
      }
    }
    case 'token': {
      const store = openCloudStore(db);
      await store.init();
      try {
        if (sub === 'add') {
          const { name, role } = values;
          if (!name || !TOKEN_NAME_PATTERN.test(name) || !role || !(API_ROLES as readonly string[]).includes(role)) {
            console.error(`token add needs --name (letters, digits, . _ -; e.g. hall-screen) and --role ${API_ROLES.join('|')}`);
            return 2;
          }
          const token = await addApiToken(store, name, role as ApiRole, Date.now());
          console.log(`token "${name}" (${role}) created. Shown once, only a hash is kept; send it as Authorization: Bearer <token>:`);
          console.log(`  ${token}`);
          return 0;
        }
        if (sub === 'list') {
          for (const t of await store.listTokens()) console.log(`${t.name.padEnd(32)} ${t.role.padEnd(9)} created ${new Date(t.createdAt).toISOString()}`);
          return 0;
        }
        console.error(USAGE);
        return 2;
      } finally {
        await store.close();
      }
    }
    case 'user': {
      const store = openCloudStore(db);
      await store.init();
      try {
        return await userCommand(store, sub, positionals, values);
      } finally {
        await store.close();
      }
    }
    default:
      console.log(USAGE);
      return command === undefined || command === 'help' ? 0 : 2;
  }
}

async function userCommand(
  store: ReturnType<typeof openCloudStore>,
  sub: string | undefined,
  positionals: string[],
  values: { site?: string | undefined; role?: string | undefined; fields?: string | undefined; 'password-file'?: string | undefined },
): Promise<number> {
  const name = positionals[0];
  if (sub === 'add') {
    const { site, role } = values;
    if (!name || positionals.length > 1 || !site || !role || !(USER_ROLES as readonly string[]).includes(role)) {
      console.error(`user add needs NAME, --site and --role ${USER_ROLES.join('|')} (farmers also --fields a,b)`);
      return 2;
    }
    const generated = values['password-file'] === undefined;
    const password = generated ? generatePassword() : readFileSync(values['password-file'] as string, 'utf8').replace(/\r?\n$/, '');
    const fields = values.fields?.split(',').map((f) => f.trim()).filter(Boolean);
    try {
      await addUser(store, { name, role: role as UserRole, site, ...(fields && { fields }) }, password, Date.now());
    } catch (err) {
      const e = toVillageError(err);
      if (e.code !== 'CONFIG_INVALID' && !(e.code === 'STORE_FAILED' && e.details.reason === 'user-exists')) throw err;
      console.error(e.message);
      return 2;
    }
    console.log(`user "${name}" (${role}${fields ? ` of ${fields.join(', ')}` : ''}) added at site ${site}.`);
    if (generated) {
      console.log('Password (shown once, only a hash is kept):');
      console.log(`  ${password}`);
    }
    return 0;
  }
  if (sub === 'list') {
    for (const u of await store.listUsers()) {
      console.log(`${u.name.padEnd(24)} ${u.role.padEnd(9)} ${u.site.padEnd(20)} ${u.fields ? u.fields.join(',') : 'all fields'}  created ${new Date(u.createdAt).toISOString()}`);
    }
    return 0;
  }
  if (sub === 'remove') {
    if (!name || positionals.length > 1) {
      console.error('user remove needs NAME');
      return 2;
    }
    if (!(await store.removeUser(name))) {
      console.error(`no user "${name}"`);
      return 1;
    }
    console.log(`user "${name}" removed; their sessions have ended.`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = toVillageError(err);
    console.error(e.code === 'INTERNAL' ? ((err as Error).stack ?? e.message) : e.message);
    // Exit now: a half-started service (a port in use) must not linger.
    process.exit(1);
  },
);
