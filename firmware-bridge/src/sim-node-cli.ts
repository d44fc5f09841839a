#!/usr/bin/env node
/**
 * sv-sim-node: simulated firmware node(s) on a serial port, for tests, benchmarks and trying
 * the edge without hardware (e.g. with `socat pty,raw,echo=0,link=/tmp/a pty,raw,echo=0,link=/tmp/b`).
 *
 *   sv-sim-node --port /tmp/b --nodes 50 --interval 2s
 *
 * stdout: one JSON line per frame sent, command carried out, relay switched off, ... (SimReport).
 * stdin: `restart <node> [nohello]`, `garbage <bytes>`, `pause`, `resume`, `exit`.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseDuration, QUANTITY_NAMES, type Quantity } from '@smart-village/shared';
import { silentLogger, systemClock, type BridgeLogger } from './clock.js';
import { SimLine, type SimNodeSpec, type SimSensorSpec } from './sim-node.js';

const USAGE = `usage: sv-sim-node --port PATH [options]
  --baud N             baud rate (default 115200)
  --nodes N            nodes on this line, a gateway relaying them (default 1)
  --first ID           id of the first node (default 1); the others follow
  --sensors LIST       name:quantity[:decimals],... (default moisture:soil-moisture,temperature:soil-temperature)
  --relays N           relay channels per node (default 1)
  --max-on S           longest ON a node accepts, s (default 3600)
  --interval D         readings interval per node (default 1s)
  --heartbeat S        heartbeat interval, s (default 10)
  --values walk|seq    plausible values, or seq + index/10 (default walk)
  --count N            readings frames per node, then only heartbeats
  --seed N             random seed (default 1)
  --garbage P          probability of garbage before a frame
  --inside P           probability of garbage inside a frame
  --crc P              probability of a bit error in a frame
  --duplicate P        probability of a frame sent twice
  --drop-acks N        acks lost per node before one gets through
  --ignore-commands    answer no command
  --wrong-unit NAME    send this sensor's readings in a wrong unit
  --log                log to stderr`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    port: { type: 'string' },
    baud: { type: 'string', default: '115200' },
    nodes: { type: 'string', default: '1' },
    first: { type: 'string', default: '1' },
    sensors: { type: 'string', default: 'moisture:soil-moisture,temperature:soil-temperature' },
    relays: { type: 'string', default: '1' },
    'max-on': { type: 'string', default: '3600' },
    interval: { type: 'string', default: '1s' },
    heartbeat: { type: 'string', default: '10' },
    values: { type: 'string', default: 'walk' },
    count: { type: 'string' },
    seed: { type: 'string', default: '1' },
    garbage: { type: 'string', default: '0' },
    inside: { type: 'string', default: '0' },
    crc: { type: 'string', default: '0' },
    duplicate: { type: 'string', default: '0' },
    'drop-acks': { type: 'string', default: '0' },
    'ignore-commands': { type: 'boolean', default: false },
    'wrong-unit': { type: 'string', multiple: true, default: [] },
    log: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (a.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!a.port) fail('--port is required');

const int = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer ${min}-${max}, got ${text}`);
  return n;
};
const prob = (name: string, text: string): number => {
  const p = Number(text);
  if (!(p >= 0 && p <= 1)) fail(`--${name} must be a probability 0-1, got ${text}`);
  return p;
};

const sensors: SimSensorSpec[] = a.sensors
  .split(',')
  .filter(Boolean)
  .map((item) => {
    const [name, quantity, decimals] = item.split(':');
    if (!name || !quantity || !(QUANTITY_NAMES as string[]).includes(quantity)) fail(`--sensors: "${item}" is not name:quantity (quantities: ${QUANTITY_NAMES.join(', ')})`);
    return { name, quantity: quantity as Quantity, ...(decimals !== undefined ? { decimals: int('sensors', decimals, 0, 6) } : {}), ...(a['wrong-unit'].includes(name) ? { wrongUnit: true } : {}) };
  });
const count = int('nodes', a.nodes, 1, 254);
const first = int('first', a.first, 1, 254);
if (first + count - 1 > 254) fail('node ids end at 254');
if (a.values !== 'walk' && a.values !== 'seq') fail('--values is walk or seq');
const interval = parseDuration(a.interval);
if (interval === undefined || interval < 1) fail(`--interval: "${a.interval}" is not a duration`);
const nodes: SimNodeSpec[] = Array.from({ length: count }, (_, i) => ({
  id: first + i,
  sensors,
  relays: int('relays', a.relays, 0, 8),
  heartbeatS: int('heartbeat', a.heartbeat, 1, 3600),
  maxOnS: int('max-on', a['max-on'], 1, 65535),
  firmware: 'sv-sim-node 1',
  values: a.values as 'walk' | 'seq',
}));

const stderrLog: BridgeLogger = {
  debug: () => {},
  info: (o, m) => process.stderr.write(`${JSON.stringify({ level: 'info', ...o, msg: m })}\n`),
  warn: (o, m) => process.stderr.write(`${JSON.stringify({ level: 'warn', ...o, msg: m })}\n`),
  error: (o, m) => process.stderr.write(`${JSON.stringify({ level: 'error', ...o, msg: m })}\n`),
};

const sim = new SimLine({
  path: a.port,
  baudRate: int('baud', a.baud, 50, 4_000_000),
  nodes,
  intervalMs: interval,
  ...(a.count !== undefined ? { count: int('count', a.count, 0, 1_000_000) } : {}),
  seed: int('seed', a.seed, 0, 2 ** 31),
  faults: {
    garbage: prob('garbage', a.garbage),
    inside: prob('inside', a.inside),
    crc: prob('crc', a.crc),
    duplicate: prob('duplicate', a.duplicate),
    dropAcks: int('drop-acks', a['drop-acks'], 0, 1000),
    ignoreCommands: a['ignore-commands'],
  },
  clock: systemClock,
  log: a.log ? stderrLog : silentLogger,
  report: (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
});

let stopping = false;
async function exit(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await sim.stop();
  process.exit(code);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg, extra] = line.trim().split(/\s+/);
  if (cmd === 'restart' && arg) sim.restart(Number(arg), extra !== 'nohello');
  else if (cmd === 'garbage' && arg) sim.garbage(Number(arg));
  else if (cmd === 'pause') sim.pause(true);
  else if (cmd === 'resume') sim.pause(false);
  else if (cmd === 'exit') void exit(0);
  else if (cmd) process.stderr.write(`unknown command: ${line}\n`);
});
process.on('SIGTERM', () => void exit(0));
process.on('SIGINT', () => void exit(0));

await sim.start();
process.stdout.write(`${JSON.stringify({ ev: 'ready', nodes: nodes.map((n) => n.id) })}\n`);
