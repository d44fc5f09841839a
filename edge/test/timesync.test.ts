import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClockWatch, systemClockSynced } from '../src/timesync.js';

describe('ClockWatch', () => {
  // A Pi that booted believing it is 1970-01-02, then NTP stepped the clock to 2026.
  function pi() {
    let mono = 0;
    let wall = 86_400_000;
    let synced = false;
    const watch = new ClockWatch(() => synced, () => wall, () => mono);
    return {
      watch,
      tick(ms: number) {
        mono += ms;
        wall += ms;
      },
      sync(realWall: number) {
        wall = realWall;
        synced = true;
      },
      get wall() {
        return wall;
      },
    };
  }

  it('adds the jump to readings taken before the sync in this process', () => {
    const p = pi();
    p.watch.observe();
    p.tick(60_000);
    const before = { ts: p.wall, clockSynced: false, v: 1 };
    p.tick(30_000);
    const real = Date.UTC(2026, 5, 1, 6, 0, 0);
    p.sync(real);
    p.watch.observe();
    expect(p.watch.jump).toBe(real - (86_400_000 + 90_000));
    // 30 s before the sync, on the real scale.
    expect(p.watch.correct(before)).toEqual({ ts: real - 30_000, clockSynced: true, v: 1 });
  });

  it('leaves synced readings, and readings from before this process, alone', () => {
    const p = pi();
    p.watch.observe();
    p.tick(1000);
    p.sync(Date.UTC(2026, 0, 1));
    p.watch.observe();
    const synced = { ts: 5, clockSynced: true };
    const older = { ts: 1000, clockSynced: false }; // from a previous boot
    expect(p.watch.correct(synced)).toBe(synced);
    expect(p.watch.correct(older)).toBe(older);
  });

  it('knows no jump until the clock syncs, and zero when it was synced from the start', () => {
    const p = pi();
    p.watch.observe();
    p.tick(1000);
    p.watch.observe();
    expect(p.watch.jump).toBeUndefined();
    const row = { ts: p.wall, clockSynced: false };
    expect(p.watch.correct(row)).toBe(row);
    const good = new ClockWatch(() => true);
    good.observe();
    expect(good.jump).toBe(0);
  });
});

describe('systemClockSynced', () => {
  it('reads systemd-timesyncd\'s flag file', () => {
    const run = mkdtempSync(join(tmpdir(), 'sv-run-'));
    mkdirSync(join(run, 'timesync'));
    expect(systemClockSynced(run)()).toBe(false);
    writeFileSync(join(run, 'timesync', 'synchronized'), '');
    // A fresh checker: the previous one caches its answer for 10 s.
    expect(systemClockSynced(run)()).toBe(true);
  });

  it('assumes a good clock where timesyncd is absent (a laptop, CI)', () => {
    const run = mkdtempSync(join(tmpdir(), 'sv-run-'));
    expect(systemClockSynced(run)()).toBe(true);
  });
});
