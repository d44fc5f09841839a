/**
 * The real stack against TCP gateways on loopback: Modbus TCP (MBAP framing) and transparent
 * RTU-over-TCP (raw RTU frames with CRC), both served by TcpSlaveServer; a gateway that resets
 * its sockets must be reconnected without restarting anything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWords } from '../../src/modbus/registers.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { TcpSlaveServer, type TcpSlaveMode } from '../../src/modbus/tcp-slave.js';
import { startStack, until, type Stack } from './harness.js';

/** A tank level transmitter: level in cm as float32 CDAB at 0, a float switch on discrete 0. */
function tank(level: number, full: boolean): MemoryBank {
  return new MemoryBank().setWords('input', 0, encodeWords(level, 'float32', 'CDAB')).setBits('discrete', 0, [full]);
}

const TANK_POINTS = `
    registers:
      - { name: level, table: input, address: 0, type: float32, order: CDAB, quantity: water-level }
      - { name: full, table: discrete, address: 0, quantity: switch }`;

describe.each<{ mode: TcpSlaveMode; busType: string }>([
  { mode: 'tcp', busType: 'tcp' },
  { mode: 'rtu-over-tcp', busType: 'rtu-over-tcp' },
])('Modbus over TCP on loopback: $busType', ({ mode, busType }) => {
  let server: TcpSlaveServer | undefined;
  let stack: Stack | undefined;

  afterEach(async () => {
    await stack?.stop();
    await server?.stop();
    stack = server = undefined;
  });

  async function gateway(): Promise<TcpSlaveServer> {
    server = new TcpSlaveServer({
      mode,
      units: new Map([
        [1, tank(123.5, false)],
        [2, tank(87.25, true)],
      ]),
    });
    await server.start();
    return server;
  }

  function config(port: number, interval: string): string {
    return `
buses:
  - { id: gw-1, type: ${busType}, host: 127.0.0.1, port: ${port}, timeout: 300ms, retries: 1, backoffMin: 1s, backoffMax: 2s }
devices:
  - id: tank-1
    bus: gw-1
    slave: 1
    interval: ${interval}
    stagger: 0${TANK_POINTS}
  - id: tank-2
    bus: gw-1
    slave: 2
    interval: ${interval}
    stagger: 0${TANK_POINTS}
`;
  }

  it('reads every slave behind the gateway', async () => {
    const server = await gateway();
    stack = startStack(config(server.port, '300ms'));
    const s = stack;
    await until('two cycles of both tanks', () => s.of('tank-1-full').length >= 2 && s.of('tank-2-full').length >= 2);

    for (const r of s.of('tank-1-level')) expect(r).toMatchObject({ value: 123.5, unit: 'cm', quality: 'good' });
    for (const r of s.of('tank-1-full')) expect(r).toMatchObject({ value: 0, quality: 'good' });
    for (const r of s.of('tank-2-level')) expect(r).toMatchObject({ value: 87.25, quality: 'good' });
    for (const r of s.of('tank-2-full')) expect(r).toMatchObject({ value: 1, quality: 'good' });
    expect(s.device('tank-1')).toMatchObject({ health: 'online', failures: 0 });
    expect(s.device('tank-2')).toMatchObject({ health: 'online', failures: 0 });
    expect(server.requestsServed(1)).toBeGreaterThanOrEqual(4);
    // One connection for the whole bus, as to a real gateway.
    expect(server.connections).toBe(1);
  });

  it('a gateway that drops its connections is reconnected and readings resume', async () => {
    const server = await gateway();
    stack = startStack(config(server.port, '200ms'));
    const s = stack;
    await until('both online', () => s.device('tank-1').health === 'online' && s.device('tank-2').health === 'online');

    for (let drop = 1; drop <= 2; drop++) {
      const before = s.readings.length;
      server.dropConnections();
      await until(`good readings after drop ${drop}`, () => s.readings.slice(before).filter((r) => r.sensor === 'tank-2-level' && r.quality === 'good').length >= 2);
      expect(server.connections).toBe(1);
      expect(s.queues.get('gw-1')?.stats().reconnects).toBeGreaterThanOrEqual(drop);
      const after = s.readings.slice(before);
      for (const r of after.filter((x) => x.quality === 'good' && x.sensor === 'tank-1-level')) expect(r.value).toBe(123.5);
      for (const r of after.filter((x) => x.quality === 'good' && x.sensor === 'tank-2-level')) expect(r.value).toBe(87.25);
    }
    await until('both online after the drops', () => s.device('tank-1').health === 'online' && s.device('tank-2').health === 'online');
  });

  it('a gateway that reboots (stops listening, then listens again on the same port) is reconnected', async () => {
    const server = await gateway();
    stack = startStack(config(server.port, '200ms'));
    const s = stack;
    await until('online', () => s.device('tank-1').health === 'online');
    await server.stop();
    await until('offline while the gateway is down', () => s.device('tank-1').health === 'offline' && s.device('tank-2').health === 'offline');
    expect(s.device('tank-1').lastError).toMatch(/^PORT_UNAVAILABLE/);
    const before = s.readings.length;
    await server.start();
    await until('online again', () => s.device('tank-1').health === 'online' && s.device('tank-2').health === 'online', 15_000);
    expect(s.readings.slice(before).find((r) => r.sensor === 'tank-1-level' && r.quality === 'good')?.value).toBe(123.5);
    // On a loaded machine the reconnect attempts can outlast staleAfter before the device is
    // declared offline: `stale` may come first, but only there.
    const health = s.health('tank-1');
    expect(health.filter((h) => h !== 'stale')).toEqual(['online', 'offline', 'online']);
    expect(health.indexOf('stale') === -1 || health.indexOf('stale') === 1).toBe(true);
  });
});
