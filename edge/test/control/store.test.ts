/**
 * The control store: one contract suite run against SQLite (a file in a temp dir) and memory,
 * then what only the file does (reopen, read-only, damaged state), and the irrigation log CSV.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { SiteCalendar } from '../../src/control/calendar.js';
import { emptyPersisted, type PersistedControl, type ZoneRunRecord } from '../../src/control/core.js';
import { CONTROL_FILE, MemoryControlStore, runsToCsv, SqliteControlStore, type ControlStore } from '../../src/control/store.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1, 22, 30); // 05:30 on 2 March in Can Tho

const cal = new SiteCalendar({ timezone: 'Asia/Ho_Chi_Minh', lat: 10.03, lon: 105.78 });
const localTime = (ms: number): string => {
  const m = cal.localParts(ms).minutes;
  return `${cal.localDate(ms)} ${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

/** A state with every field in use, as after a busy morning. */
const BUSY: PersistedControl = {
  version: 1,
  programsCheckedUntil: T0 + 5 * MIN + 1,
  active: [
    {
      key: 'sang-som@1772404200000#0',
      zone: 'ruong-1',
      source: 'program',
      program: 'sang-som',
      durationMs: 10 * MIN,
      reason: 'program sang-som (05:30)',
      queuedAt: T0,
      notBefore: T0,
      notAfter: T0 + 3 * HOUR,
      chain: 'sang-som@1772404200000',
      chainIndex: 0,
      stationDelay: 2 * MIN,
      scheduledAt: T0,
      start: T0,
      end: T0 + 10 * MIN,
    },
  ],
  queue: [
    {
      key: 'manual:lan-1',
      zone: 'ruong-2',
      source: 'manual',
      durationMs: 5 * MIN,
      reason: 'manual 5 min by lan',
      queuedAt: T0 + MIN,
      notBefore: T0 + MIN,
      notAfter: T0 + 11 * MIN,
      commandId: 'lan-1',
      by: 'lan',
    },
  ],
  lastRun: { 'ruong-3': { start: T0 - 20 * HOUR, end: T0 - 19 * HOUR, reason: 'soil moisture 25 % < 30 % (water to 45 %)', litres: 412.5 } },
  pausedUntil: T0 + HOUR,
  rainDelayUntil: T0 + 24 * HOUR,
  tankLocked: { 'be-nuoc': true },
  lightOverrides: { 'den-duong': { on: true, until: T0 + HOUR, by: 'minh' } },
  luxOn: { 'den-san': false },
  commandIds: ['lan-1', 'minh-7'],
};

const run = (zone: string, startMin: number, extra: Partial<ZoneRunRecord> = {}): ZoneRunRecord => ({
  zone,
  start: T0 + startMin * MIN,
  end: T0 + (startMin + 10) * MIN,
  metered: false,
  source: 'program',
  program: 'sang-som',
  reason: 'program sang-som (05:30)',
  outcome: 'completed',
  ...extra,
});

const RUNS: ZoneRunRecord[] = [
  run('ruong-1', 0, { litres: 180, metered: true }),
  run('ruong-2', 12),
  { zone: 'ruong-1', start: T0 + 60 * MIN, end: T0 + 62 * MIN, metered: false, source: 'manual', reason: 'manual 5 min by lan', outcome: 'stopped', endReason: 'stopped by minh', by: 'lan' },
  run('ruong-3', -24 * 60, { source: 'moisture', reason: 'soil moisture 25 % < 30 % (water to 45 %)', outcome: 'interrupted', endReason: 'the edge stopped (crash or power loss) during the run', litres: 0 }),
];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sv-control-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const implementations: { name: string; open: () => ControlStore }[] = [
  { name: 'SqliteControlStore', open: () => new SqliteControlStore(join(dir, CONTROL_FILE)) },
  { name: 'MemoryControlStore', open: () => new MemoryControlStore() },
];

describe.each(implementations)('$name (the ControlStore contract)', ({ open }) => {
  it('starts empty', () => {
    const store = open();
    expect(store.load()).toEqual(emptyPersisted());
    expect(store.runs()).toEqual([]);
    store.close();
  });

  it('gives back the saved state, field for field, and a later save replaces it', () => {
    const store = open();
    store.save(BUSY);
    expect(store.load()).toEqual(BUSY);
    const later = { ...emptyPersisted(), commandIds: ['x'] };
    store.save(later);
    expect(store.load()).toEqual(later);
    store.close();
  });

  it('hands out copies: changing what load() returned or what was saved changes nothing stored', () => {
    const store = open();
    const state = structuredClone(BUSY);
    store.save(state);
    state.active = [];
    const loaded = store.load();
    loaded.queue = [];
    expect(store.load()).toEqual(BUSY);
    store.close();
  });

  it('keeps the irrigation log: every field back, newest first', () => {
    const store = open();
    store.addRuns(RUNS.slice(0, 2));
    store.addRuns(RUNS.slice(2));
    expect(store.runs()).toEqual([RUNS[2], RUNS[1], RUNS[0], RUNS[3]]);
    store.close();
  });

  it('runs that started together come back newest-logged first', () => {
    const store = open();
    const a = run('ruong-1', 0, { outcome: 'stopped', endReason: 'stopped by lan' });
    const b = run('ruong-2', 0);
    const c = run('ruong-3', 0, { source: 'manual', by: 'minh' });
    store.addRuns([a, b]);
    store.addRuns([c]);
    expect(store.runs()).toEqual([c, b, a]);
    expect(store.runs({ limit: 1 })).toEqual([c]);
    store.close();
  });

  it.each([
    { filter: { zone: 'ruong-1' }, want: [2, 0] },
    { filter: { from: T0 }, want: [2, 1, 0] },
    { filter: { from: T0, to: T0 + 12 * MIN }, want: [0] },
    { filter: { to: T0 }, want: [3] },
    { filter: { limit: 2 }, want: [2, 1] },
    { filter: { zone: 'ruong-1', from: T0 + MIN }, want: [2] },
    { filter: { zone: 'ruong-9' }, want: [] },
  ])('runs($filter)', ({ filter, want }) => {
    const store = open();
    store.addRuns(RUNS);
    expect(store.runs(filter)).toEqual(want.map((i) => RUNS[i]));
    store.close();
  });
});

describe('SqliteControlStore on disk', () => {
  const path = (): string => join(dir, CONTROL_FILE);

  it('survives a restart: state and log are read back by a new instance', () => {
    const a = new SqliteControlStore(path());
    a.save(BUSY);
    a.addRuns(RUNS);
    a.close();
    a.close(); // idempotent
    const b = new SqliteControlStore(path());
    expect(b.load()).toEqual(BUSY);
    expect(b.runs({ zone: 'ruong-2' })).toEqual([RUNS[1]]);
    b.close();
    const ro = new SqliteControlStore(path(), { readonly: true });
    expect(ro.runs({ limit: 1 })).toEqual([RUNS[2]]);
    ro.close();
  });

  it('read-only on a missing file fails with STORE_FAILED naming the path', () => {
    const missing = join(dir, 'nope', CONTROL_FILE);
    let err: unknown;
    try {
      new SqliteControlStore(missing, { readonly: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VillageError);
    expect(err).toMatchObject({ code: 'STORE_FAILED', details: { path: missing } });
    expect((err as Error).message).toContain(missing);
  });

  it.each([
    { name: 'unreadable JSON', value: '{"version":1,"active":[', want: emptyPersisted() },
    { name: 'another version', value: JSON.stringify({ ...BUSY, version: 2 }), want: emptyPersisted() },
    // A state written before a field existed comes back with that field's default.
    { name: 'an older state without luxOn', value: JSON.stringify({ version: 1, active: [], queue: [], lastRun: {}, tankLocked: { 'be-nuoc': true }, lightOverrides: {}, commandIds: [] }), want: { ...emptyPersisted(), tankLocked: { 'be-nuoc': true } } },
  ])('a saved state with $name loads as what can be trusted', ({ value, want }) => {
    new SqliteControlStore(path()).close();
    const db = new Database(path());
    db.prepare('INSERT INTO kv (key, value) VALUES (?, ?)').run('state', value);
    db.close();
    const store = new SqliteControlStore(path());
    expect(store.load()).toEqual(want);
    store.close();
  });
});

/** RFC 4180 fields of a CSV text (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

describe('runsToCsv', () => {
  const awkward: ZoneRunRecord = {
    zone: 'ruong-2',
    start: T0 + 90 * MIN,
    end: T0 + 97 * MIN + 30_000,
    metered: false,
    source: 'manual',
    reason: 'manual 8 min by "Bác Ba", ruộng sau',
    outcome: 'stopped',
    endReason: 'tank be-nuoc at 12 %, below 15 %\nuntil it refills',
    by: 'Bác Ba',
  };

  it('writes the header, one CRLF line per run oldest first, in local site time', () => {
    const csv = runsToCsv([RUNS[1] as ZoneRunRecord, RUNS[0] as ZoneRunRecord], localTime);
    expect(csv).toBe(
      'zone,start,end,minutes,litres,metered,source,program,reason,outcome,end_reason,by\r\n' +
        'ruong-1,2026-03-02 05:30,2026-03-02 05:40,10.0,180,yes,program,sang-som,program sang-som (05:30),completed,,\r\n' +
        'ruong-2,2026-03-02 05:42,2026-03-02 05:52,10.0,,no,program,sang-som,program sang-som (05:30),completed,,\r\n',
    );
  });

  it('quotes fields with commas, quotes or line breaks (RFC 4180) so a spreadsheet reads them back whole', () => {
    const csv = runsToCsv([awkward], localTime);
    expect(csv.split('\r\n')[1]).toBe('ruong-2,2026-03-02 07:00,2026-03-02 07:07,7.5,,no,manual,,"manual 8 min by ""Bác Ba"", ruộng sau",stopped,"tank be-nuoc at 12 %, below 15 %\nuntil it refills",Bác Ba');
    expect(parseCsv(csv)).toEqual([
      ['zone', 'start', 'end', 'minutes', 'litres', 'metered', 'source', 'program', 'reason', 'outcome', 'end_reason', 'by'],
      ['ruong-2', '2026-03-02 07:00', '2026-03-02 07:07', '7.5', '', 'no', 'manual', '', awkward.reason, 'stopped', awkward.endReason, 'Bác Ba'],
    ]);
  });

  it('an empty log is just the header', () => {
    expect(runsToCsv([], localTime)).toBe('zone,start,end,minutes,litres,metered,source,program,reason,outcome,end_reason,by\r\n');
  });

  it('exports what the SQLite store kept', () => {
    const store = new SqliteControlStore(join(dir, CONTROL_FILE));
    store.addRuns(RUNS);
    const rows = parseCsv(runsToCsv(store.runs(), localTime));
    store.close();
    expect(rows.slice(1).map((r) => [r[0], r[1], r[3], r[4], r[9]])).toEqual([
      ['ruong-3', '2026-03-01 05:30', '10.0', '0', 'interrupted'],
      ['ruong-1', '2026-03-02 05:30', '10.0', '180', 'completed'],
      ['ruong-2', '2026-03-02 05:42', '10.0', '', 'completed'],
      ['ruong-1', '2026-03-02 06:30', '2.0', '', 'stopped'],
    ]);
  });
});
