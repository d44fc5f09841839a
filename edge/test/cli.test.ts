/**
 * `village-edge` as an operator runs it: the compiled CLI (edge/dist/cli.js, built by the test
 * command before vitest) spawned as a child process, against pty slaves and temp data dirs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWords } from '../src/modbus/registers.js';
import { RtuSlaveServer } from '../src/modbus/rtu-slave.js';
import { MemoryBank } from '../src/modbus/slave.js';
import { openPtyPair, type PtyPair } from './helpers/pty.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const DEMO = join(ROOT, 'examples/demo-village.yaml');
const BAD = fileURLToPath(new URL('./fixtures/cli-bad-village.yaml', import.meta.url));

interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function start(args: string[]): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    }),
  );
  return { proc, out: () => out, err: () => err, exited };
}

/** Runs a command to its end (killed after `withinMs`). */
async function run(args: string[], withinMs = 15_000): Promise<{ code: number | null; out: string; err: string }> {
  const child = start(args);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), withinMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { code, out: child.out(), err: child.err() };
}

async function until(what: string, done: () => boolean, withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The pino JSON lines a service wrote. */
function logLines(out: string): { msg: string; level: number }[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: number });
}

const SITE = `version: 1
site: { id: cli-test, name: CLI, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: pi-cli, gpio: { driver: simulated } }
`;

describe('village-edge CLI', () => {
  let pair: PtyPair | undefined;
  let slave: RtuSlaveServer | undefined;
  const dirs: string[] = [];

  afterEach(async () => {
    for (const c of children) c.kill('SIGKILL');
    children.clear();
    await slave?.stop();
    await pair?.close();
    slave = pair = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function tempDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'sv-cli-'));
    dirs.push(d);
    return d;
  }

  async function ptySlave(units: [number, MemoryBank][]): Promise<PtyPair> {
    pair = await openPtyPair();
    slave = new RtuSlaveServer({ path: pair.b, units: new Map(units) });
    await slave.start();
    return pair;
  }

  describe('check-config', () => {
    it('accepts the demo village', async () => {
      const r = await run(['check-config', DEMO]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/demo-village\.yaml: ok — site my-hoa, edge pi-ruong-1, 2 buses, 6 Modbus devices/);
    });

    it('rejects a bad file with exit 1, naming every problem with its path', async () => {
      const r = await run(['check-config', BAD]);
      expect(r.code).toBe(1);
      expect(r.err).toContain('2 problems');
      expect(r.err).toContain('devices[2].bus: unknown bus "rs485-2" (defined: rs485-1)');
      expect(r.err).toContain('devices[3].interval: "soon" is not a duration');
      // An operator's message, not a stack trace.
      expect(r.err).not.toMatch(/\bat .*\.js:\d+/);
    });

    it('says which file it cannot read, with exit 1', async () => {
      const r = await run(['check-config', join(tempDir(), 'missing.yaml')]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/cannot read config .*missing\.yaml/);
    });
  });

  it('scan lists exactly the slave ids that answer on the line', async () => {
    const { a } = await ptySlave([
      [3, new MemoryBank().setWord('holding', 0, 1)],
      // Unit 7 has no holding register 0: its exception 02 still proves it is there.
      [7, new MemoryBank().setWord('input', 0, 1)],
    ]);
    const r = await run(['scan', '--port', a, '--baud', '9600', '--from', '1', '--to', '12', '--timeout', '100']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('found 2: 3, 7');
    const answering = [...r.out.matchAll(/slave (\d+): answers/g)].map((m) => Number(m[1]));
    expect(answering).toEqual([3, 7]);
    expect(slave?.requestsServed(3)).toBe(1);
    expect(slave?.requestsServed(7)).toBe(1);
  });

  it('scan of a port that does not exist fails with a clear message', async () => {
    const r = await run(['scan', '--port', join(tempDir(), 'ttyUSB9'), '--to', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot open .*ttyUSB9/);
  });

  it('read prints each decoded value with its raw registers', async () => {
    const bank = new MemoryBank().setWords('holding', 0, [412, ...encodeWords(-35, 'int16'), 830]).setWords('holding', 10, encodeWords(1234.5, 'float32', 'CDAB'));
    const { a } = await ptySlave([[4, bank]]);
    const file = join(tempDir(), 'cli-read.yaml');
    writeFileSync(
      file,
      `${SITE}buses:
  - { id: rs485-1, type: rtu, port: ${a}, timeout: 300ms }
devices:
  - id: soil-4
    bus: rs485-1
    slave: 4
    registers:
      - { name: moisture, table: holding, address: 0, scale: 0.1, quantity: soil-moisture }
      - { name: temperature, table: holding, address: 1, type: int16, scale: 0.1, quantity: soil-temperature }
      - { name: ec, table: holding, address: 2, quantity: soil-ec }
      - { name: level, table: holding, address: 10, type: float32, order: CDAB, quantity: water-level }
`,
    );
    const r = await run(['read', '--config', file, '--device', 'soil-4']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`soil-4: slave 4 on ${a} @ 9600 8N1`);
    const [f32hi, f32lo] = encodeWords(1234.5, 'float32', 'CDAB').map((w) => `0x${w.toString(16).padStart(4, '0')}`);
    // Two requests: 3..9 lie outside the probe's map, too far apart to read over (coalesceGap 4).
    expect(r.out).toContain('FC3 holding 0+3: [0x019c 0xffdd 0x033e]');
    expect(r.out).toContain(`FC3 holding 10+2: [${f32hi} ${f32lo}]`);
    expect(r.out).toMatch(/moisture\s+41\.2 %VWC\s+good\s+raw \[0x019c\] uint16/);
    expect(r.out).toMatch(/temperature\s+-3\.5 °C\s+good\s+raw \[0xffdd\] int16/);
    expect(r.out).toMatch(/ec\s+830 µS\/cm\s+good\s+raw \[0x033e\]/);
    expect(r.out).toMatch(new RegExp(`level\\s+1234\\.5 cm\\s+out-of-range\\s+raw \\[${f32hi} ${f32lo}\\] float32 CDAB`));
  });

  it('read reports a device that does not answer, with exit 1', async () => {
    const { a } = await ptySlave([[4, new MemoryBank().setWord('holding', 0, 1)]]);
    const file = join(tempDir(), 'cli-read-dead.yaml');
    writeFileSync(
      file,
      `${SITE}buses:
  - { id: rs485-1, type: rtu, port: ${a}, timeout: 200ms }
devices:
  - { id: soil-5, bus: rs485-1, slave: 5, registers: [{ name: moisture, table: holding, address: 0, quantity: soil-moisture }] }
`,
    );
    const r = await run(['read', '--config', file, '--device', 'soil-5']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FC3 holding 0\+1: MODBUS_TIMEOUT slave 5 did not answer/);
  });

  it('demo runs, stops cleanly on SIGINT, and status then shows devices online and the last readings', async () => {
    const dataDir = tempDir();
    const demo = start(['demo', '--data-dir', dataDir]);
    // soil-1 and tank are polled at once, soil-2 2.5 s later (the demo spreads its devices).
    await until('three devices online', () => ['soil-1', 'soil-2', 'tank'].every((d) => logLines(demo.out()).some((l) => l.msg.startsWith(`device ${d} online`))));
    await new Promise((r) => setTimeout(r, 1500)); // a commit of the outbox (every 1 s)
    demo.proc.kill('SIGINT');
    const { code, signal } = await demo.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const lines = logLines(demo.out());
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.at(-1)?.msg).toBe('edge stopped');

    const r = await run(['status', '--config', DEMO, '--data-dir', dataDir]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('site my-hoa (Ấp Mỹ Hòa), edge pi-ruong-1');
    for (const d of ['soil-1', 'soil-2', 'tank']) expect(r.out).toMatch(new RegExp(`^  ${d}\\s+online\\s+slave`, 'm'));
    expect(r.out).toMatch(/^ {2}rs485-1\s+closed simulated line @ 9600/m);
    const readings = r.out.slice(r.out.indexOf('last readings:'));
    // The named soil-1 moisture sensor and the tank level, with plausible good values.
    const moisture = /^ {2}ruong-1-do-am\s+([\d.]+) %VWC\s+good/m.exec(readings);
    const level = /^ {2}bon-nuoc-muc\s+([\d.]+) %\s+good/m.exec(readings);
    expect(moisture, readings).not.toBeNull();
    expect(level, readings).not.toBeNull();
    expect(Number(moisture?.[1])).toBeGreaterThan(0);
    expect(Number(level?.[1])).toBeGreaterThanOrEqual(0);
  });

  it('run with a bus whose port does not exist keeps running, reports the device offline, and exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    const file = join(dir, 'cli-run.yaml');
    writeFileSync(
      file,
      `${SITE}buses:
  - { id: rs485-1, type: rtu, port: ${join(dir, 'ttyUSB0')}, timeout: 200ms }
devices:
  - { id: soil-1, bus: rs485-1, slave: 1, profile: soil-th-ec-rs485, interval: 300ms, stagger: 0 }
store: { commitInterval: 200ms }
`,
    );
    const dataDir = join(dir, 'data');
    const svc = start(['run', '--config', file, '--data-dir', dataDir]);
    await until('the device reported offline', () => logLines(svc.out()).some((l) => l.msg.startsWith('device soil-1 offline')));
    // It keeps trying (reopen backoff 1 s, 2 s, ...) instead of exiting.
    await new Promise((r) => setTimeout(r, 1500));
    expect(svc.proc.exitCode).toBeNull();
    svc.proc.kill('SIGTERM');
    const { code, signal } = await svc.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(logLines(svc.out()).filter((l) => l.level >= 50)).toEqual([]);

    const r = await run(['status', '--config', file, '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {2}soil-1\s+offline\s+slave 1/m);
    expect(r.out).toMatch(/last error: PORT_UNAVAILABLE: .*ttyUSB0/);
    expect(r.out).toMatch(/^ {2}soil-1-moisture\s+—\s+%VWC\s+error/m);
  });
});
