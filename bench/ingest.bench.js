// Cloud ingest throughput: readings/s stored by one ingest, for each broker × store pair:
// embedded aedes or Mosquitto, SQLite or PostgreSQL.
//
// Load: BENCH_INGEST_EDGES (default 20) edges, each its own MQTT connection logged in as
// `{site}/{edge}` with the secret `addEdge` gave it, each publishing BENCH_INGEST_BATCHES
// (default 50) telemetry batches of BENCH_INGEST_ROWS (default 500, the sync client's
// batchRows) readings, seqs 1..k, pre-encoded once with encodeTelemetry (50 sensors polled every
// 10 s, bench/lib/rig.js), QoS 1, as fast as the acks allow: at most BENCH_INGEST_WINDOW
// (default 4, the sync client's window) batches unacknowledged per edge. Timed from the first
// publish to the moment every edge has an ack for its last seq; then every edge's
// contiguousSeq is checked in the store. 20 × 50 × 500 = 500,000 readings per combination.
//
// Where things run: the edges in a worker thread (own event loop); the ingest, the store client
// and (embedded case) aedes in this thread — one ingest worker, as `village-cloud run` or one
// `village-cloud ingest`. Mosquitto and PostgreSQL are their own processes on the same 2-core
// machine, so they compete with both threads for CPU.
//
// Stores: SQLite in a temp dir (WAL, synchronous=FULL: an fsync per message) on this machine's
// disk; PostgreSQL a private cluster (bench/lib/rig.js) with fsync=off, synchronous_commit=off,
// full_page_writes=off — PostgreSQL does not pay for durability here, SQLite does. Behind
// Mosquitto the ingest is `village-cloud ingest` in-process: CloudApp with `broker` set, logged
// in as `service-ingest` (Mosquitto's password file cannot hold `service:ingest`), ACL of
// docs/scale-out.md; shared subscription $share/ingest/….
//
// BENCH_INGEST_COMBOS: a comma list out of aedes+sqlite, aedes+pg, mosquitto+sqlite,
// mosquitto+pg (default all four, in that order; the ratio is against aedes+sqlite when run).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { addEdge, CloudApp } from '../cloud/dist/app.js';
import { newSecret } from '../cloud/dist/auth/secret.js';
import { openCloudStore } from '../cloud/dist/store/index.js';
import { encodeTelemetry } from '../shared/dist/index.js';
import { benchLogger, envInt, MOSQUITTO_INGEST_USER, progress, requireCloud, round, startMosquitto, startPostgres, tempDir, villagePoller, waitFor } from './lib/rig.js';

const SITE = 'bench-province';
const POLL_MS = 10_000;
const ALL_COMBOS = ['aedes+sqlite', 'aedes+pg', 'mosquitto+sqlite', 'mosquitto+pg'];
const log = progress('ingest');

// ---- the edges, in a worker thread ----------------------------------------------------------

async function edgesMain({ url, edges, payloads, lastSeqs, window }) {
  const mqtt = requireCloud('mqtt');
  const bodies = payloads.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  const last = lastSeqs.at(-1);
  const clients = [];
  let finished = 0;
  let t0 = 0;
  const state = [];
  try {
    // One at a time: the embedded broker admits 10 new connections a second per address
    // (burst 20); a connect refused by it would only add a reconnect period to the figure.
    for (const e of edges) {
      const client = await mqtt.connectAsync(url, { username: e.username, password: e.password, clientId: e.username, clean: true, reconnectPeriod: 0, protocolVersion: 4, keepalive: 60 });
      clients.push(client);
      const ackTopic = `sv/v1/${e.username}/ack`;
      const s = { topic: `sv/v1/${e.username}/telemetry`, next: 0, acked: 0, inFlight: 0, done: false, client };
      state.push(s);
      client.on('message', (t, payload) => {
        if (t !== ackTopic) return;
        const seq = JSON.parse(payload.toString('utf8')).seq;
        if (seq <= s.acked) return;
        s.acked = seq;
        // Batches the ack covers leave the window.
        s.inFlight = s.next - countUpTo(lastSeqs, seq);
        if (seq >= last && !s.done) {
          s.done = true;
          s.ms = performance.now() - t0;
          if (++finished === edges.length) parentPort.postMessage({ type: 'done', ms: s.ms, perEdgeMs: state.map((x) => x.ms) });
        }
        fill(s);
      });
      client.on('error', (err) => parentPort.postMessage({ type: 'error', message: `${e.username}: ${err.message}` }));
      client.on('close', () => {
        if (!s.done && t0) parentPort.postMessage({ type: 'error', message: `${e.username}: connection closed before its last ack (acked ${s.acked})` });
      });
      await client.subscribeAsync(ackTopic, { qos: 1 });
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: err.stack ?? String(err) });
    return;
  }
  function fill(s) {
    while (s.inFlight < window && s.next < bodies.length) {
      s.client.publish(s.topic, bodies[s.next], { qos: 1 });
      s.next++;
      s.inFlight++;
    }
  }
  parentPort.on('message', async (m) => {
    if (m.type === 'go') {
      t0 = performance.now();
      for (const s of state) fill(s);
    } else if (m.type === 'close') {
      for (const s of state) s.done = true;
      await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
      parentPort.postMessage({ type: 'closed' });
    } else if (m.type === 'progress') {
      parentPort.postMessage({ type: 'progress', acked: state.reduce((n, s) => n + s.acked, 0) });
    }
  });
  parentPort.postMessage({ type: 'ready' });
}

/** How many of the ascending `lastSeqs` are ≤ seq. */
function countUpTo(lastSeqs, seq) {
  let n = 0;
  while (n < lastSeqs.length && lastSeqs[n] <= seq) n++;
  return n;
}

if (!isMainThread && workerData?.role === 'ingest-edges') {
  edgesMain(workerData).catch((err) => parentPort.postMessage({ type: 'error', message: err.stack ?? String(err) }));
}

// ---- the benchmark --------------------------------------------------------------------------

function makeBatches(batches, rows) {
  const poller = villagePoller(3);
  const total = batches * rows;
  const cycles = Math.ceil(total / 50);
  const t0 = Date.now() - 3_600_000 - cycles * POLL_MS;
  const all = [];
  for (let c = 0; all.length < total; c++) all.push(...poller.cycle(t0 + c * POLL_MS));
  const payloads = [];
  const lastSeqs = [];
  for (let b = 0; b < batches; b++) {
    const seqs = Array.from({ length: rows }, (_, i) => b * rows + i + 1);
    payloads.push(encodeTelemetry({ seqs, readings: all.slice(b * rows, (b + 1) * rows) }));
    lastSeqs.push((b + 1) * rows);
  }
  return { payloads, lastSeqs };
}

async function runCombo(combo, { edges, batches, rows, window, payloads, lastSeqs, dir, pg }) {
  const [broker, storeKind] = combo.split('+');
  const db = storeKind === 'pg' ? await pg.database() : join(dir, `${combo.replace('+', '-')}.sqlite`);
  const logger = benchLogger();
  const names = Array.from({ length: edges }, (_, i) => `edge-${String(i + 1).padStart(2, '0')}`);
  let app;
  let mosquitto;
  let worker;
  try {
    // Register the edges first (scrypt hashes; not timed).
    const setup = openCloudStore(db, logger);
    await setup.init();
    const creds = [];
    for (const name of names) creds.push({ username: `${SITE}/${name}`, password: await addEdge(setup, SITE, name, Date.now()) });
    await setup.close();

    let url;
    if (broker === 'aedes') {
      app = new CloudApp({ db, log: logger, host: '127.0.0.1', mqttPort: 0 });
      await app.start();
      url = `mqtt://127.0.0.1:${app.ports.mqtt}`;
    } else {
      const ingestSecret = newSecret();
      mosquitto = await startMosquitto({ ...Object.fromEntries(creds.map((c) => [c.username, c.password])), [MOSQUITTO_INGEST_USER]: ingestSecret }, log);
      url = mosquitto.url;
      app = new CloudApp({ db, log: logger, broker: { url, username: MOSQUITTO_INGEST_USER, password: ingestSecret } });
      await app.start();
    }

    let failed;
    let ready = false;
    let done;
    let closed = false;
    let acked = 0;
    worker = new Worker(new URL(import.meta.url), { workerData: { role: 'ingest-edges', url, edges: creds, payloads, lastSeqs, window } });
    worker.on('message', (m) => {
      if (m.type === 'ready') ready = true;
      else if (m.type === 'done') done = m;
      else if (m.type === 'closed') closed = true;
      else if (m.type === 'progress') acked = m.acked;
      else if (m.type === 'error') failed ??= new Error(`edges: ${m.message}`);
    });
    worker.on('error', (err) => (failed ??= err));
    worker.on('exit', (code) => {
      if (!closed) failed ??= new Error(`edge worker exited with code ${code}`);
    });
    const check = () => {
      if (failed) throw failed;
    };
    await waitFor('the edges to connect', () => (check(), ready), 60_000);
    const total = edges * batches * rows;
    log(`${combo}: ${edges} edges connected to ${broker === 'aedes' ? 'aedes' : `Mosquitto ${mosquitto.version}`}; sending ${total.toLocaleString('en-US')} readings`);
    worker.postMessage({ type: 'go' });
    const t0 = performance.now();
    let lastAcked = 0;
    let lastMove = Date.now();
    let nextLog = t0 + 10_000;
    await waitFor('every edge to be acked up to its last seq', () => {
      check();
      if (done) return true;
      worker.postMessage({ type: 'progress' });
      if (acked > lastAcked) [lastAcked, lastMove] = [acked, Date.now()];
      if (Date.now() - lastMove > 60_000) throw new Error(`no ack moved for 60 s (acked ${acked} readings of ${total}); ingest ${JSON.stringify(app.ingest.stats())}`);
      if (performance.now() > nextLog) {
        nextLog += 10_000;
        log(`${combo}: ${Math.round((performance.now() - t0) / 1000)} s, ${acked.toLocaleString('en-US')} readings acked`);
      }
      return false;
    }, 15 * 60_000, 100);
    const rate = total / (done.ms / 1000);
    const stats = app.ingest.stats();
    for (const name of names) {
      const e = await app.store.getEdge({ site: SITE, edge: name });
      if (e.contiguousSeq !== batches * rows) throw new Error(`${combo}: ${name} contiguousSeq ${e.contiguousSeq}, expected ${batches * rows}`);
    }
    if (stats.readings !== total || stats.quarantined !== 0 || stats.errors !== 0) throw new Error(`${combo}: ingest stats ${JSON.stringify(stats)}; expected ${total} readings, nothing quarantined or failed`);
    const slowest = Math.max(...done.perEdgeMs);
    const fastest = Math.min(...done.perEdgeMs);
    log(`${combo}: ${Math.round(rate).toLocaleString('en-US')} readings/s (${round(done.ms / 1000, 2)} s; edges finished between ${round(fastest / 1000, 2)} and ${round(slowest / 1000, 2)} s); ingest ${JSON.stringify(stats)}`);
    worker.postMessage({ type: 'close' });
    await waitFor('the edges to disconnect', () => closed || failed, 10_000).catch(() => undefined);
    return { rate, ms: done.ms, total };
  } finally {
    if (worker) await worker.terminate().catch(() => undefined);
    if (app) await app.stop().catch((err) => log(`${combo}: cloud stop failed: ${err.message}`));
    if (mosquitto) await mosquitto.stop();
  }
}

export default async function ingestBench() {
  const edges = envInt('BENCH_INGEST_EDGES', 20);
  const batches = envInt('BENCH_INGEST_BATCHES', 50);
  const rows = envInt('BENCH_INGEST_ROWS', 500);
  const window = envInt('BENCH_INGEST_WINDOW', 4);
  const combos = (process.env.BENCH_INGEST_COMBOS ?? ALL_COMBOS.join(',')).split(',').map((c) => c.trim()).filter(Boolean);
  const unknown = combos.filter((c) => !ALL_COMBOS.includes(c));
  if (unknown.length) throw new Error(`BENCH_INGEST_COMBOS: unknown ${unknown.join(', ')} (have ${ALL_COMBOS.join(', ')})`);
  const dir = tempDir('ingest');
  let pg;
  try {
    const { payloads, lastSeqs } = makeBatches(batches, rows);
    const bytes = payloads.reduce((n, p) => n + p.length, 0);
    log(`${batches} batches of ${rows} readings, ${round(bytes / (batches * rows), 2)} B/reading payload, per edge; window ${window}`);
    if (combos.some((c) => c.endsWith('+pg'))) {
      pg = await startPostgres(log);
      log(`PostgreSQL ${pg.version} started (fsync=off)`);
    }
    const results = new Map();
    for (const combo of combos) results.set(combo, await runCombo(combo, { edges, batches, rows, window, payloads, lastSeqs, dir, pg }));
    const base = results.get('aedes+sqlite');
    const label = { 'aedes+sqlite': 'aedes + SQLite (synchronous=FULL)', 'aedes+pg': 'aedes + PostgreSQL (fsync=off)', 'mosquitto+sqlite': 'Mosquitto + SQLite (synchronous=FULL)', 'mosquitto+pg': 'Mosquitto + PostgreSQL (fsync=off)' };
    return [...results].map(([combo, r]) => ({
      bench: 'ingest',
      metric: `${label[combo]}: ${edges} edges × ${(batches * rows).toLocaleString('en-US')} readings, ${rows}/msg, window ${window}${base && combo !== 'aedes+sqlite' ? ' (peer: aedes + SQLite)' : ''}`,
      value: Math.round(r.rate),
      unit: 'readings/s',
      ...(base && combo !== 'aedes+sqlite' ? { peer: Math.round(base.rate), ratio: r.rate / base.rate } : {}),
    }));
  } finally {
    if (pg) await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
