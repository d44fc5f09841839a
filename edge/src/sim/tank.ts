/**
 * A water tank: a volume between empty and full, filled by a steady inflow (well, spring,
 * rain harvest) and drawn by pumps. Below the outlet a pump sucks air — it runs dry.
 */

const MINUTE_MS = 60_000;

export interface TankOptions {
  capacityL: number;
  heightCm: number;
  /** Fill at the start, 0..1 (default 1). */
  initialFill?: number;
  /** Steady refill, L/min (default 0). */
  inflowLpm?: number;
  /** Height of the pump's outlet above the bottom, cm (default 0): below it nothing can be drawn. */
  outletCm?: number;
}

export type TankParams = Readonly<Required<TankOptions>>;

export interface TankState {
  volumeL: number;
}

/** Fills defaults and checks the options; throws a clear Error naming the bad one. */
export function resolveTank(id: string, opts: TankOptions): TankParams {
  const p: Required<TankOptions> = {
    capacityL: opts.capacityL,
    heightCm: opts.heightCm,
    initialFill: opts.initialFill ?? 1,
    inflowLpm: opts.inflowLpm ?? 0,
    outletCm: opts.outletCm ?? 0,
  };
  const bad = (what: string): never => {
    throw new Error(`tank "${id}": ${what}`);
  };
  if (!(p.capacityL > 0)) bad(`capacityL must be > 0, got ${p.capacityL}`);
  if (!(p.heightCm > 0)) bad(`heightCm must be > 0, got ${p.heightCm}`);
  if (!(p.initialFill >= 0 && p.initialFill <= 1)) bad(`initialFill must be in [0, 1], got ${p.initialFill}`);
  if (!(p.inflowLpm >= 0)) bad(`inflowLpm must be ≥ 0, got ${p.inflowLpm}`);
  if (!(p.outletCm >= 0 && p.outletCm < p.heightCm)) bad(`outletCm must be in [0, heightCm), got ${p.outletCm}`);
  return Object.freeze(p);
}

/**
 * Exchanges water over one step: inflow in, up to `demandL` out through the outlet. Returns
 * the litres actually delivered (less than asked when the water reaches the outlet).
 * Inflow during the step is available to the pump in that step; overflow is lost.
 */
export function exchange(p: TankParams, s: TankState, dtMs: number, demandL: number): number {
  const inflowL = (p.inflowLpm * dtMs) / MINUTE_MS;
  const outletL = (p.outletCm / p.heightCm) * p.capacityL;
  const available = Math.max(0, s.volumeL + inflowL - outletL);
  const delivered = Math.min(Math.max(0, demandL), available);
  s.volumeL = Math.min(p.capacityL, Math.max(0, s.volumeL + inflowL - delivered));
  return delivered;
}

export function tankFill(p: TankParams, s: TankState): number {
  return s.volumeL / p.capacityL;
}
