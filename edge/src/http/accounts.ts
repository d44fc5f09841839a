import { ID_PATTERN, VillageError } from '@smart-village/shared';
import { generatePassword, hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, newToken, sha256, spendVerify, TOKEN_PATTERN, verifyPassword } from './secret.js';
import type { TokenRecord, TokenRole, UserRecord, UserRole, WebStore } from './web-store.js';

/**
 * The edge's own accounts: it must let the village in with no internet, so it cannot ask the
 * cloud. Users and tokens are made with `village-edge user add` / `token add` (cli.ts).
 */

/** Typed on a phone: lowercase only (logins are lowercased before lookup). The cloud's rule. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Token names show in `token list`: short, no spaces. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export { generatePassword };

export interface NewUser {
  name: string;
  role: UserRole;
  /** Farmers: the fields they own. */
  fields?: readonly string[];
}

/**
 * Every problem with a new user, each naming the fix; empty when fine. `knownFields` are the
 * fields of this edge's site config, so a typo in --fields is caught now, not by a farmer who
 * then sees nothing.
 */
export function checkNewUser(u: NewUser, password: string, knownFields: readonly string[]): string[] {
  const problems: string[] = [];
  if (!USERNAME_PATTERN.test(u.name)) problems.push(`user name "${u.name}": lowercase letters, digits, . _ - (up to 64), e.g. lan or bac-ba`);
  const fields = u.fields ?? [];
  for (const f of fields) {
    if (!ID_PATTERN.test(f)) problems.push(`field "${f}": a field id (lowercase letters, digits and dashes)`);
    else if (!knownFields.includes(f)) problems.push(`field "${f}" is not in the site config (fields: ${knownFields.join(', ') || 'none'})`);
  }
  if (u.role === 'farmer' && fields.length === 0) problems.push('a farmer needs --fields: the fields they own, e.g. --fields ruong-1,ruong-2');
  if (u.role !== 'farmer' && fields.length > 0) problems.push(`--fields is for farmers only: a ${u.role} sees every field`);
  if (password.length < MIN_PASSWORD_LENGTH) problems.push(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) problems.push(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  return problems;
}

/** Adds a user with an scrypt hash of the password; throws CONFIG_INVALID naming every problem. */
export async function addUser(store: WebStore, u: NewUser, password: string, knownFields: readonly string[], now: number): Promise<UserRecord> {
  const problems = checkNewUser(u, password, knownFields);
  if (problems.length > 0) throw new VillageError('CONFIG_INVALID', problems.join('; '), { problems });
  const record: UserRecord = {
    name: u.name,
    role: u.role,
    fields: u.role === 'farmer' ? [...new Set(u.fields)].sort() : null,
    passwordHash: await hashPassword(password),
    createdAt: now,
  };
  if (!store.addUser(record)) throw new VillageError('CONFIG_INVALID', `user "${u.name}" exists already (village-edge user remove ${u.name} first)`, { reason: 'user-exists' });
  return record;
}

/** The user when name and password match; an unknown name costs the same scrypt time as a wrong password. */
export async function checkLogin(store: WebStore, name: string, password: string): Promise<UserRecord | undefined> {
  const login = name.trim().toLowerCase();
  const user = USERNAME_PATTERN.test(login) ? store.getUser(login) : undefined;
  if (!user) return spendVerify(password).then(() => undefined);
  return (await verifyPassword(password, user.passwordHash)) ? user : undefined;
}

/** Creates (or rotates) a token; returns it. Only its hash is kept: it is shown once. */
export function addToken(store: WebStore, name: string, role: TokenRole, now: number): string {
  if (!TOKEN_NAME_PATTERN.test(name)) throw new VillageError('CONFIG_INVALID', `token name "${name}": letters, digits, . _ - (up to 64), e.g. hall-screen`);
  const token = newToken();
  store.putToken(name, role, sha256(token), now);
  return token;
}

/** The token's record; undefined for junk (no lookup) or an unknown token. */
export function findToken(store: WebStore, token: string): TokenRecord | undefined {
  return TOKEN_PATTERN.test(token) ? store.findToken(sha256(token)) : undefined;
}
