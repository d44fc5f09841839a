import { describe, expect, it } from 'vitest';
import type { Frame, HelloMessage, NodeMessage, ReadingsMessage } from '../src/frame.js';
import { mapReadings } from '../src/readings.js';
import { checkHello, judgeSeq, NodeTable, SEQ_WINDOW, type SeqState, type Verdict } from '../src/session.js';

describe('judgeSeq (PROTOCOL.md §7)', () => {
  const s = (boot: number, high: number, seen = 1): SeqState => ({ boot, high, seen });
  it.each<[string, SeqState | undefined, number, number, Verdict, number]>([
    ['first frame of a node', undefined, 5, 9, 'new', 0],
    ['the next seq', s(5, 9), 5, 10, 'new', 0],
    ['three skipped', s(5, 9), 5, 13, 'new', 3],
    ['the same seq again', s(5, 9), 5, 9, 'duplicate', 0],
    ['across the wrap', s(5, 65535), 5, 0, 'new', 0],
    ['one behind, not seen (reordered)', s(5, 9, 0b1), 5, 8, 'late', 0],
    ['one behind, seen', s(5, 9, 0b11), 5, 8, 'duplicate', 0],
    ['31 behind, seen', s(5, 40, (1 << 31) | 1), 5, 9, 'duplicate', 0],
    ['32 behind: outside the window, a restart without a new boot id', s(5, 40), 5, 8, 'restart', 0],
    ['seq 0 long after: a restart', s(5, 5000), 5, 0, 'restart', 0],
    ['another boot id, seq 0', s(5, 9), 6, 0, 'restart', 0],
    ['another boot id, a low seq already seen in the old boot', s(5, 2, 0b111), 6, 1, 'restart', 0],
  ])('%s', (_name, state, boot, seq, verdict, gap) => {
    const j = judgeSeq(state, boot, seq);
    expect(j.verdict).toBe(verdict);
    expect(j.gap).toBe(gap);
  });

  it('recognises every duplicate inside the window after a burst', () => {
    let state: SeqState | undefined;
    for (let seq = 65530; seq < 65530 + 40; seq++) state = judgeSeq(state, 1, seq & 0xffff).next;
    for (let back = 0; back < SEQ_WINDOW; back++) expect(judgeSeq(state, 1, (65569 - back) & 0xffff).verdict).toBe('duplicate');
  });
});

const hello = (sensors: HelloMessage['sensors'], heartbeatS = 5): HelloMessage => ({ type: 'hello', heartbeatS, firmware: 't', sensors, actuators: [{ channel: 0, kind: 'valve', maxOnS: 60, name: 'valve' }] });

describe('checkHello', () => {
  it('accepts good declarations and says why it rejects the others', () => {
    const h = checkHello(
      hello([
        { index: 0, quantity: 'soil-moisture', unit: '%VWC', name: 'moisture' },
        { index: 1, quantity: 'battery', unit: '%', name: 'battery' },
        { index: 2, quantity: null, unit: 'mm', name: 'future' },
        { index: 3, quantity: 'rain', unit: 'mm', name: 'Rain' },
        { index: 0, quantity: 'rain', unit: 'mm', name: 'again' },
        { index: 4, quantity: 'rain', unit: 'mm', name: 'moisture' },
      ]),
    );
    expect(h.sensors.get(0)?.problem).toBeUndefined();
    expect(h.sensors.get(1)?.problem).toMatch(/battery is measured in V, the node declares %/);
    expect(h.sensors.get(2)?.problem).toMatch(/unknown quantity code/);
    expect(h.sensors.get(3)?.problem).toMatch(/name "Rain"/);
    expect(h.sensors.get(4)?.problem).toMatch(/used twice/);
    expect(h.problems).toHaveLength(5);
    expect([...h.actuators.keys()]).toEqual([0]);
  });
});

describe('mapReadings', () => {
  const h = checkHello(hello([
    { index: 0, quantity: 'soil-moisture', unit: '%VWC', name: 'moisture' },
    { index: 1, quantity: 'battery', unit: '%', name: 'battery' },
  ]));
  const ctx = { node: 3, ts: 1_750_000_000_000, clockSynced: true, sensorId: (n: number, s: string) => (n === 3 ? `line-n${n}-${s}` : undefined) };
  const m = (readings: ReadingsMessage['readings']): ReadingsMessage => ({ type: 'readings', ageDs: 0, readings });

  it('maps good, failed and out-of-range values', () => {
    const r = mapReadings(h, m([
      { sensor: 0, unit: '%VWC', mantissa: 231, exp: -1 },
      { sensor: 0, unit: '%VWC', mantissa: 0, exp: -128 },
      { sensor: 0, unit: '%VWC', mantissa: 1234, exp: -1 },
    ]), ctx);
    expect(r.rejected).toEqual([]);
    expect(r.readings).toEqual([
      { sensor: 'line-n3-moisture', ts: ctx.ts, value: 23.1, unit: '%VWC', quality: 'good', clockSynced: true },
      { sensor: 'line-n3-moisture', ts: ctx.ts, value: null, unit: '%VWC', quality: 'error', clockSynced: true },
      { sensor: 'line-n3-moisture', ts: ctx.ts, value: 123.4, unit: '%VWC', quality: 'out-of-range', clockSynced: true },
    ]);
  });

  it('rejects a value whose unit is not its quantity\'s, and counts the reason of each rejection', () => {
    const r = mapReadings(h, m([
      { sensor: 0, unit: '°C', mantissa: 231, exp: -1 },
      { sensor: 0, unit: null, mantissa: 231, exp: -1 },
      { sensor: 1, unit: '%', mantissa: 50, exp: 0 },
      { sensor: 9, unit: 'mm', mantissa: 1, exp: 0 },
      { sensor: 0, unit: '%VWC', mantissa: 300, exp: -1 },
    ]), ctx);
    expect(r.rejected.map((x) => x.reason)).toEqual(['unit-mismatch', 'unit-mismatch', 'bad-declaration', 'unknown-sensor']);
    expect(r.rejected[0]?.detail).toMatch(/sent °C, expected %VWC/);
    expect(r.readings.map((x) => x.value)).toEqual([30]);
    expect(mapReadings(undefined, m([{ sensor: 0, unit: '%VWC', mantissa: 1, exp: 0 }]), ctx).rejected[0]?.reason).toBe('no-hello');
    expect(mapReadings(h, m([{ sensor: 0, unit: '%VWC', mantissa: 1, exp: 0 }]), { ...ctx, node: 4 }).rejected[0]?.reason).toBe('unmapped');
  });
});

describe('NodeTable', () => {
  const f = (boot: number, seq: number, message: NodeMessage): Frame<NodeMessage> => ({ node: 3, boot, seq, message });
  const hb: NodeMessage = { type: 'heartbeat', uptimeS: 1, relays: 1, rxErrors: 0 };

  it('tracks hello, duplicates, gaps and restarts; a restart forgets the hello and the relays', () => {
    const t = new NodeTable();
    expect(t.observe(f(7, 0, hello([{ index: 0, quantity: 'rain', unit: 'mm', name: 'rain' }])), 0)).toMatchObject({ verdict: 'new', cameOnline: true });
    expect(t.observe(f(7, 1, hb), 10)).toMatchObject({ verdict: 'new', cameOnline: false });
    expect(t.observe(f(7, 1, hb), 20).verdict).toBe('duplicate');
    expect(t.observe(f(7, 5, hb), 30).verdict).toBe('new');
    const node = t.get(3)!;
    expect(node.relays).toBe(1);
    expect(node.counters).toMatchObject({ frames: 3, duplicates: 1, gaps: 3, hellos: 1, restarts: 0 });
    expect(t.observe(f(8, 1, { type: 'readings', ageDs: 0, readings: [{ sensor: 0, unit: 'mm', mantissa: 1, exp: 0 }] }), 40).verdict).toBe('restart');
    expect(node.hello).toBeUndefined();
    expect(node.relays).toBe(0);
    expect(node.counters.restarts).toBe(1);
  });

  it('takes a node offline after its silence, and online again when it speaks', () => {
    const t = new NodeTable();
    t.observe(f(7, 0, hello([], 5)), 0);
    const after = (n: { hello?: { heartbeatS: number } | undefined }): number => 3 * (n.hello?.heartbeatS ?? 30) * 1000;
    expect(t.expire(15_000, after)).toEqual([]);
    expect(t.expire(15_001, after).map((n) => n.node)).toEqual([3]);
    expect(t.expire(99_000, after)).toEqual([]);
    expect(t.observe(f(7, 1, hb), 100_000).cameOnline).toBe(true);
  });
});
