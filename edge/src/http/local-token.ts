import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The token the CLI uses to talk to the running service; readable by the service user only. */
export const LOCAL_TOKEN_FILE = 'local-token';

export function ensureLocalToken(dataDir: string): string {
  const file = join(dataDir, LOCAL_TOKEN_FILE);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch {
    // first start: create it below
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function readLocalToken(dataDir: string): string {
  return readFileSync(join(dataDir, LOCAL_TOKEN_FILE), 'utf8').trim();
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
