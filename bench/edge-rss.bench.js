// Edge memory under load: RSS of the real service (`village-edge run`, a child process) while
// it polls the demo village scaled to 200 sensors, every device at 1 s, for 10 minutes. The
// goal on a Pi is a peak RSS of at most 80 MB.
//
// The site config is generated from examples/demo-village.yaml: the demo's Modbus devices are
// copied hamlet by hamlet (h1-soil-1, h1-soil-2, ... h2-soil-1, ...) until their points plus
// the demo's GPIO inputs (kept once: a Pi has one float switch pin) make 200 sensor ids; the
// last device may read a subset of its profile (`points:`). The demo's named sensors are copied
// with each hamlet so every hamlet has its own fields and tank in the simulated village.
//
// The wire: every bus is `type: simulated`, i.e. modbus-serial talking real RTU frames to
// simulated slaves that answer after the time the frames take at the bus's baud rate. The
// copies of each demo bus are spread over as few lines as keep each line's wire time under
// LOAD_BUDGET of the 1 s interval (so every device really is read each second). Wire time of
// one exchange, as the simulated line and the bus queue spend it:
//   request 8 bytes + response 5 + 2n bytes, 10 bits a character (8N1)
//   + 2 x t3.5 (3.5 characters, 1.75 ms above 19200 baud)          (sim-line.ts)
//   + the bus queue's gap after the job (3.5 x 11 bits)               (poller.ts)
//   + OVERHEAD_MS for timers and the event loop.
// That it worked is checked, not assumed: the service's final status snapshot (status.json,
// written again on SIGTERM) gives per-device requests and skipped cycles and per-bus drops,
// and the outbox gives the readings committed.
//
// RSS is sampled from /proc/PID/status (VmRSS now, VmHWM the peak, RssFile/RssAnon the split)
// every SAMPLE_MS. Figures: RSS at the end and how much of it is file-backed (mostly the node
// binary's pages, a fixed cost) or anonymous (JS heap, malloc), the peak (against the 80 MB
// goal), RSS after warm-up and its growth after it (the least-squares slope of all samples,
// and of the per-minute minima: the V8 heap saws up and down between full collections, so the
// floor is the better leak signal), readings committed per second against the 200 expected.
//
// BENCH_RSS_SECONDS overrides the 600 s duration; BENCH_RSS_KEEP=1 keeps the temp dir (config,
// outbox, status.json and the service's log) and prints where it is.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GPIO_POINTS } from '../edge/dist/gpio/inputs.js';
import { planReads, resolvePoint } from '../edge/dist/modbus/registers.js';
import { findProfile } from '../edge/dist/profiles.js';

// The workspace root depends on neither; the edge package does.
const require = createRequire(new URL('../edge/package.json', import.meta.url));
const Database = require('better-sqlite3');
const YAML = require('yaml');

const CLI = fileURLToPath(new URL('../edge/dist/cli.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../examples/demo-village.yaml', import.meta.url));

const SENSORS = 200;
const INTERVAL = '1s';
const INTERVAL_MS = 1000;
const BAUD = 19200;
/** Share of each second a line may be busy: queueing stays short, every cycle fits. */
const LOAD_BUDGET = 0.35;
const OVERHEAD_MS = 2;
const GOAL_MB = 80;
const DURATION_S = Number(process.env.BENCH_RSS_SECONDS ?? 600);
const SAMPLE_MS = 5000;
const PROGRESS_MS = 60_000;
/** RSS "after warm-up": at 60 s, or half-way through a shorter run. */
const WARMUP_S = Math.min(60, DURATION_S / 2);
const STOP_TIMEOUT_MS = 20_000;

const log = (msg) => process.stderr.write(`[edge-rss] ${msg}\n`);
const mb = (kb) => Math.round((kb / 1024) * 10) / 10;
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

// ---- the site config ------------------------------------------------------------------------

function profilePoints(dev) {
  const profile = findProfile(dev.profile);
  if (!profile) throw new Error(`demo device ${dev.id}: unknown profile ${dev.profile}`);
  return dev.points ? profile.points.filter((p) => dev.points.includes(p.name)) : profile.points;
}

/** Wire time of one poll cycle of a device, ms (see the header). */
function cycleMs(dev) {
  const charMs = (10 * 1000) / BAUD;
  const simGap = BAUD > 19200 ? 1.75 : 3.5 * charMs;
  const queueGap = BAUD > 19200 ? 1.75 : (3.5 * 11 * 1000) / BAUD;
  return planReads(profilePoints(dev).map(resolvePoint), 4).reduce((t, r) => t + (8 + 5 + 2 * r.length) * charMs + 2 * simGap + queueGap + OVERHEAD_MS, 0);
}

function buildSite() {
  const demo = YAML.parse(readFileSync(DEMO, 'utf8'));
  const gpio = demo.devices.filter((d) => d.driver === 'gpio').map((d) => ({ ...d, interval: INTERVAL }));
  const gpioSensors = gpio.reduce((n, d) => n + GPIO_POINTS[d.mode].length, 0);
  const modbus = demo.devices.filter((d) => d.driver !== 'gpio');
  let left = SENSORS - gpioSensors;
  const devices = [];
  const sensors = [];
  for (let h = 1; left > 0; h++) {
    for (const d of modbus) {
      if (left === 0) break;
      const names = profilePoints(d).map((p) => p.name);
      const take = Math.min(left, names.length);
      const copy = { ...d, id: `h${h}-${d.id}`, interval: INTERVAL, demoBus: d.bus };
      if (take < names.length) copy.points = names.slice(0, take);
      left -= take;
      devices.push(copy);
      for (const s of demo.sensors ?? []) {
        const [dev, point] = s.source.split('/');
        if (dev !== d.id || (copy.points && !copy.points.includes(point))) continue;
        sensors.push({ ...s, id: `h${h}-${s.id}`, source: `${copy.id}/${point}`, name: `${s.name} (ấp ${h})`, ...(s.field ? { field: `h${h}-${s.field}` } : {}) });
      }
    }
  }
  // Spread the copies of each demo bus over as few lines of BAUD as keep each under the load
  // budget, each device onto the least busy line so far.
  const buses = [];
  const load = new Map();
  for (const demoBus of demo.buses) {
    const mine = devices.filter((x) => x.demoBus === demoBus.id);
    const cost = new Map(mine.map((d) => [d, cycleMs(d)]));
    const total = [...cost.values()].reduce((a, b) => a + b, 0);
    let lines;
    for (let n = Math.max(1, Math.ceil(total / (LOAD_BUDGET * INTERVAL_MS))); ; n++) {
      lines = Array.from({ length: n }, (_, i) => ({ id: `${demoBus.id}-${i + 1}`, ms: 0, devices: [] }));
      for (const d of mine) {
        const line = lines.reduce((a, b) => (b.ms < a.ms ? b : a));
        line.ms += cost.get(d);
        line.devices.push(d);
      }
      if (lines.every((l) => l.ms <= LOAD_BUDGET * INTERVAL_MS)) break;
    }
    for (const line of lines) {
      buses.push({ ...demoBus, id: line.id, baud: BAUD });
      load.set(line.id, line.ms / INTERVAL_MS);
      line.devices.forEach((d, i) => {
        d.bus = line.id;
        d.slave = i + 1;
        delete d.demoBus;
      });
    }
  }
  const site = {
    ...demo,
    site: { ...demo.site, id: 'my-hoa-x200', name: `${demo.site.name} ×${SENSORS}` },
    buses,
    devices: [...devices, ...gpio],
    sensors,
  };
  return { site, load, modbusDevices: devices.length, gpioDevices: gpio.length, gpioSensors };
}

// ---- the child ------------------------------------------------------------------------------

function readProcStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return undefined;
  }
}

function readSnapshot(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** NODE_OPTIONS from deploy/village-edge.service, so the bench measures what a Pi runs. */
function unitNodeOptions() {
  const unit = readFileSync(new URL('../deploy/village-edge.service', import.meta.url), 'utf8');
  return /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1]?.trim() ?? '';
}

export default async function () {
  if (!(DURATION_S >= 10)) throw new Error(`BENCH_RSS_SECONDS must be at least 10, got ${process.env.BENCH_RSS_SECONDS}`);
  const dir = mkdtempSync(join(tmpdir(), 'sv-bench-rss-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'site.yaml');
  const logFile = join(dir, 'edge.log');
  let child;
  let exited;
  const onSignal = (signal) => {
    child?.kill('SIGKILL');
    if (process.env.BENCH_RSS_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  try {
    const { site, load, modbusDevices, gpioDevices, gpioSensors } = buildSite();
    writeFileSync(configFile, `# generated by bench/edge-rss.bench.js from examples/demo-village.yaml\n${YAML.stringify(site, { aliasDuplicateObjects: false })}`);
    const check = spawnSync(process.execPath, [CLI, 'check-config', configFile], { encoding: 'utf8', timeout: 30_000 });
    if (check.status !== 0) throw new Error(`generated config does not check:\n${check.stdout}${check.stderr}`);
    const points = Number(/\((\d+) points\)/.exec(check.stdout)?.[1]);
    if (points + gpioSensors !== SENSORS) throw new Error(`generated config has ${points} Modbus points and ${gpioSensors} GPIO values, not ${SENSORS} sensors`);
    const maxLoad = Math.max(...load.values());
    log(check.stdout.trim());
    log(`buses: ${[...load].map(([id, l]) => `${id} ${Math.round(l * 100)}%`).join(', ')} of the wire at ${BAUD} baud (estimated)`);
    log(`running ${DURATION_S} s in ${dir}`);

    const logFd = openSync(logFile, 'w');
    const t0 = Date.now();
    try {
      // The service as deployed: the same NODE_OPTIONS as the systemd unit.
      child = spawn(process.execPath, [CLI, 'run', '--config', configFile, '--data-dir', dataDir], { stdio: ['ignore', logFd, logFd], env: { ...process.env, LOG_LEVEL: 'info', NODE_OPTIONS: unitNodeOptions() } });
    } finally {
      closeSync(logFd);
    }
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // Interrupting the benchmark must not leave the service running behind it.
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    let gone;
    void exited.then((e) => (gone = e));

    const samples = [];
    let nextProgress = PROGRESS_MS;
    for (let due = 0; due <= DURATION_S * 1000; due += SAMPLE_MS) {
      const wait = t0 + due - Date.now();
      if (wait > 0) await sleep(wait);
      if (gone) throw new Error(`edge exited early (code ${gone.code}, signal ${gone.signal}):\n${tail(logFile)}`);
      const s = readProcStatus(child.pid);
      if (!s) continue;
      samples.push({ t: (Date.now() - t0) / 1000, ...s });
      if (due >= nextProgress) {
        nextProgress += PROGRESS_MS;
        const snap = readSnapshot(dataDir);
        log(`${Math.round(samples.at(-1).t)} s: rss ${mb(s.rss)} MB (file ${mb(s.file)}, anon ${mb(s.anon)}), peak ${mb(s.hwm)} MB, ${snap?.outbox?.lastSeq ?? '?'} rows committed`);
      }
    }
    const runS = (Date.now() - t0) / 1000;
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited, sleep(STOP_TIMEOUT_MS).then(() => undefined)]);
    if (!stopped) throw new Error(`edge did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM:\n${tail(logFile)}`);
    if (stopped.code !== 0) throw new Error(`edge exited with code ${stopped.code} (signal ${stopped.signal}) after SIGTERM:\n${tail(logFile)}`);

    // What was committed, and whether every device was read every second.
    const db = new Database(join(dataDir, 'outbox.sqlite'), { readonly: true });
    const readings = db.prepare('SELECT count(*) AS n FROM readings').get().n;
    const bad = db.prepare('SELECT count(*) AS n FROM readings WHERE flags >> 1 = 3').get().n;
    const series = db.prepare('SELECT count(DISTINCT sensor) AS n FROM series').get().n;
    db.close();
    const snap = readSnapshot(dataDir);
    if (!snap) throw new Error('no status.json after stop');
    const upS = (snap.at - snap.startedAt) / 1000;
    const skipped = snap.devices.reduce((n, d) => n + d.skipped, 0);
    const failures = snap.devices.reduce((n, d) => n + d.failures, 0);
    const dropped = snap.buses.reduce((n, b) => n + b.dropped, 0);
    const slowest = Math.min(...snap.devices.map((d) => d.requests - d.failures)) / upS;
    const warnings = readFileSync(logFile, 'utf8').split('\n').filter((l) => /"level":(40|50|60)/.test(l)).length;
    log(`${readings} readings (${bad} errors) from ${series} sensors in ${round(upS)} s; cycles skipped ${skipped}, failed ${failures}, requests dropped ${dropped}; slowest device ${round(slowest, 2)} reads/s; ${warnings} warnings logged`);

    const last = samples.at(-1);
    const warm = samples.reduce((best, s) => (Math.abs(s.t - WARMUP_S) < Math.abs(best.t - WARMUP_S) ? s : best), samples[0]);
    const after = samples.filter((s) => s.t >= warm.t);
    // The V8 heap saws up between full collections; the lowest RSS of each minute is its floor,
    // and a floor that keeps rising is what a leak looks like.
    const floors = [];
    for (const s of after) {
      const minute = Math.floor((s.t - warm.t) / 60);
      if (!floors[minute] || s.rss / 1024 < floors[minute].y) floors[minute] = { x: s.t / 60, y: s.rss / 1024 };
    }
    const peak = Math.max(last.hwm, ...samples.map((s) => s.rss));
    const rate = readings / upS;
    const expected = SENSORS * (1000 / INTERVAL_MS);
    if (series < SENSORS) log(`only ${series} of ${SENSORS} sensors reported`);
    log(`rss MB every ${SAMPLE_MS / 1000} s: ${samples.map((s) => mb(s.rss)).join(' ')}`);
    const f = (metric, value, unit, extra = {}) => ({ bench: 'edge-rss', metric, value, unit, ...extra });
    return [
      f('sensors (Modbus points + GPIO values)', series, 'sensors', { peer: SENSORS }),
      f(`devices (${modbusDevices} Modbus on ${load.size} buses at ${BAUD} baud, ${gpioDevices} GPIO)`, modbusDevices + gpioDevices, 'devices'),
      f('busiest bus, estimated wire time', round(maxLoad * 100), '%'),
      f('duration', round(runS), 's'),
      f(`RSS after warm-up (${Math.round(warm.t)} s)`, mb(warm.rss), 'MB'),
      f('RSS at end', mb(last.rss), 'MB'),
      f('  of which file-backed (node binary, libraries)', mb(last.file), 'MB'),
      f('  of which anonymous (JS heap, malloc)', mb(last.anon), 'MB'),
      f('RSS growth after warm-up (least squares)', round(slope(after.map((s) => ({ x: s.t / 60, y: s.rss / 1024 }))), 2), 'MB/min'),
      f('RSS floor growth (minimum of each minute)', round(slope(floors.filter(Boolean)), 2), 'MB/min'),
      f('peak RSS (VmHWM)', mb(peak), 'MB', { peer: GOAL_MB, ratio: mb(peak) / GOAL_MB }),
      f('readings committed', round(rate), 'readings/s', { peer: expected, ratio: rate / expected }),
      f('readings with quality error', bad, 'readings'),
      f('poll cycles skipped + requests dropped', skipped + dropped, 'cycles'),
    ];
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(5000)]);
    }
    if (process.env.BENCH_RSS_KEEP === '1') log(`kept ${dir}`);
    else if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
