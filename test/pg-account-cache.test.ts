import { describe, expect, it } from 'vitest';
import { AccountCache } from '../src/engine/postgres/pg-account-cache.js';

const limits = { maxAccounts: 3, windowGroups: 10, maxStalePercent: 20, pauseGroups: 5, maxPauseGroups: 12 };
const acc = (id: string, balance: bigint, version: number) => ({ id, balance, version });

describe('AccountCache (the states --db-decide cached decides on)', () => {
  it('keeps at most maxAccounts, dropping the least recently committed', () => {
    const cache = new AccountCache(limits);
    cache.remember([acc('a', 1n, 0), acc('b', 1n, 0), acc('c', 1n, 0)]);
    cache.remember([acc('a', 2n, 1)]);
    cache.remember([acc('d', 1n, 0)]);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual(acc('a', 2n, 1));
    expect(cache.get('d')).toEqual(acc('d', 1n, 0));
  });

  it('never replaces a newer version with an older one (answers of two groups in either order)', () => {
    const cache = new AccountCache(limits);
    cache.remember([acc('a', 5n, 4)]);
    cache.remember([acc('a', 9n, 3)]);
    expect(cache.get('a')).toEqual(acc('a', 5n, 4));
    cache.forget(['a']);
    expect(cache.get('a')).toBeUndefined();
    cache.remember([acc('a', 9n, 3)]);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('counts accounts held busy by groups in flight', () => {
    const cache = new AccountCache(limits);
    cache.hold(['a', 'b']);
    cache.hold(['a']);
    cache.release(['a', 'b']);
    expect(cache.isBusy('a')).toBe(true);
    expect(cache.isBusy('b')).toBe(false);
    cache.release(['a']);
    expect(cache.isBusy('a')).toBe(false);
  });

  it('pauses the cached path for pauseGroups groups after a window with too many stale groups, then tries again', () => {
    const cache = new AccountCache(limits);
    // 2 stale of 10: at the limit, no pause.
    for (let i = 0; i < 10; i++) cache.judge(i < 2);
    expect(cache.worthTrying()).toBe(true);
    // 3 stale of 10: a pause of 5 groups.
    for (let i = 0; i < 10; i++) cache.judge(i < 3);
    expect(Array.from({ length: 6 }, () => cache.worthTrying())).toEqual([
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
  });

  it('doubles the pause after each stale window in a row, up to maxPauseGroups, and resets it after a good one', () => {
    const cache = new AccountCache(limits);
    const pauseAfter = (staleOfTen: number) => {
      for (let i = 0; i < 10; i++) cache.judge(i < staleOfTen);
      let paused = 0;
      while (!cache.worthTrying()) paused++;
      return paused;
    };
    expect([pauseAfter(10), pauseAfter(10), pauseAfter(10), pauseAfter(0), pauseAfter(10)]).toEqual([
      5, 10, 12, 0, 5,
    ]);
  });
});
