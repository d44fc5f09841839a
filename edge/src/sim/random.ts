/**
 * Seeded randomness for the simulated village. Everything random in the model comes from
 * here, so the same seed and the same calls give the same village, bit for bit.
 *
 * Two kinds:
 * - `Random`: a sequential stream (mulberry32, Tommy Ettinger's 32-bit generator, 2017),
 *   stepped once per integration step for processes with memory (gusts, passing clouds).
 * - `hashUnit`: a stateless hash of (seed, keys…) for things that must not depend on how
 *   many draws happened before (each day's weather, each field's soil), so adding a field or
 *   reading a value never shifts the weather.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    // mulberry32: a Weyl sequence (odd increment) scrambled by two multiply-xorshift rounds.
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal, Box–Muller (consumes two uniforms so the draw count is fixed). */
  normal(): number {
    const u1 = this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** murmur3's 32-bit finaliser: every input bit flips each output bit with ~50% chance. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a seed and integer keys (e.g. seed, day index, which parameter). */
export function hash32(seed: number, ...keys: number[]): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const k of keys) {
    // Fold in low and high halves so day indices and negative numbers both spread.
    h = mix32(h ^ mix32(k >>> 0));
    h = mix32(h ^ mix32(Math.floor(k / 4294967296) >>> 0) ^ 0x27d4eb2f);
  }
  return h;
}

/** Uniform in [0, 1) from a seed and integer keys; the same arguments give the same value. */
export function hashUnit(seed: number, ...keys: number[]): number {
  return hash32(seed, ...keys) / 4294967296;
}

/** A standard normal from a seed and keys (Box–Muller on two hashed uniforms). */
export function hashNormal(seed: number, ...keys: number[]): number {
  const u1 = hashUnit(seed, ...keys, 1);
  const u2 = hashUnit(seed, ...keys, 2);
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/** FNV-1a over a string's UTF-16 units: turns a field or tank id into a seed key. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * One step of an Ornstein–Uhlenbeck process (mean-reverting noise) with its exact
 * discretisation, so any step length gives the same statistics: x' = x·e^(−dt/τ) +
 * σ·√(1−e^(−2dt/τ))·N(0,1), stationary standard deviation σ.
 */
export function ouStep(x: number, dtMs: number, tauMs: number, sigma: number, normal: number): number {
  const a = Math.exp(-dtMs / tauMs);
  return x * a + sigma * Math.sqrt(1 - a * a) * normal;
}
