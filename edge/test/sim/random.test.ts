import { describe, expect, it } from 'vitest';
import { Random, hash32, hashString, hashUnit, ouStep } from '../../src/sim/random.js';

describe('seeded randomness', () => {
  it('the same seed gives the same stream; another seed another', () => {
    const a = new Random(7);
    const b = new Random(7);
    const c = new Random(8);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xs);
  });

  it('uniforms lie in [0, 1) with mean ~0.5; normals have mean ~0 and sd ~1', () => {
    const r = new Random(123);
    let sum = 0;
    let n = 0;
    let sq = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = r.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      sum += u;
      const z = r.normal();
      n += z;
      sq += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(sum / 20_000).toBeCloseTo(0.5, 1);
    expect(n / 20_000).toBeCloseTo(0, 1);
    expect(Math.sqrt(sq / 20_000)).toBeCloseTo(1, 1);
  });

  it('hashes are stable functions of their keys', () => {
    expect(hash32(1, 2, 3)).toBe(hash32(1, 2, 3));
    expect(hash32(1, 2, 3)).not.toBe(hash32(1, 3, 2));
    expect(hashUnit(5, -1)).not.toBe(hashUnit(5, 1));
    expect(hashString('field-1')).not.toBe(hashString('field-2'));
  });

  it('OU steps of any length keep the stationary spread', () => {
    for (const dt of [1_000, 60_000, 3_600_000]) {
      const r = new Random(9);
      let x = 0;
      let sq = 0;
      for (let i = 0; i < 20_000; i++) {
        x = ouStep(x, dt, 120_000, 2, r.normal());
        sq += x * x;
      }
      expect(Math.sqrt(sq / 20_000)).toBeGreaterThan(1.7);
      expect(Math.sqrt(sq / 20_000)).toBeLessThan(2.3);
    }
  });
});
