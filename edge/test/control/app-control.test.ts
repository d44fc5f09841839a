/**
 * Local control inside the whole EdgeApp on the system clock: outputs on (simulated) GPIO lines
 * open in their safe state without a pulse, a push button waters its zone and stops it, the
 * local API takes commands with the local token only, and stop() leaves everything safe.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgeApp } from '../../src/app.js';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { SimulatedPinBackend } from '../../src/gpio/simulated.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { until } from '../integration/harness.js';

const CONFIG = `
version: 1
site: { id: ctl, name: Control, timezone: Asia/Ho_Chi_Minh, lat: 10.03, lon: 105.78 }
edge: { id: pi-ctl, gpio: { driver: simulated }, http: { port: 0 } }
actuators:
  - { id: van-1, kind: valve, output: { driver: gpio, pin: 5 }, activeLow: true, maxRuntime: 30m }
  - { id: van-2, kind: valve, output: { driver: gpio, pin: 6 }, activeLow: false, maxRuntime: 30m }
zones:
  - { id: ruong-1, valve: van-1 }
  - { id: ruong-2, valve: van-2 }
buttons:
  - { id: nut-1, pin: 22, zone: ruong-1, duration: 5m }
`;

describe('control in the edge app', () => {
  let app: EdgeApp | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    app = dir = undefined;
  });

  async function start(): Promise<{ app: EdgeApp; pins: SimulatedPinBackend; dir: string }> {
    dir = mkdtempSync(join(tmpdir(), 'sv-ctl-'));
    const pins = new SimulatedPinBackend(systemClock);
    // The button's line idles high (pull-up; pressed = low).
    pins.set(22, 1);
    app = new EdgeApp({ config: parseConfigText(CONFIG), clock: systemClock, log: createLogger({ level: 'silent' }), dataDir: dir, pins, clockSynced: () => true });
    await app.start();
    return { app, pins, dir };
  }

  it('opens every output in its safe state in one step (no pulse), waters on a button press and stops on the next', async () => {
    const { pins, dir: data } = await start();
    // Active-low valve: off = high; active-high: off = low. One level each since start.
    expect(pins.history(5).map((c) => c.level)).toEqual([1]);
    expect(pins.history(6).map((c) => c.level)).toEqual([0]);

    pins.set(22, 0);
    await until('valve 1 opened by the button', () => pins.level(5) === 0, 3000);
    pins.set(22, 1);
    expect(app?.control?.state().zones.find((z) => z.id === 'ruong-1')?.state).toBe('running');
    // A bounce shorter than the debounce time does nothing.
    pins.set(22, 0);
    pins.set(22, 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(pins.level(5)).toBe(0);

    pins.set(22, 0);
    await until('valve 1 closed by the second press', () => pins.level(5) === 1, 3000);
    pins.set(22, 1);
    expect(pins.history(5).map((c) => c.level)).toEqual([1, 0, 1]);

    await app?.stop();
    app = undefined;
    const outbox = new SqliteOutbox({ path: join(data, 'outbox.sqlite'), clock: systemClock, log: createLogger({ level: 'silent' }), readonly: true });
    const messages = outbox.recentEvents(50, { source: 'ruong-1' }).map((e) => e.message);
    outbox.stop();
    expect(messages.some((m) => /^water zone ruong-1 for 5 min, asked by button:nut-1$/.test(m))).toBe(true);
    expect(messages.some((m) => /^zone ruong-1 stopped after 0 min: stopped by button:nut-1$/.test(m))).toBe(true);
  });

  it('takes commands on the local API with the local token only, and stop() closes the valves', async () => {
    const { pins, dir: data } = await start();
    const port = app?.snapshot().http?.port;
    expect(port).toBeGreaterThan(0);
    const token = readFileSync(join(data, 'local-token'), 'utf8').trim();
    const url = `http://127.0.0.1:${String(port)}/api/local/commands`;
    const post = (auth: string | undefined, body: unknown): Promise<Response> =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth && { authorization: auth }) }, body: JSON.stringify(body) });

    expect((await post(undefined, { action: { type: 'water', zone: 'ruong-2', duration: '2m' } })).status).toBe(401);
    expect((await post('Bearer wrong-token-wrong-token-wrong-token', { action: { type: 'water', zone: 'ruong-2', duration: '2m' } })).status).toBe(401);
    expect(pins.level(6)).toBe(0);

    const bad = await post(`Bearer ${token}`, { action: { type: 'water', zone: 'ruong-2' } });
    expect(bad.status).toBe(400);

    const tooLong = await post(`Bearer ${token}`, { action: { type: 'water', zone: 'ruong-2', duration: '2h' } });
    expect(tooLong.status).toBe(409);
    expect(((await tooLong.json()) as { reason: string }).reason).toBe('at most 30 min (maxRuntime of van-2)');

    const ok = await post(`Bearer ${token}`, { action: { type: 'water', zone: 'ruong-2', duration: '2m' }, by: 'lan' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { status: string }).status).toBe('accepted');
    expect(pins.level(6)).toBe(1);
    const lease = app?.control?.leases.leaseEndOf('van-2') ?? 0;
    expect(lease - Date.now()).toBeGreaterThan(110_000);
    expect(lease - Date.now()).toBeLessThanOrEqual(120_000);

    await app?.stop();
    app = undefined;
    expect(pins.level(6)).toBe(0);
    expect(pins.level(5)).toBe(1);
  });
});
