import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/<db>: a fresh, empty database. */
  url: string;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'PostgreSQL not installed: apt-get install postgresql';

/**
 * A throwaway PostgreSQL for one test file. With SV_TEST_POSTGRES_URL set, a fresh database on
 * that server (dropped by stop()); otherwise a private cluster from Debian's binaries in a temp dir,
 * on a free loopback port, with fsync off (nothing here needs to survive a crash) and trust auth.
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.SV_TEST_POSTGRES_URL;
  if (external) return freshDatabase(external);

  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'sv-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const ids = postgresIds();
    chownSync(dir, ids.uid, ids.gid);
  }
  // As root: runuser to `postgres`; cwd is the temp dir because that user may not be able to
  // enter the test's working directory.
  const pgRun = (cmd: string, args: string[], timeout: number) =>
    run(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { cwd: dir, timeout, killSignal: 'SIGKILL' });

  let started = false;
  const stopCluster = async (): Promise<void> => {
    if (started) {
      started = false;
      await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop'], 30_000).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // If the test process ends without stop() (a crash, a timeout), do not leave a server behind.
  const onExit = (): void => {
    if (started) spawnSync(asRoot ? 'runuser' : join(bin, 'pg_ctl'), [...(asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl')] : []), '-D', data, '-m', 'immediate', 'stop'], { cwd: dir, timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  try {
    await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], 60_000).catch((err: unknown) => {
      throw new Error(`initdb failed: ${stderrOf(err)}`);
    });
    const port = await freePort();
    const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    started = true;
    await pgRun('pg_ctl', ['-D', data, '-l', logFile, '-o', serverOpts, '-w', '-t', '20', 'start'], 30_000).catch((err: unknown) => {
      throw new Error(`pg_ctl start failed: ${stderrOf(err)}\n${tail(logFile)}`);
    });
    const url = `postgres://postgres@127.0.0.1:${port}/sv_test`;
    await admin(`postgres://postgres@127.0.0.1:${port}/postgres`, 'CREATE DATABASE sv_test');
    return {
      url,
      async stop() {
        process.removeListener('exit', onExit);
        await stopCluster();
      },
    };
  } catch (err) {
    process.removeListener('exit', onExit);
    await stopCluster();
    throw err;
  }
}

/** The newest installed major version's bin dir (Debian: /usr/lib/postgresql/<major>/bin). */
function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const m of majors) {
    const bin = join(root, m, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  throw new Error(INSTALL_HINT);
}

function postgresIds(): { uid: number; gid: number } {
  const r = spawnSync('id', ['postgres'], { encoding: 'utf8', timeout: 5_000 });
  const uid = /uid=(\d+)/.exec(r.stdout)?.[1];
  const gid = /gid=(\d+)/.exec(r.stdout)?.[1];
  if (r.status !== 0 || uid === undefined || gid === undefined) throw new Error(`no "postgres" user to run the test cluster as (${INSTALL_HINT})`);
  return { uid: Number(uid), gid: Number(gid) };
}

async function freshDatabase(serverUrl: string): Promise<TestPostgres> {
  const name = `sv_test_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async stop() {
      await admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** One statement on its own short-lived connection, bounded. */
async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no server log)';
  }
}
