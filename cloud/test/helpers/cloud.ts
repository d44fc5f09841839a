import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { topic, type EdgeState } from '@smart-village/shared';
import { addApiToken } from '../../src/api/tokens.js';
import { addEdge, CloudApp, type CloudOptions } from '../../src/app.js';
import { captureLog } from '../api/fixture.js';

/** A whole cloud (embedded broker, ingest, API) on loopback ports, on a temp-dir SQLite file, with a clock the test moves. */
export interface TestCloud {
  app: CloudApp;
  dir: string;
  db: string;
  base: string;
  mqttUrl: string;
  clock: { t: number };
  logs: string[];
  operator: string;
  viewer: string;
  secrets: Map<string, string>;
  /** Stops the app (the data stays for a restart). */
  stop(): Promise<void>;
  /** Stops and deletes everything. */
  close(): Promise<void>;
}

export async function startCloud(opts: { dir?: string; edges?: string[]; options?: Partial<CloudOptions>; clock?: { t: number } } = {}): Promise<TestCloud> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sv-cloud-'));
  const db = join(dir, 'cloud.sqlite');
  const clock = opts.clock ?? { t: Date.now() };
  const { log, lines } = captureLog();
  const app = new CloudApp({ db, log, host: '127.0.0.1', mqttPort: 0, httpPort: 0, webRoot: false, now: () => clock.t, ...opts.options });
  await app.start();
  const secrets = new Map<string, string>();
  for (const ref of opts.edges ?? []) {
    const [site, edge] = ref.split('/') as [string, string];
    if (!(await app.store.getEdge({ site, edge }))) secrets.set(ref, await addEdge(app.store, site, edge, clock.t));
  }
  const operator = await addApiToken(app.store, `technician-${Math.random().toString(36).slice(2, 6)}`, 'operator', clock.t);
  const viewer = await addApiToken(app.store, `hall-${Math.random().toString(36).slice(2, 6)}`, 'viewer', clock.t);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await app.stop();
  };
  return {
    app,
    dir,
    db,
    base: `http://127.0.0.1:${app.ports.http}`,
    mqttUrl: `mqtt://127.0.0.1:${app.ports.mqtt}`,
    clock,
    logs: lines,
    operator,
    viewer,
    secrets,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An edge's MQTT connection, as the edge's sync client makes it. */
export function connectEdge(cloud: TestCloud, ref: string, suffix = 'main'): Promise<MqttClient> {
  return connectAsync(cloud.mqttUrl, { username: ref, password: cloud.secrets.get(ref), clientId: `${ref}/${suffix}`, reconnectPeriod: 0, protocolVersion: 4 });
}

export async function publishState(edge: MqttClient, ref: string, state: EdgeState): Promise<void> {
  const [site, name] = ref.split('/') as [string, string];
  await edge.publishAsync(topic(site, name, 'state'), JSON.stringify(state), { qos: 1, retain: true });
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
