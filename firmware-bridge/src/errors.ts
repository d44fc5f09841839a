import { VillageError } from '@smart-village/shared';

/**
 * The bridge's failures on the shared closed set of codes (shared/src/errors.ts). That set has
 * no firmware-node codes yet; `details.reason` says exactly what happened, and these helpers
 * are the one place to change when NODE_TIMEOUT / NODE_REFUSED codes exist.
 */
export function nodeTimeout(device: string, node: number, attempts: number, what: string): VillageError {
  return new VillageError('PORT_UNAVAILABLE', `${device}: node ${node} did not acknowledge ${what} (${attempts} attempt${attempts > 1 ? 's' : ''})`, { device, node, attempts, reason: 'node-timeout' });
}

export function nodeRefused(device: string, node: number, status: string, what: string): VillageError {
  return new VillageError('PAYLOAD_INVALID', `${device}: node ${node} refused ${what}: ${status}`, { device, node, status, reason: 'node-refused' });
}

export function portClosed(device: string, path: string): VillageError {
  return new VillageError('PORT_UNAVAILABLE', `${device}: ${path} is not open`, { device, path, reason: 'port-closed' });
}

export function superseded(device: string, node: number, what: string, by: string): VillageError {
  // Not a fault of the line: the caller asked for something newer. INTERNAL until a code fits.
  return new VillageError('INTERNAL', `${device}: node ${node} ${what} superseded by ${by}`, { device, node, reason: 'superseded' });
}
