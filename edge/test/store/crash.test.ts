import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { SqliteOutbox } from '../../src/store/sqlite-outbox.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/store-writer.mjs', import.meta.url));
const COMPILED = fileURLToPath(new URL('../../dist/store/sqlite-outbox.js', import.meta.url));
const ROUNDS = 5;

interface Round {
  /** lastSeq the restarted child found in the file. */
  start: number;
  /** Ranges the child said were committed before it was killed. */
  committed: [number, number][];
}

/**
 * Runs the writer until it has reported `commits` flushes, then kills it with SIGKILL. Only
 * complete lines count: a line cut by the kill proves nothing.
 */
function runAndKill(path: string, commits: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const round: Round = { start: -1, committed: [] };
    let pending = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [what, a, b] = line.split(' ');
        if (what === 'start') round.start = Number(a);
        else if (what === 'committed') round.committed.push([Number(a), Number(b)]);
      }
      if (!killed && round.committed.length >= commits) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(round);
      else reject(new Error(`writer exited on its own (code ${code}): ${stderr}`));
    });
  });
}

function inspect(path: string): { integrity: string; seqs: number[]; metaLast: number } {
  // Read-only, so the next round recovers from the crash itself rather than from our checkpoint.
  const db = new Database(path, { readonly: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }) as string,
      seqs: db.prepare('SELECT seq FROM readings UNION ALL SELECT seq FROM events ORDER BY seq').pluck().all() as number[],
      metaLast: db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

describe('SqliteOutbox under kill -9', () => {
  let dir: string;

  beforeAll(() => {
    if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: build first with \`npx tsc -b\``);
    dir = mkdtempSync(join(tmpdir(), 'sv-outbox-crash-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing committed, corrupts nothing and leaves no gap in the sequence', async () => {
    const path = join(dir, 'outbox.sqlite');
    let lastCommitted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A different number of flushes each round, so the kill lands at different points.
      const { start, committed } = await runAndKill(path, 3 + round * 4);
      // The restarted writer continues exactly where the file left off...
      expect(start).toBe(lastCommitted);
      // ...and its first flush continues the sequence from there.
      expect(committed[0]?.[0]).toBe(lastCommitted + 1);

      const { integrity, seqs, metaLast } = inspect(path);
      expect(integrity).toBe('ok');
      const n = seqs.length;
      // 1..N contiguous: strictly increasing, no gap, nothing lost at the front.
      expect(seqs[0]).toBe(1);
      expect(seqs[n - 1]).toBe(n);
      expect(seqs.every((s, i) => s === i + 1)).toBe(true);
      expect(metaLast).toBe(n);
      // Every range the writer reported as committed is there.
      for (const [from, to] of committed) {
        expect(from).toBeGreaterThan(0);
        expect(to).toBeLessThanOrEqual(n);
      }
      expect(n).toBeGreaterThanOrEqual(committed.at(-1)![1]);
      lastCommitted = n;
    }

    // The file is still a working outbox: everything decodes and the sequence goes on.
    const clock = new ManualClock(Date.now());
    const outbox = new SqliteOutbox({ path, clock, log: createLogger({ level: 'silent', destination: process.stderr }) });
    outbox.start();
    expect(outbox.stats().lastSeq).toBe(lastCommitted);
    const rows = outbox.rowsAfter(0, lastCommitted + 10);
    expect(rows).toHaveLength(lastCommitted);
    expect(rows.some((r) => r.kind === 'event')).toBe(true);
    outbox.addReadings([{ sensor: 'soil-1', ts: clock.now(), value: 1, unit: '%VWC', quality: 'good', clockSynced: true }]);
    expect(outbox.flush()).toBe(1);
    expect(outbox.stats().lastSeq).toBe(lastCommitted + 1);
    outbox.stop();
  });
});
