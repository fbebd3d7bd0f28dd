import type { Confusion } from './messages.ts';
import { pValue, wilsonInterval } from './significance.ts';

/** The classification metrics of one trial on its validation windows (the parts that need no training details). */
export type BinaryMetrics = {
  accuracy: number;
  auc: number | null;
  precision: number;
  recall: number;
  f1: number;
  mcc: number;
  balancedAccuracy: number;
  baselineAccuracy: number;
  degenerate: boolean;
  confusion: Confusion;
  /** P(X ≥ correct | windows, baseline accuracy): how often guessing at the baseline rate does at least this well. */
  pValue: number;
  accuracyInterval: { low: number; high: number };
};

/** A model is degenerate when it gives one class for at least this share of windows. */
export const DEGENERATE_SHARE = 0.95;

/** Probabilities are clipped to [ε, 1 - ε] before the logarithm, as tfjs and Keras do. */
const PROBABILITY_EPSILON = 1e-7;

/**
 * Mean binary cross-entropy (log loss) and accuracy at 0.5, as tfjs's `binaryCrossentropy` loss and
 * `binaryAccuracy` metric compute them: through the logit of the clipped probability.
 */
export function binaryCrossEntropy(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i]!;
    const z = labels[i]!;
    const clipped = Math.min(Math.max(p, PROBABILITY_EPSILON), 1 - PROBABILITY_EPSILON);
    const logit = Math.log(clipped / (1 - clipped));
    loss += Math.max(logit, 0) - logit * z + Math.log1p(Math.exp(-Math.abs(logit)));
    if ((p > 0.5 ? 1 : 0) === z) correct++;
  }
  return { loss: loss / probabilities.length, accuracy: correct / probabilities.length };
}

/** Whether the loss's gradient passes the clip at p (tfjs's clipByValue lets it through on the closed interval). */
export function insideProbabilityClip(p: number): boolean {
  return p >= PROBABILITY_EPSILON && p <= 1 - PROBABILITY_EPSILON;
}

/**
 * ROC AUC as the Mann–Whitney statistic with tied scores sharing their average rank: the same number as
 * scikit-learn's roc_auc_score. Null when the labels hold one class only.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b); // scikit-learn's zero_division=0

/** Metrics at a threshold (a window is predicted "up" when its probability is above it), as scikit-learn defines them. */
export function evaluateBinary(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  threshold = 0.5,
): BinaryMetrics {
  const n = labels.length;
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < n; i++) {
    const predicted = probabilities[i]! > threshold;
    if (labels[i] === 1) predicted ? tp++ : fn++;
    else predicted ? fp++ : tn++;
  }
  const positives = tp + fn;
  const negatives = tn + fp;
  const recall = ratio(tp, positives);
  const specificity = ratio(tn, negatives);
  const denominator = Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  // Balanced accuracy averages the recall of the classes present in the labels.
  const present = [positives > 0 ? recall : null, negatives > 0 ? specificity : null].filter(
    (r) => r !== null,
  );
  return {
    accuracy: ratio(tp + tn, n),
    auc: rocAuc(labels, probabilities),
    precision: ratio(tp, tp + fp),
    recall,
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    mcc: denominator === 0 ? 0 : (tp * tn - fp * fn) / denominator,
    balancedAccuracy: present.length ? present.reduce((a, b) => a + b, 0) / present.length : 0,
    baselineAccuracy: ratio(Math.max(positives, negatives), n),
    degenerate: n > 0 && Math.max(tp + fp, tn + fn) / n >= DEGENERATE_SHARE,
    confusion: { tp, fp, tn, fn },
    pValue: pValue(tp + tn, n, ratio(Math.max(positives, negatives), n)),
    accuracyInterval: wilsonInterval(tp + tn, n),
  };
}
