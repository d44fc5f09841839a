import { createHash, randomBytes } from 'node:crypto';
import { burnVerify, hashSecret, MAX_SECRET_LENGTH, verifySecret } from '@smart-village/shared/server';

/**
 * Passwords and tokens of the people who use the edge's web app. Passwords are kept only as an
 * scrypt hash, in the cloud's format and limits (@smart-village/shared/server); tokens and
 * session ids (256 random bits, nothing to guess from a dictionary) only as a SHA-256.
 */

/** Longer passwords are refused before any hashing. */
export const MAX_PASSWORD_LENGTH = MAX_SECRET_LENGTH;
export const MIN_PASSWORD_LENGTH = 8;

export const hashPassword: (password: string) => Promise<string> = hashSecret;
/** Whether the password matches; false (never a throw) for a damaged hash or an overlong password. */
export const verifyPassword: (password: string, hash: string) => Promise<boolean> = verifySecret;
/** Spends the time of one verification, so an unknown user name costs as much as a wrong password. */
export const spendVerify: (password: string) => Promise<false> = burnVerify;

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

