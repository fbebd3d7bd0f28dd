import type { RankedTrial, TrialDoc } from './documents.ts';

export type PromotionDecision =
  | { outcome: 'promote'; winner: string; reason: string; ranking: RankedTrial[] }
  | { outcome: 'reject'; reason: string; ranking: RankedTrial[] };

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Why a trial may not win, or null when it may. The gate refuses degenerate models and those that do not beat the baseline. */
function ineligibility(trial: TrialDoc, gate: boolean): string | null {
  if (trial.status !== 'succeeded' || !trial.metrics)
    return `${trial.status}${trial.error ? `: ${trial.error}` : ''}`;
  if (!gate) return null;
  const m = trial.metrics;
  if (m.degenerate) {
    const { tp, fp, tn, fn } = m.confusion;
    const up = (tp + fp) / Math.max(1, tp + fp + tn + fn);
    return `degenerate: answers "${up >= 0.5 ? 'up' : 'down'}" for ${pct(Math.max(up, 1 - up))} of windows`;
  }
  if (!(m.accuracy > m.baselineAccuracy)) {
    return `accuracy ${pct(m.accuracy)} does not beat the majority-class baseline ${pct(m.baselineAccuracy)}`;
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

/** Picks the trial to promote among a run's finished trials, with the reason in plain words. */
export function promoteBestTrial(trials: TrialDoc[], gate: boolean): PromotionDecision {
  const notes = new Map(trials.map((t) => [t.config, ineligibility(t, gate)]));
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
  if (!best) {
    const why = ranking.map((r) => `${r.config}: ${r.note}`).join('; ');
    return { outcome: 'reject', reason: `no trial qualifies for promotion (${why || 'no trials'})`, ranking };
  }
  const m = best.metrics!;
  const runnerUp = eligible[1];
  const margin = runnerUp
    ? `, ahead of ${runnerUp.config} (F1 ${runnerUp.metrics!.f1.toFixed(4)})`
    : eligible.length === 1 && trials.length > 1
      ? ', the only eligible trial'
      : '';
  const gateText = gate
    ? `; not degenerate and accuracy ${pct(m.accuracy)} beats the baseline ${pct(m.baselineAccuracy)}`
    : '; promotion gate off';
  return {
    outcome: 'promote',
    winner: best.config,
    reason: `highest F1 ${m.f1.toFixed(4)} (AUC ${m.auc?.toFixed(4) ?? 'n/a'})${margin}${gateText}`,
    ranking,
  };
}
