import { ID_PATTERN } from '@smart-village/shared';
import type { CloudStore } from '../store/types.js';

/**
 * Who may log in to the broker, and how.
 *
 * Usernames (MQTT CONNECT, [MQTT-3.1.3-11]):
 * - an edge: `{site}/{edge}` (the same pair as in its topics), password = its secret;
 * - a service account: `service:{name}` (`:` never occurs in ids, so the two cannot collide).
 */

export type ServiceRole = 'ingest';

export interface ServiceCredential {
  secretHash: string;
  role: ServiceRole;
}

export interface ServiceAccount extends ServiceCredential {
  name: string;
}

/** What the broker needs to check a login; kept apart from the store so any backend fits. */
export interface CredentialSource {
  edge(site: string, edge: string): Promise<{ secretHash: string } | undefined>;
  service(name: string): Promise<ServiceCredential | undefined>;
}

export type Username = { kind: 'edge'; site: string; edge: string } | { kind: 'service'; name: string };

const SERVICE_PREFIX = 'service:';

export function edgeUsername(site: string, edge: string): string {
  return `${site}/${edge}`;
}

export function serviceUsername(name: string): string {
  return `${SERVICE_PREFIX}${name}`;
}

/** Parses a CONNECT username; undefined when it names neither an edge nor a service. */
export function parseUsername(username: string): Username | undefined {
  if (username.startsWith(SERVICE_PREFIX)) {
    const name = username.slice(SERVICE_PREFIX.length);
    return ID_PATTERN.test(name) ? { kind: 'service', name } : undefined;
  }
  const parts = username.split('/');
  if (parts.length !== 2) return undefined;
  const [site, edge] = parts as [string, string];
  return ID_PATTERN.test(site) && ID_PATTERN.test(edge) ? { kind: 'edge', site, edge } : undefined;
}

/** Edges from the cloud store; service accounts from configuration. */
export function storeCredentials(
  store: Pick<CloudStore, 'getEdge'>,
  services: ReadonlyMap<string, ServiceCredential>,
): CredentialSource {
  return {
    async edge(site, edge) {
      const record = await store.getEdge({ site, edge });
      return record ? { secretHash: record.secretHash } : undefined;
    },
    async service(name) {
      const account = services.get(name);
      return account ? { secretHash: account.secretHash, role: account.role } : undefined;
    },
  };
}
