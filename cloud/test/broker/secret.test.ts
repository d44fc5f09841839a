import { describe, expect, it } from 'vitest';
import { hashSecret, isSecretHash, newSecret, verifySecret } from '../../src/auth/secret.js';
import { edgeUsername, parseUsername, serviceUsername } from '../../src/auth/credentials.js';

describe('secrets', () => {
  it('new secrets are 32 random bytes in base64url', () => {
    const a = newSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(newSecret()).not.toBe(a);
  });

  it('hash format is scrypt$N$r$p$salt$hash with a random salt', async () => {
    const secret = newSecret();
    const hash = await hashSecret(secret);
    const parts = hash.split('$');
    expect(parts.slice(0, 4)).toEqual(['scrypt', '16384', '8', '1']);
    expect(Buffer.from(parts[4] ?? '', 'base64url')).toHaveLength(16);
    expect(Buffer.from(parts[5] ?? '', 'base64url')).toHaveLength(32);
    expect(hash).not.toContain(secret);
    expect(await hashSecret(secret)).not.toBe(hash);
    expect(isSecretHash(hash)).toBe(true);
  });

  it('verifies the right secret and refuses a wrong one', async () => {
    const secret = newSecret();
    const hash = await hashSecret(secret);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(await verifySecret(newSecret(), hash)).toBe(false);
    expect(await verifySecret(`${secret}x`, hash)).toBe(false);
    expect(await verifySecret('', hash)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['wrong scheme', 'bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['N not a power of two', 'scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['N absurdly large', 'scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['missing parts', 'scrypt$16384$8$1$AAAA'],
  ])('a malformed hash (%s) verifies false without throwing', async (_name, hash) => {
    expect(isSecretHash(hash)).toBe(false);
    expect(await verifySecret('anything', hash)).toBe(false);
  });
});

describe('usernames', () => {
  it.each([
    ['s1/e1', { kind: 'edge', site: 's1', edge: 'e1' }],
    ['service:ingest', { kind: 'service', name: 'ingest' }],
    ['s1:e1', undefined],
    ['S1/e1', undefined],
    ['s1/e1/x', undefined],
    ['service:', undefined],
    ['service:a/b', undefined],
    ['', undefined],
  ])('%s', (text, expected) => {
    expect(parseUsername(text)).toEqual(expected);
  });

  it('builders and parser agree', () => {
    expect(parseUsername(edgeUsername('vinh-an', 'pump-1'))).toEqual({ kind: 'edge', site: 'vinh-an', edge: 'pump-1' });
    expect(parseUsername(serviceUsername('ingest'))).toEqual({ kind: 'service', name: 'ingest' });
  });
});
