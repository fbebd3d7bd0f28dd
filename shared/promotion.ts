import type { Champion, RankedTrial, TrialDoc } from './documents.ts';
import type { TrialMetrics } from './messages.ts';
import { correctNeeded, DEFAULT_ALPHA } from './significance.ts';

export type PromotionDecision =
  | { outcome: 'promote'; winner: string; reason: string; ranking: RankedTrial[] }
  | { outcome: 'reject'; reason: string; ranking: RankedTrial[] };

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * The evidence a trial lacks, in plain words: how many correct windows it would have needed to be told apart from
 * always answering the majority class at the gate's level, and how many it got.
 */
export function evidenceNeeded(m: TrialMetrics, alpha: number): string {
  const { tp, fp, tn, fn } = m.confusion;
  const n = tp + fp + tn + fn;
  const majority = tp + fn >= tn + fp ? 'up' : 'down';
  const needed = correctNeeded(n, m.baselineAccuracy, alpha);
  const target = `to be distinguishable from always answering "${majority}" (p < ${alpha})`;
  return needed === null
    ? `even ${n} of ${n} correct would not be enough ${target}; got ${tp + tn}: use a longer history`
    : `needs ${needed} of ${n} correct ${target}; got ${tp + tn}: use a longer history`;
}

/**
 * Why a trial may not win, or null when it may. The gate refuses degenerate models, those that do not beat the
 * baseline, and those whose p-value against the baseline is not below alpha: each note says what was missing.
 */
function ineligibility(trial: TrialDoc, gate: boolean, alpha: number): string | null {
  if (trial.status !== 'succeeded' || !trial.metrics)
    return `${trial.status}${trial.error ? `: ${trial.error}` : ''}`;
  if (!gate) return null;
  const m = trial.metrics;
  if (m.degenerate) {
    const { tp, fp, tn, fn } = m.confusion;
    const up = (tp + fp) / Math.max(1, tp + fp + tn + fn);
    return `degenerate: answers "${up >= 0.5 ? 'up' : 'down'}" for ${pct(Math.max(up, 1 - up))} of windows (${evidenceNeeded(m, alpha)})`;
  }
  if (!(m.accuracy > m.baselineAccuracy)) {
    return `accuracy ${pct(m.accuracy)} does not beat the majority-class baseline ${pct(m.baselineAccuracy)} (${evidenceNeeded(m, alpha)})`;
  }
  if (!(m.pValue < alpha)) {
    return `accuracy ${pct(m.accuracy)} against the baseline ${pct(m.baselineAccuracy)} could be luck (p-value ${m.pValue.toFixed(3)}): ${evidenceNeeded(m, alpha)}`;
  }
  return null;
}

/** Best first: higher F1, then higher AUC, then lower validation loss, then config name for a stable order. */
function compareTrials(a: TrialDoc, b: TrialDoc): number {
  const ma = a.metrics!;
  const mb = b.metrics!;
  return (
    mb.f1 - ma.f1 ||
    (mb.auc ?? Number.NEGATIVE_INFINITY) - (ma.auc ?? Number.NEGATIVE_INFINITY) ||
    ma.valLoss - mb.valLoss ||
    a.config.localeCompare(b.config)
  );
}

/** The champion's figures in the words a reason uses. */
export function championFigures(champion: Champion): string {
  const m = champion.metrics!;
  return `v${champion.version} (${champion.config}) has F1 ${m.f1.toFixed(4)}, accuracy ${pct(m.accuracy)}, p-value ${m.pValue.toFixed(4)} on the same ${m.windows} windows`;
}

/**
 * Picks the trial to promote among a run's finished trials, with the reason in plain words. With a champion (the
 * current model, evaluated on this run's windows), the best trial must also beat its F1 there: a tie keeps the champion.
 * A champion that could not be evaluated leaves the gate alone to judge, and the reason says so.
 */
export function promoteBestTrial(
  trials: TrialDoc[],
  gate: boolean,
  alpha = DEFAULT_ALPHA,
  champion: Champion | null = null,
): PromotionDecision {
  const notes = new Map(trials.map((t) => [t.config, ineligibility(t, gate, alpha)]));
  const eligible = trials.filter((t) => notes.get(t.config) === null).sort(compareTrials);
  const ranking: RankedTrial[] = [...eligible, ...trials.filter((t) => notes.get(t.config) !== null)].map(
    (t) => ({
      config: t.config,
      status: t.status,
      f1: t.metrics?.f1 ?? null,
      auc: t.metrics?.auc ?? null,
      valLoss: t.metrics?.valLoss ?? null,
      eligible: notes.get(t.config) === null,
      note: notes.get(t.config) ?? 'eligible',
    }),
  );
  const best = eligible[0];
  const unjudged = champion?.error
    ? `; the current model v${champion.version} could not be evaluated on these windows (${champion.error}), so the gate alone judged`
    : '';
  if (!best) {
    const why = ranking.map((r) => `${r.config}: ${r.note}`).join('; ');
    return {
      outcome: 'reject',
      reason: `no trial qualifies for promotion (${why || 'no trials'})${champion ? `; the current model v${champion.version} stays` : ''}`,
      ranking,
    };
  }
  const m = best.metrics!;
  if (champion?.metrics && !(m.f1 > champion.metrics.f1)) {
    return {
      outcome: 'reject',
      reason: `the best trial ${best.config} (F1 ${m.f1.toFixed(4)}) does not beat the current model: ${championFigures(champion)}; it stays current`,
      ranking,
    };
  }
  const runnerUp = eligible[1];
  const margin = runnerUp
    ? `, ahead of ${runnerUp.config} (F1 ${runnerUp.metrics!.f1.toFixed(4)})`
    : eligible.length === 1 && trials.length > 1
      ? ', the only eligible trial'
      : '';
  const gateText = gate
    ? `; not degenerate and accuracy ${pct(m.accuracy)} beats the baseline ${pct(m.baselineAccuracy)} (p-value ${m.pValue.toFixed(4)} < ${alpha})`
    : '; promotion gate off';
  return {
    outcome: 'promote',
    winner: best.config,
    reason: `highest F1 ${m.f1.toFixed(4)} (AUC ${m.auc?.toFixed(4) ?? 'n/a'})${margin}${gateText}${champion?.metrics ? `; beats the current model ${championFigures(champion)}` : unjudged}`,
    ranking,
  };
}
