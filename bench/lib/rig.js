// Shared parts of the sync benchmarks (sync-drain, ingest, latency): a village's 50 sensors,
// loggers, percentiles, a free loopback port, and throwaway PostgreSQL and Mosquitto servers.
// Not a benchmark itself (run.js only picks up *.bench.js).
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createLogger } from '../../edge/dist/log.js';

const run = promisify(execFile);

// The workspace root depends on neither; the cloud package does.
export const requireCloud = createRequire(new URL('../../cloud/package.json', import.meta.url));

/**
 * Logs of the code under test go to stderr at `warn` (BENCH_LOG_LEVEL overrides): a quarantined
 * batch or a resend shows up next to the figures instead of vanishing.
 */
export function benchLogger() {
  return createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'warn', destination: process.stderr, pretty: false });
}

export const progress = (bench) => (msg) => process.stderr.write(`[${bench}] ${msg}\n`);

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `sv-bench-${prefix}-`));
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export function envInt(name, fallback, min = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every `everyMs` until it returns truthy; throws with `what` after `timeoutMs`. */
export async function waitFor(what, check, timeoutMs, everyMs = 50) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- the village's sensors ------------------------------------------------------------------

/**
 * 50 sensors as a demo-like village has them: 10 soil probes (moisture, temperature, EC), 2 NPK
 * probes (pH, N, P, K), the tank (level, water temperature), its float switch, the pump's flow
 * meter and an 8-value weather station. Each value walks by one sensor step now and then.
 */
export function villageSensors() {
  const s = [];
  const add = (device, point, unit, decimals, value, step = 10 ** -decimals) => s.push({ device, sensor: `${device}-${point}`, unit, decimals, value, step });
  for (let i = 1; i <= 10; i++) {
    add(`soil-${i}`, 'moisture', '%VWC', 1, 28 + i / 2);
    add(`soil-${i}`, 'temperature', '°C', 1, 27 + i / 10);
    add(`soil-${i}`, 'ec', 'µS/cm', 0, 800 + 9 * i);
  }
  for (let i = 1; i <= 2; i++) {
    add(`npk-${i}`, 'ph', 'pH', 1, 6.4);
    add(`npk-${i}`, 'nitrogen', 'mg/kg', 0, 42);
    add(`npk-${i}`, 'phosphorus', 'mg/kg', 0, 18);
    add(`npk-${i}`, 'potassium', 'mg/kg', 0, 95);
  }
  add('tank', 'level', 'cm', 1, 148.2);
  add('tank', 'temperature', '°C', 1, 29.4);
  add('tank-float', 'state', 'state', 0, 1, 0);
  add('pump', 'flow', 'L/min', 1, 0);
  add('weather', 'wind-speed', 'm/s', 1, 2.1);
  add('weather', 'wind-direction', '°', 0, 170, 5);
  add('weather', 'humidity', '%RH', 1, 79.5);
  add('weather', 'temperature', '°C', 1, 31.2);
  add('weather', 'pressure', 'hPa', 0, 1009);
  add('weather', 'illuminance', 'lx', 0, 48_000, 100);
  add('weather', 'rain', 'mm', 1, 0, 0);
  add('weather', 'solar', 'W/m²', 0, 610, 5);
  if (s.length !== 50) throw new Error(`village has ${s.length} sensors, not 50`);
  return s;
}

/** Deterministic pseudo-random numbers (xorshift32), so runs compare. */
export function prng(seed = 1) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/**
 * A poller for the village: `cycle(ts)` returns the 50 readings of one poll cycle at `ts`
 * (devices read one after another, 150 ms apart, ±10 ms jitter), values rounded to their
 * sensor's resolution.
 */
export function villagePoller(seed = 1) {
  const rand = prng(seed);
  const sensors = villageSensors();
  const devices = [...new Set(sensors.map((x) => x.device))];
  const offset = new Map(devices.map((d, i) => [d, i * 150]));
  return {
    cycle(ts) {
      const jitter = new Map(devices.map((d) => [d, Math.round(rand() * 20 - 10)]));
      return sensors.map((x) => {
        if (rand() < 0.3) x.value += rand() < 0.5 ? -x.step : x.step;
        const p = 10 ** x.decimals;
        return { sensor: x.sensor, ts: ts + offset.get(x.device) + jitter.get(x.device), value: Math.round(x.value * p) / p, unit: x.unit, quality: 'good', clockSynced: true };
      });
    },
  };
}

// ---- PostgreSQL -----------------------------------------------------------------------------

/**
 * A private PostgreSQL cluster in a temp dir on a free loopback port, as the cloud tests start
 * one (cloud/test/helpers/postgres.ts): trust auth, and fsync=off, synchronous_commit=off,
 * full_page_writes=off — so PostgreSQL figures do not pay for durability, while the SQLite
 * store (synchronous=FULL) does. As root it runs as `postgres` (runuser).
 */
export async function startPostgres(log) {
  const root = '/usr/lib/postgresql';
  const major = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => b - a).find((m) => existsSync(join(root, m, 'bin', 'pg_ctl'))) : undefined;
  if (!major) throw new Error('PostgreSQL not installed (apt-get install postgresql)');
  const bin = join(root, major, 'bin');
  const dir = tempDir('pg');
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['postgres']);
    chownSync(dir, Number(/uid=(\d+)/.exec(stdout)[1]), Number(/gid=(\d+)/.exec(stdout)[1]));
  }
  const pgRun = (cmd, args, timeout) => run(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { cwd: dir, timeout, killSignal: 'SIGKILL' });
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop'], 30_000).catch((err) => log(`pg_ctl stop failed: ${err.message}`));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], 60_000);
    const port = await freePort();
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    started = true;
    await pgRun('pg_ctl', ['-D', data, '-l', logFile, '-o', opts, '-w', '-t', '20', 'start'], 30_000).catch((err) => {
      throw new Error(`pg_ctl start failed: ${err.stderr || err.message}\n${tailOf(logFile)}`);
    });
    const pg = requireCloud('pg');
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 10_000 });
    await admin.connect();
    let n = 0;
    try {
      return {
        version: major,
        /** A fresh, empty database on this cluster. */
        async database() {
          const name = `sv_bench_${++n}`;
          await admin.query(`CREATE DATABASE ${name}`);
          return `postgres://postgres@127.0.0.1:${port}/${name}`;
        },
        async stop() {
          await admin.end().catch(() => undefined);
          await stop();
        },
      };
    } catch (err) {
      await admin.end().catch(() => undefined);
      throw err;
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

function tailOf(file) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- Mosquitto ------------------------------------------------------------------------------

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';
/**
 * mosquitto_passwd refuses ':' in a username, so behind Mosquitto the ingest logs in as
 * `service-ingest`, not the embedded broker's `service:ingest` (as cloud/test/e2e does).
 */
export const MOSQUITTO_INGEST_USER = 'service-ingest';

/**
 * Mosquitto on 127.0.0.1:<free port> with a password file (`users`: name -> secret) and the ACL
 * of docs/scale-out.md (edges: their own up channels, their own ack/cmd; the ingest: every
 * edge's up channels, every ack/cmd). Persistence off: QoS 1 in flight lives in memory.
 */
export async function startMosquitto(users, log) {
  if (!existsSync(MOSQUITTO) || !existsSync(MOSQUITTO_PASSWD)) throw new Error('Mosquitto not installed (apt-get install mosquitto)');
  const dir = tempDir('mosquitto');
  let child;
  try {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, '', { mode: 0o600 });
    for (const [user, secret] of Object.entries(users)) await run(MOSQUITTO_PASSWD, ['-b', passwd, user, secret], { timeout: 10_000 });
    const acl = join(dir, 'acl');
    writeFileSync(
      acl,
      [
        'pattern write sv/v1/%u/status',
        'pattern write sv/v1/%u/telemetry',
        'pattern write sv/v1/%u/events',
        'pattern write sv/v1/%u/state',
        'pattern write sv/v1/%u/cmd-result',
        'pattern read sv/v1/%u/ack',
        'pattern read sv/v1/%u/cmd',
        '',
        `user ${MOSQUITTO_INGEST_USER}`,
        'topic read sv/v1/+/+/telemetry',
        'topic read sv/v1/+/+/events',
        'topic read sv/v1/+/+/status',
        'topic read sv/v1/+/+/state',
        'topic read sv/v1/+/+/cmd-result',
        'topic write sv/v1/+/+/ack',
        'topic write sv/v1/+/+/cmd',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        'per_listener_settings false',
        'allow_anonymous false',
        `password_file ${passwd}`,
        `acl_file ${acl}`,
        'persistence false',
        'max_packet_size 262144',
        // As root Mosquitto switches to the `mosquitto` user, who cannot read this temp dir.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        `listener ${port} 127.0.0.1`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(`mosquitto on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr}`);
      return canConnect(port);
    }, 10_000);
    const { stdout } = await run(MOSQUITTO, ['-h']).catch((e) => e);
    return {
      url: `mqtt://127.0.0.1:${port}`,
      version: /mosquitto version (\S+)/.exec(stdout ?? '')?.[1] ?? '?',
      pid: child.pid,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
          if (!done) {
            log(`mosquitto (pid ${child.pid}) did not stop on SIGTERM; killing it`);
            child.kill('SIGKILL');
            await exited;
          }
        }
        // Running as root is deliberate here (see `user root` above): not worth a line.
        const said = stderr.split('\n').filter((l) => l.trim() && !/should not be run as root/.test(l));
        if (said.length) log(`mosquitto said: ${said.slice(-5).join(' | ')}`);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
