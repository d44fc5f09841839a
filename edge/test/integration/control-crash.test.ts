/**
 * Crash safety with real processes: the edge drives a valve on a Modbus TCP relay board (a
 * slave on loopback that, like a real board, keeps its relay where it was last put), is killed
 * with SIGKILL while the zone waters, and is started again. The relay must be OFF within 1 s of
 * the new process starting, and the interrupted run must be in the irrigation log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBank } from '../../src/modbus/slave.js';
import { TcpSlaveServer } from '../../src/modbus/tcp-slave.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const children = new Set<ChildProcess>();

function spawnEdge(args: string[]): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  children.add(proc);
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return { proc, out: () => out, exited };
}

async function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const c = spawnEdge(args);
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 15_000);
  const code = await c.exited;
  clearTimeout(timer);
  return { code, out: c.out() };
}

async function until(what: string, done: () => boolean, withinMs = 15_000, stepMs = 10): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

describe('control survives SIGKILL of the edge (real processes, Modbus TCP relay board)', () => {
  const dirs: string[] = [];
  let board: TcpSlaveServer | undefined;

  afterEach(async () => {
    for (const c of children) c.kill('SIGKILL');
    children.clear();
    await board?.stop();
    board = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setup(): Promise<{ dir: string; config: string; coil: () => number }> {
    const bank = new MemoryBank();
    bank.define('coil', 0, 8);
    board = new TcpSlaveServer({ units: new Map([[1, bank]]) });
    await board.start();
    const dir = mkdtempSync(join(tmpdir(), 'sv-crash-'));
    dirs.push(dir);
    const config = join(dir, 'site.yaml');
    writeFileSync(
      config,
      `version: 1
site: { id: crash-test, name: Crash, timezone: Asia/Ho_Chi_Minh, lat: 10.03, lon: 105.78 }
edge: { id: pi-crash, http: { host: 127.0.0.1, port: 0 } }
buses:
  - { id: relays, type: tcp, host: 127.0.0.1, port: ${board.port}, timeout: 500ms, retries: 1 }
actuators:
  - { id: van-1, kind: valve, output: { driver: modbus, bus: relays, slave: 1, coil: 0 }, maxRuntime: 30m }
zones:
  - { id: ruong-1, valve: van-1 }
`,
    );
    const coil = (): number => {
      const bits = bank.readBits('coil', 0, 1);
      if (typeof bits === 'number') throw new Error(`coil read failed: exception ${bits}`);
      return bits[0] as number;
    };
    return { dir: join(dir, 'data'), config, coil };
  }

  async function startWatering(config: string, dataDir: string, coil: () => number): Promise<ReturnType<typeof spawnEdge>> {
    const edge = spawnEdge(['run', '--config', config, '--data-dir', dataDir]);
    await until('the edge wrote its status with the local port', () => {
      try {
        return JSON.parse(readFileSync(join(dataDir, 'status.json'), 'utf8')).http?.port > 0;
      } catch {
        return false;
      }
    });
    const water = await runCli(['water', '--config', config, '--data-dir', dataDir, '--zone', 'ruong-1', '--for', '10m']);
    expect(water.out).toMatch(/^accepted: zone ruong-1 on until \d\d:\d\d/);
    expect(water.code).toBe(0);
    await until('the relay is on', () => coil() === 1);
    return edge;
  }

  it('turns the valve off within 1 s of the restart and logs the interrupted run', async () => {
    const { dir, config, coil } = await setup();
    const first = await startWatering(config, dir, coil);
    first.proc.kill('SIGKILL');
    await first.exited;
    // Nobody turned it off: the relay board keeps the valve open, as a real one would.
    await new Promise((r) => setTimeout(r, 300));
    expect(coil()).toBe(1);

    const startedAt = Date.now();
    const second = spawnEdge(['run', '--config', config, '--data-dir', dir]);
    await until('the relay is off again', () => coil() === 0, 5000, 5);
    const offAfterMs = Date.now() - startedAt;
    expect(offAfterMs).toBeLessThan(1000);
    // It stays off: an interrupted manual run is never resumed.
    await new Promise((r) => setTimeout(r, 1500));
    expect(coil()).toBe(0);

    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const log = await runCli(['log', '--config', config, '--data-dir', dir, '--csv']);
    expect(log.code).toBe(0);
    const rows = log.out.trim().split('\r\n');
    expect(rows[0]).toBe('zone,start,end,minutes,litres,metered,source,program,reason,outcome,end_reason,by');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^ruong-1,\d{4}-\d\d-\d\d \d\d:\d\d,\d{4}-\d\d-\d\d \d\d:\d\d,[\d.]+,,no,manual,,manual 10 min by cli:[^,]+,interrupted,the edge stopped \(crash or power loss\) during the run,cli:/);
    const explain = await runCli(['explain', '--config', config, '--data-dir', dir, '--zone', 'ruong-1']);
    expect(explain.out).toContain('zone ruong-1 was interrupted by a restart (manual 10 min by cli:');
    expect(explain.out).toContain('water zone ruong-1 for 10 min, asked by cli:');
  });

  it('`village-edge safe-outputs` (the systemd ExecStopPost) turns the valve off after a crash', async () => {
    const { dir, config, coil } = await setup();
    const edge = await startWatering(config, dir, coil);
    edge.proc.kill('SIGKILL');
    await edge.exited;
    expect(coil()).toBe(1);
    const safe = await runCli(['safe-outputs', '--config', config]);
    expect(safe.out).toMatch(/^ok +van-1 off +bus relays slave 1 coil 0/m);
    expect(safe.code).toBe(0);
    expect(coil()).toBe(0);
    expect(existsSync(join(dir, 'control.sqlite'))).toBe(true);
  });

  it('a graceful stop (SIGTERM) closes the valve before the process exits', async () => {
    const { dir, config, coil } = await setup();
    const edge = await startWatering(config, dir, coil);
    edge.proc.kill('SIGTERM');
    expect(await edge.exited).toBe(0);
    expect(coil()).toBe(0);
  });
});
