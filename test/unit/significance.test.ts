import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binomialTail, correctNeeded, pValue, wilsonInterval } from '../../shared/significance.ts';

// scipy's own numbers (scripts/scipy_evaluation.py wrote them).
const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '../fixtures/scipy/evaluation.json'), 'utf8'),
) as {
  tails: Array<{ k: number; n: number; p: number; tail: number }>;
  needed: Array<{ n: number; p: number; alpha: number; needed: number | null }>;
  wilson: Array<{ k: number; n: number; low: number; high: number }>;
};

/** Relative error, so a tail of 1e-200 is held to the same 1e-9 as one of 0.4. */
const relativeError = (got: number, want: number) =>
  want === 0 ? Math.abs(got) : Math.abs(got - want) / Math.abs(want);

describe('binomialTail agrees with scipy.stats.binom.sf', () => {
  it.each(fixture.tails.map((t) => [`P(X >= ${t.k} | ${t.n}, ${t.p})`, t] as const))('%s', (_, t) => {
    expect(relativeError(binomialTail(t.k, t.n, t.p), t.tail)).toBeLessThan(1e-9);
  });

  it("gives the issue's figure: 17 of 28 against a 16/28 baseline is 0.43, guessing's territory", () => {
    expect(pValue(17, 28, 16 / 28)).toBeCloseTo(0.428, 3);
  });

  it('handles the edges by hand: k ≤ 0, k > n, p = 0, p = 1, n = 0', () => {
    expect(binomialTail(0, 10, 0.3)).toBe(1);
    expect(binomialTail(11, 10, 0.3)).toBe(0);
    expect(binomialTail(1, 10, 0)).toBe(0);
    expect(binomialTail(10, 10, 1)).toBe(1);
    expect(pValue(0, 0, 0.5)).toBe(1);
    // P(X >= 2 | 2, 1/2) = 1/4; P(X >= 1 | 2, 1/2) = 3/4, by hand
    expect(binomialTail(2, 2, 0.5)).toBeCloseTo(0.25, 15);
    expect(binomialTail(1, 2, 0.5)).toBeCloseTo(0.75, 15);
  });

  it('refuses what is not a count or not a probability', () => {
    expect(() => binomialTail(1.5, 10, 0.5)).toThrow(/whole numbers/);
    expect(() => binomialTail(1, 10, 1.2)).toThrow(/not a probability/);
  });
});

describe('correctNeeded agrees with a scan of scipy tails', () => {
  it.each(fixture.needed.map((t) => [`n ${t.n}, baseline ${t.p}, alpha ${t.alpha}`, t] as const))(
    '%s',
    (_, t) => {
      expect(correctNeeded(t.n, t.p, t.alpha)).toBe(t.needed);
    },
  );

  it("says 21 of 28 for the issue's reference split", () => {
    expect(correctNeeded(28, 16 / 28, 0.05)).toBe(21);
  });

  it('is null when even a perfect score is not enough (4 windows at 1/2: 1/16 > 0.05)', () => {
    expect(correctNeeded(4, 0.5, 0.05)).toBeNull();
    expect(correctNeeded(10, 1, 0.05)).toBeNull();
  });
});

describe('wilsonInterval agrees with scipy binomtest(...).proportion_ci(method="wilson")', () => {
  it.each(fixture.wilson.map((w) => [`${w.k} of ${w.n}`, w] as const))('%s', (_, w) => {
    const got = wilsonInterval(w.k, w.n);
    expect(Math.abs(got.low - w.low)).toBeLessThan(1e-9);
    expect(Math.abs(got.high - w.high)).toBeLessThan(1e-9);
  });

  it('is [0, 1] with no windows', () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
  });
});
