/**
 * The reference firmware (firmware/node) built with g++ for the host: its protocol code against
 * the shared test vectors byte for byte (firmware/test/host_test.cpp), and the sketch itself,
 * on a tiny host Arduino API, as a node on a pty pair talking to the TypeScript bridge.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '@smart-village/shared';
import { openPtyPair, type PtyPair } from '../../edge/test/helpers/pty.js';
import { FirmwareBridge } from '../src/bridge.js';
import { systemClock } from '../src/clock.js';
import { memoryLog } from './helpers/log.js';
import { until } from './helpers/sim.js';

const run = promisify(execFile);
const FIRMWARE = fileURLToPath(new URL('../firmware/', import.meta.url));
const VECTORS = fileURLToPath(new URL('../test-vectors/', import.meta.url));
// The flags of firmware/test/Makefile: C++11 as the Arduino AVR core, every warning an error.
const FLAGS = ['-std=c++11', '-O2', '-Wall', '-Wextra', '-Werror', '-pedantic'];
const PROTO = [join(FIRMWARE, 'node/src/sv_proto.cpp'), join(FIRMWARE, 'node/src/sv_node.cpp')];

let dir: string;

async function gxx(args: string[]): Promise<void> {
  try {
    await run('g++', args, { timeout: 120_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('g++ is not installed: apt-get install g++ (or build-essential) to build the reference firmware on the host');
    throw new Error(`g++ failed:\n${e.stderr ?? e.message}`);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-firmware-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reference firmware on the host', () => {
  it('encodes and decodes every test vector byte for byte (host_test.cpp)', async () => {
    const exe = join(dir, 'host_test');
    await gxx([...FLAGS, '-o', exe, join(FIRMWARE, 'test/host_test.cpp'), ...PROTO]);
    const { stdout } = await run(exe, [VECTORS]).catch((err: { stdout?: string }) => {
      throw new Error(`host_test failed:\n${err.stdout ?? String(err)}`);
    });
    const m = /host_test: (\d+) checks, (\d+) failed/.exec(stdout);
    expect(m?.[2]).toBe('0');
    expect(Number(m?.[1])).toBeGreaterThan(300);
  });

  describe('the sketch (node.ino) as a node on a pty', () => {
    let pair: PtyPair | undefined;
    let node: ChildProcess | undefined;
    let bridge: FirmwareBridge | undefined;

    afterAll(async () => {
      node?.kill('SIGTERM');
      await bridge?.stop();
      await pair?.close();
    });

    it('says hello, sends its readings, and runs its relay for the commanded time only', async () => {
      const exe = join(dir, 'node-host');
      await gxx([...FLAGS, `-I${join(FIRMWARE, 'test/arduino')}`, '-DSV_NODE_ID=9', '-DSV_READ_EVERY_MS=200', '-DSV_HEARTBEAT_S=1', '-o', exe, '-x', 'c++', '-include', 'Arduino.h', join(FIRMWARE, 'node/node.ino'), '-x', 'none', join(FIRMWARE, 'test/arduino/arduino_host.cpp'), ...PROTO]);
      pair = await openPtyPair();
      const { log } = memoryLog();
      bridge = new FirmwareBridge({ id: 'uno', path: pair.a, clock: systemClock, log, ackTimeout: 300, sensorId: (n, s) => `uno-n${n}-${s}` });
      const readings: Reading[] = [];
      bridge.on('readings', (r) => readings.push(...r));
      await bridge.start();
      // Moisture probe reading 390 on the ADC (dry 520, wet 260: 50.0 %VWC); battery 800 (7.82 V).
      const pins: string[] = [];
      node = spawn(exe, [], { env: { ...process.env, SV_SERIAL: pair.b, SV_A0: '390', SV_A1: '800', SV_EEPROM: join(dir, 'eeprom') }, stdio: ['ignore', 'pipe', 'pipe'] });
      node.stdout?.setEncoding('utf8');
      node.stdout?.on('data', (s: string) => pins.push(...s.trim().split('\n')));
      const b = bridge;
      await until('hello and readings from the sketch', () => b.node(9)?.hello !== undefined && readings.length >= 4);
      expect(b.node(9)?.hello?.firmware).toBe('sv-node 1.0');
      expect(readings.find((r) => r.sensor === 'uno-n9-moisture')).toMatchObject({ value: 50, unit: '%VWC', quality: 'good' });
      expect(readings.find((r) => r.sensor === 'uno-n9-battery')).toMatchObject({ value: 7.82, unit: 'V', quality: 'good' });
      // Relay on D7, active-low: HIGH (off) at power-up, before anything else.
      expect(pins[0]).toBe('pin 7 1');

      await expect(b.command(9, 0, true, 300)).resolves.toMatchObject({ relays: 1 });
      await until('the relay pin low (on)', () => pins.includes('pin 7 0'));
      await until('the sketch to switch the relay off by itself', () => pins.at(-1) === 'pin 7 1', 3000);
      await until('a heartbeat with the relay off', () => b.node(9)?.relays === 0, 3000);
      await expect(b.command(9, 0, true, 3_600_001)).resolves.toMatchObject({ relays: 1 }); // clamped to max_on_s
      await expect(b.command(9, 2, true, 1000)).rejects.toMatchObject({ details: { status: 'unknown-channel' } });
      await expect(b.command(9, 0, false)).resolves.toMatchObject({ relays: 0 });
      await until('the relay pin high (off)', () => pins.at(-1) === 'pin 7 1');
      expect(b.stats().deframer.errors).toBe(0);
    });
  });
});
