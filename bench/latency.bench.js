// End-to-end latency on loopback: from a reading committed at the edge (SqliteOutbox.flush()
// returns) to the edge holding the cloud's ack for its seq (the …/ack message arrives and the
// sync client hands it to outbox.acknowledge — i.e. the cloud has stored it: the ingest acks
// only after the store's transaction).
//
// BENCH_LATENCY_COMMITS (default 2000) single-reading commits at BENCH_LATENCY_RATE (default 20)
// per second, each flushed at once (the outbox's own commit timer is pushed out of the way, the
// "commitInterval 0" case), by edges side by side, into one cloud:
//
//   - pi-poll-1s: the sync client as the service runs it (pollPeriod 1 s: it looks for newly
//     committed rows once a second, or right after an ack — at 20 commits/s an ack nearly
//     always finds the next row, so the poll timer rarely matters);
//   - pi-poll-10ms: pollPeriod 10 ms, leaving mostly transport + ingest + store;
//   - pi-service: what the service does, for the same duration: 50 readings (one poll of 50
//     sensors) committed once a second, pollPeriod 1 s — each commit usually waits for the
//     sync client's next poll, as the ack of the previous one came long before.
//
// In normal operation the edge also commits only once a second (store.commitInterval 1 s), so a
// reading additionally waits up to 1 s (0.5 s on average) before this clock even starts: the
// figures say so in their unit ("+ ≤1 s commit").
//
// The edges (outboxes + SyncClients) run in a worker thread, the cloud (CloudApp: embedded aedes
// on a loopback port, ingest, SQLite store with synchronous=FULL in a temp dir) in this one.
// Both timestamps of a latency are taken in the worker (performance.now()).
import { rmSync } from 'node:fs';
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
// everyMs undefined: 1000 / BENCH_LATENCY_RATE, one reading a commit.
const EDGES = [
  { edge: 'pi-poll-1s', pollPeriod: 1000, label: '1 reading/commit at 20/s, pollPeriod 1 s (the service default)' },
  { edge: 'pi-poll-10ms', pollPeriod: 10, label: '1 reading/commit at 20/s, pollPeriod 10 ms (~transport + ingest + store)' },
  { edge: 'pi-service', pollPeriod: 1000, everyMs: 1000, perCommit: 50, label: 'service cadence: 50 readings/commit once a second, pollPeriod 1 s' },
];
const log = progress('latency');

// ---- the edges, in a worker thread ----------------------------------------------------------

async function edgesMain({ dir, url, secrets, commits, rate }) {
  const logger = benchLogger();
  const edges = EDGES.map((e, i) => {
    const outbox = new SqliteOutbox({ path: join(dir, `${e.edge}.sqlite`), clock: systemClock, log: logger.child({ edge: e.edge }), commitInterval: 3_600_000 });
    outbox.start();
    const pending = []; // [seq, committedAt], ascending seq
    const latencies = [];
    // The ack's arrival, as the sync client reports it to the outbox (before the outbox's own
    // write of the cursor).
    const acknowledge = outbox.acknowledge.bind(outbox);
    outbox.acknowledge = (seq) => {
      const now = performance.now();
      while (pending.length && pending[0][0] <= seq) latencies.push(now - pending.shift()[1]);
      acknowledge(seq);
    };
    const sync = new SyncClient({
      broker: { url, username: `${SITE}/${e.edge}`, password: secrets[i] },
      site: SITE,
      edge: e.edge,
      outbox,
      clock: systemClock,
      log: logger.child({ module: 'sync', edge: e.edge }),
      version: 'bench',
      pollPeriod: e.pollPeriod,
    });
    const everyMs = e.everyMs ?? 1000 / rate;
    return { ...e, everyMs, perCommit: e.perCommit ?? 1, count: Math.round((commits * 1000) / rate / everyMs), outbox, sync, pending, latencies, poller: villagePoller(i + 5), queue: [] };
  });
  for (const e of edges) e.sync.start();
  await waitFor('the edges to connect', () => edges.every((e) => e.sync.stats().connected), 20_000);
  await sleep(500);

  const commitOne = (e) => {
    if (e.queue.length < e.perCommit) e.queue.push(...e.poller.cycle(Date.now()));
    const now = Date.now();
    e.outbox.addReadings(e.queue.splice(0, e.perCommit).map((r) => ({ ...r, ts: now })));
    e.outbox.flush();
    e.pending.push([e.outbox.stats().lastSeq, performance.now()]);
  };
  // Each edge on its own schedule (no drift: due times from the start), staggered.
  const t0 = performance.now();
  await Promise.all(
    edges.map(async (e, i) => {
      for (let n = 0; n < e.count; n++) {
        const wait = t0 + (i * 1000) / rate / edges.length + n * e.everyMs - performance.now();
        if (wait > 0) await sleep(wait);
        commitOne(e);
        if (i === 0 && n > 0 && n % (rate * 20) === 0) parentPort.postMessage({ type: 'progress', msg: `${n} commits each; acked so far ${edges.map((x) => `${x.edge} ${x.latencies.length}`).join(', ')}` });
      }
    }),
  );
  await waitFor('the last acks', () => edges.every((e) => e.pending.length === 0), 30_000).catch(() => undefined);
  const out = edges.map((e) => ({ edge: e.edge, count: e.count, latencies: e.latencies, unacked: e.pending.length, resends: e.sync.stats().resends }));
  for (const e of edges) {
    await e.sync.stop();
    e.outbox.stop();
  }
  parentPort.postMessage({ type: 'done', edges: out, ms: performance.now() - t0 });
}

if (!isMainThread && workerData?.role === 'latency-edges') {
  edgesMain(workerData).catch((err) => parentPort.postMessage({ type: 'error', message: err.stack ?? String(err) }));
}

// ---- the benchmark --------------------------------------------------------------------------

export default async function latencyBench() {
  const commits = envInt('BENCH_LATENCY_COMMITS', 2000);
  const rate = envInt('BENCH_LATENCY_RATE', 20);
  const dir = tempDir('latency');
  let app;
  let worker;
  try {
    app = new CloudApp({ db: join(dir, 'cloud.sqlite'), log: benchLogger(), host: '127.0.0.1', mqttPort: 0 });
    await app.start();
    const secrets = [];
    for (const e of EDGES) secrets.push(await addEdge(app.store, SITE, e.edge, Date.now()));
    log(`${commits} single-reading commits at ${rate}/s (~${Math.round(commits / rate)} s) per fast edge, alongside one commit a second`);
    let failed;
    let done;
    worker = new Worker(new URL(import.meta.url), { workerData: { role: 'latency-edges', dir, url: `mqtt://127.0.0.1:${app.ports.mqtt}`, secrets, commits, rate } });
    worker.on('message', (m) => {
      if (m.type === 'progress') log(m.msg);
      else if (m.type === 'done') done = m;
      else if (m.type === 'error') failed ??= new Error(`edge worker: ${m.message}`);
    });
    worker.on('error', (err) => (failed ??= err));
    worker.on('exit', (code) => {
      if (!done) failed ??= new Error(`edge worker exited with code ${code}`);
    });
    await waitFor('the edges to finish', () => {
      if (failed) throw failed;
      return done;
    }, (commits / rate) * 1000 + 120_000, 200);

    const figures = [];
    for (const e of EDGES) {
      const r = done.edges.find((x) => x.edge === e.edge);
      if (r.unacked > 0) throw new Error(`${e.edge}: ${r.unacked} commits never acknowledged`);
      if (r.latencies.length !== r.count) throw new Error(`${e.edge}: ${r.latencies.length} latencies for ${r.count} commits`);
      const sorted = r.latencies.sort((a, b) => a - b);
      log(`${e.edge}: ${r.count} commits: p50 ${round(percentile(sorted, 50))} ms, p99 ${round(percentile(sorted, 99))} ms, max ${round(sorted.at(-1))} ms, min ${round(sorted[0])} ms; ${r.resends} resends`);
      const unit = 'ms + ≤1 s commit';
      for (const [name, v] of [['p50', percentile(sorted, 50)], ['p99', percentile(sorted, 99)], ['max', sorted.at(-1)]]) {
        figures.push({ bench: 'latency', metric: `commit → ack at the edge, ${e.label}, ${name}${name === 'p50' ? ` (${r.count} commits)` : ''}`, value: round(v), unit });
      }
    }
    return figures;
  } finally {
    if (worker) await worker.terminate().catch(() => undefined);
    if (app) await app.stop().catch((err) => log(`cloud stop failed: ${err.message}`));
    rmSync(dir, { recursive: true, force: true });
  }
}
