import { existsSync } from 'node:fs';

/**
 * Whether the wall clock can be trusted. A Pi has no real-time clock: until NTP syncs after
 * boot, the time is whatever fake-hwclock saved at the last shutdown. systemd-timesyncd
 * creates /run/systemd/timesync/synchronized once it has synced (systemd >= 239). On a machine
 * without timesyncd (a developer's laptop, CI) the clock is assumed good.
 */
export function systemClockSynced(runDir = '/run/systemd'): () => boolean {
  let synced = false;
  let checkedAt = 0;
  return () => {
    if (synced) return true;
    const now = Date.now();
    if (now - checkedAt < 10_000) return synced;
    checkedAt = now;
    synced = !existsSync(`${runDir}/timesync`) || existsSync(`${runDir}/timesync/synchronized`);
    return synced;
  };
}

/**
 * Corrects readings taken before the clock synced, once the size of the jump is known.
 *
 * A Pi boots with the time fake-hwclock saved at shutdown (or 1970), then NTP steps the wall
 * clock. The monotonic clock does not step, so (wall - monotonic) changes by exactly the jump.
 * Readings flagged `clockSynced: false` that were taken in this process after `start` get the
 * jump added and are then as good as synced ones. Readings from before this process started
 * (a crash before the sync) cannot be placed and keep their flag; the cloud quarantines them
 * when their time is impossible.
 */
export class ClockWatch {
  private anchor: { wall: number; base: number } | undefined;
  private offset: number | undefined;

  constructor(
    private readonly synced: () => boolean,
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = () => performance.now(),
  ) {}

  /** Call at start, and often (each poll): it notices the moment the clock syncs. */
  observe(): void {
    const wall = this.wall();
    const base = wall - this.mono();
    if (this.offset !== undefined) return;
    if (!this.anchor) {
      if (this.synced()) {
        this.offset = 0;
        return;
      }
      this.anchor = { wall, base };
      return;
    }
    if (this.synced()) this.offset = base - this.anchor.base;
  }

  /** The wall-clock jump at sync, ms; undefined until synced. */
  get jump(): number | undefined {
    return this.offset;
  }

  correct<T extends { ts: number; clockSynced: boolean }>(row: T): T {
    if (row.clockSynced || this.offset === undefined || !this.anchor) return row;
    // Taken in this process and before the sync: its time is on the unsynced scale.
    if (row.ts < this.anchor.wall - 1000) return row;
    return { ...row, ts: Math.max(0, Math.round(row.ts + this.offset)), clockSynced: true };
  }
}
