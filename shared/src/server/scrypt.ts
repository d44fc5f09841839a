import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Secrets (cloud credentials, edge passwords) kept only as an scrypt hash, in the format
 * `scrypt$N$r$p$salt$key` (salt and key base64url without padding), so the parameters travel
 * with each hash and can be raised later without breaking stored rows.
 */

// RFC 7914 §2: N=2^14, r=8, p=1 is the interactive-login point (16 MiB; tens of ms, ~100 ms on a Pi 3).
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
/** Longer secrets are refused before any hashing. */
export const MAX_SECRET_LENGTH = 512;

function derive(secret: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  const opts: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    // Unicode-normalised so a secret typed on a phone keyboard matches the one given to a CLI.
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

/** Constant-time comparison; false (never a throw) for a malformed hash, an empty or an overlong secret. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed || secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return false;
  const key = await derive(secret, parsed.salt, parsed.n, parsed.r, parsed.p, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

let decoy: Promise<string> | undefined;

/**
 * Spends the time of one verification against a hash nobody's secret matches: an unknown user
 * name costs as much as a wrong password, so names cannot be told apart by timing.
 */
export async function burnVerify(secret: string): Promise<false> {
  decoy ??= hashSecret(randomBytes(32).toString('base64url'));
  await verifySecret(secret.slice(0, MAX_SECRET_LENGTH) || 'x', await decoy);
  return false;
}
