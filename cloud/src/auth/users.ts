import { randomBytes } from 'node:crypto';
import { ID_PATTERN, VillageError } from '@smart-village/shared';
import type { CloudStore, UserRecord, UserRole } from '../store/types.js';
import { burnVerify, hashSecret, MAX_SECRET_LENGTH, verifySecret } from './secret.js';

/** Login names: typed on a phone, so lowercase only (logins are lowercased before lookup). */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 8;

/** 32 symbols without the look-alikes 0, o, 1 and l. */
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/**
 * A password a farmer can copy from a slip of paper: 16 symbols from 32 (80 bits) in groups of
 * four, e.g. "k7mq-3xhe-w9ta-p2rc". 32 divides 256, so `byte & 31` is unbiased.
 */
export function generatePassword(): string {
  const bytes = randomBytes(16);
  const chars = [...bytes].map((b) => PASSWORD_ALPHABET[b & 31] as string);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

export interface NewUser {
  name: string;
  role: UserRole;
  site: string;
  /** Farmers: their fields (at least one). Other roles: none (they see every field). */
  fields?: readonly string[];
}

/** Every problem with a new user, as sentences naming the fix; empty when it is fine. */
export function checkNewUser(u: NewUser, password: string): string[] {
  const problems: string[] = [];
  if (!USERNAME_PATTERN.test(u.name)) problems.push(`user name "${u.name}": lowercase letters, digits, . _ - (up to 64), e.g. lan or bac-ba`);
  if (!ID_PATTERN.test(u.site)) problems.push(`--site "${u.site}": a site id (lowercase letters, digits and dashes)`);
  const fields = u.fields ?? [];
  for (const f of fields) if (!ID_PATTERN.test(f)) problems.push(`field "${f}": a field id (lowercase letters, digits and dashes)`);
  if (u.role === 'farmer' && fields.length === 0) problems.push('a farmer needs --fields: the fields they own, e.g. --fields ruong-1,ruong-2');
  if (u.role !== 'farmer' && fields.length > 0) problems.push(`--fields is for farmers only: a ${u.role} sees every field of the site`);
  if (password.length < MIN_PASSWORD_LENGTH) problems.push(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_SECRET_LENGTH) problems.push(`the password must be at most ${MAX_SECRET_LENGTH} characters`);
  return problems;
}

/** Adds a user with an scrypt hash of the password (the password itself is never stored). */
export async function addUser(store: CloudStore, u: NewUser, password: string, now: number): Promise<UserRecord> {
  const problems = checkNewUser(u, password);
  if (problems.length > 0) throw new VillageError('CONFIG_INVALID', problems.join('; '), { problems });
  const record: UserRecord = {
    name: u.name,
    role: u.role,
    site: u.site,
    fields: u.role === 'farmer' ? [...new Set(u.fields)].sort() : null,
    passwordHash: await hashSecret(password),
    createdAt: now,
  };
  await store.addUser(record);
  return record;
}

/**
 * The user when name and password match, else undefined. An unknown name costs the same scrypt
 * time as a wrong password, so names cannot be told apart by timing.
 */
export async function checkLogin(store: CloudStore, name: string, password: string): Promise<UserRecord | undefined> {
  const login = name.trim().toLowerCase();
  const user = USERNAME_PATTERN.test(login) ? await store.getUser(login) : undefined;
  if (!user) {
    await burnVerify(password);
    return undefined;
  }
  return (await verifySecret(password, user.passwordHash)) ? user : undefined;
}
