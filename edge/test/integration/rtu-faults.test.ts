/**
 * How the real stack (ModbusSerialLink + BusQueue + Poller, system clock) behaves when slaves
 * and the line misbehave, over a socat pty pair with an RtuSlaveServer on the far end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWords } from '../../src/modbus/registers.js';
import { RtuSlaveServer } from '../../src/modbus/rtu-slave.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { sleep, startStack, until, type Stack } from './harness.js';

/** A probe with two points: temperature (int16 x0.1) at 0 and moisture (uint16 x0.1) at 1. */
function probe(temperature: number, moisture: number): MemoryBank {
  return new MemoryBank().setWords('holding', 0, [...encodeWords(temperature * 10, 'int16'), ...encodeWords(moisture * 10, 'uint16')]);
}

const PROBE_POINTS = `
    registers:
      - { name: temperature, table: holding, address: 0, type: int16, scale: 0.1, quantity: soil-temperature }
      - { name: moisture, table: holding, address: 1, type: uint16, scale: 0.1, quantity: soil-moisture }`;

function device(id: string, slave: number, interval: string, extra = ''): string {
  return `  - id: ${id}
    bus: line-1
    slave: ${slave}
    interval: ${interval}${extra}${PROBE_POINTS}`;
}

describe('Modbus RTU over a pty pair: faults', () => {
  let pair: PtyPair | undefined;
  let slave: RtuSlaveServer | undefined;
  let stack: Stack | undefined;

  afterEach(async () => {
    await stack?.stop();
    await slave?.stop();
    await pair?.close();
    stack = slave = pair = undefined;
  });

  async function line(units: [number, MemoryBank][]): Promise<{ pair: PtyPair; slave: RtuSlaveServer }> {
    pair = await openPtyPair();
    slave = new RtuSlaveServer({ path: pair.b, units: new Map(units) });
    await slave.start();
    return { pair, slave };
  }

  function bus(a: string, timeout = '150ms', retries = 2): string {
    return `buses:\n  - { id: line-1, type: rtu, port: ${a}, timeout: ${timeout}, retries: ${retries}, backoffMin: 2s, backoffMax: 4s }\n`;
  }

  it('an exception for one block gives error readings for its points only, and no backoff', async () => {
    const bank = probe(21.5, 33.3);
    const { pair, slave } = await line([[1, bank]]);
    // Address 40 is outside the probe's map: the strict bank answers exception 02 for it.
    stack = startStack(`${bus(pair.a)}devices:
${device('probe', 1, '300ms', '\n    stagger: 0')}
      - { name: missing, table: holding, address: 40, type: uint16, quantity: soil-ec }
`);
    const s = stack;
    await until('three cycles with the missing block', () => s.of('probe-missing').length >= 3);

    for (const r of s.of('probe-missing')) expect(r).toMatchObject({ value: null, quality: 'error' });
    for (const r of s.of('probe-temperature')) expect(r).toMatchObject({ value: 21.5, quality: 'good' });
    for (const r of s.of('probe-moisture')) expect(r).toMatchObject({ value: 33.3, quality: 'good' });
    const stats = s.device('probe');
    expect(stats).toMatchObject({ health: 'online', failures: 0, consecutiveFailures: 0, backoffUntil: 0 });
    expect(stats.lastError).toMatch(/^MODBUS_EXCEPTION: .*exception 2/);
    expect(s.health('probe')).toEqual(['online']);
    // An exception is an answer: not retried, so the slave saw exactly one request per block and cycle.
    await stack.stop();
    const cycles = s.of('probe-missing').length;
    expect(slave.requestsServed(1)).toBe(2 * cycles);
  });

  it('a silent slave is retried, then goes offline and backs off; it comes back online when it answers again', async () => {
    const { pair, slave } = await line([[1, probe(20, 30)]]);
    slave.setFault(1, { kind: 'silent' });
    stack = startStack(`${bus(pair.a)}devices:
${device('probe', 1, '200ms', '\n    stagger: 0')}
`);
    const s = stack;
    await until('offline', () => s.health('probe').includes('offline'));
    // The first request and its two retries reached the slave; then nothing during the backoff.
    expect(slave.requestsServed(1)).toBe(3);
    const stats = s.device('probe');
    expect(stats).toMatchObject({ health: 'offline', failures: 1, consecutiveFailures: 1 });
    expect(stats.lastError).toMatch(/^MODBUS_TIMEOUT/);
    expect(stats.backoffUntil).toBeGreaterThan(performance.now());
    for (const r of s.of('probe-temperature')) expect(r).toMatchObject({ value: null, quality: 'error' });
    await sleep(1000);
    expect(slave.requestsServed(1)).toBe(3);
    expect(s.device('probe').skipped).toBeGreaterThan(0);

    slave.setFault(1, { kind: 'none' });
    await until('online again', () => s.health('probe').at(-1) === 'online');
    expect(s.health('probe')).toEqual(['offline', 'online']);
    expect(s.of('probe-temperature').at(-1)).toMatchObject({ value: 20, quality: 'good' });
    expect(s.device('probe')).toMatchObject({ consecutiveFailures: 0, backoffUntil: 0 });
  });

  it('a dead slave on the line does not stall the live ones: they keep their interval', async () => {
    const { pair, slave } = await line([
      [1, probe(20, 30)],
      [2, probe(21, 31)],
      [3, probe(22, 32)],
    ]);
    slave.setFault(1, { kind: 'silent' });
    // A try of the dead slave holds the bus for 2 x (100 ms timeout + 100 ms quiet line after
    // it, see ModbusSerialLink.quiet); the live ones ask every 600 ms.
    stack = startStack(`${bus(pair.a, '100ms', 1)}devices:
${device('dead', 1, '600ms', '\n    stagger: 0')}
${device('live-2', 2, '600ms', '\n    stagger: 50ms')}
${device('live-3', 3, '600ms', '\n    stagger: 100ms')}
`);
    const s = stack;
    await until('dead slave offline', () => s.health('dead').includes('offline'));
    const from = { at: Date.now(), two: slave.requestsServed(2), three: slave.requestsServed(3), dead: slave.requestsServed(1) };
    const skipped = { two: s.device('live-2').skipped, three: s.device('live-3').skipped };
    await sleep(4500);
    const cycles = Math.floor((Date.now() - from.at) / 600);
    const two = slave.requestsServed(2) - from.two;
    const three = slave.requestsServed(3) - from.three;
    const dead = slave.requestsServed(1) - from.dead;
    // Every cycle of the live slaves ran (one request each); none was skipped behind the dead one.
    expect(two).toBeGreaterThanOrEqual(cycles - 1);
    expect(three).toBeGreaterThanOrEqual(cycles - 1);
    expect(s.device('live-2')).toMatchObject({ health: 'online', skipped: skipped.two, failures: 0 });
    expect(s.device('live-3')).toMatchObject({ health: 'online', skipped: skipped.three, failures: 0 });
    // The dead one was tried again only after its backoff (2 s, then 4 s), 2 requests per try.
    expect(dead).toBeLessThanOrEqual(4);
    expect(s.device('dead').health).toBe('offline');
    expect(s.of('live-2-temperature').at(-1)).toMatchObject({ value: 21, quality: 'good' });
    expect(s.of('live-3-moisture').at(-1)).toMatchObject({ value: 32, quality: 'good' });
  });

  it('a slave that answers after the timeout never has its late answer taken for another block', async () => {
    // Two one-register blocks of one slave: the requests differ only in their address, which an
    // RTU response does not carry, so only the master's timing keeps their answers apart.
    const bank = new MemoryBank().setWord('holding', 0, 111).setWord('holding', 20, 222);
    const { pair, slave } = await line([[1, bank]]);
    slave.setFault(1, { kind: 'delay', ms: 200 });
    stack = startStack(`
buses:
  - { id: line-1, type: rtu, port: ${pair.a}, timeout: 150ms, retries: 2, backoffMin: 300ms, backoffMax: 300ms }
devices:
  - id: slow
    bus: line-1
    slave: 1
    interval: 200ms
    stagger: 0
    registers:
      - { name: a, table: holding, address: 0, quantity: pulses }
      - { name: b, table: holding, address: 20, quantity: pulses }
`);
    const s = stack;
    await until('three failed cycles', () => s.device('slow').failures >= 3);
    // Every answer came too late: nothing may have been decoded from them.
    for (const r of [...s.of('slow-a'), ...s.of('slow-b')]) expect(r).toMatchObject({ value: null, quality: 'error' });
    expect(s.device('slow').lastError).toMatch(/^MODBUS_TIMEOUT/);

    // Now it answers in time again: each block gets its own value.
    slave.setFault(1, { kind: 'none' });
    const before = s.readings.length;
    await until('good readings of both blocks', () => s.readings.slice(before).filter((r) => r.quality === 'good').length >= 4);
    const good = s.readings.slice(before).filter((r) => r.quality === 'good');
    for (const r of good) expect(r.value, r.sensor).toBe(r.sensor === 'slow-a' ? 111 : 222);
  });

  it('a bad CRC or an answer from the wrong unit counts as a failure and never yields a value; the next slave is read correctly', async () => {
    const { pair, slave } = await line([
      [1, probe(20, 30)],
      [2, probe(21, 31)],
      [3, probe(22, 32)],
    ]);
    slave.setFault(1, { kind: 'bad-crc' });
    // Unit 3 answers as unit 4.
    slave.setFault(3, { kind: 'wrong-unit' });
    stack = startStack(`${bus(pair.a)}devices:
${device('noisy', 1, '300ms', '\n    stagger: 0')}
${device('clean', 2, '300ms', '\n    stagger: 0')}
${device('confused', 3, '300ms', '\n    stagger: 0')}
`);
    const s = stack;
    await until('noisy and confused offline, clean read twice', () => s.health('noisy').includes('offline') && s.health('confused').includes('offline') && s.of('clean-moisture').length >= 2);
    expect(slave.requestsServed(1)).toBeGreaterThanOrEqual(3);
    expect(slave.requestsServed(3)).toBeGreaterThanOrEqual(3);
    for (const r of [...s.of('noisy-temperature'), ...s.of('noisy-moisture'), ...s.of('confused-temperature'), ...s.of('confused-moisture')]) {
      expect(r).toMatchObject({ value: null, quality: 'error' });
    }
    expect(s.device('noisy')).toMatchObject({ health: 'offline', failures: 1 });
    expect(s.device('noisy').lastError).toMatch(/^MODBUS_CRC/);
    expect(s.device('confused')).toMatchObject({ health: 'offline', failures: 1 });
    for (const r of s.of('clean-temperature')) expect(r).toMatchObject({ value: 21, quality: 'good' });
    for (const r of s.of('clean-moisture')) expect(r).toMatchObject({ value: 31, quality: 'good' });
  });

  it('the port disappears and comes back: devices go offline, then online again without a restart', async () => {
    const { pair, slave } = await line([
      [1, probe(20, 30)],
      [2, probe(21, 31)],
    ]);
    stack = startStack(`${bus(pair.a)}devices:
${device('probe-1', 1, '200ms', '\n    stagger: 0')}
${device('probe-2', 2, '200ms', '\n    stagger: 100ms')}
`);
    const s = stack;
    await until('both online', () => s.device('probe-1').health === 'online' && s.device('probe-2').health === 'online');

    await pair.unplug();
    await until('both offline', () => s.device('probe-1').health === 'offline' && s.device('probe-2').health === 'offline');
    expect(s.device('probe-1').lastError).toMatch(/^PORT_UNAVAILABLE/);
    expect(s.queues.get('line-1')?.stats().open).toBe(false);
    const offlineAt = s.readings.length;

    await pair.replug();
    // The slave's end vanished with the old pty: it opens the new one, as a rebooted device would.
    await slave.stop();
    await slave.start();
    await until('both online again', () => s.device('probe-1').health === 'online' && s.device('probe-2').health === 'online', 15_000);
    expect(s.health('probe-1')).toEqual(['online', 'offline', 'online']);
    expect(s.health('probe-2')).toEqual(['online', 'offline', 'online']);
    const after = s.readings.slice(offlineAt);
    expect(after.filter((r) => r.sensor === 'probe-1-temperature' && r.quality === 'good').at(-1)?.value).toBe(20);
    expect(after.filter((r) => r.sensor === 'probe-2-moisture' && r.quality === 'good').at(-1)?.value).toBe(31);
    expect(s.queues.get('line-1')?.stats()).toMatchObject({ open: true });
    expect(s.queues.get('line-1')?.stats().reconnects).toBeGreaterThanOrEqual(1);
  });
});
