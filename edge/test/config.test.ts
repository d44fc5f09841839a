import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { loadConfigFile, parseConfigText } from '../src/config.js';
import { PROFILES } from '../src/profiles.js';

const DEMO = new URL('../../examples/demo-village.yaml', import.meta.url).pathname;

const base = `
version: 1
site: { id: test-site, name: Test, timezone: Asia/Ho_Chi_Minh, lat: 10.0, lon: 105.8 }
edge: { id: pi-1 }
buses:
  - { id: rs485-1, type: rtu, port: /dev/ttyUSB0 }
`;

function problems(text: string): { path: string; message: string }[] {
  try {
    parseConfigText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(VillageError);
    expect((err as VillageError).code).toBe('CONFIG_INVALID');
    return (err as VillageError).details.problems as { path: string; message: string }[];
  }
  throw new Error('expected the config to be rejected');
}

describe('site config', () => {
  it('loads the demo village', () => {
    const cfg = loadConfigFile(DEMO);
    expect(cfg.site.site.timezone).toBe('Asia/Ho_Chi_Minh');
    expect(cfg.modbus.map((d) => d.config.id)).toContain('soil-1');
    // Declared sensor names win over the automatic device-point ids.
    expect(cfg.modbus.find((d) => d.config.id === 'soil-1')?.sensorOf.moisture).toBe('ruong-1-do-am');
    expect(cfg.modbus.find((d) => d.config.id === 'soil-1')?.sensorOf.ec).toBe('soil-1-ec');
    // Per-register override applied on top of the profile.
    const level = cfg.modbus.find((d) => d.config.id === 'tank')?.points.find((p) => p.name === 'level');
    expect(level).toMatchObject({ offset: 100, max: 100, scale: -0.05, quantity: 'water-fill', unit: '%' });
    expect(Object.isFrozen(cfg.site)).toBe(true);
  });

  it('keeps one device\'s override away from another device of the same profile', () => {
    const cfg = parseConfigText(`${base}devices:
  - { id: tank-a, bus: rs485-1, profile: level-ultrasonic-dyp-a02, slave: 1, overrides: { level: { offset: 350, max: 350 } } }
  - { id: tank-b, bus: rs485-1, profile: level-ultrasonic-dyp-a02, slave: 2 }
`);
    const level = (id: string) => cfg.modbus.find((d) => d.config.id === id)?.points.find((p) => p.name === 'level');
    expect(level('tank-a')?.offset).toBe(350);
    expect(level('tank-b')?.offset).toBe(200);
    expect(PROFILES.find((p) => p.id === 'level-ultrasonic-dyp-a02')?.points[0]?.offset).toBe(200);
  });

  it('fills defaults: durations, serial settings, retries', () => {
    const cfg = parseConfigText(`${base}devices:\n  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, interval: 5m }\n`);
    const bus = cfg.site.buses[0];
    expect(bus).toMatchObject({ type: 'rtu', baud: 9600, parity: 'none', dataBits: 8, stopBits: 1, timeout: 1000, retries: 2 });
    expect(cfg.modbus[0]).toMatchObject({ interval: 300_000, staleAfter: 900_000 });
  });

  it('reports every problem at once, each with its path and a hint', () => {
    const list = problems(`${base}devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1 }
  - { id: soil-2, bus: rs485-1, profile: soil-th-ec-rs485, slave: 300 }
  - { id: soil-3, bus: rs485-2, profile: soil-th-ec-rs485, slave: 3 }
  - { id: soil-4, bus: rs485-1, slave: 4, interval: soon }
`);
    const byPath = Object.fromEntries(list.map((p) => [p.path, p.message]));
    expect(byPath['devices[2].bus']).toBe('unknown bus "rs485-2" (defined: rs485-1)');
    expect(list.filter((p) => p.path === 'devices[1].slave').map((p) => p.message).join(' ')).toMatch(/1-247/);
    expect(byPath['devices[3].interval']).toMatch(/not a duration.*5m/);
    expect(list.length).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ['an unknown profile', `devices:\n  - { id: d, bus: rs485-1, profile: soil-xyz, slave: 1 }\n`, 'devices[0].profile', /unknown profile "soil-xyz" \(shipped: soil-th-ec-rs485/],
    ['an override of a missing point', `devices:\n  - { id: d, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, overrides: { moist: { scale: 1 } } }\n`, 'devices[0].overrides.moist', /no point "moist".*moisture/],
    ['a serial slave id 0', `devices:\n  - { id: d, bus: rs485-1, profile: soil-th-ec-rs485, slave: 0 }\n`, 'devices[0].slave', /1-247/],
    ['a device with neither profile nor registers', `devices:\n  - { id: d, bus: rs485-1, slave: 1 }\n`, 'devices[0]', /profile.*registers/],
    ['a misspelt key', `devices:\n  - { id: d, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, intervall: 5s }\n`, 'devices[0]', /unknown key "intervall"/],
    ['a bad byte order', `devices:\n  - { id: d, bus: rs485-1, slave: 1, registers: [{ name: a, table: holding, address: 0, type: float32, order: ABDC, quantity: flow }] }\n`, 'devices[0].registers[0].order', /ABCD/],
    ['a sensor of a missing point', `devices:\n  - { id: d, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1 }\nsensors:\n  - { id: s, source: d/ph }\n`, 'sensors[0].source', /no point "ph"/],
    ['two inputs on one GPIO pin', `devices:\n  - { id: a, driver: gpio, pin: 17, mode: digital }\n  - { id: b, driver: gpio, pin: 17, mode: rain-gauge }\n`, 'devices[1].pin', /GPIO17 is already used by "a"/],
    ['an unknown bus type', '  - { id: x, type: rs232 }\n', 'buses[1].type', /type\/driver/],
  ])('rejects %s', (_what, extra, path, message) => {
    const list = problems(`${base}${extra}`);
    const hit = list.find((p) => p.path === path);
    expect(hit, JSON.stringify(list)).toBeDefined();
    expect(hit?.message).toMatch(message);
  });

  it.each([
    ['interval: 0', 'devices[0].interval', /too short/],
    ['interval: 30d', 'devices[0].interval', /too long for a timer/],
  ])('rejects a duration a timer cannot honour (%s)', (setting, path, message) => {
    const list = problems(`${base}devices:\n  - { id: d, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1, ${setting} }\n`);
    expect(list.find((p) => p.path === path)?.message).toMatch(message);
  });

  it('rejects two buses on one physical line and a password in the cloud URL', () => {
    const list = problems(`${base}  - { id: rs485-b, type: rtu, port: /dev/ttyUSB0 }\ncloud: { url: "mqtt://me:pw@cloud.example" }\n`);
    expect(list).toContainEqual({ path: 'buses[1].port', message: '/dev/ttyUSB0 is already bus "rs485-1": put all its devices on that one bus' });
    expect(list.find((p) => p.path === 'cloud.url')?.message).toMatch(/no user or password in the URL/);
  });

  it('rejects an unknown timezone and names it', () => {
    const list = problems(base.replace('Asia/Ho_Chi_Minh', 'Asia/Saigonn'));
    expect(list).toContainEqual({ path: 'site.timezone', message: expect.stringMatching(/Asia\/Ho_Chi_Minh/) });
  });

  it('reports YAML syntax errors with a line number', () => {
    const list = problems(`${base}devices: [\n`);
    expect(list[0]?.path).toMatch(/^line \d+/);
  });

  it('names a missing file', () => {
    expect(() => loadConfigFile('/nonexistent/site.yaml')).toThrow(/cannot read config \/nonexistent\/site.yaml/);
  });

  it('ships profiles whose points decode within one request per slave where contiguous', () => {
    for (const p of PROFILES) {
      expect(p.source.length).toBeGreaterThan(10);
      expect(new Set(p.points.map((x) => x.name)).size).toBe(p.points.length);
    }
    expect(readFileSync(DEMO, 'utf8')).toContain('version: 1');
  });
});
