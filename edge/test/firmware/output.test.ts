/**
 * FirmwareOutput over a pty pair with the simulated node: ON carries the remaining lease, the
 * node switches it off by itself, a lease that outlasts it is renewed, a dead node fails loudly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { actuatorSchema } from '@smart-village/shared';
import { startSim, until, type SimProcess } from '../../../firmware-bridge/test/helpers/sim.js';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { FirmwareDevices } from '../../src/firmware/devices.js';
import type { FirmwareOutput } from '../../src/firmware/output.js';
import { createLogger } from '../../src/log.js';
import type { OutputChange } from '../../src/outputs/watch.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';

let pair: PtyPair | undefined;
let sim: SimProcess | undefined;
let devices: FirmwareDevices | undefined;
let outbox: SqliteOutbox | undefined;
let output: FirmwareOutput | undefined;
let dir: string | undefined;

afterEach(async () => {
  await output?.close();
  await sim?.stop();
  await devices?.stop();
  outbox?.stop();
  await pair?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  output = sim = devices = outbox = pair = dir = undefined;
});

const valve = actuatorSchema.parse({ id: 'van-1', kind: 'valve', maxRuntime: '10m', output: { driver: 'firmware', device: 'vuon', node: 2, channel: 1 } });

async function start(simArgs: string[], lease: { end?: number } = {}): Promise<{ output: FirmwareOutput; sim: SimProcess; changes: OutputChange[] }> {
  pair = await openPtyPair();
  dir = mkdtempSync(join(tmpdir(), 'sv-fw-out-'));
  const log = createLogger({ level: 'silent' });
  outbox = new SqliteOutbox({ path: join(dir, 'outbox.sqlite'), clock: systemClock, log });
  outbox.start();
  const config = parseConfigText(`
version: 1
site: { id: it, name: Integration, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi-it }
devices:
  - { id: vuon, driver: firmware, port: ${pair.a}, nodes: [{ node: 2 }], ackTimeout: 200ms, retries: 1 }
`);
  devices = new FirmwareDevices(config, { outbox, clock: systemClock, log });
  await devices.start();
  sim = await startSim(pair.b, ['--first', '2', '--relays', '2', '--interval', '1s', '--heartbeat', '1', ...simArgs]);
  const d = devices;
  await until('the node online', () => d.bridge('vuon')?.node(2)?.online === true);
  output = devices.output(valve, { leaseEnd: () => lease.end });
  const changes: OutputChange[] = [];
  output.onChange((c) => changes.push(c));
  return { output, sim, changes };
}

const commands = (s: SimProcess) => s.of('command').filter((c) => c.outcome === 'executed');

describe('FirmwareOutput', () => {
  it('open() switches the relay off; an ON carries the remaining lease and the node ends it by itself', async () => {
    const lease: { end?: number } = {};
    const { output, sim, changes } = await start([], lease);
    await output.open();
    // The node reports on its stdout, a different path from its ack: wait for the report.
    await until('the node to report the OFF', () => commands(sim).length === 1);
    expect(commands(sim)).toEqual([expect.objectContaining({ node: 2, channel: 1, on: false, durationMs: 0 })]);
    lease.end = Date.now() + 600;
    await output.set(true);
    expect(output.on).toBe(true);
    await until('the node to report the ON', () => commands(sim).length === 2);
    const on = commands(sim)[1]!;
    expect(on).toMatchObject({ channel: 1, on: true });
    expect(on.durationMs).toBeGreaterThan(400);
    expect(on.durationMs).toBeLessThanOrEqual(600);
    await until('the node to switch it off', () => sim.of('relay').length === 1, 3000);
    await until('the output to know', () => !output.on, 3000);
    expect(changes.map((c) => c.on)).toEqual([true, false]);
    expect(commands(sim)).toHaveLength(2); // the lease ended with the node's timer: no renewal
  });

  it('renews the ON while the lease lasts longer than the duration the node was given', async () => {
    const lease: { end?: number } = {};
    const { output, sim } = await start(['--max-on', '1'], lease); // the node allows 1 s per ON
    await output.open();
    lease.end = Date.now() + 2500;
    await output.set(true);
    await until('renewed', () => commands(sim).filter((c) => c.on).length >= 2, 3000);
    expect(output.on).toBe(true);
    await until('off at the end of the lease', () => !output.on, 5000);
    await until('the node to have switched it off itself', () => sim.of('relay').length >= 1, 3000);
    expect(commands(sim).filter((c) => c.on).length).toBeGreaterThanOrEqual(2);
    await output.set(false).catch(() => undefined);
  });

  it('set(false) switches off at once; a node restart is an off', async () => {
    const { output, sim, changes } = await start([]);
    await output.open();
    await output.set(true);
    await until('the node to report the ON', () => commands(sim).length === 2);
    expect(commands(sim).at(-1)).toMatchObject({ on: true, durationMs: 600_000 }); // no lease given: maxRuntime
    await output.set(false);
    expect(output.on).toBe(false);
    await output.set(true);
    sim.control('restart 2');
    await until('the restart seen as off', () => !output.on);
    expect(changes.map((c) => c.on)).toEqual([true, false, true, false]);
  });

  it('a node that does not answer: set(true) rejects and the output stays off', async () => {
    const { output } = await start(['--ignore-commands']);
    await expect(output.open()).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE' });
    await expect(output.set(true)).rejects.toThrow(/van-1 \(vuon node 2 channel 1\): cannot switch on: vuon: node 2 did not acknowledge/);
    expect(output.on).toBe(false);
  });
});
