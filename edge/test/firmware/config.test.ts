import { describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { parseConfigText } from '../../src/config.js';
import { firmwareSensorIds, nodeName } from '../../src/firmware/sensors.js';

const base = `
version: 1
site: { id: test-site, name: Test, timezone: Asia/Ho_Chi_Minh, lat: 10.0, lon: 105.8 }
edge: { id: pi-1 }
`;

function problems(text: string): { path: string; message: string }[] {
  try {
    parseConfigText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(VillageError);
    return (err as VillageError).details.problems as { path: string; message: string }[];
  }
  throw new Error('expected the config to be rejected');
}

describe('firmware devices in the site config', () => {
  const good = `${base}devices:
  - id: vuon
    driver: firmware
    port: /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0
    nodes:
      - { node: 3 }
      - { node: 7, name: ao-ca, offlineAfter: 5m }
sensors:
  - { id: do-am-ao-ca, source: vuon/ao-ca-moisture }
actuators:
  - { id: van-ao-ca, kind: valve, output: { driver: firmware, device: vuon, node: 7, channel: 0 } }
`;

  it('parses with defaults, and maps node sensors to edge sensor ids', () => {
    const cfg = parseConfigText(good);
    const dev = cfg.site.devices[0];
    if (dev?.driver !== 'firmware') throw new Error('not a firmware device');
    expect(dev).toMatchObject({ baud: 115200, ackTimeout: 1000, retries: 2, nodes: [{ node: 3 }, { node: 7, name: 'ao-ca', offlineAfter: 300_000 }] });
    expect(cfg.modbus).toEqual([]);
    const id = firmwareSensorIds(cfg.site, dev);
    expect(id(3, 'moisture')).toBe('vuon-n3-moisture');
    expect(id(7, 'moisture')).toBe('do-am-ao-ca');
    expect(id(7, 'battery')).toBe('vuon-ao-ca-battery');
    expect(id(9, 'moisture')).toBeUndefined(); // not listed
    expect(id(3, 'x'.repeat(60))).toBeUndefined(); // too long for an id
    expect(nodeName(dev, 7)).toBe('ao-ca');
  });

  it('reports every firmware problem with its path', () => {
    const p = problems(`${base}buses:
  - { id: rs485-1, type: rtu, port: /dev/ttyUSB0 }
devices:
  - { id: line-a, driver: firmware, port: /dev/ttyUSB0, nodes: [{ node: 1 }, { node: 1 }, { node: 2, name: n1 }] }
  - { id: line-b, driver: firmware, port: /dev/ttyACM0, nodes: [] }
sensors:
  - { id: s1, source: line-a/n9-moisture }
actuators:
  - { id: v1, kind: valve, activeLow: true, output: { driver: firmware, device: line-a, node: 5, channel: 0 } }
  - { id: v2, kind: valve, safeState: 'on', output: { driver: firmware, device: line-a, node: 1, channel: 0 } }
  - { id: v3, kind: valve, output: { driver: firmware, device: line-a, node: 1, channel: 0 } }
  - { id: v4, kind: valve, output: { driver: firmware, device: nowhere, node: 1, channel: 8 } }
`);
    const at = (path: string): string[] => p.filter((x) => x.path === path).map((x) => x.message);
    expect(at('devices[0].port')).toEqual(['/dev/ttyUSB0 is already used by bus "rs485-1"']);
    expect(at('devices[0].nodes[1].node')).toEqual(['node 1 is listed twice on "line-a"']);
    expect(at('devices[0].nodes[2].name')[0]).toMatch(/"n1" is used twice/);
    expect(at('devices[1].nodes')[0]).toMatch(/list the nodes/);
    expect(at('sensors[0].source')[0]).toMatch(/names no node of "line-a"/);
    expect(at('actuators[0].output.node')).toEqual(['node 5 is not listed under the nodes of "line-a"']);
    expect(at('actuators[0].activeLow')[0]).toMatch(/remove activeLow/);
    expect(at('actuators[1].safeState')[0]).toMatch(/safe state is off/);
    expect(at('actuators[2].output.channel')).toEqual(['channel 0 of node 1 on "line-a" is already actuator "v2"']);
    expect(at('actuators[3].output.device')[0]).toMatch(/unknown firmware device "nowhere"/);
    expect(at('actuators[3].output.channel').length).toBe(1); // 8 is out of range (schema)
  });
});
