import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Passwords and tokens of the people who use the edge's web app. Passwords are kept only as an
 * scrypt hash; tokens and session ids (256 random bits, nothing to guess from a dictionary) only
 * as a SHA-256. The hash format is the cloud's, `scrypt$N$r$p$salt$key` (base64url), so the
 * parameters travel with each hash.
 */

// RFC 7914 §2: N=2^14, r=8, p=1 is the interactive-login point: 16 MiB, ~100 ms on a Pi 3.
const COST = { N: 1 << 14, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Stored parameters beyond these are refused, so a damaged row cannot make us allocate gigabytes. */
const LIMITS = { N: 1 << 20, r: 16, p: 4 } as const;
/** Longer passwords are refused before any hashing. */
export const MAX_PASSWORD_LENGTH = 512;
export const MIN_PASSWORD_LENGTH = 8;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Unicode-normalised so a password typed on a phone keyboard matches the one given to the CLI.
    scrypt(password.normalize('NFC'), salt, length, { N, r, p, maxmem: 256 * N * r * p + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST.N, COST.r, COST.p, KEY_BYTES);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

interface StoredHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function readHash(text: string): StoredHash | undefined {
  const [scheme, n, r, p, salt, key, ...rest] = text.split('$');
  if (scheme !== 'scrypt' || rest.length > 0 || salt === undefined || key === undefined) return undefined;
  const parsed = { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
  const powerOfTwo = Number.isInteger(parsed.N) && parsed.N > 1 && (parsed.N & (parsed.N - 1)) === 0;
  if (!powerOfTwo || parsed.N > LIMITS.N) return undefined;
  if (!Number.isInteger(parsed.r) || parsed.r < 1 || parsed.r > LIMITS.r || !Number.isInteger(parsed.p) || parsed.p < 1 || parsed.p > LIMITS.p) return undefined;
  if (parsed.salt.length < 8 || parsed.key.length < 16 || parsed.key.length > 64) return undefined;
  return parsed;
}

/** Whether the password matches; false (never a throw) for a damaged hash or an overlong password. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const stored = readHash(hash);
  if (!stored || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return false;
  const key = await derive(password, stored.salt, stored.N, stored.r, stored.p, stored.key.length);
  return timingSafeEqual(key, stored.key);
}

let decoy: Promise<string> | undefined;

/**
 * Spends the time of one verification against a hash nobody's password matches: an unknown user
 * name costs as much as a wrong password, so names cannot be told apart by timing.
 */
export async function spendVerify(password: string): Promise<false> {
  decoy ??= hashPassword(randomBytes(32).toString('base64url'));
  await verifyPassword(password.slice(0, MAX_PASSWORD_LENGTH) || 'x', await decoy);
  return false;
}

/** 32 symbols without the look-alikes 0/o and 1/l; 32 divides 256, so `byte & 31` is unbiased. */
const PASSWORD_SYMBOLS = 'abcdefghijkmnpqrstuvwxyz23456789';

/** A password to copy from a slip of paper: 16 symbols (80 bits) in groups of four, `k7mq-3xhe-w9ta-p2rc`. */
export function generatePassword(): string {
  const symbols = [...randomBytes(16)].map((b) => PASSWORD_SYMBOLS[b & 31] as string).join('');
  return symbols.match(/.{4}/g)?.join('-') ?? symbols;
}

/** Recognisable in a leaked file or log ("svt_", as the cloud's), then 32 random bytes. */
export const TOKEN_PATTERN = /^svt_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return `svt_${randomBytes(32).toString('base64url')}`;
}

/** A fresh session id or CSRF value: 32 random bytes, base64url (43 characters). */
export function newSessionSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256, hex: how tokens and session ids are stored and looked up. */
export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

