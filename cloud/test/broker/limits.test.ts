import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FrameSizeGuard, TokenBuckets } from '../../src/broker/limits.js';
import { RateLimitedLog } from '@smart-village/shared';
import { rawPacket } from './harness.js';

describe('TokenBuckets', () => {
  it('allows the burst, then the rate, per key', () => {
    let t = 0;
    const buckets = new TokenBuckets({ ratePerSec: 10, burst: 20 }, () => t);
    const results = Array.from({ length: 25 }, () => buckets.take('a'));
    expect(results.filter(Boolean)).toHaveLength(20);
    expect(buckets.take('b')).toBe(true); // another address is unaffected
    t += 100; // 0.1 s at 10/s: one token
    expect(buckets.take('a')).toBe(true);
    expect(buckets.take('a')).toBe(false);
    t += 10_000;
    expect(Array.from({ length: 25 }, () => buckets.take('a')).filter(Boolean)).toHaveLength(20);
  });

  it('stays bounded under many addresses', () => {
    const t = 0;
    const buckets = new TokenBuckets({ ratePerSec: 1, burst: 2, maxKeys: 100 }, () => t);
    for (let i = 0; i < 1000; i++) buckets.take(`10.0.${i >> 8}.${i & 255}`);
    expect(buckets.size).toBeLessThanOrEqual(100);
  });
});

describe('FrameSizeGuard', () => {
  const frame = (bodyBytes: number): Buffer => rawPacket(0x30, Buffer.alloc(bodyBytes, 1));
  const cases: [string, Buffer[], number, 'ok' | 'oversize' | 'malformed'][] = [
    ['small frame', [frame(10)], 100, 'ok'],
    ['exactly the limit', [frame(98)], 100, 'ok'], // 1 type byte + 1 length byte + 98
    ['one over the limit', [frame(99)], 100, 'oversize'],
    ['many frames in one chunk', [Buffer.concat([frame(50), frame(0), frame(60)])], 100, 'ok'],
    ['frame split byte by byte', [...frame(300)].map((b) => Buffer.from([b])), 400, 'ok'],
    ['oversize seen from the header alone', [frame(5000).subarray(0, 3)], 1000, 'oversize'],
    ['second frame too big', [frame(10), frame(2000)], 1000, 'oversize'],
    ['length with five bytes', [Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])], 1 << 30, 'malformed'],
    ['pingreq (zero length)', [Buffer.from([0xc0, 0x00, 0xc0, 0x00])], 10, 'ok'],
  ];
  it.each(cases)('%s', (_name, chunks, max, expected) => {
    const guard = new FrameSizeGuard(max);
    let verdict: ReturnType<FrameSizeGuard['feed']> = { ok: true };
    for (const chunk of chunks) verdict = guard.feed(chunk);
    expect(verdict.ok ? 'ok' : verdict.kind).toBe(expected);
  });

  it('reports the full frame size', () => {
    const verdict = new FrameSizeGuard(1000).feed(frame(2000));
    expect(verdict).toEqual({ ok: false, kind: 'oversize', size: 1 + 2 + 2000 });
  });
});

describe('RateLimitedLog', () => {
  it('logs one line per key per window and reports the suppressed count', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    let t = 0;
    const log = new RateLimitedLog(pino(sink), () => t, 60_000);
    for (let i = 0; i < 5; i++) log.warn('k', { n: i }, 'refused');
    log.warn('other', {}, 'refused');
    t = 60_000;
    log.warn('k', {}, 'refused');
    expect(lines.map((l) => [l.msg, l.suppressed])).toEqual([
      ['refused', undefined],
      ['refused', undefined],
      ['refused (4 similar suppressed)', 4],
    ]);
  });
});
