/**
 * Rain for the simulated village: showers start at random (seeded) with a tropical
 * afternoon peak, or are forced by tests; the gauge counts the cumulative millimetres.
 */
import type { Random } from './random.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export interface RainOptions {
  /** Chance of at least one shower on an average day (0..1). */
  probabilityPerDay: number;
  /** Mean depth of one shower, mm (depths are exponentially distributed). */
  meanMm: number;
}

interface Shower {
  start: number;
  end: number;
  mmPerMs: number;
}

export class Rain {
  private showers: Shower[] = [];
  private total = 0;
  /** (step end, cumulative mm) at every step in which rain fell: answers rainSince(t). */
  private readonly history: { t: number; total: number }[] = [];

  constructor(private readonly opts: RainOptions) {}

  /** Cumulative rain through the integrated steps, mm (a rain gauge's counter). */
  get totalMm(): number {
    return this.total;
  }

  /**
   * Maybe start a random shower at t0. Always draws the same number of uniforms, so the
   * stream behind it stays aligned whatever happens. Occurrence is a Poisson process whose
   * daily rate λ = −ln(1 − p) makes P(≥1 shower in a day) = p on average; it is modulated by
   * the hour (Mekong delta wet-season rain peaks in the mid-to-late afternoon from convection)
   * and by the day's cloudiness (`wetness` ~1 on an average day, up to ~2 on a grey one).
   */
  maybeStart(t0: number, dtMs: number, localHour: number, wetness: number, rng: Random): void {
    const uOccur = rng.next();
    const uDuration = rng.next();
    const uDepth = rng.next();
    const p = Math.min(Math.max(this.opts.probabilityPerDay, 0), 0.999);
    if (p <= 0 || this.opts.meanMm <= 0) return;
    const perDay = -Math.log(1 - p);
    const diurnal = 1 + 0.8 * Math.cos((2 * Math.PI * (localHour - 16)) / 24);
    const chance = 1 - Math.exp(-perDay * diurnal * wetness * (dtMs / DAY_MS));
    if (uOccur >= chance) return;
    const durationMs = (20 + 130 * uDuration) * MINUTE_MS;
    const mm = Math.min(Math.max(-this.opts.meanMm * Math.log(1 - uDepth), 0.2), 6 * this.opts.meanMm);
    this.showers.push({ start: t0, end: t0 + durationMs, mmPerMs: mm / durationMs });
  }

  /** A forced shower of `mm` spread evenly over [at, at + durationMs). */
  force(at: number, mm: number, durationMs: number): void {
    if (!(mm >= 0) || !Number.isFinite(mm)) throw new Error(`rainNow: mm must be a finite number ≥ 0, got ${mm}`);
    if (!Number.isFinite(durationMs)) throw new Error(`rainNow: durationMs must be finite, got ${durationMs}`);
    if (mm === 0) return;
    const d = Math.max(durationMs, 1);
    this.showers.push({ start: at, end: at + d, mmPerMs: mm / d });
  }

  /** Rain falling in [t0, t1), mm; adds it to the gauge and forgets finished showers. */
  fall(t0: number, t1: number): number {
    let mm = 0;
    for (const s of this.showers) {
      const overlap = Math.min(t1, s.end) - Math.max(t0, s.start);
      if (overlap > 0) mm += overlap * s.mmPerMs;
    }
    if (mm > 0) {
      this.total += mm;
      this.history.push({ t: t1, total: this.total });
    }
    this.showers = this.showers.filter((s) => s.end > t1);
    return mm;
  }

  /** Intensity at an instant, mm/h. */
  rateMmPerHour(t: number): number {
    let rate = 0;
    for (const s of this.showers) if (t >= s.start && t < s.end) rate += s.mmPerMs * HOUR_MS;
    return rate;
  }

  /** Gauge counter as it stood at time t (through whole steps ending at or before t). */
  totalAt(t: number): number {
    // Binary search for the last history entry with entry.t ≤ t.
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.history[mid]?.t ?? Infinity) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : (this.history[lo - 1]?.total ?? 0);
  }
}
