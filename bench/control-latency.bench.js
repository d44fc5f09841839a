// Control latency on the system clock: how long from something control must act on to the
// output's set() call having completed.
//
//   - soil below start: a soil-moisture reading under the zone's start reaches
//     engine.onReadings → its valve is on (and, the other way, a reading at target → off);
//   - tank below minimum while its pump runs: the tank reading reaches onReadings → pump off;
//   - a command: engine.command(water) → the valve is on, engine.command(stop) → off.
//
// The engine is the service's ControlEngine with a demo-like site (three zones, an ET-scaled
// program, street lights by the sun: every pass does that work too) and an in-memory control
// store. The outputs are simulated (in-process): the figures leave out the driver's own write —
// a sysfs GPIO write, or one Modbus RTU exchange for a relay coil. Each sample starts with the
// engine idle. Goal: p99 ≤ 100 ms. BENCH_CONTROL_SAMPLES (default 1000) per kind.
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { systemClock } from '../edge/dist/clock.js';
import { parseConfigText } from '../edge/dist/config.js';
import { ControlEngine } from '../edge/dist/control/engine.js';
import { MemoryControlStore } from '../edge/dist/control/store.js';
import { createOutputs, openOutputs } from '../edge/dist/outputs/create.js';
import { benchLogger, envInt, percentile, progress, round } from './lib/rig.js';

// As the closed-loop test's village, with room for every zone at once (capacity 4: a program
// start during the run must not queue the measured zones) and the tank pump starting with its
// valve (pumpDelay 0: otherwise each tank sample waits 2 s for its pump to come on).
const CONFIG = `
version: 1
site: { id: my-hoa, name: My Hoa, timezone: Asia/Ho_Chi_Minh, lat: 10.03, lon: 105.78 }
edge: { id: pi-1, gpio: { driver: simulated } }
buses:
  - { id: rs485-1, type: simulated, timeout: 500ms }
devices:
  - { id: soil-1, bus: rs485-1, profile: soil-th-ec-rs485, slave: 1 }
  - { id: soil-3, bus: rs485-1, profile: soil-th-ec-rs485, slave: 3 }
  - { id: rain, bus: rs485-1, profile: rain-gauge-rs485, slave: 10 }
  - { id: tank, bus: rs485-1, profile: level-ultrasonic-dyp-a02, slave: 11, overrides: { level: { quantity: water-fill, scale: -0.05, offset: 100, max: 100 } } }
  - { id: weather, bus: rs485-1, profile: weather-station-rs485, slave: 12 }
sensors:
  - { id: ruong-1-do-am, source: soil-1/moisture, field: ruong-1 }
  - { id: ruong-3-do-am, source: soil-3/moisture, field: ruong-3 }
  - { id: bon-nuoc-muc, source: tank/level, field: bon-nuoc }
actuators:
  - { id: van-ruong-1, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: van-ruong-2, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: van-ruong-3, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: van-ruong-4, kind: valve, output: { driver: simulated }, maxRuntime: 45m }
  - { id: bom-kenh, kind: pump, output: { driver: simulated }, maxRuntime: 2h }
  - { id: bom-bon, kind: pump, output: { driver: simulated }, maxRuntime: 1h }
  - { id: den-duong-1, kind: light, output: { driver: simulated } }
  - { id: den-duong-2, kind: light, output: { driver: simulated } }
zones:
  - { id: ruong-1, valve: van-ruong-1, pump: bom-kenh, flowLpm: 150, moisture: { sensor: ruong-1-do-am, start: 28, target: 32, maxRun: 40m, minOff: 0s } }
  - { id: ruong-2, valve: van-ruong-2, pump: bom-bon, tank: bon-nuoc-muc, flowLpm: 40, pumpDelay: 0s }
  - { id: ruong-3, valve: van-ruong-3, pump: bom-kenh, flowLpm: 150, moisture: { sensor: ruong-3-do-am, start: 28, target: 32, maxRun: 40m, minOff: 30m } }
  - { id: ruong-4, valve: van-ruong-4, flowLpm: 150 }
programs:
  - { id: sang-chieu, days: daily, starts: ["05:30", "sunset-30m"], zones: [{ zone: ruong-4, duration: 15m }], etScaling: true }
irrigation:
  capacity: { zones: 4 }
  rain: { gaugeSensor: rain-rain-total, mm: 5, hours: 24 }
  et:
    sensors: { airTemperature: weather-temperature, relativeHumidity: weather-humidity, windSpeed: weather-wind-speed, solarRadiation: weather-solar, airPressure: weather-pressure }
  tank: { minPercent: 15, restartPercent: 25 }
lighting:
  - { id: den-duong, lights: [den-duong-1, den-duong-2], on: sunset+10m, off: sunrise-10m, offWindows: [["23:30", "04:30"]] }
`;

const log = progress('control-latency');
/** No single sample may take longer than this; the whole run no longer than DEADLINE_MS. */
const SAMPLE_TIMEOUT_MS = 5000;
const DEADLINE_MS = 180_000;

export default async function controlLatency() {
  const samples = envInt('BENCH_CONTROL_SAMPLES', 1000);
  const config = parseConfigText(CONFIG);
  const logger = benchLogger();
  const outputs = createOutputs(config.site.actuators, { busQueues: new Map(), clock: systemClock, log: logger });
  const failed = await openOutputs(outputs, logger);
  if (failed.size > 0) throw new Error(`outputs failed to open: ${[...failed.keys()].join(', ')}`);

  // The instant each set() call completes, handed to whoever waits for that output and state.
  const waiting = new Map();
  for (const output of outputs.values()) {
    const set = output.set.bind(output);
    output.set = async (on) => {
      await set(on);
      const done = performance.now();
      const key = `${output.id}:${on}`;
      waiting.get(key)?.(done);
      waiting.delete(key);
    };
  }
  const switched = (id, on) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not turn ${on ? 'on' : 'off'} within ${SAMPLE_TIMEOUT_MS} ms`)), SAMPLE_TIMEOUT_MS);
      waiting.set(`${id}:${on}`, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });

  let events = 0;
  const engine = new ControlEngine({
    config: config.site,
    clock: systemClock,
    log: logger.child({ module: 'control' }),
    outputs,
    store: new MemoryControlStore(),
    record: (e) => (events += e.length),
    clockSynced: () => true,
  });
  const reading = (sensor, value, unit) => ({ sensor, ts: Date.now(), value, unit, quality: 'good', clockSynced: true });
  const soil = (sensor, v) => reading(sensor, v, '%VWC');
  const tank = (v) => reading('bon-nuoc-muc', v, '%');
  let seq = 0;
  const command = (action) => ({ id: `bench-${++seq}`, ts: Date.now(), ttl: 60_000, by: 'bench', action });

  /** ms from act() to `id` turning `on`; starts and ends with the engine idle. */
  const measure = async (id, on, act) => {
    const done = switched(id, on);
    const t0 = performance.now();
    const [t1] = await Promise.all([done, act()]);
    await nextTurn();
    return t1 - t0;
  };

  const deadline = Date.now() + DEADLINE_MS;
  const results = { soilOn: [], soilOff: [], tankOff: [], commandOn: [], commandOff: [] };
  try {
    await engine.start();
    engine.onReadings([soil('ruong-1-do-am', 30), soil('ruong-3-do-am', 30), tank(80)]);
    await nextTurn();
    // Warm-up (JIT), not counted.
    for (let i = 0; i < 50; i++) {
      await measure('van-ruong-1', true, async () => engine.onReadings([soil('ruong-1-do-am', 27)]));
      await measure('van-ruong-1', false, async () => engine.onReadings([soil('ruong-1-do-am', 33)]));
    }

    log(`${samples} samples of each: soil below start, soil at target, tank low under a running pump, water and stop commands`);
    for (let i = 0; i < samples; i++) {
      if (Date.now() > deadline) throw new Error(`took longer than ${DEADLINE_MS / 1000} s (${i} of ${samples} rounds)`);
      results.soilOn.push(await measure('van-ruong-1', true, async () => engine.onReadings([soil('ruong-1-do-am', 27)])));
      results.soilOff.push(await measure('van-ruong-1', false, async () => engine.onReadings([soil('ruong-1-do-am', 33)])));

      // The tank pump runs a watering by command; the tank reading falls under the minimum.
      await measure('bom-bon', true, () => engine.command(command({ type: 'water', zone: 'ruong-2', duration: 600_000 })));
      results.tankOff.push(await measure('bom-bon', false, async () => engine.onReadings([tank(10)])));
      engine.onReadings([tank(30)]); // refilled above restartPercent: unlocked
      await nextTurn();

      results.commandOn.push(await measure('van-ruong-3', true, () => engine.command(command({ type: 'water', zone: 'ruong-3', duration: 600_000 }))));
      results.commandOff.push(await measure('van-ruong-3', false, () => engine.command(command({ type: 'stop', zone: 'ruong-3' }))));
    }
  } finally {
    await engine.stop();
  }

  const figures = [];
  const kinds = [
    ['soilOn', 'soil reading < start → valve on'],
    ['soilOff', 'soil reading ≥ target → valve off'],
    ['tankOff', 'tank reading < min → running pump off'],
    ['commandOn', 'command water → valve on'],
    ['commandOff', 'command stop → valve off'],
  ];
  for (const [key, label] of kinds) {
    const sorted = results[key].sort((a, b) => a - b);
    const p99 = percentile(sorted, 99);
    log(`${label}: n ${sorted.length}, p50 ${round(percentile(sorted, 50), 3)} ms, p99 ${round(p99, 3)} ms, max ${round(sorted.at(-1), 3)} ms${p99 <= 100 ? '' : ' — ABOVE the 100 ms goal'}`);
    figures.push(
      { bench: 'control-latency', metric: `${label}, p50 (n ${sorted.length})`, value: round(percentile(sorted, 50), 3), unit: 'ms' },
      { bench: 'control-latency', metric: `${label}, p99 (goal ≤ 100)`, value: round(p99, 3), unit: 'ms' },
      { bench: 'control-latency', metric: `${label}, max`, value: round(sorted.at(-1), 3), unit: 'ms' },
    );
  }
  log(`${events} control events recorded; outputs simulated (driver write time not included)`);
  return figures;
}
