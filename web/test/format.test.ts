import { describe, expect, it } from 'vitest';
import { createFormat } from '../src/format.js';

const TZ = 'Asia/Ho_Chi_Minh'; // UTC+7, no daylight saving
// 2024-06-01 23:30 UTC = 2024-06-02 06:30 in Hanoi.
const AT = Date.UTC(2024, 5, 1, 23, 30);
const vi = createFormat('vi', TZ);
const en = createFormat('en', TZ);

describe('format', () => {
  it('writes numbers the Vietnamese and the British way', () => {
    expect(vi.number(1234.56)).toBe('1.234,6');
    expect(en.number(1234.56)).toBe('1,234.6');
    expect(vi.number(3.14159, 2)).toBe('3,14');
  });

  it.each([
    [32.4, '%VWC', '32\u00a0%', '32\u00a0%'],
    [27.55, '°C', '27,6\u00a0°C', '27.6\u00a0°C'],
    [12.25, 'mm', '12,3\u00a0mm', '12.3\u00a0mm'],
    [270, '°', '270°', '270°'],
    [1500, 'L', '1.500\u00a0L', '1,500\u00a0L'],
    [null, '%', '—', '—'],
  ] as const)('value %s %s', (value, unit, inVi, inEn) => {
    expect(vi.value(value, unit)).toBe(inVi);
    expect(en.value(value, unit)).toBe(inEn);
  });

  it('shows times in the site zone, not the machine zone', () => {
    expect(vi.time(AT)).toBe('06:30');
    expect(en.time(AT)).toBe('06:30');
    expect(createFormat('en', 'UTC').time(AT)).toBe('23:30');
  });

  it('gives the time alone on the same site day, else day and time', () => {
    const laterThatMorning = AT + 3 * 3_600_000;
    expect(vi.when(AT, laterThatMorning)).toBe('06:30');
    // 06:30 on 2 June seen from 00:30 on 3 June (Hanoi): another day.
    const nextDay = Date.UTC(2024, 5, 2, 17, 30);
    expect(vi.when(AT, nextDay)).toBe('2/6 06:30');
    expect(en.when(AT, nextDay)).toBe('2 Jun 06:30');
  });

  it('says how long ago or ahead', () => {
    expect(vi.relative(AT - 5 * 60_000, AT)).toBe('5 phút trước');
    expect(en.relative(AT + 2 * 3_600_000, AT)).toBe('in 2 hours');
    expect(en.relative(AT - 86_400_000, AT)).toBe('yesterday');
    expect(en.relative(AT - 10_000, AT)).toBe('now');
  });

  it('writes durations in minutes, hours or days', () => {
    expect(vi.duration(20 * 60_000)).toBe('20 phút');
    expect(en.duration(20 * 60_000)).toBe('20 minutes');
    expect(en.duration(59 * 60_000)).toBe('59 minutes');
    expect(vi.duration(60 * 60_000)).toBe('1 giờ');
    expect(en.duration(90 * 60_000)).toBe('1.5 hours');
    expect(en.duration(86_400_000)).toBe('1 day');
    expect(vi.duration(3 * 86_400_000)).toBe('3 ngày');
  });
});
