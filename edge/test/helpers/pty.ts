/**
 * A pair of virtual serial ports joined by socat, so the real `serialport` code path runs in
 * tests: open `a` on one side (the edge's master), `b` on the other (a slave). The links live
 * in a fresh temp dir and keep their paths across `unplug()` / `replug()`, which kill socat and
 * start it again, as a USB RS-485 adapter pulled out and put back under the same udev name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** Link to one end (e.g. for the master). */
  readonly a: string;
  /** Link to the other end (e.g. for the slave). */
  readonly b: string;
  /** Kills socat; both ends vanish (open ports see EOF / an error) and the links are removed. */
  unplug(): Promise<void>;
  /** Starts socat again on the same link paths (new ptys behind them). */
  replug(): Promise<void>;
  /** Kills socat, waits for it to exit, removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

export interface PtyPairOptions {
  /** How long to wait for socat to create both links. Default 5000 ms. */
  readyTimeoutMs?: number;
  /** The socat binary. Default 'socat' from PATH. */
  command?: string;
}

export async function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'sv-pty-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const readyTimeoutMs = options.readyTimeoutMs ?? 5000;
  const command = options.command ?? 'socat';
  let child: ChildProcess | undefined;
  let closed = false;

  const start = async (): Promise<void> => {
    child = await spawnSocat(command, a, b, readyTimeoutMs);
  };
  const unplug = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c) await kill(c);
  };

  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    a,
    b,
    unplug,
    async replug() {
      if (closed) throw new Error('pty pair is closed');
      if (child) return;
      await start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await unplug();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function spawnSocat(command: string, a: string, b: string, timeoutMs: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(child);
      }
    };
    // socat -d -d logs "starting data transfer loop" once both ptys are open and linked.
    const ready = (): boolean => log.includes('starting data transfer loop') && existsSync(a) && existsSync(b);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      log += s;
      if (ready()) finish();
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish(err.code === 'ENOENT' ? new Error(`socat is not installed (${command} not found): apt-get install socat`) : err);
    });
    child.on('exit', (code, signal) => {
      finish(new Error(`socat exited (${code ?? signal}) before the pty pair was ready: ${log.trim()}`));
    });
    const poll = setInterval(() => {
      if (ready()) finish();
    }, 20);
    const timer = setTimeout(() => finish(new Error(`socat did not create ${a} and ${b} within ${timeoutMs} ms: ${log.trim()}`)), timeoutMs);
  });
}

/** SIGTERM, then SIGKILL after a second; resolves once the process has exited. */
function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 1000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
