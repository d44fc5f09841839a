/**
 * `village-edge user …` and `token …` as an operator runs them: the compiled CLI (edge/dist/cli.js,
 * built by `tsc -b` before the tests) against a data directory the running service also uses.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config.js';
import { LocalServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';
import { Browser, VILLAGE } from './helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000, env: { ...process.env, LOG_LEVEL: 'silent' } }, (error, out, err) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

describe('village-edge user and token', () => {
  let dir: string | undefined;
  let server: LocalServer | undefined;
  let outbox: SqliteOutbox | undefined;

  afterEach(async () => {
    await server?.stop();
    outbox?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = server = outbox = undefined;
  });

  it('adds users and a hall token that the running service lets in, keeps only hashes, and removes them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sv-cli-acc-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    const cfg = join(dir, 'village.yaml');
    writeFileSync(cfg, VILLAGE);
    const at = ['--config', cfg, '--data-dir', data];

    const lan = await cli(['user', 'add', 'lan', ...at, '--role', 'farmer', '--fields', 'ruong-1']);
    expect(lan.code).toBe(0);
    expect(lan.out).toMatch(/^user "lan" \(farmer of ruong-1\) added at site my-hoa\.\nPassword \(shown once, only a hash is kept\):\n {2}([a-km-z2-9]{4}-){3}[a-km-z2-9]{4}\n$/);
    const password = lan.out.trim().split('\n').pop()?.trim() as string;

    writeFileSync(join(dir, 'pw'), 'hung-chose-this\n');
    const hung = await cli(['user', 'add', 'hung', ...at, '--role', 'operator', '--password-file', join(dir, 'pw')]);
    expect(hung).toMatchObject({ code: 0, out: 'user "hung" (operator) added at site my-hoa.\n' });

    const typo = await cli(['user', 'add', 'minh', ...at, '--role', 'farmer', '--fields', 'ruong-9']);
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('field "ruong-9" is not in the site config (fields: ruong-1, ruong-2)');
    expect((await cli(['user', 'add', 'lan', ...at, '--role', 'viewer'])).err).toContain('user "lan" exists already');
    expect((await cli(['user', 'add', 'x', ...at, '--role', 'king'])).code).toBe(2);

    const list = await cli(['user', 'list', '--data-dir', data]);
    expect(list.out).toMatch(/^hung +operator +all fields +created .*\nlan +farmer +ruong-1 +created /);

    const hallToken = await cli(['token', 'add', ...at, '--role', 'viewer']);
    expect(hallToken.code).toBe(0);
    const token = /svt_[A-Za-z0-9_-]{43}/.exec(hallToken.out)?.[0] as string;
    expect(hallToken.out).toContain(`hall screen: open http://127.0.0.1:0/hall#token=${token}`);
    expect((await cli(['token', 'list', '--data-dir', data])).out).toMatch(/^hall-screen +viewer +created /);

    // Only hashes: neither secret is anywhere in the accounts files, which only the service user may read.
    expect(statSync(join(data, 'web.sqlite')).mode & 0o777).toBe(0o600);
    const files = readdirSync(data).filter((f) => f.startsWith('web.sqlite'));
    for (const f of files) {
      const bytes = readFileSync(join(data, f));
      for (const secret of [password, 'hung-chose-this', token]) expect(bytes.includes(secret), `${secret} in ${f}`).toBe(false);
    }

    outbox = new SqliteOutbox({ path: join(data, 'outbox.sqlite'), clock: systemClock, log: createLogger({ level: 'silent' }) });
    outbox.start();
    server = new LocalServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ level: 'silent' }),
      clock: systemClock,
      localToken: 'l'.repeat(32),
      command: async (cmd) => ({ id: cmd.id, status: 'rejected', reason: 'no control here', ts: Date.now() }),
      controlState: () => undefined,
      web: { config: parseConfigText(VILLAGE), outbox, dataDir: data },
    });
    await server.start();
    const base = `http://127.0.0.1:${server.port}`;
    const farmer = new Browser(base);
    expect((await farmer.login('lan', password)).body).toMatchObject({ user: { name: 'lan', role: 'farmer', fields: ['ruong-1'] } });
    const operator = new Browser(base);
    expect((await operator.login('hung', 'hung-chose-this')).status).toBe(200);
    const hall = new Browser(base);
    expect((await hall.kiosk(token)).status).toBe(200);

    // Removing a user or a token ends their sessions at once, in the running service too.
    expect((await cli(['user', 'remove', 'lan', '--data-dir', data])).out).toBe('user "lan" removed; their sessions have ended.\n');
    expect((await cli(['user', 'remove', 'lan', '--data-dir', data])).code).toBe(1);
    expect((await farmer.get('/api/session')).status).toBe(401);
    expect((await operator.get('/api/session')).status).toBe(200);
    expect((await cli(['token', 'remove', 'hall-screen', '--data-dir', data])).code).toBe(0);
    expect((await hall.get('/api/sites/my-hoa/overview')).status).toBe(401);
  });
});
