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
