// Wire codec: bytes per reading ON THE WIRE, codec batch vs one JSON message per reading, and
// encode/decode throughput.
//
// Data (the same for both sides): 50 sensors of the demo's kinds — 10 soil probes (moisture
// ~30 %VWC and temperature in 0.1 steps, EC in whole µS/cm), 2 NPK probes (pH 0.1, N/P/K
// mg/kg), tank (level cm 0.1, temperature), float switch, pump flow, weather station (wind,
// direction, humidity, temperature, pressure, illuminance, rain, solar). Each device is read
// once per cycle, its points sharing one ts, at a staggered offset with ±10 ms bus jitter;
// each value moves by one sensor step with probability 0.3 per read (slowly changing).
// Polled every 10 s, as the demo village polls, so a 1-minute batch is 300 readings.
// Also reported: the same 50 sensors polled once a minute (50 readings a batch), where the
// batch's sensor dictionary is paid for by fewer readings.
//
// MQTT cost per PUBLISH at QoS 1 (MQTT v3.1.1 §3.3, §3.4): fixed header 1 byte + remaining
// length varint (§2.2.3), topic length 2 bytes + topic, packet identifier 2 bytes, payload;
// plus the 4-byte PUBACK coming back. TCP/TLS framing is left out (it favours batching even more).
import { performance } from 'node:perf_hooks';
import { decodeTelemetry, encodeTelemetry } from '../shared/dist/index.js';

const TOPIC = 'sv/v1/my-hoa/pi-ruong-1/telemetry';
const T0 = Date.UTC(2025, 5, 1, 6, 0, 0);
const PUBACK = 4;

/** mulberry32, so every run measures the same readings. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fieldSensors() {
  const out = [];
  const add = (device, point, unit, decimals, value, step = 1 / 10 ** decimals) => out.push({ device, id: `${device}-${point}`, unit, decimals, step, value });
  for (let i = 1; i <= 10; i++) {
    add(`soil-${i}`, 'moisture', '%VWC', 1, 30 + i / 10);
    add(`soil-${i}`, 'temperature', '°C', 1, 27.5);
    add(`soil-${i}`, 'ec', 'µS/cm', 0, 850 + i * 7);
  }
  for (let i = 11; i <= 12; i++) {
    add(`soil-${i}`, 'ph', 'pH', 1, 6.5);
    add(`soil-${i}`, 'nitrogen', 'mg/kg', 0, 40);
    add(`soil-${i}`, 'phosphorus', 'mg/kg', 0, 20);
    add(`soil-${i}`, 'potassium', 'mg/kg', 0, 90);
  }
  add('tank', 'level', 'cm', 1, 152.3);
  add('tank', 'temperature', '°C', 1, 29.1);
  add('tank-float', 'state', 'state', 0, 1, 0);
  add('pump-flow', 'flow', 'L/min', 1, 0);
  add('weather', 'wind-speed', 'm/s', 1, 2.4);
  add('weather', 'wind-direction', '°', 0, 180);
  add('weather', 'humidity', '%RH', 1, 81.2);
  add('weather', 'temperature', '°C', 1, 31.4);
  add('weather', 'pressure', 'hPa', 0, 1008);
  add('weather', 'illuminance', 'lx', 0, 52_000, 100);
  add('weather', 'rain', 'mm', 1, 0, 0);
  add('weather', 'solar', 'W/m²', 0, 640, 5);
  return out;
}

function fieldBatch(minutes, everyMs, seed = 7) {
  const rand = prng(seed);
  const sensors = fieldSensors();
  const devices = [...new Set(sensors.map((s) => s.device))];
  const seqs = [];
  const readings = [];
  let seq = 1000;
  for (let t = 0; t < minutes * 60_000; t += everyMs) {
    devices.forEach((device, d) => {
      const ts = T0 + t + d * 120 + Math.round(rand() * 20 - 10);
      for (const s of sensors) {
        if (s.device !== device) continue;
        if (rand() < 0.3) s.value += rand() < 0.5 ? -s.step : s.step;
        const p = 10 ** s.decimals;
        seqs.push(seq++);
        readings.push({ sensor: s.id, ts, value: Math.round(s.value * p) / p, unit: s.unit, quality: 'good', clockSynced: true });
      }
    });
  }
  return { seqs, readings };
}

/** Bytes one QoS 1 PUBLISH of `payloadBytes` costs on the link, both directions. */
function mqttBytes(payloadBytes) {
  const remaining = 2 + Buffer.byteLength(TOPIC) + 2 + payloadBytes;
  let lengthBytes = 1;
  for (let r = remaining; r >= 128; r = Math.floor(r / 128)) lengthBytes++;
  return 1 + lengthBytes + remaining + PUBACK;
}

/** The JSON side: one message per reading, the reading itself as the payload. */
function jsonWireBytes(readings) {
  let total = 0;
  for (const r of readings) total += mqttBytes(Buffer.byteLength(JSON.stringify(r)));
  return total;
}

/** Runs `fn` for about `ms` after a warm-up; returns calls per second. */
function rate(fn, ms = 1000) {
  for (let i = 0; i < 20; i++) fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    fn();
    calls++;
    now = performance.now();
  }
  return (calls * 1000) / (now - start);
}

export default async function codecBench() {
  const figures = [];
  const sizes = [
    ['1-min batch, 50 sensors every 10 s', fieldBatch(1, 10_000)],
    ['1-min batch, 50 sensors every 60 s', fieldBatch(1, 60_000)],
    ['1-hour backlog, 50 sensors every 10 s', fieldBatch(60, 10_000)],
  ];
  for (const [label, batch] of sizes) {
    const n = batch.readings.length;
    const payload = encodeTelemetry(batch);
    const codecPerReading = mqttBytes(payload.length) / n;
    const jsonPerReading = jsonWireBytes(batch.readings) / n;
    figures.push({ bench: 'codec', metric: `${label} (${n} readings): payload only`, value: payload.length / n, unit: 'B/reading' });
    figures.push({ bench: 'codec', metric: `${label}: on the wire, codec vs JSON per reading`, value: codecPerReading, unit: 'B/reading', peer: jsonPerReading, ratio: jsonPerReading / codecPerReading });
  }

  for (const [label, batch] of [sizes[0], sizes[2]]) {
    const n = batch.readings.length;
    const payload = encodeTelemetry(batch);
    const enc = rate(() => encodeTelemetry(batch)) * n;
    const dec = rate(() => decodeTelemetry(payload)) * n;
    // The JSON peer: stringify/parse one message per reading (no validation, so it flatters JSON).
    const jsonEnc = rate(() => batch.readings.map((r) => Buffer.from(JSON.stringify(r)))) * n;
    const messages = batch.readings.map((r) => Buffer.from(JSON.stringify(r)));
    const jsonDec = rate(() => messages.map((m) => JSON.parse(m.toString('utf8')))) * n;
    figures.push({ bench: 'codec', metric: `encode throughput, ${label.split(',')[0]} (validated; peer: JSON.stringify)`, value: Math.round(enc), unit: 'readings/s', peer: Math.round(jsonEnc), ratio: enc / jsonEnc });
    figures.push({ bench: 'codec', metric: `decode throughput, ${label.split(',')[0]} (validated; peer: JSON.parse)`, value: Math.round(dec), unit: 'readings/s', peer: Math.round(jsonDec), ratio: dec / jsonDec });
  }
  return figures;
}
