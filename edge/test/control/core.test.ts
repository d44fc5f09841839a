/**
 * The pure control core (Controller) driven over simulated hours and days: programs on site
 * time, pump sequencing, capacity, interlocks, rain, ET, soil moisture, flow feedback, commands
 * and crash recovery. No timers: every pass is a step(sensors, now) at the instants the core
 * itself asks for (nextWakeAt), as the engine does.
 */
import { describe, expect, it } from 'vitest';
import {
  commandSchema,
  siteConfigSchema,
  type CommandInput,
  type CommandResult,
  type SiteConfig,
  type SiteConfigInput,
  type Unit,
} from '@smart-village/shared';
import { SiteCalendar } from '../../src/control/calendar.js';
import { Controller, integrateLpm, type ControlEvent, type ControlOutput, type PersistedControl, type ZoneRunRecord } from '../../src/control/core.js';
import { freshValue, rainFromAmounts, rainFromTotals, ReadingHistory, type SensorValue } from '../../src/control/inputs.js';

const SEC = 1000;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const SITE = { timezone: 'Asia/Ho_Chi_Minh', lat: 10.03, lon: 105.78 };
const cal = new SiteCalendar(SITE);
/** 2026-03-02 is a Monday (2026-01-01 was a Thursday). Can Tho is UTC+7 all year. */
const MONDAY = '2026-03-02';

/** The instant of a local wall time "HH:MM" (or "HH:MM:SS") on a local date. */
function local(hhmm: string, date = MONDAY): number {
  const [h, m, s] = hhmm.split(':').map(Number) as [number, number, number?];
  return cal.at(date, h * 60 + m) + (s ?? 0) * SEC;
}

/** Every actuator the tests use; a zone picks its own. */
const ACTUATORS: SiteConfigInput['actuators'] = [
  ...['van-1', 'van-2', 'van-3', 'van-4'].map((id) => ({ id, kind: 'valve' as const, output: { driver: 'simulated' as const } })),
  { id: 'bom-1', kind: 'pump', output: { driver: 'simulated' } },
  { id: 'van-chinh', kind: 'master-valve', output: { driver: 'simulated' } },
  { id: 'den-1', kind: 'light', output: { driver: 'simulated' } },
  { id: 'den-2', kind: 'light', output: { driver: 'simulated' } },
];

/** A site config through the real schema, so every default is filled as on a Pi. */
function site(parts: Pick<SiteConfigInput, 'zones' | 'programs' | 'irrigation' | 'lighting'>): SiteConfig {
  return siteConfigSchema.parse({
    version: 1,
    site: { id: 'lang-an-binh', name: 'Làng An Bình', ...SITE },
    edge: { id: 'pi-dong' },
    actuators: ACTUATORS,
    ...parts,
  });
}

const UNIT_OF: Record<string, Unit> = { 'luu-luong': 'L/min', mua: 'mm', 'cam-bien-mua': 'state', 'nhiet-do': '°C', 'do-am': '%RH', gio: 'm/s', 'buc-xa': 'W/m²', 'anh-sang': 'lx' };

/** A controller with its sensors and everything it said, stepped like the engine steps it. */
class Field {
  readonly sensors = new ReadingHistory(10 * DAY);
  readonly ctl: Controller;
  readonly events: ControlEvent[] = [];
  readonly results: CommandResult[] = [];
  readonly runs: ZoneRunRecord[] = [];
  now: number;
  private seq = 0;

  constructor(
    readonly config: SiteConfig,
    start: number,
    persisted?: PersistedControl,
  ) {
    this.ctl = new Controller({ config, calendar: cal, site: SITE }, persisted);
    this.now = start;
    this.keep(this.ctl.recover(start));
  }

  private keep(out: ControlOutput): ControlOutput {
    this.events.push(...out.events);
    this.results.push(...out.results);
    this.runs.push(...out.runs);
    return out;
  }

  read(sensor: string, value: number | null, ts = this.now): void {
    this.sensors.add(sensor, { value, ts, quality: 'good', unit: UNIT_OF[sensor] ?? '%' });
  }

  step(now: number, clockSynced = true): ControlOutput {
    this.now = now;
    return this.keep(this.ctl.step(this.sensors, now, clockSynced));
  }

  /**
   * Steps at every instant the core asks for (and at least every `every`) up to `end`,
   * calling `feed(t)` before each pass so readings can arrive as in the field.
   */
  runUntil(end: number, opts: { feed?: (t: number) => void; every?: number; synced?: boolean } = {}): void {
    let t = this.now;
    for (;;) {
      opts.feed?.(t);
      this.step(t, opts.synced ?? true);
      if (t >= end) return;
      t = Math.min(end, this.ctl.nextWakeAt(t), opts.every !== undefined ? t + opts.every : Infinity);
    }
  }

  command(action: CommandInput['action'], opts: { id?: string; ts?: number; ttl?: CommandInput['ttl']; by?: string; at?: number } = {}): ControlOutput {
    const now = opts.at ?? this.now;
    this.now = now;
    const cmd = commandSchema.parse({ id: opts.id ?? `c${++this.seq}`, ts: opts.ts ?? now, by: opts.by ?? 'lan', action, ...(opts.ttl !== undefined && { ttl: opts.ttl }) });
    return this.keep(this.ctl.command(cmd, this.sensors, now));
  }

  fault(output: string, message: string, at: number): ControlOutput {
    this.now = at;
    return this.keep(this.ctl.outputFault(output, message, at));
  }

  ok(output: string, at: number): ControlOutput {
    this.now = at;
    return this.keep(this.ctl.outputOk(output, at));
  }

  of(kind: string, source?: string): ControlEvent[] {
    return this.events.filter((e) => e.kind === kind && (source === undefined || e.source === source));
  }

  /** [zone, local time] of every start, for compact assertions. */
  starts(): [string, string][] {
    return this.of('zone.started').map((e) => [e.source, hhmm(e.ts)]);
  }

  want(id: string, at: number): { on: boolean; until?: number } {
    const d = this.ctl.desired(at).get(id);
    if (!d) throw new Error(`no output ${id}`);
    return d.on ? { on: true, until: d.until as number } : { on: false };
  }
}

/** A feed that reads at most once per period (steps come at the instants the core asks for). */
function every(period: number, read: (t: number) => void): (t: number) => void {
  let last = -Infinity;
  return (t) => {
    if (t - last < period) return;
    last = t;
    read(t);
  };
}

function hhmm(ms: number): string {
  const m = cal.localParts(ms).minutes;
  const s = Math.floor((ms % MIN) / SEC);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}${s !== 0 ? `:${String(s).padStart(2, '0')}` : ''}`;
}

const TWO_ZONES = [
  { id: 'ruong-1', valve: 'van-1' },
  { id: 'ruong-2', valve: 'van-2' },
];

const SANG_SOM = { id: 'sang-som', starts: ['05:30'], zones: [{ zone: 'ruong-1', duration: '10m' }, { zone: 'ruong-2', duration: '5m' }], stationDelay: '2m' };

describe('programs', () => {
  it('a daily "05:30" program starts at 05:30 site time and runs its zones one after the other with the station delay', () => {
    const f = new Field(site({ zones: TWO_ZONES, programs: [SANG_SOM] }), local('04:00'));
    f.runUntil(local('13:00'));

    // 05:30 in Can Tho is 22:30 UTC the day before; nothing happens at 05:30 UTC (12:30 local).
    expect(local('05:30')).toBe(Date.UTC(2026, 2, 1, 22, 30));
    expect(f.starts()).toEqual([
      ['ruong-1', '05:30'],
      ['ruong-2', '05:42'],
    ]);
    const [first, second] = f.of('zone.started');
    expect(first?.ts).toBe(local('05:30'));
    expect(first?.message).toBe('zone ruong-1 watering for 10 min: program sang-som (05:30)');
    expect(first?.data).toMatchObject({ program: 'sang-som', source: 'program', durationMs: 10 * MIN, until: local('05:40') });
    expect(second?.message).toBe('zone ruong-2 watering for 5 min: program sang-som (05:30)');
    expect(f.of('zone.finished').map((e) => [e.source, hhmm(e.ts), e.message])).toEqual([
      ['ruong-1', '05:40', 'zone ruong-1 finished after 10 min'],
      ['ruong-2', '05:47', 'zone ruong-2 finished after 5 min'],
    ]);
    expect(f.runs.map((r) => [r.zone, hhmm(r.start), hhmm(r.end), r.outcome, r.source, r.program])).toEqual([
      ['ruong-1', '05:30', '05:40', 'completed', 'program', 'sang-som'],
      ['ruong-2', '05:42', '05:47', 'completed', 'program', 'sang-som'],
    ]);
  });

  it('opens one valve at a time: the second waits out the first and the station delay', () => {
    const f = new Field(site({ zones: TWO_ZONES, programs: [SANG_SOM] }), local('05:00'));
    f.runUntil(local('05:35'));
    expect(f.want('van-1', local('05:35'))).toEqual({ on: true, until: local('05:40') });
    expect(f.want('van-2', local('05:35'))).toEqual({ on: false });
    f.runUntil(local('05:41'));
    expect(f.want('van-1', local('05:41'))).toEqual({ on: false });
    expect(f.want('van-2', local('05:41'))).toEqual({ on: false });
    // The core asks to be woken when the station delay ends, not just at its 30 s heartbeat.
    expect(f.ctl.nextWakeAt(local('05:41:45'))).toBe(local('05:42'));
    f.runUntil(local('05:43'));
    expect(f.want('van-2', local('05:43'))).toEqual({ on: true, until: local('05:47') });
  });

  it.each([
    { days: ['tue'], date: '2026-03-02', runs: false },
    { days: ['mon', 'thu'], date: '2026-03-02', runs: true },
    { days: ['mon', 'thu'], date: '2026-03-04', runs: false },
    { days: 'odd', date: '2026-03-02', runs: false },
    { days: 'odd', date: '2026-03-03', runs: true },
    { days: 'even', date: '2026-03-02', runs: true },
    { days: 'even', date: '2026-03-31', runs: false },
    { days: { every: 3, from: '2026-02-28' }, date: '2026-03-02', runs: false },
    { days: { every: 3, from: '2026-02-28' }, date: '2026-03-03', runs: true },
  ] as const)('days $days on $date: starts = $runs', ({ days, date, runs }) => {
    const f = new Field(site({ zones: TWO_ZONES, programs: [{ ...SANG_SOM, days: structuredClone(days) as never }] }), local('05:00', date));
    f.runUntil(local('06:00', date));
    expect(f.starts().length).toBe(runs ? 2 : 0);
    // A day off is no event: nothing was due.
    if (!runs) expect(f.events).toEqual([]);
  });

  it('a start missed while the edge was off beyond the window is skipped with an event; inside the window it starts late', () => {
    const config = site({ zones: TWO_ZONES, programs: [{ ...SANG_SOM, window: '1h' }] });
    const before = new Field(config, local('04:00'));
    before.runUntil(local('04:10'));
    const persisted = before.ctl.persisted;

    // Power back at 06:45: 05:30 + 1 h has passed.
    const late = new Field(config, local('06:45'), persisted);
    late.runUntil(local('08:00'));
    expect(late.starts()).toEqual([]);
    expect(late.of('zone.skipped').map((e) => [e.source, e.message])).toEqual([
      ['ruong-1', 'zone ruong-1 skipped: program sang-som (05:30) start at 05:30 missed (the edge was off)'],
      ['ruong-2', 'zone ruong-2 skipped: program sang-som (05:30) start at 05:30 missed (the edge was off)'],
    ]);
    expect(late.of('zone.skipped')[0]?.data).toMatchObject({ program: 'sang-som', scheduledAt: local('05:30') });

    // Power back at 06:15: still inside the window, so the program runs now.
    const inTime = new Field(config, local('06:15'), persisted);
    inTime.runUntil(local('07:00'));
    expect(inTime.starts()).toEqual([
      ['ruong-1', '06:15'],
      ['ruong-2', '06:27'],
    ]);
  });

  it('starts nothing while the clock is not synced; once synced, a start still inside its window runs', () => {
    const f = new Field(site({ zones: TWO_ZONES, programs: [SANG_SOM] }), local('05:00'));
    f.runUntil(local('05:50'), { synced: false });
    expect(f.starts()).toEqual([]);
    expect(f.events).toEqual([]);
    f.runUntil(local('06:00'));
    expect(f.starts()).toEqual([['ruong-1', '05:50']]);
  });

  it('a first sync that moves the clock months ahead lists one week of missed starts, not months of them', () => {
    // A Pi without RTC booted from an image built last June, and NTP answered in March.
    const f = new Field(site({ zones: TWO_ZONES, programs: [SANG_SOM] }), Date.UTC(2025, 5, 1));
    f.step(Date.UTC(2025, 5, 1) + MIN, false);
    f.step(local('05:00'));
    const missed = f.of('zone.skipped');
    expect(missed.length).toBe(7 * 2);
    expect(new Set(missed.map((e) => cal.localDate(e.data?.scheduledAt as number)))).toEqual(new Set(['2026-02-23', '2026-02-24', '2026-02-25', '2026-02-26', '2026-02-27', '2026-02-28', '2026-03-01']));
    f.runUntil(local('05:35'));
    expect(f.starts()).toEqual([['ruong-1', '05:30']]);
  });

  it('a wall clock going back more than 1 h resets program checking; a smaller step back does not repeat a start', () => {
    const config = site({ zones: TWO_ZONES, programs: [{ ...SANG_SOM, zones: [{ zone: 'ruong-1', duration: '10m' }] }] });
    const small = new Field(config, local('05:00'));
    small.runUntil(local('05:45'));
    expect(small.starts()).toEqual([['ruong-1', '05:30']]);
    small.now = local('05:15');
    small.runUntil(local('06:30'));
    expect(small.starts()).toEqual([['ruong-1', '05:30']]);

    const big = new Field(config, local('05:00'));
    big.runUntil(local('06:30'));
    big.now = local('04:00');
    big.runUntil(local('06:00'));
    expect(big.starts()).toEqual([
      ['ruong-1', '05:30'],
      ['ruong-1', '05:30'],
    ]);
  });
});

describe('volume steps', () => {
  const program = (litres: number) => ({ id: 'theo-lit', starts: ['05:30'], zones: [{ zone: 'ruong-1', litres }] });

  it('a metered zone stops when the meter says the litres are in; its lease allows half again the planned time', () => {
    const zones = [{ id: 'ruong-1', valve: 'van-1', flowLpm: 20, flowSensor: 'luu-luong' }];
    const f = new Field(site({ zones, programs: [program(100)] }), local('05:29'));
    // 25 L/min instead of the nominal 20: 100 L take 4 min, not 5.
    f.runUntil(local('05:45'), { every: 10 * SEC, feed: (t) => f.read('luu-luong', t >= local('05:30') && t < local('05:34') ? 25 : 0, t) });
    expect(f.of('zone.started')[0]?.data).toMatchObject({ durationMs: 7.5 * MIN, litres: 100 });
    expect(f.of('zone.finished').map((e) => [hhmm(e.ts), e.message])).toEqual([['05:34', 'zone ruong-1 finished after 4 min, 100 L: 100 L of 100 L delivered']]);
  });

  it('an unmetered zone runs litres / flowLpm', () => {
    const f = new Field(site({ zones: [{ id: 'ruong-1', valve: 'van-1', flowLpm: 20 }], programs: [program(100)] }), local('05:29'));
    f.runUntil(local('05:45'));
    expect(f.of('zone.finished').map((e) => [hhmm(e.ts), e.message])).toEqual([['05:35', 'zone ruong-1 finished after 5 min, 100 L (estimated)']]);
  });
});

describe('pump and master valve sequencing', () => {
  const PUMPED = { id: 'ruong-1', valve: 'van-1', pump: 'bom-1', masterValve: 'van-chinh', pumpDelay: '5s', pumpLead: '3s' };

  it('valve first, pump after pumpDelay, pump off pumpLead before the valve closes', () => {
    const f = new Field(site({ zones: [PUMPED] }), local('07:00'));
    const s = local('07:00');
    const e = s + 10 * MIN;
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '10m' }).results).toEqual([{ id: 'c1', status: 'accepted', reason: 'zone ruong-1 on until 07:10', ts: s }]);
    const rows: [number, { on: boolean; until?: number }, { on: boolean; until?: number }, { on: boolean; until?: number }][] = [
      [s, { on: true, until: e }, { on: false }, { on: true, until: e }],
      [s + 4999, { on: true, until: e }, { on: false }, { on: true, until: e }],
      [s + 5000, { on: true, until: e }, { on: true, until: e - 3000 }, { on: true, until: e }],
      [e - 3001, { on: true, until: e }, { on: true, until: e - 3000 }, { on: true, until: e }],
      [e - 3000, { on: true, until: e }, { on: false }, { on: true, until: e }],
      [e - 1, { on: true, until: e }, { on: false }, { on: true, until: e }],
      [e, { on: false }, { on: false }, { on: false }],
    ];
    for (const [t, valve, pump, master] of rows) {
      expect([f.want('van-1', t), f.want('bom-1', t), f.want('van-chinh', t)], `at +${(t - s) / 1000} s`).toEqual([valve, pump, master]);
    }
    // The engine is woken exactly when the pump must switch.
    expect(f.ctl.nextWakeAt(s)).toBe(s + 5000);
    expect(f.ctl.nextWakeAt(s + 5000)).toBe(s + 35_000);
    expect(f.ctl.nextWakeAt(e - 20_000)).toBe(e - 3000);
    expect(f.ctl.nextWakeAt(e - 3000)).toBe(e);
  });

  it('the master valve stays open while any of its zones runs', () => {
    const zones = [
      { id: 'ruong-1', valve: 'van-1', masterValve: 'van-chinh' },
      { id: 'ruong-2', valve: 'van-2', masterValve: 'van-chinh' },
    ];
    const f = new Field(site({ zones, irrigation: { capacity: { zones: 2 } } }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '10m' });
    f.runUntil(local('07:05'));
    f.command({ type: 'water', zone: 'ruong-2', duration: '20m' });
    expect(f.want('van-chinh', local('07:06'))).toEqual({ on: true, until: local('07:25') });
    f.runUntil(local('07:12'));
    expect([f.want('van-1', local('07:12')), f.want('van-2', local('07:12')), f.want('van-chinh', local('07:12'))]).toEqual([
      { on: false },
      { on: true, until: local('07:25') },
      { on: true, until: local('07:25') },
    ]);
    f.runUntil(local('07:25'));
    expect(f.want('van-chinh', local('07:25'))).toEqual({ on: false });
  });
});

describe('capacity', () => {
  it('one zone at a time: the second waits in the queue until the first ends', () => {
    const f = new Field(site({ zones: TWO_ZONES }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '10m' });
    const out = f.command({ type: 'water', zone: 'ruong-2', duration: '5m' });
    expect(out.results).toEqual([{ id: 'c2', status: 'accepted', reason: 'queued: capacity 1 zone in use (ruong-1)', ts: local('07:00') }]);
    expect(f.ctl.state(local('07:00'), []).zones.map((z) => [z.id, z.state])).toEqual([
      ['ruong-1', 'running'],
      ['ruong-2', 'queued'],
    ]);
    f.runUntil(local('07:30'));
    expect(f.starts()).toEqual([
      ['ruong-1', '07:00'],
      ['ruong-2', '07:10'],
    ]);
    expect(f.results.filter((r) => r.status === 'done').map((r) => [r.id, hhmm(r.ts)])).toEqual([
      ['c1', '07:10'],
      ['c2', '07:15'],
    ]);
  });

  it('capacity in L/min counts the zones\' flowLpm: a zone that fits may pass one that does not', () => {
    const zones = [
      { id: 'ruong-1', valve: 'van-1', flowLpm: 30 },
      { id: 'ruong-2', valve: 'van-2', flowLpm: 40 },
      { id: 'ruong-3', valve: 'van-3', flowLpm: 20 },
    ];
    const f = new Field(site({ zones, irrigation: { capacity: { zones: 3, lpm: 60 } } }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '10m' });
    expect(f.command({ type: 'water', zone: 'ruong-2', duration: '10m' }).results[0]?.reason).toBe('queued: capacity 3 zones / 60 L/min in use (ruong-1)');
    f.command({ type: 'water', zone: 'ruong-3', duration: '20m' });
    f.runUntil(local('07:40'));
    // 30 + 20 fit in 60; 40 waits until ruong-1's 30 L/min are free (40 + 20 = 60).
    expect(f.starts()).toEqual([
      ['ruong-1', '07:00'],
      ['ruong-3', '07:00'],
      ['ruong-2', '07:10'],
    ]);
  });

  it('manual commands go ahead of program runs already waiting', () => {
    const zones = [...TWO_ZONES, { id: 'ruong-3', valve: 'van-3' }];
    const programs = [
      { id: 'p-mot', starts: ['05:30'], zones: [{ zone: 'ruong-1', duration: '10m' }] },
      { id: 'p-hai', starts: ['05:30'], zones: [{ zone: 'ruong-2', duration: '10m' }] },
    ];
    const f = new Field(site({ zones, programs }), local('05:00'));
    f.runUntil(local('05:35'));
    f.command({ type: 'water', zone: 'ruong-3', duration: '5m' });
    f.runUntil(local('06:30'));
    expect(f.starts()).toEqual([
      ['ruong-1', '05:30'],
      ['ruong-3', '05:40'],
      ['ruong-2', '05:45'],
    ]);
  });
});

describe('interlocks', () => {
  const TANKED = { id: 'ruong-1', valve: 'van-1', pump: 'bom-1', tank: 'be-nuoc' };
  const program = { id: 'sang-som', starts: ['05:30'], zones: [{ zone: 'ruong-1', duration: '20m' }], window: '1h' };
  /** Tank readings every 5 min from a level curve. */
  const tank = (f: Field, level: (t: number) => number) => every(5 * MIN, (t) => f.read('be-nuoc', level(t), t));

  it('below minPercent a pump zone never starts: blocked (said once), then skipped when the window closes', () => {
    const f = new Field(site({ zones: [TANKED], programs: [program] }), local('05:00'));
    f.runUntil(local('07:00'), { feed: tank(f, () => 10) });
    expect(f.starts()).toEqual([]);
    expect(f.of('tank.low').map((e) => [hhmm(e.ts), e.severity, e.message])).toEqual([['05:00', 'alarm', 'tank be-nuoc at 10 % < 15 %: pumps stopped until it is above 25 %']]);
    expect(f.of('zone.blocked').map((e) => [hhmm(e.ts), e.message])).toEqual([['05:30', 'zone ruong-1 waits: tank be-nuoc at 10 %, below 15 % until it refills above 25 %']]);
    expect(f.of('zone.skipped').map((e) => [hhmm(e.ts), e.message])).toEqual([['06:30:30', 'zone ruong-1 skipped: program sang-som (05:30): not started before 06:30 (window passed)']]);
    expect(f.ctl.state(local('07:00'), []).zones[0]).toMatchObject({ state: 'blocked', reason: 'tank be-nuoc low' });
  });

  it('stops a running pump zone when the tank falls below minPercent, saying the level', () => {
    const f = new Field(site({ zones: [TANKED] }), local('07:00'));
    f.read('be-nuoc', 60);
    f.command({ type: 'water', zone: 'ruong-1', duration: '30m' });
    f.runUntil(local('07:40'), { feed: tank(f, (t) => (t < local('07:10') ? 60 - (t - local('07:00')) / MIN : 12)), every: 30 * SEC });
    expect(f.of('zone.stopped').map((e) => [hhmm(e.ts), e.message])).toEqual([
      ['07:10:02', 'zone ruong-1 stopped after 10 min: tank be-nuoc at 12 %, below 15 % until it refills above 25 %'],
    ]);
    expect(f.of('tank.low')[0]?.data).toEqual({ value: 12, min: 15, restart: 25 });
    expect(f.runs[0]).toMatchObject({ zone: 'ruong-1', outcome: 'stopped', start: local('07:00'), end: local('07:10:02') });
    expect(f.results.at(-1)).toMatchObject({ id: 'c1', status: 'failed' });
    expect(f.want('bom-1', local('07:10:02'))).toEqual({ on: false });
  });

  it('after a low-tank stop, pumping is allowed again only above restartPercent (hysteresis)', () => {
    const f = new Field(site({ zones: [TANKED] }), local('07:00'));
    const steps: [number, 'accepted' | 'rejected', string][] = [
      [10, 'rejected', 'tank be-nuoc at 10 %, below 15 % until it refills above 25 %'],
      [20, 'rejected', 'tank be-nuoc at 20 %, below 15 % until it refills above 25 %'],
      [24.9, 'rejected', 'tank be-nuoc at 24.9 %, below 15 % until it refills above 25 %'],
      [26, 'accepted', 'zone ruong-1 on until 07:38'],
    ];
    for (const [i, [level, status, reason]] of steps.entries()) {
      const t = local('07:00') + i * 10 * MIN;
      f.read('be-nuoc', level, t);
      f.step(t);
      const out = f.command({ type: 'water', zone: 'ruong-1', duration: '8m' }, { at: t });
      expect(out.results, `at ${level} %`).toEqual([{ id: `c${i + 1}`, status, reason, ts: t }]);
    }
    expect(f.of('tank.ok').map((e) => e.message)).toEqual(['tank be-nuoc at 26 % >= 25 %: pumps allowed again']);
    expect(f.of('command.rejected')[0]?.message).toBe('command water by lan refused: tank be-nuoc at 10 %, below 15 % until it refills above 25 %');

    // Between the limits without a lock-out, the pump may run.
    f.read('be-nuoc', 18, local('07:40'));
    f.runUntil(local('07:40'));
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }).results[0]?.status).toBe('accepted');
  });

  it.each([
    { name: 'never read', reading: undefined, reason: 'tank level be-nuoc not read yet: the pump stays off' },
    { name: 'stale', reading: 11 * MIN, reason: 'tank level be-nuoc unknown (last reading 11 min ago): the pump stays off' },
  ])('a $name tank level blocks the pump', ({ reading, reason }) => {
    const f = new Field(site({ zones: [TANKED, { id: 'ruong-2', valve: 'van-2', tank: 'be-nuoc' }], irrigation: { capacity: { zones: 2 } } }), local('07:00'));
    if (reading !== undefined) f.read('be-nuoc', 80, local('07:00') - reading);
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }).results[0]).toMatchObject({ status: 'rejected', reason });
    // A gravity zone (no pump) on the same tank is not held back.
    expect(f.command({ type: 'water', zone: 'ruong-2', duration: '5m' }).results[0]?.status).toBe('accepted');
  });

  it('a running pump zone stops when its tank reading goes stale', () => {
    const f = new Field(site({ zones: [TANKED] }), local('07:00'));
    f.read('be-nuoc', 70);
    f.command({ type: 'water', zone: 'ruong-1', duration: '30m' });
    f.runUntil(local('07:30'));
    expect(f.of('zone.stopped').map((e) => [hhmm(e.ts), e.message])).toEqual([
      // The first pass after the reading passed its 10 min maxAge (passes at +2 s: the pump delay).
      ['07:10:02', 'zone ruong-1 stopped after 10 min: tank level be-nuoc unknown (last reading 10 min ago): the pump stays off'],
    ]);
  });

  it('an output fault stops the zone and blocks it until the output works again', () => {
    const zones = [{ id: 'ruong-1', valve: 'van-1' }];
    const f = new Field(site({ zones, programs: [{ ...program, starts: ['07:30'] }] }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '20m' });
    f.runUntil(local('07:05'));
    const out = f.fault('van-1', 'Modbus exception 4 (slave device failure)', local('07:05'));
    expect(out.events.map((e) => [e.kind, e.severity, e.message])).toEqual([
      ['output.fault', 'alarm', 'output van-1 cannot be driven: Modbus exception 4 (slave device failure)'],
      ['zone.stopped', 'warning', 'zone ruong-1 stopped after 5 min: output van-1 failed: Modbus exception 4 (slave device failure)'],
    ]);
    expect(out.results).toMatchObject([{ id: 'c1', status: 'failed' }]);
    // The keeper reports every failed attempt; the same fault is told once.
    expect(f.fault('van-1', 'Modbus exception 4 (slave device failure)', local('07:06')).events).toEqual([]);
    expect(f.ctl.state(local('07:06'), []).zones[0]).toMatchObject({ state: 'blocked', reason: 'output van-1 is faulty' });
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { at: local('07:06') }).results[0]).toMatchObject({
      status: 'rejected',
      reason: 'output van-1 is faulty: Modbus exception 4 (slave device failure)',
    });
    f.runUntil(local('07:31'));
    expect(f.starts()).toEqual([['ruong-1', '07:00']]);
    expect(f.of('zone.blocked').map((e) => [hhmm(e.ts), e.message])).toEqual([['07:30', 'zone ruong-1 waits: output van-1 is faulty: Modbus exception 4 (slave device failure)']]);

    expect(f.ok('van-1', local('07:32')).events.map((e) => e.message)).toEqual(['output van-1 works again']);
    f.runUntil(local('07:32'));
    expect(f.starts()).toEqual([
      ['ruong-1', '07:00'],
      ['ruong-1', '07:32'],
    ]);
  });
});

describe('rain skip', () => {
  const program = { id: 'sang-som', starts: ['05:30'], zones: [{ zone: 'ruong-1', duration: '10m' }] };
  const zones = [{ id: 'ruong-1', valve: 'van-1' }];

  it.each([
    { name: 'a rise of 6.2 mm within 24 h', totals: [[-30, 100], [-25, 100], [-20, 102], [-2, 106.2]], skip: '6.2 mm rain in the last 24 h >= 5 mm' },
    { name: 'exactly the threshold', totals: [[-25, 0], [-1, 5]], skip: '5 mm rain in the last 24 h >= 5 mm' },
    { name: 'rain older than 24 h', totals: [[-40, 100], [-30, 110], [-20, 110], [-1, 111]], skip: undefined },
    // A 16-bit counter restarting at 0: 2 mm before the reset, 0.3 + 4 mm after it.
    { name: 'a counter reset in the window', totals: [[-25, 400], [-12, 402], [-10, 0.3], [-2, 4.3]], skip: '6.3 mm rain in the last 24 h >= 5 mm' },
    { name: 'a counter reset with little rain', totals: [[-25, 400], [-12, 401], [-10, 0.5], [-2, 2]], skip: undefined },
    { name: 'no gauge reading in the window', totals: [[-30, 0], [-26, 50]], skip: undefined },
  ])('gauge: $name', ({ totals, skip }) => {
    const f = new Field(site({ zones, programs: [program], irrigation: { rain: { gaugeSensor: 'mua', mm: 5, hours: 24 } } }), local('05:00'));
    for (const [h, mm] of totals as [number, number][]) f.read('mua', mm, local('05:30') + h * HOUR);
    f.runUntil(local('05:45'));
    if (skip === undefined) {
      expect(f.starts()).toEqual([['ruong-1', '05:30']]);
    } else {
      expect(f.starts()).toEqual([]);
      expect(f.of('zone.skipped').map((e) => [hhmm(e.ts), e.message, e.data])).toEqual([
        ['05:30', `zone ruong-1 skipped: ${skip}`, { program: 'sang-som', scheduledAt: local('05:30'), rule: 'rain' }],
      ]);
    }
  });

  it.each([
    { name: 'wet', value: 1, age: 5 * MIN, skipped: true },
    { name: 'dry', value: 0, age: 5 * MIN, skipped: false },
    { name: 'wet but 40 min old (not trusted)', value: 1, age: 40 * MIN, skipped: false },
  ])('rain switch $name', ({ value, age, skipped }) => {
    const f = new Field(site({ zones, programs: [program], irrigation: { rain: { switchSensor: 'cam-bien-mua' } } }), local('05:00'));
    f.read('cam-bien-mua', value, local('05:30') - age);
    f.runUntil(local('05:45'));
    expect(f.starts()).toEqual(skipped ? [] : [['ruong-1', '05:30']]);
    expect(f.of('zone.skipped').map((e) => e.message)).toEqual(skipped ? ['zone ruong-1 skipped: rain sensor cam-bien-mua is wet'] : []);
  });

  it('a program with rainSkip: false waters whatever the gauge says', () => {
    const f = new Field(site({ zones, programs: [{ ...program, rainSkip: false }], irrigation: { rain: { gaugeSensor: 'mua' } } }), local('05:00'));
    f.read('mua', 0, local('00:00'));
    f.read('mua', 30, local('05:00'));
    f.runUntil(local('05:45'));
    expect(f.starts()).toEqual([['ruong-1', '05:30']]);
  });

  it('a rain delay skips programs and soil-moisture watering until it expires by itself', () => {
    const moistZone = { id: 'ruong-3', valve: 'van-3', moisture: { sensor: 'dat-3', start: 30, target: 45 } };
    const f = new Field(site({ zones: [...zones, moistZone], programs: [program] }), local('05:00'));
    const out = f.command({ type: 'rain-delay', duration: '24h' }, { by: 'lan' });
    expect(out.results).toEqual([{ id: 'c1', status: 'done', reason: 'no watering until 2026-03-03 05:00', ts: local('05:00') }]);
    expect(f.ctl.state(local('05:00'), []).rainDelayUntil).toBe(local('05:00', '2026-03-03'));
    const dry = every(10 * MIN, (t) => f.read('dat-3', 20, t));
    f.runUntil(local('06:00'), { feed: dry });
    expect(f.starts()).toEqual([]);
    expect(f.of('zone.skipped').map((e) => e.message)).toEqual(['zone ruong-1 skipped: rain delay until 2026-03-03 05:00']);

    f.now = local('04:50', '2026-03-03');
    f.runUntil(local('05:40', '2026-03-03'), { feed: dry });
    expect(f.of('control.rain-delay-ended').map((e) => hhmm(e.ts))).toEqual(['05:00']);
    // Moisture control waters at once; the program waits for it (capacity 1).
    expect(f.starts()).toEqual([
      ['ruong-3', '05:00'],
      ['ruong-1', '05:30'],
    ]);
    expect(f.ctl.state(local('05:40', '2026-03-03'), []).rainDelayUntil).toBeUndefined();
  });

  it('rain-delay-clear ends a delay early', () => {
    const f = new Field(site({ zones, programs: [program] }), local('04:00'));
    f.command({ type: 'rain-delay', duration: '48h' });
    expect(f.command({ type: 'rain-delay-clear' }, { at: local('05:00') }).results[0]).toMatchObject({ status: 'done', reason: 'rain delay cleared' });
    expect(f.command({ type: 'rain-delay-clear' }).results[0]).toMatchObject({ status: 'done', reason: 'there was no rain delay' });
    f.runUntil(local('05:45'));
    expect(f.starts()).toEqual([['ruong-1', '05:30']]);
  });
});

describe('ET scaling', () => {
  const ET_SENSORS = { airTemperature: 'nhiet-do', relativeHumidity: 'do-am', windSpeed: 'gio', solarRadiation: 'buc-xa' };
  const program = { id: 'sang-som', starts: ['05:30'], zones: [{ zone: 'ruong-1', duration: '20m' }], etScaling: true };
  const config = site({ zones: [{ id: 'ruong-1', valve: 'van-1' }], programs: [program], irrigation: { et: { sensors: ET_SENSORS }, rain: { gaugeSensor: 'mua' } } });

  /** A weather station reading every 30 min over [from, to]: a sunny dry-season day or a grey wet-season one. */
  function weather(f: Field, from: number, to: number, season: 'dry' | 'wet'): void {
    for (let t = from; t <= to; t += 30 * MIN) {
      const h = cal.localParts(t).minutes / 60;
      const day = Math.max(0, Math.sin((Math.PI * (h - 6)) / 12));
      const warm = Math.sin((Math.PI * (h - 9)) / 12);
      f.read('nhiet-do', season === 'dry' ? 29 + 5 * warm : 26 + 1.5 * warm, t);
      f.read('do-am', season === 'dry' ? 65 - 15 * warm : 92 - 3 * warm, t);
      f.read('gio', season === 'dry' ? 3 : 1, t);
      f.read('buc-xa', (season === 'dry' ? 950 : 250) * day, t);
    }
  }

  function startAt530(setup: (f: Field) => void): { percent: number; durationMs: number; scaled: ControlEvent | undefined; started: ControlEvent | undefined } {
    const f = new Field(config, local('05:00'));
    setup(f);
    f.runUntil(local('05:31'));
    const scaled = f.of('zone.scaled')[0];
    const started = f.of('zone.started')[0];
    return { percent: scaled?.data?.percent as number, durationMs: started?.data?.durationMs as number, scaled, started };
  }

  it('scales a program\'s durations by the weather since the last watering, and says the percent', () => {
    const dry = startAt530((f) => weather(f, local('03:00') - DAY, local('05:25'), 'dry'));
    const wet = startAt530((f) => weather(f, local('03:00') - DAY, local('05:25'), 'wet'));
    for (const r of [dry, wet]) {
      expect(r.percent).toBeGreaterThanOrEqual(30);
      expect(r.percent).toBeLessThanOrEqual(150);
      expect(r.durationMs).toBe(Math.round((20 * MIN * r.percent) / 100));
      expect(r.scaled?.message).toMatch(/^zone ruong-1: ET scaling: ET0 [\d.]+ mm − rain 0\.0 mm = [\d.]+ mm needed; 100 % is 4\.5 mm \(4\.5 mm\/day × 1 days\) → \d+ %/);
      expect(r.scaled?.data).toMatchObject({ program: 'sang-som', method: 'penman-monteith', since: local('05:30') - DAY });
      expect(r.started?.message).toBe(`zone ruong-1 watering for ${Math.round(r.durationMs / MIN)} min: program sang-som (05:30), ${Math.round(r.percent)} % by ET`);
    }
    // A sunny dry-season day asks for more water than the 4.5 mm/day the program was written for.
    expect(dry.percent).toBeGreaterThan(100);
    expect(wet.percent).toBeLessThan(dry.percent - 40);
  });

  it('counts rain since the last watering against the evaporation', () => {
    const dry = startAt530((f) => weather(f, local('03:00') - DAY, local('05:25'), 'dry'));
    const rained = startAt530((f) => {
      weather(f, local('03:00') - DAY, local('05:25'), 'dry');
      // 3 mm: below the 5 mm that skips the start.
      f.read('mua', 10, local('05:00') - DAY);
      f.read('mua', 13, local('16:00') - DAY);
    });
    expect(rained.scaled?.data).toMatchObject({ rainMm: 3 });
    expect(rained.percent).toBeCloseTo(Math.max(30, dry.percent - (3 / 4.5) * 100), 0);
  });

  it.each([
    { name: 'stale weather (newest reading 4 h old)', setup: (f: Field) => weather(f, local('03:00') - DAY, local('01:25'), 'dry'), why: /weather stale \(newest reading 2\d\d min old, max 180 min\)/ },
    { name: 'no weather at all', setup: () => undefined, why: /no weather readings/ },
  ])('$name: 100 %, never 0', ({ setup, why }) => {
    const r = startAt530(setup);
    expect(r.percent).toBe(100);
    expect(r.durationMs).toBe(20 * MIN);
    expect(r.scaled?.message).toMatch(why);
  });
});

describe('soil moisture control', () => {
  const moisture = { sensor: 'dat-3', start: 30, target: 45, maxAge: '15m', minOff: '1h', maxRun: '30m' };
  const zone = (m: Record<string, unknown> = {}) => ({ id: 'ruong-3', valve: 'van-3', moisture: { ...moisture, ...m } });

  it('waters below start until the target, then stays off between start and target (hysteresis)', () => {
    const f = new Field(site({ zones: [zone()] }), local('07:00'));
    // Soil under watering, then drying slowly: it passes 35 % (between start and target) for hours.
    const soil = (t: number): number => {
      const m = (t - local('07:00')) / MIN;
      if (m < 5) return 25;
      if (m < 15) return m < 10 ? 32 : 40;
      if (m < 20) return 46;
      return t < local('10:00') ? 35 : 29;
    };
    f.runUntil(local('10:20'), { feed: every(5 * MIN, (t) => f.read('dat-3', soil(t), t)) });
    expect(f.starts()).toEqual([
      ['ruong-3', '07:00'],
      ['ruong-3', '10:00'],
    ]);
    const [first] = f.of('zone.started');
    expect(first?.message).toBe('zone ruong-3 watering for 30 min: soil moisture 25 % < 30 % (water to 45 %)');
    expect(first?.data).toMatchObject({ source: 'moisture', durationMs: 30 * MIN });
    expect(f.of('zone.finished').map((e) => [hhmm(e.ts), e.message])).toEqual([['07:15', 'zone ruong-3 finished after 15 min: soil moisture 46 % reached the target 45 %']]);
    expect(f.runs[0]).toMatchObject({ source: 'moisture', outcome: 'completed', endReason: 'soil moisture 46 % reached the target 45 %' });
  });

  it('stops at maxRun, then waits minOff before watering again (said once)', () => {
    const f = new Field(site({ zones: [zone()] }), local('07:00'));
    f.runUntil(local('08:45'), { feed: every(5 * MIN, (t) => f.read('dat-3', 25, t)) });
    expect(f.starts()).toEqual([
      ['ruong-3', '07:00'],
      ['ruong-3', '08:30'],
    ]);
    expect(f.of('zone.finished').map((e) => [hhmm(e.ts), e.message])).toEqual([['07:30', 'zone ruong-3 finished after 30 min']]);
    expect(f.of('zone.waiting').map((e) => [hhmm(e.ts), e.message])).toEqual([['07:30', 'zone ruong-3: soil 25 % < 30 %, but it was watered 0 min ago (minimum off 60 min)']]);
  });

  it('a moisture run never outlasts the valve\'s maxRuntime', () => {
    const f = new Field(site({ zones: [zone({ maxRun: '3h' })] }), local('07:00'));
    f.read('dat-3', 20);
    f.step(local('07:00'));
    expect(f.of('zone.started')[0]?.data).toMatchObject({ durationMs: HOUR });
  });

  it('stale readings start nothing', () => {
    const f = new Field(site({ zones: [zone()] }), local('07:00'));
    f.read('dat-3', 10, local('06:40'));
    f.runUntil(local('08:00'));
    expect(f.starts()).toEqual([]);
  });

  it.each([
    { name: 'a fresh reading: moisture decides', whenStale: 'program', age: 5 * MIN, value: 40, started: false, message: 'zone ruong-3 skipped by program tuoi-3 (05:30): soil moisture control decides (40 %, waters below 30 %)' },
    { name: 'stale, whenStale program: the program waters', whenStale: 'program', age: 20 * MIN, value: 40, started: true, message: undefined },
    { name: 'stale, whenStale skip: nothing', whenStale: 'skip', age: 20 * MIN, value: 40, started: false, message: 'zone ruong-3 skipped: soil moisture dat-3 has no reading newer than 15 min (whenStale: skip)' },
  ])('a program step on a moisture zone with $name', ({ whenStale, age, value, started, message }) => {
    const program = { id: 'tuoi-3', starts: ['05:30'], zones: [{ zone: 'ruong-3', duration: '20m' }] };
    const f = new Field(site({ zones: [zone({ whenStale })], programs: [program] }), local('05:29'));
    f.read('dat-3', value, local('05:30') - age);
    f.runUntil(local('05:31'));
    expect(f.starts()).toEqual(started ? [['ruong-3', '05:30']] : []);
    if (started) expect(f.of('zone.started')[0]?.message).toBe('zone ruong-3 watering for 20 min: program tuoi-3 (05:30)');
    expect(f.of('zone.skipped').map((e) => e.message)).toEqual(message === undefined ? [] : [message]);
  });
});

describe('flow feedback', () => {
  const zones = [{ id: 'ruong-1', valve: 'van-1', flowSensor: 'luu-luong', flowLpm: 20 }];

  it('a valve ON without flow after flowCheckAfter raises zone.no-flow and stops the zone', () => {
    const f = new Field(site({ zones }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '10m' });
    f.runUntil(local('07:05'), { every: 10 * SEC, feed: (t) => f.read('luu-luong', 0.2, t) });
    expect(f.of('zone.no-flow').map((e) => [hhmm(e.ts), e.severity, e.message])).toEqual([
      ['07:01', 'alarm', 'zone ruong-1: no flow (0.2 L/min < 0.5) 60 s after opening: zone stopped (dry pump, closed valve or broken pipe?)'],
    ]);
    expect(f.of('zone.stopped').map((e) => e.message)).toEqual(['zone ruong-1 stopped after 1 min, 0.2 L: no flow']);
    expect(f.runs).toMatchObject([{ outcome: 'stopped', endReason: 'no flow', metered: true, litres: 0.2 }]);
    expect(f.results.at(-1)).toMatchObject({ id: 'c1', status: 'failed' });
  });

  it('with flow the zone runs its time and the log has the metered litres', () => {
    const f = new Field(site({ zones }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '10m' });
    f.runUntil(local('07:15'), { every: 10 * SEC, feed: (t) => f.read('luu-luong', t < local('07:10') ? 18 : 0, t) });
    expect(f.of('zone.no-flow')).toEqual([]);
    expect(f.of('zone.flow-when-off')).toEqual([]);
    expect(f.of('zone.finished').map((e) => e.message)).toEqual(['zone ruong-1 finished after 10 min, 180 L']);
    expect(f.runs).toMatchObject([{ outcome: 'completed', metered: true, litres: 180 }]);
    expect(f.results.at(-1)).toMatchObject({ id: 'c1', status: 'done', reason: 'zone ruong-1 finished after 10 min, 180 L' });
  });

  it('without a flow sensor the log estimates litres from flowLpm', () => {
    const f = new Field(site({ zones: [{ id: 'ruong-1', valve: 'van-1', flowLpm: 20 }] }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '10m' });
    f.runUntil(local('07:10'));
    expect(f.runs).toMatchObject([{ metered: false, litres: 200 }]);
    expect(f.of('zone.finished')[0]?.message).toBe('zone ruong-1 finished after 10 min, 200 L (estimated)');
  });

  it('flow while every valve is closed raises zone.flow-when-off once per leak', () => {
    const f = new Field(site({ zones }), local('07:00'));
    const flow = (t: number): number => (t < local('07:30') ? 3 : t < local('08:00') ? 0 : 4);
    f.runUntil(local('08:30'), { every: 10 * SEC, feed: (t) => f.read('luu-luong', flow(t), t) });
    expect(f.of('zone.flow-when-off').map((e) => [hhmm(e.ts), e.severity, e.message])).toEqual([
      ['07:00', 'alarm', 'flow 3 L/min on luu-luong while every valve is closed: a valve is stuck open or a pipe leaks'],
      ['08:00', 'alarm', 'flow 4 L/min on luu-luong while every valve is closed: a valve is stuck open or a pipe leaks'],
    ]);
  });

  it('water draining after a run is not a leak', () => {
    const f = new Field(site({ zones }), local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '5m' });
    // The pipe empties for 40 s after the valve closed.
    f.runUntil(local('07:20'), { every: 10 * SEC, feed: (t) => f.read('luu-luong', t < local('07:05:40') ? 18 : 0, t) });
    expect(f.of('zone.flow-when-off')).toEqual([]);
  });
});

describe('commands', () => {
  const lighting = [{ id: 'den-duong', lights: ['den-1', 'den-2'] }];
  const config = site({ zones: TWO_ZONES, programs: [SANG_SOM], lighting });

  it.each([
    { name: 'an unknown zone', action: { type: 'water', zone: 'ruong-9', duration: '5m' }, reason: 'unknown zone "ruong-9" (zones: ruong-1, ruong-2)' },
    { name: 'more than the valve\'s maxRuntime', action: { type: 'water', zone: 'ruong-1', duration: '61m' }, reason: 'at most 60 min (maxRuntime of van-1)' },
    { name: 'stop of an unknown zone', action: { type: 'stop', zone: 'ruong-9' }, reason: 'unknown zone "ruong-9"' },
    { name: 'an unknown lighting group', action: { type: 'light', group: 'den-san', on: true, duration: '1h' }, reason: 'unknown lighting group "den-san"' },
    { name: 'lights on longer than their maxRuntime', action: { type: 'light', group: 'den-duong', on: true, duration: '15h' }, reason: 'at most 840 min (maxRuntime of the lights)' },
  ] as const)('rejects $name, saying why', ({ action, reason }) => {
    const f = new Field(config, local('07:00'));
    const out = f.command(structuredClone(action) as CommandInput['action'], { id: 'x1', by: 'lan' });
    expect(out.results).toEqual([{ id: 'x1', status: 'rejected', reason, ts: local('07:00') }]);
    expect(out.events.map((e) => [e.kind, e.severity, e.message])).toEqual([['command.rejected', 'warning', `command ${action.type} by lan refused: ${reason}`]]);
    expect(f.ctl.active).toEqual([]);
  });

  it('carries out a command id once', () => {
    const f = new Field(config, local('07:00'));
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { id: 'lan-1' }).results[0]?.status).toBe('accepted');
    f.runUntil(local('07:05'));
    // The broker delivered it again (QoS 1 is at least once).
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { id: 'lan-1' }).results).toEqual([
      { id: 'lan-1', status: 'rejected', reason: 'this command id was already received', ts: local('07:05') },
    ]);
    expect(f.starts()).toEqual([['ruong-1', '07:00']]);
  });

  it.each([
    { ageS: 60, ttl: '60s', status: 'accepted' },
    { ageS: 61, ttl: '60s', status: 'rejected', reason: 'expired: issued 61 s ago, valid for 60 s' },
    { ageS: 3 * 3600, ttl: undefined, status: 'rejected', reason: 'expired: issued 10800 s ago, valid for 60 s' },
  ] as const)('a command issued $ageS s ago with ttl $ttl is $status', ({ ageS, ttl, status, ...rest }) => {
    const f = new Field(config, local('07:00'));
    const out = f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { ts: local('07:00') - ageS * SEC, ...(ttl !== undefined && { ttl }) });
    expect(out.results).toMatchObject([{ status, ...('reason' in rest && { reason: rest.reason }) }]);
    expect(out.events.map((e) => e.kind)).toEqual(status === 'accepted' ? ['command.accepted', 'zone.started'] : ['command.rejected']);
    expect(f.ctl.active.length).toBe(status === 'accepted' ? 1 : 0);
  });

  it('water: accepted, then done when the run completes or failed when it is stopped', () => {
    const f = new Field(config, local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { id: 'a' });
    f.runUntil(local('07:10'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { id: 'b' });
    f.runUntil(local('07:12'));
    expect(f.command({ type: 'stop', zone: 'ruong-1' }, { id: 's', by: 'minh' }).results).toEqual([
      { id: 'b', status: 'failed', reason: 'zone ruong-1 stopped after 2 min: stopped by minh', ts: local('07:12') },
      { id: 's', status: 'done', reason: 'stopped 1 running, cancelled 0 queued', ts: local('07:12') },
    ]);
    expect(f.results.map((r) => [r.id, r.status, hhmm(r.ts)])).toEqual([
      ['a', 'accepted', '07:00'],
      ['a', 'done', '07:05'],
      ['b', 'accepted', '07:10'],
      ['b', 'failed', '07:12'],
      ['s', 'done', '07:12'],
    ]);
    expect(f.runs.at(-1)).toMatchObject({ outcome: 'stopped', endReason: 'stopped by minh', by: 'lan', source: 'manual' });
    expect(f.command({ type: 'stop' }, { id: 's2' }).results[0]).toMatchObject({ status: 'done', reason: 'nothing was running' });
  });

  it('a zone already watering refuses a second water command', () => {
    const f = new Field(config, local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '30m' });
    expect(f.command({ type: 'water', zone: 'ruong-1', duration: '5m' }, { at: local('07:01') }).results[0]).toMatchObject({
      status: 'rejected',
      reason: 'zone ruong-1 is already watering (manual 30 min by lan) until 07:30: stop it first',
    });
  });

  it('stop without a zone stops everything and cancels the queue', () => {
    const f = new Field(config, local('07:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '30m' }, { id: 'a' });
    f.command({ type: 'water', zone: 'ruong-2', duration: '30m' }, { id: 'b' });
    const out = f.command({ type: 'stop' }, { id: 's', at: local('07:03') });
    expect(out.results).toEqual([
      { id: 'a', status: 'failed', reason: 'zone ruong-1 stopped after 3 min: stopped by lan', ts: local('07:03') },
      { id: 'b', status: 'failed', reason: 'cancelled by lan', ts: local('07:03') },
      { id: 's', status: 'done', reason: 'stopped 1 running, cancelled 1 queued', ts: local('07:03') },
    ]);
    expect(out.events.filter((e) => e.kind === 'zone.skipped').map((e) => e.message)).toEqual(['zone ruong-2 skipped: cancelled by lan']);
    f.runUntil(local('08:00'));
    expect(f.starts()).toEqual([['ruong-1', '07:00']]);
  });

  it('pause stops running zones, skips programs while it lasts and ends by itself; resume ends it early', () => {
    const f = new Field(config, local('05:00'));
    f.command({ type: 'water', zone: 'ruong-1', duration: '20m' }, { id: 'w' });
    const out = f.command({ type: 'pause', duration: '1h' }, { id: 'p', by: 'minh', at: local('05:10') });
    expect(out.results).toEqual([
      { id: 'w', status: 'failed', reason: 'zone ruong-1 stopped after 10 min: paused by minh', ts: local('05:10') },
      { id: 'p', status: 'done', reason: 'paused until 06:10', ts: local('05:10') },
    ]);
    expect(f.ctl.state(local('05:10'), []).zones.map((z) => z.state)).toEqual(['paused', 'paused']);
    f.runUntil(local('06:30'));
    expect(f.of('zone.skipped').map((e) => e.message)).toEqual(['zone ruong-1 skipped: irrigation paused until 06:10', 'zone ruong-2 skipped: irrigation paused until 06:10']);
    expect(f.of('control.resumed').map((e) => [hhmm(e.ts), e.message])).toEqual([['06:10', 'irrigation pause ended']]);
    expect(f.starts()).toEqual([['ruong-1', '05:00']]);

    f.command({ type: 'pause', duration: '2h' }, { at: local('07:00') });
    expect(f.command({ type: 'resume' }, { id: 'r', by: 'minh', at: local('07:30') }).results).toEqual([{ id: 'r', status: 'done', reason: 'resumed', ts: local('07:30') }]);
    expect(f.of('control.resumed').at(-1)?.message).toBe('irrigation resumed by minh');
    expect(f.command({ type: 'resume' }, { id: 'r2' }).results[0]?.reason).toBe('was not paused');
    expect(f.command({ type: 'water', zone: 'ruong-2', duration: '5m' }).results[0]?.status).toBe('accepted');
  });

  it('a light override holds for its duration, then the group returns to automatic', () => {
    const f = new Field(config, local('10:00'));
    f.step(local('10:00'));
    expect(f.of('light.off').map((e) => e.message)).toEqual(['lights den-duong off: daytime (sunset to sunrise)']);
    const out = f.command({ type: 'light', group: 'den-duong', on: true, duration: '1h' }, { id: 'l', by: 'minh' });
    expect(out.results).toEqual([{ id: 'l', status: 'done', reason: 'den-duong on until 11:00', ts: local('10:00') }]);
    expect(out.events.map((e) => e.message)).toEqual(['lights den-duong on: manual on by minh until 11:00']);
    expect(f.want('den-1', local('10:30'))).toEqual({ on: true, until: local('11:00') });
    expect(f.want('den-2', local('10:30'))).toEqual({ on: true, until: local('11:00') });
    expect(f.ctl.state(local('10:30'), []).lights).toEqual([{ id: 'den-duong', on: true, reason: 'manual on by minh until 11:00', overrideUntil: local('11:00') }]);
    f.runUntil(local('11:30'));
    expect(f.of('light.off').map((e) => hhmm(e.ts))).toEqual(['10:00', '11:00']);
    expect(f.want('den-1', local('11:30'))).toEqual({ on: false });
    expect(f.ctl.state(local('11:30'), []).lights).toEqual([{ id: 'den-duong', on: false, reason: 'daytime (sunset to sunrise)' }]);
  });
});

describe('crash recovery', () => {
  const config = (program: Record<string, unknown> = {}) => site({ zones: TWO_ZONES, programs: [{ ...SANG_SOM, ...program }] });

  /** The state saved by an edge that ran from 05:00 until it died at `diedAt`. */
  function savedAt(cfg: SiteConfig, diedAt: string, before?: (f: Field) => void): PersistedControl {
    const f = new Field(cfg, local('05:00'));
    before?.(f);
    f.runUntil(local(diedAt));
    return f.ctl.persisted;
  }

  it('logs the interrupted run and resumes what is left of a program run inside its window', () => {
    const cfg = config();
    const f = new Field(cfg, local('05:36'), savedAt(cfg, '05:35'));
    expect(f.runs).toEqual([
      {
        zone: 'ruong-1',
        start: local('05:30'),
        end: local('05:36'),
        metered: false,
        source: 'program',
        program: 'sang-som',
        reason: 'program sang-som (05:30)',
        outcome: 'interrupted',
        endReason: 'the edge stopped (crash or power loss) during the run',
      },
    ]);
    expect(f.of('zone.interrupted').map((e) => [e.severity, e.message, e.data])).toEqual([
      ['warning', 'zone ruong-1 was interrupted by a restart (program sang-som (05:30)); resuming for the 4 min left', { start: local('05:30'), plannedEnd: local('05:40'), resumed: true, program: 'sang-som' }],
    ]);
    f.runUntil(local('06:00'));
    // The rest of the program follows; the 05:30 start is not run again.
    expect(f.starts()).toEqual([
      ['ruong-1', '05:36'],
      ['ruong-2', '05:42'],
    ]);
    expect(f.of('zone.started')[0]?.message).toBe('zone ruong-1 watering for 4 min: program sang-som (05:30) (resumed after restart)');
  });

  it.each([
    { name: 'resumeAfterCrash: false', program: { resumeAfterCrash: false }, restart: '05:36' },
    { name: 'less than 30 s left', program: {}, restart: '05:39:45' },
  ])('does not resume with $name, and the program goes on with its next zone', ({ program, restart }) => {
    const cfg = config(program);
    const f = new Field(cfg, local(restart), savedAt(cfg, '05:35'));
    expect(f.of('zone.interrupted').map((e) => e.data?.resumed)).toEqual([false]);
    f.runUntil(local('06:00'));
    expect(f.starts()).toEqual([['ruong-2', hhmm(local(restart) + 2 * MIN)]]);
  });

  it('does not resume once the program window has closed; the rest of the program is skipped', () => {
    const cfg = config({ window: '1h' });
    const f = new Field(cfg, local('06:45'), savedAt(cfg, '05:35'));
    expect(f.runs).toMatchObject([{ zone: 'ruong-1', outcome: 'interrupted', end: local('05:40') }]);
    expect(f.of('zone.interrupted').map((e) => e.message)).toEqual(['zone ruong-1 was interrupted by a restart (program sang-som (05:30))']);
    f.runUntil(local('07:00'));
    expect(f.starts()).toEqual([]);
    expect(f.of('zone.skipped').map((e) => e.message)).toEqual(['zone ruong-2 skipped: program sang-som (05:30): not started before 06:30 (window passed)']);
  });

  it('never resumes a manual run; its command fails', () => {
    const cfg = config();
    const saved = savedAt(cfg, '05:10', (f) => f.command({ type: 'water', zone: 'ruong-2', duration: '20m' }, { id: 'tay' }));
    const f = new Field(cfg, local('05:12'), saved);
    expect(f.runs).toMatchObject([{ zone: 'ruong-2', source: 'manual', outcome: 'interrupted', by: 'lan', start: local('05:00'), end: local('05:12') }]);
    expect(f.results).toEqual([{ id: 'tay', status: 'failed', reason: 'the edge restarted during the run', ts: local('05:12') }]);
    expect(f.of('zone.interrupted')[0]?.data?.resumed).toBe(false);
    f.runUntil(local('05:29'));
    expect(f.starts()).toEqual([]);
    // A command id seen before the restart is still known after it.
    expect(f.command({ type: 'water', zone: 'ruong-2', duration: '20m' }, { id: 'tay' }).results[0]?.reason).toBe('this command id was already received');
  });
});

describe('sensor inputs', () => {
  const v = (value: number | null, ts = 0, quality: SensorValue['quality'] = 'good'): SensorValue => ({ value, ts, quality, unit: 'mm' });

  it.each([
    { name: 'rises summed', totals: [100, 100.2, 101, 103.5], mm: 3.5 },
    { name: 'a reset counts the value after it', totals: [65_530, 65_535, 2, 4], mm: 9 },
    { name: 'a reset to 0', totals: [12, 0, 0.4], mm: 0.4 },
    { name: 'one reading is no rain', totals: [42], mm: 0 },
    { name: 'nulls are skipped', totals: [10, null, 11], mm: 1 },
  ])('rainFromTotals: $name', ({ totals, mm }) => {
    expect(rainFromTotals(totals.map((t, i) => v(t, i)))).toBeCloseTo(mm, 9);
  });

  it('rainFromTotals skips error readings; rainFromAmounts sums per-interval amounts the same way', () => {
    expect(rainFromTotals([v(10), v(99, 1, 'error'), v(11, 2)])).toBeCloseTo(1, 9);
    expect(rainFromAmounts([v(0.2794), v(0.5588, 1), v(5, 2, 'error'), v(null, 3)])).toBeCloseTo(0.8382, 9);
  });

  it.each([
    { name: 'fresh', value: v(30, 1000), now: 1000 + 15 * MIN, want: 30 },
    { name: 'too old', value: v(30, 1000), now: 1001 + 15 * MIN, want: undefined },
    { name: 'stale quality', value: v(30, 1000, 'stale'), now: 1000, want: undefined },
    { name: 'error quality', value: v(30, 1000, 'error'), now: 1000, want: undefined },
    { name: 'out of range but present', value: v(130, 1000, 'out-of-range'), now: 1000, want: 130 },
    { name: 'null', value: v(null, 1000), now: 1000, want: undefined },
    { name: 'none', value: undefined, now: 1000, want: undefined },
  ])('freshValue: $name', ({ value, now, want }) => {
    expect(freshValue(value, now, 15 * MIN)).toBe(want);
  });

  it('ReadingHistory keeps readings in time order, inserts late ones where they belong and forgets old ones', () => {
    const h = new ReadingHistory(HOUR, 5);
    for (const ts of [0, 10, 30]) h.add('dat-1', v(ts, ts * MIN));
    h.add('dat-1', v(20, 20 * MIN));
    expect(h.history('dat-1', 0, HOUR).map((r) => r.value)).toEqual([0, 10, 20, 30]);
    expect(h.latest('dat-1')?.value).toBe(30);
    expect(h.history('dat-1', 10 * MIN, 20 * MIN).map((r) => r.value)).toEqual([10, 20]);
    h.add('dat-1', v(70, 70 * MIN));
    expect(h.history('dat-1', 0, 2 * HOUR).map((r) => r.value)).toEqual([10, 20, 30, 70]);
    for (const ts of [71, 72, 73]) h.add('dat-1', v(ts, ts * MIN));
    // At most 5 per sensor.
    expect(h.history('dat-1', 0, 2 * HOUR).map((r) => r.value)).toEqual([30, 70, 71, 72, 73]);
    expect(h.latest('khac')).toBeUndefined();
    expect(h.history('khac', 0, HOUR)).toEqual([]);
  });

  it('integrateLpm: each flow reading holds until the next, clipped to the run', () => {
    const flow = [v(0, 0), v(12, MIN), v(null, 2 * MIN), v(20, 3 * MIN)].map((r) => ({ ...r, unit: 'L/min' as const }));
    // 0 for 1 min, 12 L/min for 1 min, nothing known for 1 min, 20 L/min for 1.5 min.
    expect(integrateLpm(flow, 0, 4.5 * MIN)).toBeCloseTo(12 + 30, 9);
    expect(integrateLpm(flow, 1.5 * MIN, 3.5 * MIN)).toBeCloseTo(6 + 10, 9);
    expect(integrateLpm([], 0, MIN)).toBe(0);
  });
});
