import { describe, expect, it } from 'vitest';
import type { Champion } from '../../shared/documents.ts';
import { promoteBestTrial } from '../../shared/promotion.ts';
import { pValue } from '../../shared/significance.ts';
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

  it("refuses the issue's lucky trial: 17 of 28 against always answering up (16), p = 0.43, and names what was needed", () => {
    // the fresh clone's config_2 of the issue: accuracy 60.7% against a 57.1% baseline
    const lucky = done('config_2_deeper', {
      accuracy: 17 / 28,
      baselineAccuracy: 16 / 28,
      pValue: pValue(17, 28, 16 / 28),
      confusion: { tp: 12, fp: 7, tn: 5, fn: 4 },
    });
    const d = promoteBestTrial([lucky], true);
    expect(d.outcome).toBe('reject');
    expect(d.reason).toMatch(
      /config_2_deeper: accuracy 60\.7% against the baseline 57\.1% could be luck \(p-value 0\.428\)/,
    );
    expect(d.reason).toMatch(
      /needs 21 of 28 correct to be distinguishable from always answering "up" \(p < 0\.05\); got 17: use a longer history/,
    );
    // a grid's own level: at 0.5 the same trial passes; with the gate off it passes whatever its p-value
    expect(promoteBestTrial([lucky], true, 0.5).outcome).toBe('promote');
    expect(promoteBestTrial([lucky], false).outcome).toBe('promote');
  });

  it('says the majority class is "down" when down days dominate, and when no score could be enough', () => {
    const downs = done('a', {
      degenerate: true,
      accuracy: 3 / 4,
      baselineAccuracy: 3 / 4,
      confusion: { tp: 0, fp: 0, tn: 3, fn: 1 },
    });
    const d = promoteBestTrial([downs], true);
    expect(d.reason).toMatch(
      /degenerate: answers "down" for 100\.0% of windows \(even 4 of 4 correct would not be enough to be distinguishable from always answering "down" \(p < 0\.05\); got 3: use a longer history\)/,
    );
  });

  it('promotes a trial whose p-value is below the level, and says so', () => {
    const d = promoteBestTrial([done('a', { pValue: 0.01 })], true);
    expect(d.outcome).toBe('promote');
    expect(d.reason).toMatch(/p-value 0\.0100 < 0\.05/);
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

describe('promoteBestTrial against the current model (champion)', () => {
  const champion = (f1: number): Champion => ({
    version: 3,
    config: 'old',
    runId: 'run-old',
    metrics: { ...metrics({ f1, accuracy: 0.58, pValue: 0.2 }), windows: 28 },
    error: null,
  });

  it('promotes the best trial only when it beats the champion F1 on the same windows', () => {
    const d = promoteBestTrial([done('a', { f1: 0.65 })], true, undefined, champion(0.6));
    expect(d.outcome).toBe('promote');
    expect(d.reason).toMatch(
      /beats the current model v3 \(old\) has F1 0\.6000, accuracy 58\.0%, p-value 0\.2000 on the same 28 windows/,
    );
  });

  it('keeps the champion on a tie or a loss, naming its figures', () => {
    for (const f1 of [0.6, 0.7]) {
      const d = promoteBestTrial([done('a', { f1: 0.6 })], true, undefined, champion(f1));
      expect(d.outcome).toBe('reject');
      expect(d.reason).toMatch(
        new RegExp(
          `best trial a \\(F1 0\\.6000\\) does not beat the current model: v3 \\(old\\) has F1 ${f1.toFixed(4)}`,
        ),
      );
      expect(d.ranking[0]).toMatchObject({ config: 'a', eligible: true });
    }
  });

  it('leaves the gate alone to judge when the champion could not be evaluated, and says so', () => {
    const broken: Champion = { ...champion(0.9), metrics: null, error: 'other features' };
    const d = promoteBestTrial([done('a', { f1: 0.6 })], true, undefined, broken);
    expect(d.outcome).toBe('promote');
    expect(d.reason).toMatch(
      /current model v3 could not be evaluated on these windows \(other features\), so the gate alone judged/,
    );
  });

  it('still needs the gate when there is a champion: an ineligible best trial is not compared', () => {
    const d = promoteBestTrial([done('a', { f1: 0.9, degenerate: true })], true, undefined, champion(0.1));
    expect(d.outcome).toBe('reject');
    expect(d.reason).toMatch(/no trial qualifies for promotion .*the current model v3 stays/);
  });
});
