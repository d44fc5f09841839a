/**
 * A whole village for browser tests, on loopback and the system clock: the real CloudApp
 * (embedded aedes broker, ingest, SQLite in a temp dir, HTTP API serving web/dist) and the real
 * EdgeApp reading the simulated village (Modbus RTU frames on simulated lines, simulated GPIO),
 * syncing to that cloud with the secret `village-cloud edge add` would print. Users and the hall
 * token are made with the code the `village-cloud user add` / `token add` commands run.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { addApiToken } from '../../../cloud/src/api/tokens.js';
import { addEdge, CloudApp } from '../../../cloud/src/app.js';
import { addUser, type NewUser } from '../../../cloud/src/auth/users.js';
import { EdgeApp } from '../../../edge/src/app.js';
import { systemClock } from '../../../edge/src/clock.js';
import { parseConfigText } from '../../../edge/src/config.js';
import { createLogger, type Logger } from '../../../edge/src/log.js';
import { createSimulatedField, type SimulatedField } from '../../../edge/src/sim/devices.js';

export const SITE = 'my-hoa';
export const EDGE = 'pi-ruong-1';
export const WEB_ROOT = fileURLToPath(new URL('../../dist/', import.meta.url));
export const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));

/**
 * The demo village (examples/demo-village.yaml) with what a test needs changed:
 * - the local page on a free port, and the cloud on the test's broker port;
 * - no firmware node (its serial port exists only under scripts/demo.mjs);
 * - no soil-moisture control and no program: with `capacity: 1` an automatic run (the demo's
 *   fields start near their 28 % threshold, the program at sunset) would queue or block the
 *   one run a test asks for, so the only water is the test's own;
 * - 5 s polls instead of 10-30 s, so a first picture is there in seconds;
 * - the tank pump's flow meter is named as a sensor of field ruong-2, so it shows on its card;
 * - the tank's level belongs to no field (the demo puts it in a field "bon-nuoc"), so it is the
 *   village's shared tank that every farmer sees, not a field card of its own.
 */
function villageConfig(mqttPort: number): string {
  return `
version: 1
site: { id: ${SITE}, name: "Ấp Mỹ Hòa", timezone: Asia/Ho_Chi_Minh, lat: 10.03, lon: 105.78, language: vi }
edge:
  id: ${EDGE}
  gpio: { driver: simulated }
  http: { host: 127.0.0.1, port: 0 }
buses:
  - { id: rs485-1, type: simulated, baud: 9600, timeout: 500ms, retries: 1 }
  - { id: rs485-2, type: simulated, baud: 4800, timeout: 500ms }
devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, interval: 5s }
  - { id: soil-2, bus: rs485-1, profile: soil-th-ec-rs485, slave: 2, interval: 5s }
  - { id: soil-3, bus: rs485-1, profile: soil-npk-7in1-rs485, slave: 3, interval: 5s }
  - { id: rain, bus: rs485-1, profile: rain-gauge-rs485, slave: 10, interval: 5s }
  - id: tank
    bus: rs485-2
    profile: level-ultrasonic-dyp-a02
    slave: 1
    interval: 5s
    overrides:
      level: { quantity: water-fill, scale: -0.05, offset: 100, max: 100 }
  - { id: weather, bus: rs485-2, profile: weather-station-rs485, slave: 2, interval: 5s }
  - { id: tank-float, driver: gpio, pin: 17, mode: digital, activeLow: true, interval: 5s }
  - { id: pump-flow, driver: gpio, pin: 27, mode: flow-meter, interval: 2s }
sensors:
  - { id: ruong-1-do-am, source: soil-1/moisture, name: "Ruộng 1 — độ ẩm đất", field: ruong-1 }
  - { id: ruong-2-do-am, source: soil-2/moisture, name: "Ruộng 2 — độ ẩm đất", field: ruong-2 }
  - { id: ruong-3-do-am, source: soil-3/moisture, name: "Ruộng 3 — độ ẩm đất", field: ruong-3 }
  - { id: bon-nuoc-muc, source: tank/level, name: "Bồn nước — mực nước" }
  - { id: pump-flow-flow, source: pump-flow/flow, name: "Bơm bồn nước — lưu lượng", field: ruong-2 }
actuators:
  - { id: van-ruong-1, kind: valve, name: "Van ruộng 1", output: { driver: gpio, pin: 5 }, activeLow: true, field: ruong-1, maxRuntime: 45m }
  - { id: van-ruong-2, kind: valve, name: "Van ruộng 2", output: { driver: gpio, pin: 6 }, activeLow: true, field: ruong-2, maxRuntime: 45m }
  - { id: van-ruong-3, kind: valve, name: "Van ruộng 3", output: { driver: gpio, pin: 13 }, activeLow: true, field: ruong-3, maxRuntime: 45m }
  - { id: bom, kind: pump, name: "Bơm bồn nước", output: { driver: gpio, pin: 19 }, activeLow: true, maxRuntime: 2h }
  - { id: bom-kenh, kind: pump, name: "Bơm kênh", output: { driver: gpio, pin: 26 }, activeLow: true, maxRuntime: 2h }
  - { id: den-duong-1, kind: light, name: "Đèn đường 1", output: { driver: gpio, pin: 20 }, activeLow: true }
  - { id: den-duong-2, kind: light, name: "Đèn đường 2", output: { driver: gpio, pin: 21 }, activeLow: true }
zones:
  - { id: ruong-1, name: "Ruộng 1", field: ruong-1, valve: van-ruong-1, pump: bom-kenh, flowLpm: 80 }
  - { id: ruong-2, name: "Ruộng 2", field: ruong-2, valve: van-ruong-2, pump: bom, tank: bon-nuoc-muc, flowLpm: 20, flowSensor: pump-flow-flow }
  - { id: ruong-3, name: "Ruộng 3", field: ruong-3, valve: van-ruong-3, pump: bom-kenh, flowLpm: 80 }
irrigation:
  capacity: { zones: 1 }
  rain: { gaugeSensor: rain-rain-total, mm: 5, hours: 24 }
  tank: { minPercent: 15, restartPercent: 25 }
lighting:
  - { id: den-duong, name: "Đèn đường", lights: [den-duong-1, den-duong-2], on: sunset+10m, off: sunrise-10m, offWindows: [["23:30", "04:30"]] }
store: { commitInterval: 1s, retention: 30d, quotaMb: 256 }
cloud: { url: "mqtt://127.0.0.1:${mqttPort}" }
simulation: { seed: 7 }
`;
}

/** A person who signs in on the farmer view. */
export interface Person {
  name: string;
  password: string;
}

export interface Village {
  dir: string;
  cloud: CloudApp;
  edge: EdgeApp;
  field: SimulatedField;
  /** http://127.0.0.1:{port} of the cloud's API and web app. */
  base: string;
  operator: Person;
  /** Farmer of ruong-1. */
  lan: Person;
  /** Farmer of ruong-2. */
  minh: Person;
  /** A viewer token for the hall screen. */
  hallToken: string;
  /** Warnings and errors of the cloud and the edge, as JSON lines (printed when a test fails). */
  logs: string[];
  /** Stops the cloud (its data stays). */
  stopCloud(): Promise<void>;
  /** A new CloudApp on the same ports and database. */
  startCloudAgain(): Promise<void>;
  /** Stops everything and deletes the temp dir; safe to call twice. */
  close(): Promise<void>;
}

function lineLog(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      if (lines.length > 2000) lines.splice(0, lines.length - 2000);
      done();
    },
  });
  return createLogger({ level: 'warn', destination: sink, pretty: false });
}

export async function startVillage(): Promise<Village> {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`no built web app in ${WEB_ROOT}: run node web/build.mjs first`);
  const dir = mkdtempSync(join(tmpdir(), 'sv-browser-'));
  const db = join(dir, 'cloud.sqlite');
  const logs: string[] = [];
  const log = lineLog(logs);
  const cloudLog = log.child({ side: 'cloud' });
  let cloud: CloudApp | undefined = new CloudApp({ db, log: cloudLog, host: '127.0.0.1', mqttPort: 0, httpPort: 0, webRoot: WEB_ROOT });
  let edge: EdgeApp | undefined;
  const close = async (): Promise<void> => {
    // The edge first, while the cloud can still take its last rows.
    await edge?.stop();
    edge = undefined;
    await cloud?.stop();
    cloud = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await cloud.start();
    const ports = { mqtt: cloud.ports.mqtt as number, http: cloud.ports.http as number };
    const now = Date.now();
    const store = cloud.store;
    const secret = await addEdge(store, SITE, EDGE, now);
    const person = async (u: NewUser, password: string): Promise<Person> => {
      await addUser(store, u, password, now);
      return { name: u.name, password };
    };
    const operator = await person({ name: 'van-hanh', role: 'operator', site: SITE }, 'nuoc-ruong-van-hanh');
    const lan = await person({ name: 'nong-dan-lan', role: 'farmer', site: SITE, fields: ['ruong-1'] }, 'lua-xanh-ruong-mot');
    const minh = await person({ name: 'nong-dan-minh', role: 'farmer', site: SITE, fields: ['ruong-2'] }, 'lua-vang-ruong-hai');
    const hallToken = await addApiToken(store, 'hall-screen', 'viewer', now);

    const config = parseConfigText(villageConfig(ports.mqtt), 'browser-village.yaml');
    const edgeLog = log.child({ side: 'edge' });
    const field = createSimulatedField(config, systemClock, edgeLog.child({ module: 'sim' }));
    edge = new EdgeApp({ config, clock: systemClock, log: edgeLog, dataDir: join(dir, 'edge'), field, cloudSecret: secret, clockSynced: () => true });
    await edge.start();

    const village: Village = {
      dir,
      get cloud() {
        if (!cloud) throw new Error('the cloud is stopped');
        return cloud;
      },
      edge,
      field,
      base: `http://127.0.0.1:${ports.http}`,
      operator,
      lan,
      minh,
      hallToken,
      logs,
      async stopCloud() {
        await cloud?.stop();
        cloud = undefined;
      },
      async startCloudAgain() {
        if (cloud) throw new Error('the cloud is still running');
        const next = new CloudApp({ db, log: cloudLog, host: '127.0.0.1', mqttPort: ports.mqtt, httpPort: ports.http, webRoot: WEB_ROOT });
        await next.start();
        cloud = next;
      },
      close,
    };
    return village;
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** Polls the site's overview (read with the hall's viewer token) until `ready` accepts it. */
export async function waitForOverview(village: Village, what: string, ready: (overview: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${village.base}/api/sites/${SITE}/overview`, { headers: { authorization: `Bearer ${village.hallToken}` } });
    if (res.ok && ready((await res.json()) as Record<string, unknown>)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} in the overview`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Chromium from Debian's package, loopback only. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking'] });
}

/** A fresh profile (no cookies, no localStorage) with a phone or a hall-screen viewport. */
export async function newPage(browser: Browser, viewport: { width: number; height: number }, problems: string[] = []): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  const page = await context.newPage();
  // Uncaught errors and CSP refusals would be bugs even when the page still looks right.
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|net::ERR_/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return { context, page, problems };
}

/** Signs in on the farmer view's form, as a person would. */
export async function signIn(page: Page, base: string, who: Person): Promise<void> {
  await page.goto(`${base}/`);
  const form = page.getByTestId('sign-in');
  await form.locator('input[name="username"]').fill(who.name);
  await form.locator('input[name="password"]').fill(who.password);
  await form.locator('button[type="submit"]').click();
  await form.waitFor({ state: 'detached', timeout: 10_000 });
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, name);
}

/** Marks the page so a test can tell it was never reloaded (a reload forgets the mark). */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as Record<string, unknown>).svNotReloaded = true;
  });
}

export async function stillMarked(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as Record<string, unknown>).svNotReloaded === true);
}

/** A number as the page writes it ("12,5 L/min", "68 %"), or NaN. */
export function numberIn(text: string | null): number {
  const m = /-?\d+(?:[.,]\d+)?/.exec((text ?? '').replace(/\u00a0/g, ' '));
  return m ? Number(m[0].replace(',', '.')) : Number.NaN;
}
