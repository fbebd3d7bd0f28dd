import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BacktestOptions,
  backtest,
  backtestReturns,
  periodsPerYear,
  positions,
} from '../../shared/backtest.ts';

// A numpy backtest written from the definitions (scripts/scipy_evaluation.py wrote it).
const { backtests } = JSON.parse(
  readFileSync(join(import.meta.dirname, '../fixtures/scipy/evaluation.json'), 'utf8'),
) as {
  backtests: Array<{
    name: string;
    close: number[];
    nextClose: number[];
    probabilities: number[];
    options: BacktestOptions;
    expected: Record<string, number> & { strategy: number[]; buyHold: number[] };
  }>;
};

const FIGURES = ['totalReturn', 'buyHoldReturn', 'sharpe', 'maxDrawdown', 'trades', 'exposure'] as const;

describe('backtest agrees with an independent numpy computation', () => {
  it.each(backtests.map((b) => [b.name, b] as const))('%s', (_, b) => {
    const got = backtest(b, b.options);
    for (const key of FIGURES) expect(Math.abs(got[key] - b.expected[key]!), key).toBeLessThan(1e-9);
    const returns = backtestReturns(
      b.close,
      b.nextClose,
      positions(b.probabilities, b.options),
      b.options.costBps,
    );
    for (const [i, s] of returns.strategy.entries())
      expect(Math.abs(s - b.expected.strategy[i]!)).toBeLessThan(1e-12);
    for (const [i, s] of returns.buyHold.entries())
      expect(Math.abs(s - b.expected.buyHold[i]!)).toBeLessThan(1e-12);
  });
});

const daily = (over: Partial<BacktestOptions> = {}): BacktestOptions => ({
  threshold: 0.5,
  costBps: 10,
  allowShort: false,
  periodsPerYear: 252,
  ...over,
});

// r = +10%, −10%, 0%; the model says up, down, up.
const close = [100, 110, 99];
const nextClose = [110, 99, 99];
const probabilities = [0.7, 0.3, 0.6];

describe('backtest, worked by hand', () => {
  it('long/flat with 10 bps costs: pays on every change of position, earns only while long', () => {
    const b = backtest({ close, nextClose, probabilities }, daily());
    // p = 1, 0, 1: s = 0.1 − 0.001, 0 − 0.001, 0 − 0.001
    const s = [0.099, -0.001, -0.001];
    expect(b.totalReturn).toBeCloseTo(1.099 * 0.999 * 0.999 - 1, 12);
    expect(b.buyHoldReturn).toBeCloseTo(1.099 * 0.9 * 1 - 1, 12); // b_0 = 0.1 − 0.001
    expect(b.trades).toBe(3);
    expect(b.exposure).toBeCloseTo(2 / 3, 12);
    // equity 1.099, 1.097901, 1.096802099: the peak is the first
    expect(b.maxDrawdown).toBeCloseTo((1.099 - 1.099 * 0.999 * 0.999) / 1.099, 12);
    const mean = (0.099 - 0.002) / 3;
    const std = Math.sqrt(s.reduce((a, x) => a + (x - mean) ** 2, 0) / 3);
    expect(b.sharpe).toBeCloseTo((mean / std) * Math.sqrt(252), 9);
    expect(b).toMatchObject({ costBps: 10, threshold: 0.5, allowShort: false, periodsPerYear: 252 });
  });

  it('short allowed: −1 below the threshold, a flip costs twice', () => {
    const b = backtest({ close, nextClose, probabilities }, daily({ allowShort: true }));
    // p = 1, −1, 1: s = 0.1 − 0.001, 0.1 − 0.002, 0 − 0.002
    expect(b.totalReturn).toBeCloseTo(1.099 * 1.098 * 0.998 - 1, 12);
    expect(b.trades).toBe(3);
    expect(b.exposure).toBe(1);
    expect(b.maxDrawdown).toBeCloseTo(0.002, 12);
  });

  it('without costs the strategy return is the product of the long windows', () => {
    const b = backtest({ close, nextClose, probabilities }, daily({ costBps: 0 }));
    expect(b.totalReturn).toBeCloseTo(0.1, 12);
    expect(b.buyHoldReturn).toBeCloseTo(1.1 * 0.9 - 1, 12);
    expect(b.maxDrawdown).toBe(0);
  });

  it('always flat: nothing earned, nothing paid, a Sharpe of 0', () => {
    const b = backtest({ close, nextClose, probabilities: [0.2, 0.1, 0.4] }, daily());
    expect(b).toMatchObject({ totalReturn: 0, sharpe: 0, maxDrawdown: 0, trades: 0, exposure: 0 });
    expect(b.buyHoldReturn).toBeCloseTo(1.099 * 0.9 - 1, 12);
  });

  it('a constant price: long costs only the entry, and the Sharpe is −√84 for 4 windows', () => {
    const flatPrice = [100, 100, 100, 100];
    const b = backtest(
      { close: flatPrice, nextClose: flatPrice, probabilities: [0.9, 0.9, 0.9, 0.9] },
      daily(),
    );
    // s = −0.001, 0, 0, 0: mean −0.00025, population std 0.00025·√3, so Sharpe = −(1/√3)·√252 = −√84
    expect(b.totalReturn).toBeCloseTo(-0.001, 15);
    expect(b.buyHoldReturn).toBeCloseTo(-0.001, 15);
    expect(b.sharpe).toBeCloseTo(-Math.sqrt(84), 9);
    expect(b.maxDrawdown).toBeCloseTo(0.001, 15);
    expect(b.trades).toBe(1);
    const none = backtest(
      { close: flatPrice, nextClose: flatPrice, probabilities: [0.9, 0.9, 0.9, 0.9] },
      daily({ costBps: 0 }),
    );
    expect(none).toMatchObject({ totalReturn: 0, sharpe: 0, maxDrawdown: 0 });
  });

  it('a probability exactly at the threshold goes long ("at least the threshold")', () => {
    expect(positions([0.5, 0.4999], { threshold: 0.5, allowShort: false })).toEqual([1, 0]);
  });

  it('refuses mismatched inputs', () => {
    expect(() => backtestReturns([1, 2], [1], [0, 0], 10)).toThrow(/2 closes, 1 next closes/);
  });
});

describe('periodsPerYear', () => {
  it('is 252 for daily bars and 252 × ceil(375 / minutes) intraday (a 375-minute NSE session)', () => {
    expect(periodsPerYear('1d')).toBe(252);
    expect(periodsPerYear('1w')).toBe(52);
    expect(periodsPerYear('1mo')).toBe(12);
    expect(periodsPerYear('15m')).toBe(252 * 25);
    expect(periodsPerYear('5m')).toBe(252 * 75);
    expect(periodsPerYear('1m')).toBe(252 * 375);
    expect(periodsPerYear('1h')).toBe(252 * 7); // 09:15 ... 15:15, the last bar 15 minutes long
    expect(() => periodsPerYear('3x')).toThrow(/unknown timeframe "3x"/);
  });
});
