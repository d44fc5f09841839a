/**
 * The systemd stop hook: safe levels written through a temp tree that behaves like
 * /sys/class/gpio (a small "kernel" creates gpioN/ when a number is written to export), and
 * safe coils written to a real Modbus RTU slave behind a socat pty pair.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config.js';
import { RtuSlaveServer } from '../../src/modbus/rtu-slave.js';
import { MemoryBank } from '../../src/modbus/slave.js';
import { applySafeStates, formatSafeStateReport } from '../../src/outputs/safe-state.js';
import { openPtyPair } from '../helpers/pty.js';
import { capturingLog } from './helpers.js';

const HEADER = (gpio: string): string => `
version: 1
site: { id: it, name: Safe, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi-it, gpio: ${gpio} }
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface FakeSysfs {
  root: string;
  /** Numbers written to export, in order. */
  exported: number[];
  direction(sysfsPin: number): Promise<string>;
}

/**
 * A Pi 4 on kernel ≥ 6.6 (header chip at base 512). Writing N to `export` makes gpioN/ appear
 * with direction "in", unless N is `claimed` (a kernel driver holds it: nothing appears).
 */
async function fakeSysfs(opts: { preexported?: Record<number, string>; claimed?: number[] } = {}): Promise<FakeSysfs> {
  const root = await mkdtemp(join(tmpdir(), 'sv-sysfs-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'export'), '');
  await writeFile(join(root, 'unexport'), '');
  for (const [name, base, ngpio, label] of [
    ['gpiochip512', 512, 58, 'pinctrl-bcm2711'],
    ['gpiochip570', 570, 8, 'raspberrypi-exp-gpio'],
  ] as const) {
    await mkdir(join(root, name));
    await writeFile(join(root, name, 'base'), `${base}\n`);
    await writeFile(join(root, name, 'ngpio'), `${ngpio}\n`);
    await writeFile(join(root, name, 'label'), `${label}\n`);
  }
  // Built aside and renamed into place, so the line appears at once with its files, as in sysfs.
  const line = async (n: number, direction: string): Promise<void> => {
    const staging = join(root, `.gpio${n}`);
    await mkdir(staging);
    await writeFile(join(staging, 'direction'), direction);
    await writeFile(join(staging, 'value'), '0');
    await rename(staging, join(root, `gpio${n}`));
  };
  for (const [n, direction] of Object.entries(opts.preexported ?? {})) await line(Number(n), direction);
  const exported: number[] = [];
  let busy = false;
  const kernel = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const text = (await readFile(join(root, 'export'), 'utf8')).trim();
      if (text !== '') {
        await writeFile(join(root, 'export'), '');
        const n = Number(text);
        exported.push(n);
        if (!opts.claimed?.includes(n) && !existsSync(join(root, `gpio${n}`))) await line(n, 'in');
      }
    })().finally(() => {
      busy = false;
    });
  }, 5);
  cleanups.push(() => clearInterval(kernel));
  return { root, exported, direction: async (n) => (await readFile(join(root, `gpio${n}`, 'direction'), 'utf8')).trim() };
}

describe('applySafeStates: GPIO through sysfs', () => {
  it('exports each line and writes its safe level as the direction, for every wiring', async () => {
    const sysfs = await fakeSysfs({ preexported: { 533: 'out' } });
    const config = parseConfigText(`${HEADER('{ driver: onoff }')}
actuators:
  - { id: valve-1, kind: valve, output: { driver: gpio, pin: 17 } }
  - { id: valve-2, kind: valve, output: { driver: gpio, pin: 18 }, safeState: on }
  - { id: pump-1, kind: pump, output: { driver: gpio, pin: 22 }, activeLow: true }
  - { id: light-1, kind: light, output: { driver: gpio, pin: 23 }, activeLow: true, safeState: on }
  - { id: light-2, kind: light, output: { driver: gpio, pin: 21 }, activeLow: true }
`);
    const { log } = capturingLog();
    const results = await applySafeStates(config, { log, sysfsRoot: sysfs.root });
    expect(results.map((r) => [r.id, r.status, r.detail])).toEqual([
      ['valve-1', 'applied', 'GPIO17 = sysfs 529 direction low'],
      ['valve-2', 'applied', 'GPIO18 = sysfs 530 direction high'],
      ['pump-1', 'applied', 'GPIO22 = sysfs 534 direction high'],
      ['light-1', 'applied', 'GPIO23 = sysfs 535 direction low'],
      ['light-2', 'applied', 'GPIO21 = sysfs 533 direction high'],
    ]);
    expect(await Promise.all([529, 530, 534, 535, 533].map((n) => sysfs.direction(n)))).toEqual(['low', 'high', 'high', 'low', 'high']);
    // An exported line is not exported again; the others are, once each.
    expect(sysfs.exported).toEqual([529, 530, 534, 535]);
    // Left exported, so the line keeps being driven after this process exits.
    expect(existsSync(join(sysfs.root, 'gpio529'))).toBe(true);
  });

  it('reports a line that never appears (claimed by a kernel driver) and still does the others', async () => {
    const sysfs = await fakeSysfs({ claimed: [516] });
    const config = parseConfigText(`${HEADER('{ driver: onoff, chipBase: 512 }')}
actuators:
  - { id: valve-1, kind: valve, output: { driver: gpio, pin: 4 } }
  - { id: valve-2, kind: valve, output: { driver: gpio, pin: 5 } }
`);
    const { log, lines } = capturingLog();
    const results = await applySafeStates(config, { log, sysfsRoot: sysfs.root, exportTimeoutMs: 200 });
    expect(results[0]).toMatchObject({ id: 'valve-1', status: 'failed', error: { code: 'GPIO_UNAVAILABLE', message: expect.stringContaining('did not appear after export within 200 ms') } });
    expect(results[1]).toMatchObject({ id: 'valve-2', status: 'applied' });
    expect(await sysfs.direction(517)).toBe('low');
    expect(lines.some((l) => l.level === 50 && l.output === 'valve-1' && String(l.msg).includes('safe state NOT applied'))).toBe(true);
    expect(formatSafeStateReport(results).split('\n')).toEqual([
      expect.stringMatching(/^FAIL valve-1 off {2}GPIO4 = sysfs 516 direction low: GPIO_UNAVAILABLE: /),
      'ok   valve-2 off  GPIO5 = sysfs 517 direction low',
    ]);
  });

  it('without a GPIO chip every GPIO output is reported failed, without throwing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sv-sysfs-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await writeFile(join(root, 'export'), '');
    const config = parseConfigText(`${HEADER('{ driver: onoff }')}
actuators:
  - { id: valve-1, kind: valve, output: { driver: gpio, pin: 4 } }
  - { id: light-1, kind: light, output: { driver: simulated } }
`);
    const { log } = capturingLog();
    const results = await applySafeStates(config, { log, sysfsRoot: root });
    expect(results).toEqual([
      expect.objectContaining({ id: 'valve-1', status: 'failed', error: expect.objectContaining({ code: 'GPIO_UNAVAILABLE' }) }),
      expect.objectContaining({ id: 'light-1', status: 'skipped' }),
    ]);
  });

  it('skips GPIO when the site runs simulated GPIO', async () => {
    const config = parseConfigText(`${HEADER('{ driver: simulated }')}
actuators:
  - { id: valve-1, kind: valve, output: { driver: gpio, pin: 4 } }
`);
    const { log } = capturingLog();
    expect(await applySafeStates(config, { log, sysfsRoot: '/nonexistent' })).toEqual([expect.objectContaining({ id: 'valve-1', status: 'skipped', detail: 'edge.gpio.driver is simulated' })]);
  });
});

describe('applySafeStates: Modbus relays (socat pty pair)', () => {
  it('writes each safe coil; a silent slave is reported for all its coils and costs one timeout', async () => {
    const pair = await openPtyPair();
    cleanups.push(() => pair.close());
    const board = new MemoryBank().define('coil', 0, 4).setBits('coil', 0, [true, false, true, true]);
    const dead = new MemoryBank().define('coil', 0, 2).setBits('coil', 0, [true, true]);
    const slave = new RtuSlaveServer({ path: pair.b, units: new Map([[1, board], [2, dead]]) });
    await slave.start();
    cleanups.push(() => slave.stop());
    slave.setFault(2, { kind: 'silent' });
    const config = parseConfigText(`${HEADER('{ driver: simulated }')}
buses:
  - { id: line-1, type: rtu, port: ${pair.a}, timeout: 150ms, retries: 1 }
actuators:
  - { id: valve-1, kind: valve, output: { driver: modbus, bus: line-1, slave: 1, coil: 0 } }
  - { id: pump-1, kind: pump, output: { driver: modbus, bus: line-1, slave: 2, coil: 0 } }
  - { id: valve-2, kind: valve, output: { driver: modbus, bus: line-1, slave: 1, coil: 1 }, safeState: on }
  - { id: pump-2, kind: pump, output: { driver: modbus, bus: line-1, slave: 2, coil: 1 } }
  - { id: light-1, kind: light, output: { driver: modbus, bus: line-1, slave: 1, coil: 2 }, activeLow: true }
`);
    const { log } = capturingLog();
    const results = await applySafeStates(config, { log });
    expect(results.map((r) => [r.id, r.status, r.detail])).toEqual([
      ['valve-1', 'applied', 'bus line-1 slave 1 coil 0 off'],
      ['pump-1', 'failed', 'bus line-1 slave 2 coil 0 off'],
      ['valve-2', 'applied', 'bus line-1 slave 1 coil 1 on'],
      ['pump-2', 'failed', 'bus line-1 slave 2 coil 1 off'],
      ['light-1', 'applied', 'bus line-1 slave 1 coil 2 on'],
    ]);
    expect(results[1]?.error).toMatchObject({ code: 'MODBUS_TIMEOUT' });
    expect([0, 1, 2, 3].map((c) => board.get('coil', c))).toEqual([0, 1, 1, 1]);
    // pump-2 was not asked: its slave had already not answered (retries + 1 requests for pump-1).
    expect(slave.requestsServed(2)).toBe(2);
  });

  it('reports every coil of a bus that cannot be opened', async () => {
    const config = parseConfigText(`${HEADER('{ driver: simulated }')}
buses:
  - { id: line-1, type: rtu, port: /nonexistent/ttyUSB0, timeout: 150ms }
  - { id: sim-1, type: simulated }
actuators:
  - { id: valve-1, kind: valve, output: { driver: modbus, bus: line-1, slave: 1, coil: 0 } }
  - { id: valve-2, kind: valve, output: { driver: modbus, bus: sim-1, slave: 1, coil: 0 } }
`);
    const { log } = capturingLog();
    const results = await applySafeStates(config, { log });
    expect(results[0]).toMatchObject({ id: 'valve-1', status: 'failed', error: { code: 'PORT_UNAVAILABLE' } });
    expect(results[1]).toMatchObject({ id: 'valve-2', status: 'skipped' });
  });
});
