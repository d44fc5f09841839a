/**
 * The pure core of GPIO inputs: debouncing, pulse counting and turning counts into readings.
 * No pins, no timers: everything is a function of the edges seen and the time given.
 */
import type { GpioDeviceConfig, Reading, Unit } from '@smart-village/shared';

export type Level = 0 | 1;
export type GpioMode = GpioDeviceConfig['mode'];

/** A level seen on a pin at wall time `t` (epoch ms). */
export interface Edge {
  readonly t: number;
  readonly level: Level;
}

/**
 * Points each mode produces; the sensor id of a reading is `${device.id}-${point}` (a site's
 * `sensors[].source` names them as "device/point").
 *
 * - digital `state`: the debounced level at the end of the interval, 1 = active (after activeLow).
 * - rain-gauge `rain`: mm fallen in this interval; `rain-total`: mm since the driver started.
 *   The interval value is the one to sum (it survives restarts); the total is for a local
 *   display and to spot lost intervals.
 * - flow-meter `flow`: mean L/min over this interval; `volume`: litres since the driver started.
 */
export const GPIO_POINTS = {
  digital: [{ point: 'state', unit: 'state' }],
  'rain-gauge': [
    { point: 'rain', unit: 'mm' },
    { point: 'rain-total', unit: 'mm' },
  ],
  'flow-meter': [
    { point: 'flow', unit: 'L/min' },
    { point: 'volume', unit: 'L' },
  ],
} as const satisfies Record<GpioMode, readonly { point: string; unit: Unit }[]>;

export function sensorIdOf(deviceId: string, point: string): string {
  return `${deviceId}-${point}`;
}

/**
 * Default contact filter per mode.
 * - digital 50 ms: float switches and push buttons bounce for up to tens of ms, and a state
 *   read once per interval does not need a faster response.
 * - rain-gauge 5 ms: the reed switch of a tipping bucket (Misol WH-SP-RG, Davis) bounces for a
 *   few ms; the bucket cannot tip more than a few times a second, so 5 ms loses no tip.
 * - flow-meter 1 ms: a Hall sensor (YF-S201) has a clean push-pull/open-collector edge, and at
 *   its rated 30 L/min it pulses at 7.5 × 30 = 225 Hz, i.e. ~2.2 ms per half period: a 5 ms
 *   filter would swallow every pulse. 1 ms still rejects spikes picked up on a long field cable.
 */
export function defaultDebounceMs(mode: GpioMode): number {
  switch (mode) {
    case 'digital':
      return 50;
    case 'rain-gauge':
      return 5;
    case 'flow-meter':
      return 1;
  }
}

export function debounceMsOf(device: Pick<GpioDeviceConfig, 'mode' | 'debounce'>): number {
  return device.debounce ?? defaultDebounceMs(device.mode);
}

/**
 * A level change counts only once the new level has held for `debounceMs`; anything shorter
 * (contact bounce, a spike) is dropped. A confirmed change is dated at the edge that started
 * it, not when it was confirmed. The state is only advanced by `feed` and `flush`, so the
 * caller decides when time passes.
 */
export class Debouncer {
  private candidate: Edge | undefined;

  constructor(
    private readonly debounceMs: number,
    private stable: Level,
  ) {}

  /** The confirmed level. */
  get level(): Level {
    return this.stable;
  }

  /** True while a change is waiting to be confirmed. */
  get pending(): boolean {
    return this.candidate !== undefined;
  }

  /** A raw level seen at `t`; returns the changes this confirms (in time order). */
  feed(t: number, level: Level): Edge[] {
    const confirmed = this.flush(t);
    if (level === this.stable) this.candidate = undefined; // bounced back before it held
    else if (!this.candidate) this.candidate = { t, level };
    // With debounceMs 0 the new level is confirmed at once.
    return confirmed.concat(this.flush(t));
  }

  /** Time has reached `now` with no new edge: confirms a change that has held long enough. */
  flush(now: number): Edge[] {
    const c = this.candidate;
    if (!c) return [];
    // The wall clock may step back (NTP sync on a Pi without RTC): restart the hold from now
    // rather than wait for the clock to catch up with the old time.
    if (now < c.t) {
      this.candidate = { t: now, level: c.level };
      return [];
    }
    if (now - c.t < this.debounceMs) return [];
    this.stable = c.level;
    this.candidate = undefined;
    return [c];
  }
}

/** The confirmed changes of a whole recorded edge list, flushed at `until`. */
export function debounceEdges(edges: readonly Edge[], debounceMs: number, initial: Level, until?: number): Edge[] {
  const d = new Debouncer(debounceMs, initial);
  const out: Edge[] = [];
  for (const e of edges) out.push(...d.feed(e.t, e.level));
  if (until !== undefined) out.push(...d.flush(until));
  return out;
}

/** Number of pulses (confirmed changes to the active level 1) in a list of confirmed changes. */
export function countPulses(changes: readonly Edge[]): number {
  let n = 0;
  for (const c of changes) if (c.level === 1) n++;
  return n;
}

/** Rain from bucket tips. Misol WH-SP-RG / Davis tipping bucket: 0.2794 mm (0.011 in) per tip. */
export function rainMm(tips: number, mmPerTip: number): number {
  return round6(tips * mmPerTip);
}

/** Volume from Hall pulses. YF-S201: F (Hz) = 7.5 × Q (L/min), so 7.5 × 60 = 450 pulses per litre. */
export function volumeLitres(pulses: number, pulsesPerLitre: number): number {
  return round6(pulses / pulsesPerLitre);
}

/** Mean flow over a window. */
export function flowLitresPerMinute(pulses: number, pulsesPerLitre: number, windowMs: number): number {
  if (windowMs <= 0) return 0;
  return round6((pulses / pulsesPerLitre) * (60_000 / windowMs));
}

/** Drops binary floating-point noise (3 × 0.2794 = 0.8382000000000001) without losing resolution. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Readings of every point of a device marked as failed (pin could not be opened or read). */
export function errorReadings(device: Pick<GpioDeviceConfig, 'id' | 'mode'>, ts: number, clockSynced: boolean): Reading[] {
  return GPIO_POINTS[device.mode].map(({ point, unit }) => ({
    sensor: sensorIdOf(device.id, point),
    ts,
    value: null,
    unit,
    quality: 'error' as const,
    clockSynced,
  }));
}

export type InputDevice = Pick<GpioDeviceConfig, 'id' | 'mode' | 'activeLow' | 'debounce' | 'mmPerTip' | 'pulsesPerLitre' | 'interval'>;

/**
 * One input pin's state between readings: feed it electrical levels as they change, ask it for
 * readings at the end of each interval.
 */
export class InputChannel {
  private readonly debouncer: Debouncer;
  private windowPulses = 0;
  private totalPulses = 0;

  /**
   * @param rawLevel the electrical level read when the pin was opened
   * @param windowStart when counting starts (wall ms)
   */
  constructor(
    readonly device: InputDevice,
    rawLevel: Level,
    private windowStart: number,
  ) {
    this.debouncer = new Debouncer(debounceMsOf(device), this.logical(rawLevel));
  }

  /** The confirmed logical level (1 = active). */
  get level(): Level {
    return this.debouncer.level;
  }

  get pulsesTotal(): number {
    return this.totalPulses;
  }

  /** An electrical level seen on the pin at `t`. */
  edge(t: number, rawLevel: Level): void {
    this.count(this.debouncer.feed(t, this.logical(rawLevel)));
  }

  /**
   * Closes the interval at `now` and returns its readings. The flow rate divides by the
   * measured window, unless the wall clock stepped (NTP sync after boot) and the window is
   * off by more than 2× from the configured interval: then the configured interval is the
   * better guess.
   */
  /** The line was not watched until `now` (a reopen): count this window from here. */
  resume(now: number, rawLevel: Level): void {
    this.windowPulses = 0;
    this.windowStart = now;
    this.edge(now, rawLevel);
  }

  sample(now: number, clockSynced: boolean, nominalWindowMs: number = this.device.interval): Reading[] {
    this.count(this.debouncer.flush(now));
    const elapsed = now - this.windowStart;
    const windowMs = elapsed > 0 && elapsed >= nominalWindowMs / 2 && elapsed <= nominalWindowMs * 2 ? elapsed : nominalWindowMs;
    const pulses = this.windowPulses;
    this.windowPulses = 0;
    this.windowStart = now;

    const d = this.device;
    const good = (point: string, value: number, unit: Unit): Reading => ({
      sensor: sensorIdOf(d.id, point),
      ts: now,
      value,
      unit,
      quality: 'good',
      clockSynced,
    });
    switch (d.mode) {
      case 'digital':
        return [good('state', this.level, 'state')];
      case 'rain-gauge':
        return [good('rain', rainMm(pulses, d.mmPerTip), 'mm'), good('rain-total', rainMm(this.totalPulses, d.mmPerTip), 'mm')];
      case 'flow-meter':
        return [
          good('flow', flowLitresPerMinute(pulses, d.pulsesPerLitre, windowMs), 'L/min'),
          good('volume', volumeLitres(this.totalPulses, d.pulsesPerLitre), 'L'),
        ];
    }
  }

  private logical(raw: Level): Level {
    return this.device.activeLow ? ((1 - raw) as Level) : raw;
  }

  private count(changes: readonly Edge[]): void {
    const n = countPulses(changes);
    this.windowPulses += n;
    this.totalPulses += n;
  }
}
