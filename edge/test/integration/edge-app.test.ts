/**
 * The whole EdgeApp (config, real links, poller, SQLite outbox, status snapshot) on the system
 * clock against an RtuSlaveServer behind a socat pty pair, with a temp data dir.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EdgeApp, OUTBOX_FILE, SNAPSHOT_FILE, type EdgeSnapshot } from '../../src/app.js';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { encodeWords } from '../../src/modbus/registers.js';
import { RtuSlaveServer } from '../../src/modbus/rtu-slave.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { SITE_HEADER, until } from './harness.js';

describe('EdgeApp against a pty slave', () => {
  let pair: PtyPair | undefined;
  let slave: RtuSlaveServer | undefined;
  let app: EdgeApp | undefined;
  let dataDir: string | undefined;

  afterEach(async () => {
    await app?.stop();
    await slave?.stop();
    await pair?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    app = slave = pair = dataDir = undefined;
  });

  it('stores readings and health events in the SQLite outbox and writes a status snapshot', async () => {
    pair = await openPtyPair();
    // Soil probe at unit 1 (Renke-style map: moisture, temperature x0.1, EC); unit 9 is absent.
    const soil = new MemoryBank().setWords('holding', 0, [...encodeWords(412, 'uint16'), ...encodeWords(-35, 'int16'), ...encodeWords(830, 'uint16')]);
    slave = new RtuSlaveServer({ path: pair.b, units: new Map([[1, soil]]) });
    await slave.start();
    dataDir = mkdtempSync(join(tmpdir(), 'sv-edge-app-'));
    const config = parseConfigText(`${SITE_HEADER}
buses:
  - { id: rs485-1, type: rtu, port: ${pair.a}, timeout: 150ms, retries: 1, backoffMin: 5s }
devices:
  - id: soil-1
    bus: rs485-1
    slave: 1
    interval: 300ms
    stagger: 0
    registers:
      - { name: moisture, table: holding, address: 0, scale: 0.1, quantity: soil-moisture }
      - { name: temperature, table: holding, address: 1, type: int16, scale: 0.1, quantity: soil-temperature }
      - { name: ec, table: holding, address: 2, quantity: soil-ec }
  - id: soil-9
    bus: rs485-1
    slave: 9
    interval: 300ms
    stagger: 0
    registers:
      - { name: moisture, table: holding, address: 0, scale: 0.1, quantity: soil-moisture }
sensors:
  - { id: field-a-moisture, source: soil-1/moisture, field: field-a }
store: { commitInterval: 200ms }
`);
    app = new EdgeApp({ config, clock: systemClock, log: createLogger({ level: 'silent' }), dataDir });
    await app.start();
    const a = app;
    await until('soil-1 online and soil-9 offline', () => {
      const devices = a.snapshot().devices;
      return devices.find((d) => d.id === 'soil-1')?.health === 'online' && devices.find((d) => d.id === 'soil-9')?.health === 'offline';
    });
    await until('three committed soil-1 cycles', () => a.outbox.rowsAfter(0, 1000).filter((r) => r.kind === 'reading' && r.reading.sensor === 'soil-1-ec').length >= 3);
    await app.stop();
    app = undefined;

    expect(existsSync(join(dataDir, SNAPSHOT_FILE))).toBe(true);
    const snap = JSON.parse(readFileSync(join(dataDir, SNAPSHOT_FILE), 'utf8')) as EdgeSnapshot;
    expect(snap).toMatchObject({ site: 'it', edge: 'pi-it' });
    expect(snap.devices.find((d) => d.id === 'soil-1')).toMatchObject({ health: 'online', failures: 0 });
    expect(snap.devices.find((d) => d.id === 'soil-9')).toMatchObject({ health: 'offline' });

    // A fresh process's view: the outbox file alone.
    const outbox = new SqliteOutbox({ path: join(dataDir, OUTBOX_FILE), clock: systemClock, log: createLogger({ level: 'silent' }), readonly: true });
    try {
      const rows = outbox.rowsAfter(0, 10_000);
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      const readings = rows.flatMap((r) => (r.kind === 'reading' ? [r.reading] : []));
      const good = (sensor: string): (number | null)[] => readings.filter((r) => r.sensor === sensor && r.quality === 'good').map((r) => r.value);
      expect(good('field-a-moisture').length).toBeGreaterThanOrEqual(3);
      expect(new Set(good('field-a-moisture'))).toEqual(new Set([41.2]));
      expect(new Set(good('soil-1-temperature'))).toEqual(new Set([-3.5]));
      expect(new Set(good('soil-1-ec'))).toEqual(new Set([830]));
      const dead = readings.filter((r) => r.sensor === 'soil-9-moisture');
      expect(dead.length).toBeGreaterThanOrEqual(1);
      for (const r of dead) expect(r).toMatchObject({ value: null, quality: 'error' });

      const latest = Object.fromEntries(outbox.latest().map((r) => [r.sensor, r]));
      expect(latest['field-a-moisture']).toMatchObject({ value: 41.2, unit: '%VWC', quality: 'good' });
      expect(latest['soil-9-moisture']).toMatchObject({ value: null, quality: 'error' });

      const events = rows.flatMap((r) => (r.kind === 'event' ? [r.event] : []));
      const kinds = events.map((e) => `${e.kind}:${e.source}`);
      expect(kinds[0]).toBe('edge.started:pi-it');
      expect(kinds.at(-1)).toBe('edge.stopped:pi-it');
      expect(kinds).toContain('device.online:soil-1');
      expect(kinds).toContain('device.offline:soil-9');
      expect(outbox.recentEvents(10, { source: 'soil-9', kind: 'device.offline' })[0]?.data).toMatchObject({ bus: 'rs485-1', slave: 9 });
      expect(outbox.stats().depth).toBe(rows.length);
    } finally {
      outbox.stop();
    }
  });
});
