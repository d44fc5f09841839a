// Edge to cloud through the real processes: `village-cloud run` (embedded broker, ingest,
// SQLite) and `village-edge run` (simulated RS-485 line, SQLite outbox, sync client), started
// from the built CLIs. Faults are real too: SIGKILL of the edge mid-sync, SIGKILL and restart of
// the cloud. Every test ends by comparing the edge outbox file with the cloud database.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, sleep, waitFor } from './helpers/net.js';
import { CLOUD_CLI, EDGE_CLI, killAll, runToEnd, spawnProc, type Proc } from './helpers/procs.js';
import { cloudSide, contiguousSeq, edgeSide } from './helpers/rows.js';

const SITE = 'e2e';
const EDGE = 'pi-1';

let dir: string;
let db: string;
let port: number;
let secret: string;
let cloud: Proc | undefined;

function edgeConfig(bytesPerSecond: number): string {
  const file = join(dir, `site-${bytesPerSecond}.yaml`);
  // Every device polls at the same moment every 2 s, so commits come in bursts with quiet time
  // between them in which the edge and the cloud can be seen in step.
  writeFileSync(
    file,
    `version: 1
site: { id: ${SITE}, name: E2E, timezone: Asia/Ho_Chi_Minh, lat: 10, lon: 105 }
edge: { id: ${EDGE}, gpio: { driver: simulated } }
buses:
  - { id: line, type: simulated, baud: 19200, timeout: 300ms }
devices:
  - { id: soil-1, bus: line, profile: soil-th-ec-rs485, slave: 1, interval: 2s, stagger: 0ms }
  - { id: soil-2, bus: line, profile: soil-th-ec-rs485, slave: 2, interval: 2s, stagger: 0ms }
  - { id: soil-3, bus: line, profile: soil-npk-7in1-rs485, slave: 3, interval: 2s, stagger: 0ms }
store: { commitInterval: 200ms }
cloud: { url: "mqtt://127.0.0.1:${port}", batchRows: 10, bytesPerSecond: ${bytesPerSecond} }
`,
  );
  return file;
}

async function startCloud(): Promise<Proc> {
  const p = spawnProc('cloud', [CLOUD_CLI, 'run', '--host', '127.0.0.1', '--mqtt-port', String(port), '--http-port', '0', '--db', db]);
  await p.waitForLine(/village cloud running/, 20_000);
  return p;
}

function startEdge(config: string): Proc {
  return spawnProc('edge', [EDGE_CLI, 'run', '--config', config, '--data-dir', join(dir, 'edge')], { VILLAGE_CLOUD_SECRET: secret });
}

const outboxPath = (): string => join(dir, 'edge', 'outbox.sqlite');

/**
 * Waits for a moment in which the edge has committed nothing the cloud has not acknowledged,
 * freezes the edge there (SIGSTOP) so nothing new is committed, and checks it is still so.
 */
async function freezeInStep(edge: Proc, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const e = edgeSide(outboxPath());
    const c = await contiguousSeq(db, SITE, EDGE);
    last = `edge last ${e.lastSeq} acked ${e.ackedSeq}, cloud contiguous ${c}`;
    if (e.lastSeq > 0 && e.lastSeq === e.ackedSeq && c === e.lastSeq) {
      edge.child.kill('SIGSTOP');
      await sleep(100);
      const again = edgeSide(outboxPath());
      if (again.lastSeq === again.ackedSeq && (await contiguousSeq(db, SITE, EDGE)) === again.lastSeq) return;
      edge.child.kill('SIGCONT');
    }
    await sleep(40);
  }
  throw new Error(`edge and cloud never in step within ${timeoutMs} ms (${last})`);
}

/** The exactly-once check: every committed outbox row is in the cloud once, nothing else is. */
async function expectExactlyOnce(): Promise<{ readings: number; lastSeq: number }> {
  const e = edgeSide(outboxPath());
  const c = await cloudSide(db, SITE, EDGE);
  expect(e.readings.length).toBeGreaterThan(0);
  // Primary key (site, edge, seq) in the cloud; equal lists of (seq, sensor, ts, value) means once each.
  expect(c.readings).toEqual(e.readings);
  expect(c.events).toEqual(e.events);
  expect(c.contiguousSeq).toBe(e.lastSeq);
  expect(e.ackedSeq).toBe(e.lastSeq);
  // Seqs 1..lastSeq, readings and events together, without a gap.
  const all = [...e.readings.map((r) => r.seq), ...e.events.map((r) => r.seq)].sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: e.lastSeq }, (_, i) => i + 1));
  return { readings: e.readings.length, lastSeq: e.lastSeq };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-e2e-proc-'));
  db = join(dir, 'cloud.sqlite');
  port = await freePort();
  const out = await runToEnd([CLOUD_CLI, 'edge', 'add', '--site', SITE, '--edge', EDGE, '--db', db]);
  const m = /secret:\s+(\S+)/.exec(out);
  if (!m?.[1]) throw new Error(`no secret in:\n${out}`);
  secret = m[1];
  cloud = await startCloud();
}, 40_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    // The processes' last words make a failed CI run readable.
    if (cloud) console.log(`cloud output:\n${cloud.output.slice(-30).join('\n')}`);
  }
});

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('edge and cloud as real processes', () => {
  it('stores every reading the edge committed exactly once and acks the last seq', async () => {
    const edge = startEdge(edgeConfig(0));
    try {
      await waitFor('60 rows stored in the cloud', async () => (await contiguousSeq(db, SITE, EDGE)) >= 60, 20_000, 100);
      await freezeInStep(edge, 15_000);
      const { readings } = await expectExactlyOnce();
      expect(readings).toBeGreaterThanOrEqual(50);
    } finally {
      await edge.kill('SIGKILL');
    }
  }, 60_000);

  it('loses and duplicates nothing through three kill -9 of the edge mid-sync and a cloud restart', async () => {
    // A byte budget keeps a backlog in flight, so each kill lands mid-sync.
    const config = edgeConfig(400);
    let edge = startEdge(config);
    const kills: { lastSeq: number; ackedSeq: number }[] = [];
    try {
      // The cloud goes away (SIGKILL) while the edge keeps reading; the backlog grows.
      await waitFor('edge connected and acked', () => edgeSide(outboxPath()).ackedSeq > 0, 20_000, 100);
      await cloud?.kill('SIGKILL');
      const before = edgeSide(outboxPath()).lastSeq;
      await waitFor('a backlog of 40 rows', () => edgeSide(outboxPath()).lastSeq >= before + 40, 15_000, 100);
      cloud = await startCloud();

      for (let i = 0; i < 3; i++) {
        // Mid-sync: the cloud has acked something of this backlog, and more is still unacked.
        const start = edgeSide(outboxPath()).ackedSeq;
        await waitFor(`sync moving (kill ${i + 1})`, () => {
          const e = edgeSide(outboxPath());
          return e.ackedSeq > start && e.lastSeq > e.ackedSeq + 5;
        }, 20_000, 20);
        await edge.kill('SIGKILL');
        const e = edgeSide(outboxPath());
        kills.push({ lastSeq: e.lastSeq, ackedSeq: e.ackedSeq });
        edge = startEdge(config);
      }
      expect(kills.every((k) => k.lastSeq > k.ackedSeq)).toBe(true);

      await freezeInStep(edge, 40_000);
      const { lastSeq } = await expectExactlyOnce();
      // Every kill was followed by more rows that made it across.
      expect(lastSeq).toBeGreaterThan(Math.max(...kills.map((k) => k.lastSeq)));
    } finally {
      await edge.kill('SIGKILL');
    }
  }, 100_000);
});
