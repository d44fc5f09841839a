import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLOUD_CLI = `${ROOT}cloud/dist/cli.js`;
export const EDGE_CLI = `${ROOT}edge/dist/cli.js`;

/** A child process with its output kept (pino JSON lines), killed by `killAll` even if a test fails. */
export interface Proc {
  name: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  /** Resolves when a line matching `re` has been printed (or rejects after timeoutMs). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<Proc>();

export function spawnProc(name: string, args: string[], env: Record<string, string> = {}, command: string = process.execPath): Proc {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const waiters = new Set<() => void>();
  const take = (chunk: Buffer): void => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    // Keep memory bounded in long runs.
    if (output.length > 5000) output.splice(0, output.length - 5000);
    for (const w of waiters) w();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  const proc: Proc = {
    name,
    child,
    output,
    exited,
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        let done = false;
        const check = (): void => {
          const hit = output.find((l) => re.test(l));
          if (hit && !done) {
            done = true;
            cleanup();
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms; last output:\n${output.slice(-20).join('\n')}`));
        }, timeoutMs);
        const onExit = (): void => {
          setTimeout(() => {
            if (done) return;
            cleanup();
            reject(new Error(`${name} exited before printing ${re}; last output:\n${output.slice(-20).join('\n')}`));
          }, 50);
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
          child.removeListener('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      running.delete(proc);
      return code;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** For afterEach/afterAll: SIGKILL every child this file started that is still alive. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill('SIGKILL')));
}

/** Runs a CLI to completion and returns its stdout (throws on a non-zero exit). */
export async function runToEnd(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<string> {
  const p = spawnProc(`node ${args[0] ?? ''}`, args, env);
  const timer = setTimeout(() => void p.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${p.output.join('\n')}`);
  return p.output.join('\n');
}
