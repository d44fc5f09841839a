// Backlog drain: an edge that was offline for days comes back with BENCH_DRAIN_READINGS
// (default 1,000,000) readings in its outbox and sends them to the cloud. How fast does the
// backlog drain, and does the live …/state snapshot stay fresh meanwhile?
//
// The outbox file is filled first, directly (SqliteOutbox.addReadings + flush, 5,000 readings a
// commit): the 50 sensors of bench/lib/rig.js polled every 10 s, timed so the backlog ends a
// minute ago (1,000,000 readings = 20,000 poll cycles = 2.3 days offline).
//
// The drain: the edge (outbox + SyncClient, as edge/src/app.ts builds them, with the service's
// defaults: 500 rows a message, window 4, poll 1 s) runs in a worker thread — its own event
// loop, as on its own Pi — and keeps polling its 50 sensors every second while it drains
// (so the latest values change and the state snapshot has something new each second); its
// statePeriod is 1 s. The cloud is a CloudApp in this thread: embedded aedes on a loopback TCP
// port, the embedded ingest, the SQLite store (synchronous=FULL) in a temp dir on the same disk.
//
// Done when the cloud's contiguousSeq and the outbox's ackedSeq both reach the backlog's last
// seq; the figure is backlog readings / wall time from the edge's start (connect included).
// Then the live polling stops and the test waits until cloud and edge agree on the final last
// seq, and checks the cloud holds every seq 1..last exactly once.
//
// State age: the observer subscribes to sv/v1/+/+/state on the embedded ingest's own MQTT
// session (a service:ingest login; the broker's ACL allows it the up channels — the embedded
// service secret lives only inside CloudApp, so this reuses its connection). Age = arrival time
// − the snapshot's `ts` (the edge's clock when it published), for every snapshot received while
// the backlog drained. Both threads read the same system clock.
//
// Env: BENCH_DRAIN_READINGS (default 1000000), BENCH_DRAIN_STALL_S (fail when the cloud makes no
// progress for this long, default 60).
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { addEdge, CloudApp } from '../cloud/dist/app.js';
import { systemClock } from '../edge/dist/clock.js';
import { SqliteOutbox } from '../edge/dist/store/sqlite-outbox.js';
import { SyncClient } from '../edge/dist/sync/client.js';
import { benchLogger, envInt, percentile, progress, round, tempDir, villagePoller, waitFor } from './lib/rig.js';

const SITE = 'my-hoa';
const EDGE = 'pi-ruong-1';
const POLL_MS = 10_000;
const COMMIT_EVERY = 5000;
const LIVE_MS = 1000;
const STATE_PERIOD = 1000;
const log = progress('sync-drain');

// ---- the edge, in a worker thread -----------------------------------------------------------

async function edgeMain({ outboxPath, url, password }) {
  const logger = benchLogger();
  const outbox = new SqliteOutbox({ path: outboxPath, clock: systemClock, log: logger.child({ module: 'outbox' }) });
  outbox.start();
  const sync = new SyncClient({
    broker: { url, username: `${SITE}/${EDGE}`, password },
    site: SITE,
    edge: EDGE,
    outbox,
    clock: systemClock,
    log: logger.child({ module: 'sync' }),
    version: 'bench',
    statePeriod: STATE_PERIOD,
  });
  const poller = villagePoller(2);
  let live = setInterval(() => outbox.addReadings(poller.cycle(Date.now() - 900)), LIVE_MS);
  const report = () => {
    const s = sync.stats();
    const o = outbox.stats();
    parentPort.postMessage({ type: 'stats', lastSeq: o.lastSeq, ackedSeq: o.ackedSeq, depth: o.depth, sentUpTo: s.sentUpTo, messages: s.messages, bytes: s.bytes, resends: s.resends, connected: s.connected });
  };
  const reporter = setInterval(report, 200);
  sync.start();
  parentPort.on('message', async (m) => {
    if (m.type !== 'stop') return;
    try {
      clearInterval(live);
      live = undefined;
      outbox.flush();
      const last = outbox.stats().lastSeq;
      const until = Date.now() + 30_000;
      while (outbox.stats().ackedSeq < last && Date.now() < until) await sleep(50);
      report();
      clearInterval(reporter);
      await sync.stop();
      outbox.stop();
      parentPort.postMessage({ type: 'stopped', lastSeq: last, ackedSeq: outbox.stats().ackedSeq });
    } catch (err) {
      parentPort.postMessage({ type: 'error', message: err.stack ?? String(err) });
    }
  });
}

if (!isMainThread && workerData?.role === 'sync-drain-edge') {
  edgeMain(workerData).catch((err) => parentPort.postMessage({ type: 'error', message: err.stack ?? String(err) }));
}

// ---- the benchmark --------------------------------------------------------------------------

function fillOutbox(path, readings) {
  const outbox = new SqliteOutbox({ path, clock: systemClock, log: benchLogger(), commitInterval: 3_600_000, maxBuffered: COMMIT_EVERY * 4 });
  outbox.start();
  const poller = villagePoller(1);
  const cycles = Math.ceil(readings / 50);
  const t0 = Date.now() - 60_000 - cycles * POLL_MS;
  const start = performance.now();
  let added = 0;
  let nextLog = start + 5000;
  for (let c = 0; added < readings; c++) {
    const batch = poller.cycle(t0 + c * POLL_MS).slice(0, readings - added);
    outbox.addReadings(batch);
    added += batch.length;
    if (added % COMMIT_EVERY === 0) outbox.flush();
    if (performance.now() > nextLog) {
      nextLog += 5000;
      log(`filling the outbox: ${added.toLocaleString('en-US')} readings`);
    }
  }
  outbox.flush();
  const { lastSeq, bytes } = outbox.stats();
  outbox.stop();
  if (lastSeq !== readings) throw new Error(`outbox committed ${lastSeq} of ${readings} readings`);
  return { lastSeq, ms: performance.now() - start, bytes, hours: (cycles * POLL_MS) / 3_600_000 };
}

export default async function syncDrainBench() {
  const readings = envInt('BENCH_DRAIN_READINGS', 1_000_000);
  const stallMs = envInt('BENCH_DRAIN_STALL_S', 60) * 1000;
  const dir = tempDir('drain');
  const outboxPath = join(dir, 'outbox.sqlite');
  let app;
  let worker;
  try {
    const fill = fillOutbox(outboxPath, readings);
    const backlog = fill.lastSeq;
    log(`outbox: ${backlog.toLocaleString('en-US')} readings (${round(fill.hours)} h of 50 sensors every 10 s) in ${round(fill.ms / 1000)} s, ${round(fill.bytes / 2 ** 20)} MiB`);

    app = new CloudApp({ db: join(dir, 'cloud.sqlite'), log: benchLogger(), host: '127.0.0.1', mqttPort: 0 });
    await app.start();
    const password = await addEdge(app.store, SITE, EDGE, Date.now());

    // The observer, on the ingest's own service:ingest session (see the header).
    const ingestClient = app.client;
    if (!ingestClient?.subscribeAsync) throw new Error('CloudApp no longer exposes its ingest MQTT client (app.client); the state observer needs another login');
    const ages = [];
    let draining = true;
    ingestClient.on('message', (t, payload, packet) => {
      if (!t.endsWith('/state') || packet.retain || !draining) return;
      const ts = JSON.parse(payload.toString('utf8')).ts;
      ages.push(Date.now() - ts);
    });
    await ingestClient.subscribeAsync(`sv/v1/${SITE}/+/state`, { qos: 1 });

    let stats;
    let failed;
    let stopped;
    const t0 = performance.now();
    worker = new Worker(new URL(import.meta.url), { workerData: { role: 'sync-drain-edge', outboxPath, url: `mqtt://127.0.0.1:${app.ports.mqtt}`, password } });
    worker.on('message', (m) => {
      if (m.type === 'stats') stats = m;
      else if (m.type === 'error') failed = new Error(`edge worker: ${m.message}`);
      else if (m.type === 'stopped') stopped = m;
    });
    worker.on('error', (err) => (failed = err));
    worker.on('exit', (code) => {
      if (!stopped) failed ??= new Error(`edge worker exited with code ${code}`);
    });

    // Drain until cloud and edge both have the backlog's last seq.
    let cloudSeq = 0;
    let lastMove = Date.now();
    let nextLog = performance.now() + 10_000;
    for (;;) {
      if (failed) throw failed;
      const edge = await app.store.getEdge({ site: SITE, edge: EDGE });
      if (edge.contiguousSeq > cloudSeq) [cloudSeq, lastMove] = [edge.contiguousSeq, Date.now()];
      if (cloudSeq >= backlog && (stats?.ackedSeq ?? 0) >= backlog) break;
      if (Date.now() - lastMove > stallMs) throw new Error(`no progress for ${stallMs / 1000} s: cloud contiguousSeq ${cloudSeq}, edge ${JSON.stringify(stats)}`);
      if (performance.now() > nextLog) {
        nextLog += 10_000;
        const s = (performance.now() - t0) / 1000;
        log(`${Math.round(s)} s: cloud has ${cloudSeq.toLocaleString('en-US')} / ${backlog.toLocaleString('en-US')} (${Math.round(cloudSeq / s)} readings/s), edge acked ${stats?.ackedSeq}, state snapshots ${ages.length} (max age ${ages.length ? Math.max(...ages) : '-'} ms)`);
      }
      await sleep(100);
    }
    const wallMs = performance.now() - t0;
    draining = false;
    const atDrain = { ...stats };
    const ingestStats = app.ingest.stats();
    log(`backlog drained in ${round(wallMs / 1000)} s; ${atDrain.messages} messages, ${atDrain.resends} resends; ingest ${JSON.stringify(ingestStats)}`);

    // Stop the live polling and let everything settle; then check exactly-once.
    worker.postMessage({ type: 'stop' });
    await waitFor('the edge to stop', () => {
      if (failed) throw failed;
      return stopped;
    }, 60_000);
    if (stopped.ackedSeq !== stopped.lastSeq) throw new Error(`edge stopped with acked ${stopped.ackedSeq} < last ${stopped.lastSeq}`);
    const finalEdge = await app.store.getEdge({ site: SITE, edge: EDGE });
    if (finalEdge.contiguousSeq !== stopped.lastSeq) throw new Error(`cloud contiguousSeq ${finalEdge.contiguousSeq} != edge last seq ${stopped.lastSeq}`);
    await app.stop();
    app = undefined;
    const Database = createRequire(new URL('../cloud/package.json', import.meta.url))('better-sqlite3');
    const db = new Database(join(dir, 'cloud.sqlite'), { readonly: true });
    const row = db.prepare('SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM readings WHERE site = ? AND edge = ?').get(SITE, EDGE);
    db.close();
    if (row.n !== stopped.lastSeq || row.lo !== 1 || row.hi !== stopped.lastSeq) throw new Error(`cloud holds ${row.n} readings, seqs ${row.lo}..${row.hi}; expected exactly 1..${stopped.lastSeq}`);
    log(`exactly once: cloud holds seqs 1..${row.hi} (${row.n} rows; ${row.n - backlog} of them polled live during the drain)`);

    const sorted = [...ages].sort((a, b) => a - b);
    const rate = backlog / (wallMs / 1000);
    const figures = [
      { bench: 'sync-drain', metric: `drain ${backlog.toLocaleString('en-US')} buffered readings, edge → aedes → SQLite (500 rows/msg, window 4)`, value: Math.round(rate), unit: 'readings/s' },
      { bench: 'sync-drain', metric: 'drain wall time (connect to last ack)', value: round(wallMs / 1000), unit: 's' },
      { bench: 'sync-drain', metric: 'payload on the wire during the drain', value: round(atDrain.bytes / atDrain.sentUpTo, 2), unit: 'B/reading' },
      { bench: 'sync-drain', metric: `live state snapshot age while draining, max (${ages.length} snapshots, statePeriod 1 s)`, value: sorted.length ? sorted.at(-1) : NaN, unit: 'ms' },
      { bench: 'sync-drain', metric: 'live state snapshot age while draining, p99', value: percentile(sorted, 99), unit: 'ms' },
      { bench: 'sync-drain', metric: 'live state snapshot age while draining, p50', value: percentile(sorted, 50), unit: 'ms' },
    ];
    if (ages.length < (wallMs / STATE_PERIOD) * 0.8) log(`note: only ${ages.length} state snapshots in ${round(wallMs / 1000)} s (expected about one a second)`);
    return figures;
  } finally {
    if (worker) await worker.terminate().catch(() => undefined);
    if (app) await app.stop().catch((err) => log(`cloud stop failed: ${err.message}`));
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
