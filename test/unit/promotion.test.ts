import { describe, expect, it } from 'vitest';
import { promoteBestTrial } from '../../shared/promotion.ts';
import { metrics, trialDoc } from '../helpers/docs.ts';

const done = (config: string, m: Parameters<typeof metrics>[0]) =>
  trialDoc('run-abc', config, { status: 'succeeded', metrics: metrics(m) });

describe('promoteBestTrial', () => {
  it('picks the highest F1 among eligible trials and says why', () => {
    const d = promoteBestTrial(
      [done('a', { f1: 0.5 }), done('b', { f1: 0.7 }), done('c', { f1: 0.6 })],
      true,
    );
    expect(d.outcome).toBe('promote');
    if (d.outcome !== 'promote') return;
    expect(d.winner).toBe('b');
    expect(d.reason).toMatch(/highest F1 0\.7000.*ahead of c/);
    expect(d.ranking.map((r) => r.config)).toEqual(['b', 'c', 'a']);
  });

  it('breaks F1 ties by higher AUC, then by lower validation loss', () => {
    const byAuc = promoteBestTrial(
      [done('a', { f1: 0.6, auc: 0.55 }), done('b', { f1: 0.6, auc: 0.65 })],
      true,
    );
    expect(byAuc.outcome === 'promote' && byAuc.winner).toBe('b');
    const byLoss = promoteBestTrial(
      [done('a', { f1: 0.6, auc: 0.6, valLoss: 0.6 }), done('b', { f1: 0.6, auc: 0.6, valLoss: 0.7 })],
      true,
    );
    expect(byLoss.outcome === 'promote' && byLoss.winner).toBe('a');
  });

  it("refuses the reference's promoted model: a constant 'up' predictor with the best F1", () => {
    // config_3_wider of the reference: recall 1.0, precision 0.5714 on 28 windows, accuracy = share of up days.
    const constantUp = done('config_3_wider', {
      f1: 0.7273,
      accuracy: 0.5714,
      baselineAccuracy: 0.5714,
      degenerate: true,
      confusion: { tp: 16, fp: 12, tn: 0, fn: 0 },
    });
    const weak = done('config_1_baseline', { f1: 0.6061, accuracy: 0.5357, baselineAccuracy: 0.5714 });
    const d = promoteBestTrial([constantUp, weak], true);
    expect(d.outcome).toBe('reject');
    expect(d.reason).toMatch(/config_3_wider: degenerate: answers "up" for 100\.0% of windows/);
    expect(d.reason).toMatch(
      /config_1_baseline: accuracy 53\.6% does not beat the majority-class baseline 57\.1%/,
    );
  });

  it('with the gate off, promotes the highest F1 even if degenerate', () => {
    const d = promoteBestTrial([done('a', { f1: 0.73, degenerate: true }), done('b', { f1: 0.6 })], false);
    expect(d.outcome === 'promote' && d.winner).toBe('a');
  });

  it('never promotes a failed trial and rejects when every trial failed', () => {
    const failed = trialDoc('run-abc', 'a', { status: 'failed', error: 'trainer was killed by SIGKILL' });
    const d = promoteBestTrial([failed], false);
    expect(d.outcome).toBe('reject');
    expect(d.reason).toMatch(/a: failed: trainer was killed by SIGKILL/);
  });
});
