// Firmware bridge (firmware-bridge/): how fast the host decodes node frames, and how long a
// reading takes from a node's serial port to the edge's SQLite outbox.
//
// 1. Decode throughput, pure (no port): the Deframer (COBS + CRC-16 + payload + checks) over a
//    stream of READINGS frames of 2 values each (a soil probe node), as a gateway relaying 50
//    nodes sends them, 64-byte chunks as a USB serial port hands them over; peer: the same
//    stream with 10 % garbage between frames and 5 % torn frames.
// 2. Frame-to-outbox latency over a real socat pty pair: a node side (serialport on one end, in
//    this process) writes BENCH_FIRMWARE_FRAMES (default 2000) READINGS frames at
//    BENCH_FIRMWARE_RATE (default 200) per second; the edge side is FirmwareBridge (serialport,
//    deframer, sessions, unit checks) handing the readings to a SqliteOutbox in a temp dir.
//    Both timestamps are taken in this process (performance.now()): from the node's write() to
//    (a) the readings handed to the outbox, as the service runs it (buffered, the outbox's own
//    commit once a second; a reading then waits up to 1 s more to be durable), and, in a second
//    run, (b) committed: a flush (synchronous=FULL, one fsync) right after each frame.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Deframer, encodeFrame, FirmwareBridge, systemClock } from '../firmware-bridge/dist/index.js';
import { SqliteOutbox } from '../edge/dist/store/sqlite-outbox.js';
import { benchLogger, envInt, percentile, prng, progress, round, tempDir } from './lib/rig.js';

const { SerialPort } = createRequire(new URL('../firmware-bridge/package.json', import.meta.url))('serialport');
const log = progress('firmware');

const readingsFrame = (node, seq, value) => ({
  node,
  boot: 7,
  seq: seq & 0xffff,
  message: { type: 'readings', ageDs: 0, readings: [{ sensor: 0, unit: '%VWC', mantissa: value, exp: -1 }, { sensor: 1, unit: '°C', mantissa: 275 + (value % 20), exp: -1 }] },
});

function stream(frames, noisy, rand) {
  const parts = [];
  for (let i = 0; i < frames; i++) {
    if (noisy && rand() < 0.1) parts.push(Uint8Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * 256)));
    const wire = encodeFrame(readingsFrame(1 + (i % 50), Math.floor(i / 50), 300 + (i % 100)));
    if (noisy && rand() < 0.05) wire[2 + Math.floor(rand() * (wire.length - 4))] ^= 0x10;
    parts.push(wire);
  }
  return Buffer.concat(parts);
}

function decodeRate(buf, ms = 1500) {
  let frames = 0;
  let bytes = 0;
  const run = () => {
    const d = new Deframer();
    for (let at = 0; at < buf.length; at += 64) d.push(buf.subarray(at, at + 64));
    frames += d.stats().frames;
    bytes += buf.length;
  };
  run();
  frames = bytes = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    run();
    now = performance.now();
  }
  return { framesPerSecond: (frames * 1000) / (now - start), mbPerSecond: (bytes / 1e6) * (1000 / (now - start)) };
}

function ptyPair(dir) {
  const a = join(dir, 'edge');
  const b = join(dir, 'node');
  const child = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  return { a, b, child };
}

async function latency(flushEach) {
  const frames = envInt('BENCH_FIRMWARE_FRAMES', 2000);
  const rate = envInt('BENCH_FIRMWARE_RATE', 200);
  const dir = tempDir('firmware');
  const pair = ptyPair(dir);
  const logger = benchLogger();
  for (let i = 0; i < 100 && !(existsSync(pair.a) && existsSync(pair.b)); i++) await sleep(20);
  const outbox = new SqliteOutbox({ path: join(dir, 'outbox.sqlite'), clock: systemClock, log: logger, commitInterval: flushEach ? 3_600_000 : 1000 });
  outbox.start();
  const bridge = new FirmwareBridge({ id: 'bench', path: pair.a, clock: systemClock, log: logger });
  const sentAt = new Map();
  const latencies = [];
  bridge.on('readings', (readings, from) => {
    outbox.addReadings(readings);
    if (flushEach) outbox.flush();
    const t0 = sentAt.get(from.seq);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
  });
  await bridge.start();
  const node = new SerialPort({ path: pair.b, baudRate: 115200 });
  await new Promise((resolve, reject) => node.once('open', resolve).once('error', reject));
  const write = (bytes) => node.write(Buffer.from(bytes));
  // The node says hello first; its readings are rejected without it.
  write(encodeFrame({ node: 1, boot: 7, seq: 0, message: { type: 'hello', heartbeatS: 60, firmware: 'bench', sensors: [{ index: 0, quantity: 'soil-moisture', unit: '%VWC', name: 'moisture' }, { index: 1, quantity: 'soil-temperature', unit: '°C', name: 'temp' }], actuators: [] } }));
  await sleep(200);
  log(`latency (${flushEach ? 'flush per frame' : 'service commits'}): ${frames} frames at ${rate}/s over a pty pair`);
  const every = 1000 / rate;
  const start = performance.now();
  for (let i = 1; i <= frames; i++) {
    const due = start + i * every;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const wire = encodeFrame(readingsFrame(1, i, 300 + (i % 100)));
    sentAt.set(i & 0xffff, performance.now());
    write(wire);
  }
  for (let i = 0; i < 100 && latencies.length < frames; i++) await sleep(20);
  const stats = bridge.stats();
  node.close();
  await bridge.stop();
  outbox.stop();
  pair.child.kill();
  rmSync(dir, { recursive: true, force: true });
  if (latencies.length !== frames) throw new Error(`only ${latencies.length} of ${frames} frames arrived (${JSON.stringify(stats.deframer)})`);
  latencies.sort((x, y) => x - y);
  return { latencies, frames, rate };
}

export default async function firmwareBench() {
  const figures = [];
  const rand = prng(11);
  const clean = stream(5000, false, rand);
  const noisy = stream(5000, true, rand);
  const c = decodeRate(clean);
  const n = decodeRate(noisy);
  figures.push({ bench: 'firmware', metric: 'decode: Deframer over READINGS frames (2 values, 50 nodes), 64-byte chunks (peer: 10 % garbage, 5 % torn)', value: Math.round(c.framesPerSecond), unit: 'frames/s', peer: Math.round(n.framesPerSecond), ratio: c.framesPerSecond / n.framesPerSecond });
  figures.push({ bench: 'firmware', metric: 'decode: bytes through the Deframer, clean stream', value: round(c.mbPerSecond, 1), unit: 'MB/s' });
  const buffered = await latency(false);
  const label = `${buffered.frames} frames at ${buffered.rate}/s over a pty pair`;
  figures.push({ bench: 'firmware', metric: `frame written -> readings handed to the outbox (service: commit each 1 s), p50 (${label})`, value: round(percentile(buffered.latencies, 50), 3), unit: 'ms' });
  figures.push({ bench: 'firmware', metric: 'frame written -> readings handed to the outbox (service: commit each 1 s), p99', value: round(percentile(buffered.latencies, 99), 3), unit: 'ms' });
  const committed = await latency(true);
  figures.push({ bench: 'firmware', metric: 'frame written -> readings committed (flush per frame, synchronous=FULL), p50', value: round(percentile(committed.latencies, 50), 3), unit: 'ms' });
  figures.push({ bench: 'firmware', metric: 'frame written -> readings committed (flush per frame, synchronous=FULL), p99', value: round(percentile(committed.latencies, 99), 3), unit: 'ms' });
  return figures;
}
