import { createHash, randomBytes } from 'node:crypto';
import type { ApiRole, ApiTokenRecord, CloudStore } from '../store/types.js';

/** Recognisable in a leaked config or log ("svt_"), followed by 32 random bytes, base64url. */
const TOKEN_PREFIX = 'svt_';
export const TOKEN_PATTERN = /^svt_[A-Za-z0-9_-]{43}$/;
/** Token names are shown in `token list` and logs: short, no spaces. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A new API token: 256 bits from the OS CSPRNG. Shown once; only its hash is stored. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256, hex. No salt or slow hash needed (unlike the edges' scrypt secrets): the token is 256
 * random bits, so there is no dictionary to guess from, and a plain hash keeps lookup one index probe.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Creates (or, for an existing name, rotates) a token and returns it; only its hash is kept. */
export async function addApiToken(store: CloudStore, name: string, role: ApiRole, now: number): Promise<string> {
  const token = newToken();
  await store.addToken(name, role, hashToken(token), now);
  return token;
}

/** The token's record, or undefined if it is malformed or unknown (no store query for junk). */
export async function authenticate(store: CloudStore, token: string): Promise<ApiTokenRecord | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  return store.findToken(hashToken(token));
}

const RANK: Record<ApiRole, number> = { viewer: 0, operator: 1, admin: 2 };

/** Roles are ordered: admin may do what an operator may, an operator what a viewer may. */
export function roleAllows(role: ApiRole, needed: ApiRole): boolean {
  return RANK[role] >= RANK[needed];
}
