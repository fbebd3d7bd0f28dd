import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateBinary } from '../../shared/metrics.ts';
import { pValue, wilsonInterval } from '../../shared/significance.ts';

// scikit-learn's own numbers (scripts/sklearn_metrics.py wrote them).
const { cases } = JSON.parse(
  readFileSync(join(import.meta.dirname, '../fixtures/sklearn/metrics.json'), 'utf8'),
) as {
  cases: Array<{
    name: string;
    labels: number[];
    probabilities: number[];
    expected: Record<string, unknown>;
  }>;
};

describe('evaluateBinary agrees with scikit-learn', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const got = evaluateBinary(c.labels, c.probabilities);
    const e = c.expected as Record<string, number | null> & { confusion: unknown };
    expect(got.confusion).toEqual(e.confusion);
    for (const key of ['accuracy', 'precision', 'recall', 'f1', 'mcc', 'balancedAccuracy'] as const) {
      expect(Math.abs(got[key] - (e[key] as number)), key).toBeLessThan(1e-12);
    }
    if (e.auc === null) expect(got.auc).toBeNull();
    else expect(Math.abs(got.auc! - e.auc!)).toBeLessThan(1e-12);
  });
});

describe('the honesty checks', () => {
  it("flags the reference's promoted model: 'up' for every window, F1 0.727, accuracy = the up share", () => {
    const labels = [...Array(16).fill(1), ...Array(12).fill(0)];
    const m = evaluateBinary(labels, Array(28).fill(0.6));
    expect(m.f1).toBeCloseTo(0.7273, 4);
    expect(m.recall).toBe(1);
    expect(m.accuracy).toBeCloseTo(0.5714, 4);
    expect(m.baselineAccuracy).toBeCloseTo(0.5714, 4);
    expect(m.degenerate).toBe(true);
    expect(m.mcc).toBe(0);
  });

  it('gives the p-value against the baseline and the Wilson interval of the accuracy', () => {
    const labels = [...Array(16).fill(1), ...Array(12).fill(0)];
    const m = evaluateBinary(labels, Array(28).fill(0.6));
    expect(m.pValue).toBe(pValue(16, 28, 16 / 28));
    expect(m.pValue).toBeGreaterThan(0.5); // answering the majority class is as good as guessing, by definition
    expect(m.accuracyInterval).toEqual(wilsonInterval(16, 28));
    expect(m.accuracyInterval.low).toBeLessThan(m.accuracy);
    expect(m.accuracyInterval.high).toBeGreaterThan(m.accuracy);
  });

  it('is not degenerate below 95% of one class', () => {
    const labels = Array.from({ length: 20 }, (_, i) => i % 2);
    const probs = labels.map((_, i) => (i < 2 ? 0.1 : 0.9)); // 90% "up"
    expect(evaluateBinary(labels, probs).degenerate).toBe(false);
  });
});
