import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, type BackoffOptions } from './backoff.js';

const top = (o: Omit<BackoffOptions, 'random'>): BackoffOptions => ({ ...o, random: () => 1 });
const bottom = (o: Omit<BackoffOptions, 'random'>): BackoffOptions => ({ ...o, random: () => 0 });

describe('backoffDelay', () => {
  const o = { baseMs: 100, capMs: 30_000 };

  it('the ceiling doubles with each attempt (random = 1 gives the ceiling)', () => {
    const delays = Array.from({ length: 9 }, (_, attempt) => backoffDelay(attempt, top(o)));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600]);
  });

  it('is capped', () => {
    expect(backoffDelay(9, top(o))).toBe(30_000);
    expect(backoffDelay(10, top(o))).toBe(30_000);
    expect(backoffDelay(30, top(o))).toBe(30_000);
    expect(backoffDelay(31, top(o))).toBe(30_000);
    expect(backoffDelay(1000, top(o))).toBe(30_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, top(o))).toBe(30_000);
    expect(backoffDelay(Infinity, top(o))).toBe(30_000);
  });

  it('stays finite for huge attempts with a huge cap (the exponent is clamped)', () => {
    const d = backoffDelay(10_000, top({ baseMs: 1000, capMs: Number.MAX_SAFE_INTEGER }));
    expect(Number.isFinite(d)).toBe(true);
    expect(d).toBe(1000 * 2 ** 30);
  });

  it('never goes below a tenth of the ceiling (random = 0)', () => {
    expect(backoffDelay(0, bottom(o))).toBe(10);
    expect(backoffDelay(3, bottom(o))).toBe(80);
    expect(backoffDelay(100, bottom(o))).toBe(3000);
  });

  it('is linear in the random draw between a tenth of the ceiling and the ceiling', () => {
    expect(backoffDelay(4, { ...o, random: () => 0.5 })).toBe(Math.round(1600 * 0.55));
  });

  it('uses Math.random by default, within bounds', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(5, o);
      expect(d).toBeGreaterThanOrEqual(320);
      expect(d).toBeLessThanOrEqual(3200);
    }
  });

  it('spreads a burst of reconnecting devices (not all the same delay)', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(8, o)));
    expect(delays.size).toBeGreaterThan(10);
  });
});

describe('properties', () => {
  const opts = fc
    .tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 10_000_000 }))
    .map(([baseMs, extra]) => ({ baseMs, capMs: baseMs + extra }));
  const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

  it('jitter stays within [0.1, 1] × min(cap, base·2^attempt) (to the rounding of a millisecond)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 200 }), opts, draw, (attempt, o, r) => {
        const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
        const d = backoffDelay(attempt, { ...o, random: () => r });
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(Math.round(0.1 * ceiling));
        expect(d).toBeGreaterThanOrEqual(0.1 * ceiling - 0.5);
        expect(d).toBeLessThanOrEqual(ceiling);
        expect(d).toBeLessThanOrEqual(o.capMs);
      }),
      { numRuns: 2000 },
    );
  });

  it('for the same draw, the delay never shrinks as attempts grow, and doubles until the cap', () => {
    fc.assert(
      fc.property(fc.nat({ max: 60 }), opts, draw, (attempt, o, r) => {
        const at = (a: number) => backoffDelay(a, { ...o, random: () => r });
        expect(at(attempt + 1)).toBeGreaterThanOrEqual(at(attempt));
        const c = (a: number) => backoffDelay(a, top(o));
        if (o.baseMs * 2 ** (attempt + 1) <= o.capMs && attempt < 30) expect(c(attempt + 1)).toBe(2 * c(attempt));
        else expect(c(attempt + 1)).toBe(Math.min(o.capMs, c(attempt + 1)));
      }),
      { numRuns: 1000 },
    );
  });
});
