import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'node:net';
import { waitFor } from './net.js';
import { spawnProc, type Proc } from './procs.js';

const run = promisify(execFile);
export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

export function haveMosquitto(): boolean {
  return existsSync(MOSQUITTO) && existsSync(MOSQUITTO_PASSWD);
}

/**
 * Mosquitto's password file splits each line at the first ':' and mosquitto_passwd refuses a
 * username containing one, so the embedded broker's `service:ingest` cannot log in to Mosquitto;
 * behind Mosquitto the ingest workers use `service-ingest`.
 */
export const MOSQUITTO_INGEST_USER = 'service-ingest';

/**
 * The ACL from docs/scale-out.md. An edge logs in as `{site}/{edge}`; Mosquitto substitutes %u
 * literally, so the slash in the username becomes the level separator and `sv/v1/%u/telemetry`
 * is exactly that edge's own topic (checked by the tests: a publish to a neighbour's topic is
 * dropped). User lines are checked before pattern lines.
 */
export function aclFor(ingestUser: string): string {
  return [
    'pattern write sv/v1/%u/status',
    'pattern write sv/v1/%u/telemetry',
    'pattern write sv/v1/%u/events',
    'pattern write sv/v1/%u/state',
    'pattern write sv/v1/%u/cmd-result',
    'pattern read sv/v1/%u/ack',
    'pattern read sv/v1/%u/cmd',
    '',
    `user ${ingestUser}`,
    'topic read sv/v1/+/+/telemetry',
    'topic read sv/v1/+/+/events',
    'topic read sv/v1/+/+/status',
    'topic read sv/v1/+/+/state',
    'topic read sv/v1/+/+/cmd-result',
    'topic write sv/v1/+/+/ack',
    'topic write sv/v1/+/+/cmd',
    '',
  ].join('\n');
}

export interface Mosquitto {
  port: number;
  url: string;
  proc: Proc;
  /** Kills the broker (SIGKILL) and starts it again on the same port with the same files. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Mosquitto on 127.0.0.1:port with a password file (`users`: name -> secret) and the ACL above. */
export async function startMosquitto(dir: string, port: number, users: Record<string, string>): Promise<Mosquitto> {
  const passwd = join(dir, 'mosquitto.passwd');
  writeFileSync(passwd, '', { mode: 0o600 });
  for (const [user, secret] of Object.entries(users)) await run(MOSQUITTO_PASSWD, ['-b', passwd, user, secret], { timeout: 10_000 });
  const acl = join(dir, 'mosquitto.acl');
  writeFileSync(acl, aclFor(MOSQUITTO_INGEST_USER));
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
      // As root Mosquitto would switch to the `mosquitto` user, who cannot read the test's temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      '',
    ].join('\n'),
  );
  const start = async (): Promise<Proc> => {
    const p = spawnMosquitto(conf);
    // Its log to a pipe is block-buffered: wait for the port instead of a line.
    await waitFor(`mosquitto listening on ${port}`, async () => p.child.exitCode === null && (await canConnect(port)), 10_000, 50);
    return p;
  };
  const m: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    proc: await start(),
    async restart() {
      await m.proc.kill('SIGKILL');
      m.proc = await start();
    },
    async stop() {
      await m.proc.kill('SIGKILL');
    },
  };
  return m;
}

function spawnMosquitto(conf: string): Proc {
  return spawnProc('mosquitto', ['-c', conf], {}, MOSQUITTO);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
