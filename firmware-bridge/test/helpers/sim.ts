/**
 * The simulated node process (firmware-bridge/dist/sim-node-cli.js, built by `tsc -b` before
 * the tests) on the far end of a pty: its JSON report lines collected, stdin commands sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SimReport } from '../../src/sim-node.js';

export const SIM_CLI = fileURLToPath(new URL('../../dist/sim-node-cli.js', import.meta.url));

export type Report = SimReport | { ev: 'ready'; nodes: number[] };

export interface SimProcess {
  readonly reports: Report[];
  /** Reports of one kind. */
  of<E extends Report['ev']>(ev: E): Extract<Report, { ev: E }>[];
  /** Sends a control line (restart 3, garbage 40, pause, resume). */
  control(line: string): void;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startSim(path: string, args: string[] = []): Promise<SimProcess> {
  if (!existsSync(SIM_CLI)) throw new Error(`${SIM_CLI} is missing: run \`npx tsc -b\` first`);
  const child: ChildProcess = spawn(process.execPath, [SIM_CLI, '--port', path, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const reports: Report[] = [];
  let err = '';
  let partial = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => {
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) reports.push(JSON.parse(line) as Report);
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (err += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const sim: SimProcess = {
    reports,
    of: <E extends Report['ev']>(ev: E) => reports.filter((r): r is Extract<Report, { ev: E }> => r.ev === ev),
    control: (line) => void child.stdin?.write(`${line}\n`),
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const hard = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(hard);
    },
  };
  await until('the simulated node to be ready', () => reports.some((r) => r.ev === 'ready') || child.exitCode !== null, 10_000);
  if (child.exitCode !== null) throw new Error(`sv-sim-node exited ${child.exitCode}: ${err}`);
  return sim;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `done` until it holds; throws (with `what`) after `withinMs`. */
export async function until(what: string, done: () => boolean, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await sleep(10);
  }
}
