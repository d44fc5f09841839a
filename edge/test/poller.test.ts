import { describe, expect, it } from 'vitest';
import { VillageError, type EventInput, type Reading, type RegisterTable } from '@smart-village/shared';
import { ManualClock } from '../src/clock.js';
import { parseConfigText, type EdgeConfig } from '../src/config.js';
import { createLogger, RateLimitedLog } from '../src/log.js';
import type { ModbusLink } from '../src/modbus/link.js';
import { BusQueue, Poller } from '../src/poller.js';

type Behaviour = 'ok' | 'dead' | 'exception' | 'strict-map';

/** The twin of a serial link: answers per slave, takes wire time on the manual clock. */
class FakeLink implements ModbusLink {
  open_ = false;
  gone = false;
  opens = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly requests: { slave: number; table: RegisterTable; address: number; length: number }[] = [];
  readonly behaviour = new Map<number, Behaviour>();
  readonly mapped = new Set<number>();
  constructor(private readonly clock: ManualClock) {}
  get isOpen(): boolean {
    return this.open_;
  }
  async open(): Promise<void> {
    if (this.gone) throw new VillageError('PORT_UNAVAILABLE', 'no such file /dev/ttyUSB0');
    this.opens++;
    this.open_ = true;
  }
  async close(): Promise<void> {
    this.open_ = false;
  }
  unplug(): void {
    this.gone = true;
    this.open_ = false;
  }
  async read(slave: number, table: RegisterTable, address: number, length: number, timeoutMs: number): Promise<number[]> {
    this.requests.push({ slave, table, address, length });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (!this.open_) throw new VillageError('PORT_UNAVAILABLE', 'port closed');
      const b = this.behaviour.get(slave) ?? 'ok';
      const wait = b === 'dead' ? timeoutMs : 20;
      await new Promise<void>((r) => this.clock.setTimeout(r, wait));
      if (b === 'dead') throw new VillageError('MODBUS_TIMEOUT', `slave ${slave} did not answer`);
      if (b === 'exception') throw new VillageError('MODBUS_EXCEPTION', 'exception 2', { exception: 2 });
      // A slave whose map has holes: only the registers in `mapped` exist.
      if (b === 'strict-map' && Array.from({ length }, (_, i) => address + i).some((a) => !this.mapped.has(a))) {
        throw new VillageError('MODBUS_EXCEPTION', 'exception 2', { exception: 2 });
      }
      return Array.from({ length }, (_, i) => 100 + address + i);
    } finally {
      this.inFlight--;
    }
  }
  async writeCoil(): Promise<void> {}
}

const CONFIG = `
version: 1
site: { id: t, name: T, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi }
buses:
  - { id: rs485-1, type: rtu, port: /dev/ttyUSB0, timeout: 500ms, retries: 2, backoffMin: 2s, backoffMax: 60s, queueLimit: 3 }
devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, interval: 10s, stagger: 0 }
  - { id: soil-2, bus: rs485-1, profile: soil-th-ec-rs485, slave: 2, interval: 10s, stagger: 1s }
  - { id: soil-3, bus: rs485-1, profile: soil-th-ec-rs485, slave: 3, interval: 10s, stagger: 2s }
`;

function setup(text = CONFIG) {
  const config: EdgeConfig = parseConfigText(text);
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 0, 0, 0));
  const log = createLogger({ level: 'silent' });
  const link = new FakeLink(clock);
  const readings: Reading[] = [];
  const events: EventInput[] = [];
  const bus = config.site.buses[0]!;
  const queue = new BusQueue(bus, link, clock, log, new RateLimitedLog(log, () => clock.now()));
  const poller = new Poller({
    clock,
    log,
    devices: config.modbus,
    queues: new Map([[bus.id, queue]]),
    onReadings: (r) => readings.push(...r),
    onEvent: (e) => events.push(e),
    clockSynced: () => true,
  });
  return { config, clock, link, readings, events, queue, poller };
}

describe('Poller', () => {
  it('reads each slave in one request and decodes into readings', async () => {
    const { clock, link, readings, poller } = setup();
    poller.start();
    await clock.advanceAsync(9_000, 100);
    expect(link.requests.map((r) => [r.slave, r.address, r.length])).toEqual([
      [1, 0, 3],
      [2, 0, 3],
      [3, 0, 3],
    ]);
    const soil1 = readings.filter((r) => r.sensor.startsWith('soil-1-'));
    expect(soil1.map((r) => [r.sensor, r.value, r.unit, r.quality])).toEqual([
      ['soil-1-moisture', 10, '%VWC', 'good'],
      ['soil-1-temperature', 10.1, '°C', 'good'],
      ['soil-1-ec', 102, 'µS/cm', 'good'],
    ]);
    poller.stop();
  });

  it('never has two requests in flight on one bus', async () => {
    const { clock, link, poller } = setup(CONFIG.replace(/stagger: \d+s?/g, 'stagger: 0'));
    poller.start();
    await clock.advanceAsync(60_000, 50);
    expect(link.requests.length).toBeGreaterThanOrEqual(18);
    expect(link.maxInFlight).toBe(1);
    poller.stop();
  });

  it('retries, then backs a dead slave off without stalling the live ones', async () => {
    const { clock, link, readings, events, poller } = setup();
    link.behaviour.set(2, 'dead');
    poller.start();
    await clock.advanceAsync(120_000, 100);
    const perSlave = (s: number) => link.requests.filter((r) => r.slave === s).length;
    // Live slaves are read every 10 s (12 or 13 cycles in 120 s), whatever slave 2 does.
    expect(perSlave(1)).toBeGreaterThanOrEqual(12);
    expect(perSlave(3)).toBeGreaterThanOrEqual(12);
    // Slave 2: 3 attempts in its first failed cycle, then one probe per cycle, and cycles
    // skipped while it backs off (2 s, 4 s, 8 s ...).
    const failedCycles = poller.stats().find((x) => x.id === 'soil-2')?.failures ?? 0;
    expect(failedCycles).toBeGreaterThanOrEqual(3);
    expect(perSlave(2)).toBe(3 + (failedCycles - 1));
    expect(failedCycles).toBeLessThan(perSlave(1));
    expect(events.filter((e) => e.source === 'soil-2').map((e) => e.kind)).toEqual(['device.offline']);
    expect(readings.filter((r) => r.sensor === 'soil-2-moisture').every((r) => r.quality === 'error' && r.value === null)).toBe(true);
    const stats = poller.stats().find((s) => s.id === 'soil-2');
    expect(stats?.skipped).toBeGreaterThan(0);
    expect(stats?.health).toBe('offline');
    // It comes back: health online again, backoff cleared.
    link.behaviour.set(2, 'ok');
    await clock.advanceAsync(120_000, 100);
    expect(events.filter((e) => e.source === 'soil-2').map((e) => e.kind)).toEqual(['device.offline', 'device.online']);
    expect(poller.stats().find((s) => s.id === 'soil-2')?.consecutiveFailures).toBe(0);
    poller.stop();
  });

  it('keeps an exception as an error reading without backing off or retrying', async () => {
    const { clock, link, readings, poller } = setup();
    link.behaviour.set(3, 'exception');
    poller.start();
    await clock.advanceAsync(30_000, 100);
    expect(link.requests.filter((r) => r.slave === 3)).toHaveLength(3); // one per cycle
    expect(readings.filter((r) => r.sensor === 'soil-3-ec').map((r) => r.quality)).toEqual(['error', 'error', 'error']);
    expect(poller.stats().find((s) => s.id === 'soil-3')?.backoffUntil).toBe(0);
    poller.stop();
  });

  it('reconnects after the adapter is unplugged and plugged back, without a restart', async () => {
    const { clock, link, readings, events, queue, poller } = setup();
    poller.start();
    await clock.advanceAsync(15_000, 100);
    expect(link.opens).toBe(1);
    link.unplug();
    await clock.advanceAsync(60_000, 100);
    expect(events.filter((e) => e.kind === 'device.offline').map((e) => e.source).sort()).toEqual(['soil-1', 'soil-2', 'soil-3']);
    const before = readings.filter((r) => r.quality === 'good').length;
    link.gone = false;
    await clock.advanceAsync(60_000, 100);
    expect(link.opens).toBe(2);
    expect(queue.stats().reconnects).toBe(1);
    expect(readings.filter((r) => r.quality === 'good').length).toBeGreaterThan(before);
    expect(events.filter((e) => e.kind === 'device.online')).toHaveLength(6);
    poller.stop();
  });

  it('bounds the queue and counts what it drops', async () => {
    const { clock, link, queue } = setup();
    await link.open();
    let ran = 0;
    const accepted = Array.from({ length: 10 }, () => queue.enqueue('x', async () => void ran++)).filter(Boolean).length;
    // One job starts at once; queueLimit (3) more wait; the rest are dropped.
    expect(accepted).toBe(4);
    expect(queue.stats().dropped).toBe(6);
    await clock.advanceAsync(1000, 10);
    expect(ran).toBe(4);
  });

  it('splits a coalesced read for good when the slave refuses unused registers (exception 02)', async () => {
    const text = CONFIG.replace(
      /devices:[\s\S]*$/,
      'devices:\n  - { id: jx, bus: rs485-1, profile: soil-jxbs-3001-rs485, slave: 5, interval: 10s, stagger: 0 }\n',
    );
    const { clock, link, readings, poller } = setup(text);
    link.behaviour.set(5, 'strict-map');
    for (const a of [0x06, 0x12, 0x13, 0x15, 0x1e, 0x1f, 0x20]) link.mapped.add(a);
    poller.start();
    await clock.advanceAsync(25_000, 100);
    const firstCycle = link.requests.slice(0, 6).map((r) => [r.address, r.length]);
    // Planned 0x12+4 (bridging unused 0x14) is refused, then read as 0x12+2 and 0x15+1; the others fit.
    expect(firstCycle).toEqual([
      [0x06, 1],
      [0x12, 4],
      [0x12, 2],
      [0x15, 1],
      [0x1e, 3],
      [0x06, 1],
    ]);
    expect(readings.filter((r) => r.sensor === 'jx-ec').map((r) => [r.value, r.quality])).toEqual([
      [0x15 + 100, 'good'],
      [0x15 + 100, 'good'],
      [0x15 + 100, 'good'],
    ]);
    expect(poller.stats()[0]?.plan).toHaveLength(4);
    expect(poller.stats()[0]?.health).toBe('online');
    poller.stop();
  });

  it.each([
    ['forward a week (NTP after a boot at the last shutdown time)', 7 * 86_400_000],
    ['back an hour', -3_600_000],
  ])('keeps its interval when the wall clock steps %s', async (_what, step) => {
    const { clock, link, readings, poller } = setup();
    poller.start();
    await clock.advanceAsync(30_000, 100);
    const before = link.requests.length;
    const wallBefore = clock.now();
    clock.stepWall(step);
    await clock.advanceAsync(60_000, 100);
    // Three slaves every 10 s: 18 requests in 60 s, neither a flood nor a stall.
    expect(link.requests.length - before).toBe(18);
    // Readings carry the new wall time.
    expect(readings.at(-1)!.ts).toBeGreaterThan(wallBefore + step);
    poller.stop();
  });

  it('marks a device stale when no good reading arrives for staleAfter', async () => {
    const { clock, link, events, poller } = setup();
    poller.start();
    await clock.advanceAsync(15_000, 100);
    link.behaviour.set(1, 'exception');
    await clock.advanceAsync(60_000, 100);
    expect(events.filter((e) => e.source === 'soil-1').map((e) => e.kind)).toEqual(['device.online', 'device.stale']);
    poller.stop();
  });
});
