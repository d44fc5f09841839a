import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Edge and service credentials: a random secret handed out once, stored only as an scrypt hash.
 *
 * Hash format: `scrypt$N$r$p$salt$hash`, salt and hash base64url without padding, so the
 * parameters travel with the hash and can be raised later without breaking stored rows.
 */

// RFC 7914 §2 parameters; N=2^14, r=8, p=1 is the interactive-login point (~16 MiB, tens of ms).
const N = 1 << 14;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Upper bounds accepted when verifying, so a corrupt or hostile row cannot make us allocate
// gigabytes (scrypt needs 128·N·r·p bytes).
const MAX_N = 1 << 20;
const MAX_R = 16;
const MAX_P = 4;
/** Longer passwords are refused before hashing: a secret is 43 characters. */
export const MAX_SECRET_LENGTH = 512;

/** A new secret: 32 random bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function derive(secret: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  const opts: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(secret, salt, N, R, P, KEY_BYTES);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(hash: string): ParsedHash | undefined {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(n) || n < 2 || n > MAX_N || (n & (n - 1)) !== 0) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R || !Number.isInteger(p) || p < 1 || p > MAX_P) return undefined;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined;
  return { n, r, p, salt, key };
}

/** True when `hash` has the format hashSecret writes (used to validate stored rows). */
export function isSecretHash(hash: string): boolean {
  return parseHash(hash) !== undefined;
}

/** Constant-time comparison; false (never a throw) for a malformed hash or an overlong secret. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed || secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return false;
  const key = await derive(secret, parsed.salt, parsed.n, parsed.r, parsed.p, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

/**
 * A fixed hash to verify against when the user does not exist, so an unknown username costs
 * the same scrypt time as a wrong password and usernames cannot be enumerated by timing.
 */
let dummyHash: Promise<string> | undefined;
export async function burnVerify(secret: string): Promise<false> {
  dummyHash ??= hashSecret(newSecret());
  await verifySecret(secret.slice(0, MAX_SECRET_LENGTH) || 'x', await dummyHash);
  return false;
}
