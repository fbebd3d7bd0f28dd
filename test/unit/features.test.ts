import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PriceColumns } from '../../shared/csv.ts';
import { computeFeatures, FEATURE_NAMES, volumeChange } from '../../shared/features.ts';

// Every column against real TA-Lib (scripts/talib_reference.py wrote these fixtures), to 1e-9 relative after warm-up.
const FIXTURES = join(import.meta.dirname, '../fixtures/talib');
type Fixture = {
  name: string;
  bars: Record<'open' | 'high' | 'low' | 'close' | 'volume', number[]>;
  features: Record<string, Array<number | null>>;
};
const fixtures: Fixture[] = readdirSync(FIXTURES).map((f) =>
  JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')),
);

function barsOf(f: Fixture): PriceColumns {
  return {
    length: f.bars.close.length,
    open: Float64Array.from(f.bars.open),
    high: Float64Array.from(f.bars.high),
    low: Float64Array.from(f.bars.low),
    close: Float64Array.from(f.bars.close),
    volume: Float64Array.from(f.bars.volume),
  };
}

describe.each(fixtures.map((f) => [f.name, f] as const))(
  'features agree with TA-Lib on %s',
  (_name, fixture) => {
    const table = computeFeatures(barsOf(fixture));

    it.each(FEATURE_NAMES.map((n, i) => [n, i] as const))('%s', (name, index) => {
      const expected = fixture.features[name]!;
      const actual = table.columns[index]!;
      expect(actual.length).toBe(expected.length);
      // Warm-up: the same bars are undefined as in TA-Lib.
      const firstExpected = expected.findIndex((v) => v !== null);
      const firstActual = actual.findIndex((v) => !Number.isNaN(v));
      expect(firstActual).toBe(firstExpected);
      let worst = 0;
      for (let i = firstExpected; i < expected.length; i++) {
        const e = expected[i]!;
        const a = actual[i]!;
        const err = Math.abs(a - e) / Math.max(Math.abs(e), 1e-9);
        // A value TA-Lib gives as 0 (flat stretches) must be 0 here too, to 1e-9 absolute.
        worst = Math.max(worst, e === 0 ? Math.abs(a) : err);
      }
      expect(worst).toBeLessThan(1e-9);
    });
  },
);

describe('warm-up lengths', () => {
  it('matches the reference pipeline: SMA_50 is the last to be defined, at bar 49', () => {
    const reliance = fixtures.find((f) => f.name === 'reliance')!;
    const table = computeFeatures(barsOf(reliance));
    const firsts = table.columns.map((c) => c.findIndex((v) => !Number.isNaN(v)));
    expect(Math.max(...firsts)).toBe(49);
    expect(firsts[FEATURE_NAMES.indexOf('ADX')]).toBe(27);
    expect(firsts[FEATURE_NAMES.indexOf('MACD_signal')]).toBe(33);
    expect(firsts[FEATURE_NAMES.indexOf('RSI')]).toBe(14);
  });
});

describe('Volume_Change', () => {
  it('is volume / previous − 1, and stays finite after a volume of 0', () => {
    expect(volumeChange(150, 100)).toBeCloseTo(0.5, 15);
    expect(volumeChange(0, 0)).toBe(0);
    expect(volumeChange(500, 0)).toBe(1);
    expect(volumeChange(0, 100)).toBe(-1);
  });
});
