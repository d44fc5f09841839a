import { describe, expect, it } from 'vitest';
import { tokenFromHash } from '../src/hall/hash.js';
import { pageCount, pageOf, rotationIndex } from '../src/paging.js';

describe('hall pages', () => {
  const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

  it('splits a list into pages and counts round', () => {
    expect(pageCount(0, 6)).toBe(1);
    expect(pageCount(7, 6)).toBe(2);
    expect(pageOf(items, 6, 0)).toEqual({ items: ['a', 'b', 'c', 'd', 'e', 'f'], page: 0, pages: 2 });
    expect(pageOf(items, 6, 1).items).toEqual(['g']);
    expect(pageOf(items, 6, 2).page).toBe(0);
    expect(pageOf([], 6, 5)).toEqual({ items: [], page: 0, pages: 1 });
  });

  it('turns a page every period of the clock', () => {
    expect(rotationIndex(14_999, 15_000)).toBe(0);
    expect(rotationIndex(15_000, 15_000)).toBe(1);
  });
});

describe('kiosk token from the URL fragment', () => {
  it.each([
    ['#token=abc123', 'abc123'],
    ['#lang=vi&token=a%2Bb', 'a+b'],
    ['#token=', null],
    ['#tokens=abc', null],
    ['', null],
    ['#token=%E0%A4%A', null],
  ])('%s -> %s', (hash, token) => {
    expect(tokenFromHash(hash)).toBe(token);
  });
});
