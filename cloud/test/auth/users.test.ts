import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server.js';
import { checkNewUser, generatePassword } from '../../src/auth/users.js';
import { SqliteCloudStore } from '../../src/store/sqlite.js';
import { call, login } from '../api/fixture.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-users-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('generatePassword', () => {
  it('is 16 unambiguous symbols in groups of four (80 bits), different every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });
});

describe('checkNewUser', () => {
  it.each([
    { u: { name: 'lan', role: 'farmer', site: 'village-a', fields: ['ruong-1'] }, pw: 'long-enough', problems: [] },
    { u: { name: 'an', role: 'operator', site: 'village-a' }, pw: 'long-enough', problems: [] },
    { u: { name: 'Lan', role: 'farmer', site: 'village-a', fields: ['ruong-1'] }, pw: 'long-enough', problems: ['user name "Lan"'] },
    { u: { name: 'lan', role: 'farmer', site: 'village-a' }, pw: 'long-enough', problems: ['a farmer needs --fields'] },
    { u: { name: 'an', role: 'operator', site: 'village-a', fields: ['ruong-1'] }, pw: 'long-enough', problems: ['--fields is for farmers only'] },
    { u: { name: 'an', role: 'operator', site: 'Village A' }, pw: 'short', problems: ['--site "Village A"', 'at least 8 characters'] },
  ] as { u: Parameters<typeof checkNewUser>[0]; pw: string; problems: string[] }[])('$u.name $u.role $u.site', ({ u, pw, problems }) => {
    const got = checkNewUser(u, pw);
    expect(got).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(got[i]).toContain(p));
  });
});

describe('village-cloud user', () => {
  it('add prints a generated password once; the login works; list never shows hashes; remove ends the sessions', async () => {
    const db = join(dir, 'cli.sqlite');
    const added = await run(process.execPath, [CLI, 'user', 'add', 'lan', '--site', 'village-a', '--role', 'farmer', '--fields', 'ruong-1,ruong-2', '--db', db]);
    const password = /^\s+([a-z0-9]{4}(?:-[a-z0-9]{4}){3})$/m.exec(added.stdout)?.[1];
    expect(password).toBeDefined();
    const pwFile = join(dir, 'an.pw');
    writeFileSync(pwFile, 'an-secret-password\n');
    const fromFile = await run(process.execPath, [CLI, 'user', 'add', 'an', '--site', 'village-a', '--role', 'operator', '--password-file', pwFile, '--db', db]);
    expect(fromFile.stdout).not.toContain('an-secret-password');
    expect(fromFile.stdout).not.toContain('Password');

    const listed = await run(process.execPath, [CLI, 'user', 'list', '--db', db]);
    expect(listed.stdout).toMatch(/^an\s+operator\s+village-a\s+all fields/m);
    expect(listed.stdout).toMatch(/^lan\s+farmer\s+village-a\s+ruong-1,ruong-2/m);
    expect(listed.stdout).not.toContain('scrypt');

    const store = new SqliteCloudStore({ path: db });
    await store.init();
    await store.addEdge({ site: 'village-a', edge: 'pump-house' }, 'scrypt$x', 1);
    const server = createServer(buildApi({ store, log: pino({ level: 'silent' }) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const lan = await login(base, 'lan', password as string);
      expect(lan.user).toEqual({ name: 'lan', role: 'farmer', site: 'village-a', fields: ['ruong-1', 'ruong-2'] });
      expect((await login(base, 'an', 'an-secret-password')).user).toMatchObject({ role: 'operator' });
      const removed = await run(process.execPath, [CLI, 'user', 'remove', 'lan', '--db', db]);
      expect(removed.stdout).toContain('removed');
      expect((await call(base, '/api/session', { session: lan })).status).toBe(401);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    }
    const again = await run(process.execPath, [CLI, 'user', 'remove', 'lan', '--db', db]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('no user "lan"') });
  });

  it.each([
    { args: ['add', 'lan', '--site', 'village-a', '--role', 'farmer'], says: 'a farmer needs --fields' },
    { args: ['add', 'an', '--site', 'village-a', '--role', 'root'], says: 'user add needs NAME, --site and --role' },
    { args: ['add', '--site', 'village-a', '--role', 'viewer'], says: 'user add needs NAME' },
    { args: ['add', 'Bad Name', '--site', 'village-a', '--role', 'viewer'], says: 'user name "Bad Name"' },
  ])('refuses $args', async ({ args, says }) => {
    const err = await run(process.execPath, [CLI, 'user', ...args, '--db', join(dir, 'bad.sqlite')]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain(says);
  });

  it('refuses a name that exists', async () => {
    const db = join(dir, 'twice.sqlite');
    await run(process.execPath, [CLI, 'user', 'add', 'xem', '--site', 'village-a', '--role', 'viewer', '--db', db]);
    const err = await run(process.execPath, [CLI, 'user', 'add', 'xem', '--site', 'village-a', '--role', 'viewer', '--db', db]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2, stderr: expect.stringContaining('already exists') });
  });
});
