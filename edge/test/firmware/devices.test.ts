/**
 * FirmwareDevices as the edge runs it: a site config with a firmware line, the real SQLite
 * outbox in a temp dir, and the simulated node process on the far end of a pty pair.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Event, Reading } from '@smart-village/shared';
import { startSim, until, type SimProcess } from '../../../firmware-bridge/test/helpers/sim.js';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { FirmwareDevices } from '../../src/firmware/devices.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';

let pair: PtyPair | undefined;
let sim: SimProcess | undefined;
let devices: FirmwareDevices | undefined;
let outbox: SqliteOutbox | undefined;
let dir: string | undefined;

afterEach(async () => {
  await sim?.stop();
  await devices?.stop();
  outbox?.stop();
  await pair?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  sim = devices = outbox = pair = dir = undefined;
});

const site = (port: string, nodes: string, extra = ''): string => `
version: 1
site: { id: it, name: Integration, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi-it, gpio: { driver: simulated } }
devices:
  - { id: vuon, driver: firmware, port: ${port}, nodes: [${nodes}], backoffMin: 50ms }
${extra}`;

async function start(nodes: string, extra = ''): Promise<{ devices: FirmwareDevices; outbox: SqliteOutbox; pair: PtyPair }> {
  pair = await openPtyPair();
  dir = mkdtempSync(join(tmpdir(), 'sv-fw-edge-'));
  const log = createLogger({ level: 'silent' });
  outbox = new SqliteOutbox({ path: join(dir, 'outbox.sqlite'), clock: systemClock, log, commitInterval: 100 });
  outbox.start();
  const config = parseConfigText(site(pair.a, nodes, extra));
  devices = new FirmwareDevices(config, { outbox, clock: systemClock, log });
  await devices.start();
  const d = devices;
  await until('the line to open', () => d.stats()[0]?.open === true);
  return { devices, outbox, pair };
}

function stored(o: SqliteOutbox): { readings: Reading[]; events: Event[] } {
  o.flush();
  const rows = o.rowsAfter(0, 100_000);
  return { readings: rows.flatMap((r) => (r.kind === 'reading' ? [r.reading] : [])), events: rows.flatMap((r) => (r.kind === 'event' ? [r.event] : [])) };
}

describe('FirmwareDevices into the SQLite outbox', () => {
  it('hello, then readings reach the outbox under the configured sensor ids; node events too', async () => {
    const l = await start('{ node: 4, name: ao-ca }', 'sensors:\n  - { id: do-am-ao-ca, source: vuon/ao-ca-moisture }\n');
    sim = await startSim(l.pair.b, ['--first', '4', '--sensors', 'moisture:soil-moisture,temp:soil-temperature', '--interval', '100ms', '--count', '5']);
    const s = sim;
    await until('5 readings of each sensor in the outbox', () => s.of('done').length === 1 && stored(l.outbox).readings.length === 10);
    const { readings, events } = stored(l.outbox);
    const sent = s.of('sent').filter((x) => x.type === 'readings');
    expect(readings.filter((r) => r.sensor === 'do-am-ao-ca').map((r) => r.value)).toEqual(sent.map((x) => x.values?.[0]));
    expect(readings.filter((r) => r.sensor === 'vuon-ao-ca-temp').map((r) => r.value)).toEqual(sent.map((x) => x.values?.[1]));
    expect(readings.every((r) => r.quality === 'good' && r.clockSynced)).toBe(true);
    expect(events.map((e) => [e.kind, e.source])).toEqual([['node.online', 'vuon/ao-ca']]);
    expect(l.devices.stats()[0]).toMatchObject({ id: 'vuon', readings: 10, rejected: { unmapped: 0 } });
  });

  it('a gateway relaying 50 nodes: every reading of every node arrives once', async () => {
    const nodes = Array.from({ length: 50 }, (_, i) => `{ node: ${i + 1} }`).join(', ');
    const l = await start(nodes);
    sim = await startSim(l.pair.b, ['--nodes', '50', '--sensors', 'count:pulses,battery:battery', '--values', 'seq', '--interval', '250ms', '--count', '8']);
    const s = sim;
    await until('all 50 nodes done', () => s.of('done').length === 50, 20_000);
    await until('800 readings in the outbox', () => stored(l.outbox).readings.length >= 800, 10_000);
    const { readings } = stored(l.outbox);
    expect(readings).toHaveLength(800);
    for (let node = 1; node <= 50; node++) {
      // seq mode: sensor i of the frame with seq s sends s + i/10, so each value names its frame.
      const want = s.of('sent').filter((x) => x.type === 'readings' && x.node === node).map((x) => x.values?.[0]);
      expect(want).toHaveLength(8);
      expect(readings.filter((r) => r.sensor === `vuon-n${node}-count`).map((r) => r.value).sort()).toEqual([...want].sort());
      expect(readings.filter((r) => r.sensor === `vuon-n${node}-battery`)).toHaveLength(8);
    }
    const stats = l.devices.stats()[0]!;
    expect(stats.frames).toMatchObject({ duplicates: 0, gaps: 0, restarts: 0 });
    expect(stats.deframer.errors).toBe(0);
    expect(stats.nodes.filter((n) => n.online)).toHaveLength(50);
    expect(stored(l.outbox).events.filter((e) => e.kind === 'node.online')).toHaveLength(50);
  });

  it('readings of a node not in the config are counted, not stored under a guessed id', async () => {
    const l = await start('{ node: 1 }');
    sim = await startSim(l.pair.b, ['--nodes', '2', '--sensors', 'count:pulses', '--values', 'seq', '--interval', '80ms', '--count', '3']);
    const s = sim;
    await until('both done', () => s.of('done').length === 2 && stored(l.outbox).readings.length === 3);
    await until('the unknown node counted', () => l.devices.stats()[0]!.rejected.unmapped === 3);
    expect(new Set(stored(l.outbox).readings.map((r) => r.sensor))).toEqual(new Set(['vuon-n1-count']));
  });
});
