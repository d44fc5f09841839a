/**
 * FirmwareBridge against the simulated node process over a socat pty pair: the real serialport
 * code path on both ends, faults injected by the node side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@smart-village/shared';
import { openPtyPair, type PtyPair } from '../../edge/test/helpers/pty.js';
import { FirmwareBridge, type FirmwareBridgeOptions, type NodeChange } from '../src/bridge.js';
import { systemClock } from '../src/clock.js';
import { memoryLog, type LogLine } from './helpers/log.js';
import { sleep, startSim, until, type Report, type SimProcess } from './helpers/sim.js';

let pair: PtyPair | undefined;
let bridge: FirmwareBridge | undefined;
let sim: SimProcess | undefined;

afterEach(async () => {
  await sim?.stop();
  await bridge?.stop();
  await pair?.close();
  sim = bridge = pair = undefined;
});

interface Line {
  bridge: FirmwareBridge;
  sim: SimProcess;
  pair: PtyPair;
  readings: (Reading & { node: number; seq: number })[];
  changes: NodeChange[];
  lines: LogLine[];
}

async function line(simArgs: string[], opts: Partial<FirmwareBridgeOptions> = {}): Promise<Line> {
  pair = await openPtyPair();
  const { log, lines } = memoryLog();
  bridge = new FirmwareBridge({ id: 'line', path: pair.a, clock: systemClock, log, ackTimeout: 300, backoffMin: 50, backoffMax: 200, ...opts });
  const readings: Line['readings'] = [];
  const changes: NodeChange[] = [];
  bridge.on('readings', (rs, from) => readings.push(...rs.map((r) => ({ ...r, ...from }))));
  bridge.on('node', (c) => changes.push(c));
  await bridge.start();
  const b = bridge;
  await until('the bridge to open its port', () => b.isOpen);
  sim = await startSim(pair.b, simArgs);
  return { bridge, sim, pair, readings, changes, lines };
}

type Sent = Extract<Report, { ev: 'sent' }>;
const readingsSent = (s: SimProcess, node?: number): Sent[] => s.of('sent').filter((r) => r.type === 'readings' && (node === undefined || r.node === node));
/** "node/seq" of each readings frame, to compare what was sent with what arrived. */
const keys = (frames: { node: number; seq: number }[]): string[] => [...new Set(frames.map((f) => `${f.node}/${f.seq}`))].sort();

describe('FirmwareBridge over a pty pair', () => {
  it('hello, then readings mapped to edge readings with units checked against the hello', async () => {
    const l = await line(['--first', '3', '--sensors', 'moisture:soil-moisture,temp:soil-temperature,battery:battery:2', '--wrong-unit', 'battery', '--interval', '80ms', '--count', '5', '--heartbeat', '1']);
    await until('5 readings frames', () => l.sim.of('done').length === 1 && l.readings.length === 10);
    const node = l.bridge.node(3);
    expect(node?.hello?.firmware).toBe('sv-sim-node 1');
    expect([...(node?.hello?.sensors.values() ?? [])].map((s) => s.name)).toEqual(['moisture', 'temp', 'battery']);
    const sent = readingsSent(l.sim, 3);
    expect(sent).toHaveLength(5);
    expect(l.readings.filter((r) => r.sensor === 'n3-moisture').map((r) => r.value)).toEqual(sent.map((s) => s.values?.[0]));
    expect(l.readings.filter((r) => r.sensor === 'n3-temp').map((r) => r.value)).toEqual(sent.map((s) => s.values?.[1]));
    for (const r of l.readings) {
      expect(r).toMatchObject({ quality: 'good', clockSynced: true, unit: r.sensor === 'n3-moisture' ? '%VWC' : '°C' });
      expect(Math.abs(r.ts - Date.now())).toBeLessThan(10_000);
    }
    // The battery sensor sends % although it declared a battery (V): every one rejected, counted.
    expect(l.readings.some((r) => r.sensor === 'n3-battery')).toBe(false);
    expect(l.bridge.stats().rejected['unit-mismatch']).toBe(5);
    const warned = l.lines.filter((x) => x.reason === 'unit-mismatch');
    expect(warned.length).toBe(1); // rate-limited: one line, not one per reading
    expect(warned[0]?.msg).toMatch(/sent %, expected V/);
    expect(l.changes[0]).toEqual({ kind: 'online', node: 3 });
    await until('a heartbeat', () => l.sim.of('sent').some((s) => s.type === 'heartbeat'));
    expect(l.bridge.stats()).toMatchObject({ deframer: { errors: 0 }, frames: { duplicates: 0, gaps: 0, restarts: 0 } });
  });

  it('a line full of noise: garbage between and inside frames; every good frame arrives, the bad ones are counted', async () => {
    const l = await line(['--nodes', '3', '--sensors', 'count:pulses', '--values', 'seq', '--interval', '60ms', '--count', '40', '--garbage', '0.4', '--inside', '0.15', '--seed', '7']);
    await until('all nodes done', () => l.sim.of('done').length === 3);
    await sleep(200);
    const sent = readingsSent(l.sim);
    const good = sent.filter((s) => s.fault === 'none' || s.fault === 'duplicate');
    const torn = sent.filter((s) => s.fault === 'inside');
    expect(torn.length).toBeGreaterThan(3);
    expect(l.sim.of('garbage').length).toBeGreaterThan(10);
    const arrived = keys(l.readings);
    // Nothing torn got through; nothing arrived twice; every good frame arrived unless it came
    // before its node's hello (a torn hello: rejected as no-hello until the DESCRIBE answer).
    for (const t of torn) expect(arrived).not.toContain(`${t.node}/${t.seq}`);
    expect(arrived.length).toBe(l.readings.length);
    const missing = keys(good).filter((k) => !arrived.includes(k));
    expect(missing.length).toBe(l.bridge.stats().rejected['no-hello']);
    for (const r of l.readings) expect(r.value).toBe(r.seq);
    const stats = l.bridge.stats();
    expect(stats.deframer.errors).toBeGreaterThanOrEqual(torn.length);
    expect(stats.deframer.garbageBytes).toBeGreaterThan(0);
    const logged = l.lines.filter((x) => /dropped a bad frame/.test(x.msg));
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThan(stats.deframer.errors); // rate-limited per kind
  });

  it('CRC errors are dropped and counted exactly', async () => {
    const l = await line(['--nodes', '2', '--sensors', 'count:pulses', '--values', 'seq', '--interval', '50ms', '--count', '40', '--crc', '0.25', '--seed', '3']);
    await until('all nodes done', () => l.sim.of('done').length === 2);
    await sleep(200);
    const crcFaults = l.sim.of('sent').filter((s) => s.fault === 'crc');
    expect(crcFaults.length).toBeGreaterThan(5);
    const stats = l.bridge.stats();
    expect(stats.deframer.crc).toBe(crcFaults.length);
    expect(stats.deframer.errors).toBe(crcFaults.length);
    const arrived = keys(l.readings);
    for (const f of crcFaults) expect(arrived).not.toContain(`${f.node}/${f.seq}`);
    const good = keys(readingsSent(l.sim).filter((s) => s.fault === 'none'));
    expect(good.filter((k) => !arrived.includes(k)).length).toBe(stats.rejected['no-hello']);
    // Lost frames show up as gaps in the seqs, once a later frame of the node arrives (a lost
    // first frame is no gap: nothing came before it).
    const all = l.sim.of('sent');
    const arrivedAround = (f: Sent, later: boolean): boolean => all.some((g) => g.node === f.node && g.fault !== 'crc' && (later ? g.seq > f.seq : g.seq < f.seq));
    const seen = (f: Sent): boolean => arrivedAround(f, false) && arrivedAround(f, true);
    expect(stats.frames.gaps).toBe(crcFaults.filter(seen).length);
  });

  it('duplicated frames are suppressed', async () => {
    const l = await line(['--nodes', '2', '--sensors', 'count:pulses', '--values', 'seq', '--interval', '50ms', '--count', '30', '--duplicate', '0.3', '--seed', '5']);
    await until('all nodes done', () => l.sim.of('done').length === 2);
    await sleep(200);
    const dups = l.sim.of('sent').filter((s) => s.fault === 'duplicate');
    expect(dups.length).toBeGreaterThan(5);
    expect(l.bridge.stats().frames.duplicates).toBe(dups.length);
    expect(keys(l.readings)).toEqual(keys(readingsSent(l.sim)));
    expect(l.readings).toHaveLength(60);
  });

  it('a node restart (seq reset) is taken as a new session, with or without its hello', async () => {
    const l = await line(['--nodes', '2', '--sensors', 'count:pulses', '--values', 'seq', '--interval', '60ms']);
    await until('some readings from both', () => [1, 2].every((n) => l.readings.filter((r) => r.node === n).length >= 5));
    l.sim.control('restart 1');
    l.sim.control('restart 2 nohello');
    await until('both restarted', () => l.changes.filter((c) => c.kind === 'restarted').length === 2);
    const restartedAt = l.readings.length;
    await until('readings of both after the restart', () => [1, 2].every((n) => l.readings.slice(restartedAt).some((r) => r.node === n)), 5000);
    // After a restart seqs start again from 0: low seqs are accepted, not taken for duplicates.
    for (const n of [1, 2]) {
      const after = l.readings.slice(restartedAt).filter((r) => r.node === n);
      expect(after[0]!.seq).toBeLessThan(10);
    }
    const stats = l.bridge.stats();
    expect(stats.frames.restarts).toBe(2);
    expect(stats.frames.duplicates).toBe(0);
    // Node 2's hello was lost: its readings were refused until the bridge asked (DESCRIBE) and it answered.
    expect(stats.rejected['no-hello']).toBeGreaterThan(0);
    const restart2 = l.sim.reports.findIndex((r) => r.ev === 'restart' && r.node === 2);
    expect(l.sim.reports.slice(restart2).some((r) => r.ev === 'sent' && r.node === 2 && r.type === 'hello')).toBe(true);
    expect(l.changes.filter((c) => c.kind === 'hello').map((c) => c.node)).toEqual(expect.arrayContaining([1, 2]));
  });

  it('unplug and replug at the same path: the bridge reopens and readings continue', async () => {
    const l = await line(['--sensors', 'count:pulses', '--values', 'seq', '--interval', '50ms']);
    await until('readings', () => l.readings.length >= 3);
    const ports: boolean[] = [];
    l.bridge.on('port', (open) => ports.push(open));
    await l.pair.unplug();
    await until('the bridge to see the port gone', () => !l.bridge.isOpen);
    await sleep(300); // a few failed reopen attempts while nothing is there
    const before = l.readings.length;
    await l.pair.replug();
    await until('readings after the replug', () => l.readings.length >= before + 5, 8000);
    const stats = l.bridge.stats();
    expect(stats.reconnects).toBe(1);
    expect(stats.openFailures).toBeGreaterThan(0);
    expect(ports).toEqual([false, true]);
    expect(l.sim.of('closed').length).toBe(1);
    expect(l.sim.of('open').length).toBe(2);
    // Same node, same boot: no restart, and nothing counted twice.
    expect(stats.frames).toMatchObject({ restarts: 0, duplicates: 0 });
    expect(l.lines.some((x) => /reopened/.test(x.msg))).toBe(true);
  });

  it('a command is acknowledged, and the node switches the relay off by itself when its time is up', async () => {
    const l = await line(['--relays', '2', '--max-on', '60', '--interval', '1s', '--heartbeat', '1']);
    await until('hello', () => l.bridge.node(1)?.hello !== undefined);
    const ack = await l.bridge.command(1, 1, true, 400);
    expect(ack).toMatchObject({ node: 1, relays: 0b10, attempts: 1 });
    // The node reports on its stdout, a different path from its ack: wait for the report.
    await until('the report', () => l.sim.of('command').length === 1);
    expect(l.sim.of('command')).toEqual([expect.objectContaining({ node: 1, outcome: 'executed', channel: 1, on: true, durationMs: 400, status: 'done' })]);
    await until('the node to switch it off', () => l.sim.of('relay').length === 1, 3000);
    expect(l.sim.of('relay')[0]).toEqual({ ev: 'relay', node: 1, channel: 1, on: false, reason: 'expired' });
    await until('a heartbeat saying so', () => l.bridge.node(1)?.relays === 0, 3000);
    // ON longer than the node allows is clamped to its max_on_s; a missing channel is refused.
    await expect(l.bridge.command(1, 0, true, 120_000)).resolves.toMatchObject({ relays: 1 });
    await until('the report', () => l.sim.of('command').length === 2);
    expect(l.sim.of('command').at(-1)).toMatchObject({ durationMs: 60_000, status: 'done' });
    await expect(l.bridge.command(1, 5, true, 1000)).rejects.toMatchObject({ details: { reason: 'node-refused', status: 'unknown-channel' } });
    await expect(l.bridge.command(1, 0, false)).resolves.toMatchObject({ relays: 0 });
  });

  it('a lost ack is retried with the same seq and the node does not act twice', async () => {
    const l = await line(['--relays', '1', '--drop-acks', '1', '--interval', '1s']);
    await until('hello', () => l.bridge.node(1)?.hello !== undefined);
    await expect(l.bridge.command(1, 0, true, 5000)).resolves.toMatchObject({ attempts: 2, relays: 1 });
    await until('the reports', () => l.sim.of('command').length === 2);
    expect(l.sim.of('command').map((c) => c.outcome)).toEqual(['executed', 'repeat']);
    const [a, b] = l.sim.of('command');
    expect(b?.seq).toBe(a?.seq);
    expect(l.bridge.stats().commands).toMatchObject({ sent: 1, retries: 1, acked: 1 });
  });

  it('a node that does not answer: the command times out after its retries', async () => {
    const l = await line(['--relays', '1', '--ignore-commands', '--interval', '1s', '--heartbeat', '1']);
    await until('online', () => l.bridge.node(1)?.online === true);
    await expect(l.bridge.command(1, 0, true, 5000)).rejects.toMatchObject({ code: 'PORT_UNAVAILABLE', details: { reason: 'node-timeout', attempts: 3 } });
    expect(l.bridge.stats().commands).toMatchObject({ sent: 1, retries: 2, timeouts: 1, acked: 0 });
    expect(l.sim.of('command')).toEqual([]);
  });

  it('a silent node goes offline, and online again when it speaks', async () => {
    const l = await line(['--interval', '100ms', '--heartbeat', '1'], { offlineAfter: () => 400, sweepEvery: 50 });
    await until('online', () => l.changes.some((c) => c.kind === 'online'));
    l.sim.control('pause');
    await until('offline', () => l.changes.some((c) => c.kind === 'offline'), 3000);
    l.sim.control('resume');
    await until('online again', () => l.changes.filter((c) => c.kind === 'online').length === 2, 3000);
    expect(l.changes.map((c) => c.kind).filter((k) => k !== 'hello')).toEqual(['online', 'offline', 'online']);
    expect(l.lines.some((x) => /node 1 offline/.test(x.msg))).toBe(true);
  });
});
