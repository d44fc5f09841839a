import { ID_PATTERN, type FirmwareDeviceConfig, type SiteConfig } from '@smart-village/shared';

/** The name of a node in sensor ids and event sources: its `name`, or n{node}. */
export function nodeName(device: FirmwareDeviceConfig, node: number): string | undefined {
  const n = device.nodes.find((x) => x.node === node);
  return n ? (n.name ?? `n${node}`) : undefined;
}

/**
 * Edge sensor ids of a firmware line's sensors. A node's sensor `moisture` on node `n3` of
 * device `vuon` is the point `n3-moisture`, i.e. source "vuon/n3-moisture": its id is the one
 * declared under sensors: for that source, else `vuon-n3-moisture` (as Modbus points get
 * `{device}-{point}`). Nodes not listed under the device's nodes get none (their readings are
 * counted and logged, not stored under a guessed name).
 */
export function firmwareSensorIds(site: SiteConfig, device: FirmwareDeviceConfig): (node: number, sensor: string) => string | undefined {
  const declared = new Map<string, string>();
  for (const s of site.sensors) {
    const [dev, point] = s.source.split('/');
    if (dev === device.id && point !== undefined) declared.set(point, s.id);
  }
  return (node, sensor) => {
    const name = nodeName(device, node);
    if (name === undefined) return undefined;
    const point = `${name}-${sensor}`;
    const id = declared.get(point) ?? `${device.id}-${point}`;
    return ID_PATTERN.test(id) ? id : undefined;
  };
}
