import { randomBytes } from 'node:crypto';

/**
 * Edge and service credentials: a random secret handed out once, stored only as an scrypt hash
 * (format and limits in @smart-village/shared/server, shared with the edge's passwords).
 */
export { burnVerify, hashSecret, isSecretHash, MAX_SECRET_LENGTH, verifySecret } from '@smart-village/shared/server';

/** A new secret: 32 random bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}
