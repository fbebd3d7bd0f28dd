// Is a trial's accuracy distinguishable from always answering the majority class? Exact binomial statistics.

/** The promotion gate's default significance level. */
export const DEFAULT_ALPHA = 0.05;

/** z for a two-sided 95% interval: the standard normal's 0.975 quantile (scipy.stats.norm.ppf(0.975)). */
const Z95 = 1.959963984540054;

/** log(a + b) from log a and log b without overflow or underflow. */
function logAdd(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/**
 * One-sided exact binomial tail P(X ≥ k) for X ~ Binomial(n, p): the chance of at least k correct of n windows when
 * each is right with probability p (the majority-class baseline accuracy).
 *
 * Computed as a summed recurrence in log space: log P(X = k) from Σ log((n−k+i)/i) (no C(n, k) overflow, no
 * log-gamma approximation to get wrong), then each next term by the ratio P(X = j+1)/P(X = j) = (n−j)/(j+1)·p/(1−p),
 * accumulated with log-sum-exp. Every term is positive, so nothing cancels and tiny tails keep their relative
 * precision; O(n − k) work, nothing for a validation slice of thousands of windows.
 */
export function binomialTail(k: number, n: number, p: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`binomialTail: k = ${k}, n = ${n} must be whole numbers, n ≥ 0`);
  }
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomialTail: p = ${p} is not a probability`);
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logChoose = 0;
  for (let i = 1; i <= k; i++) logChoose += Math.log((n - k + i) / i);
  let logTerm = logChoose + k * logP + (n - k) * logQ;
  let logSum = logTerm;
  const logOdds = logP - logQ;
  for (let j = k; j < n; j++) {
    logTerm += Math.log((n - j) / (j + 1)) + logOdds;
    logSum = logAdd(logSum, logTerm);
  }
  return Math.min(1, Math.exp(logSum));
}

/** The p-value of `correct` of `n` windows against a baseline accuracy: P(X ≥ correct | n, baseline). 1 when n = 0. */
export function pValue(correct: number, n: number, baseline: number): number {
  return binomialTail(correct, n, baseline);
}

/** The smallest number of correct windows whose p-value is below alpha, or null when even n of n is not enough. */
export function correctNeeded(n: number, baseline: number, alpha: number): number | null {
  // The tail falls as k grows: binary search for the first k with P(X ≥ k) < alpha.
  if (!(binomialTail(n, n, baseline) < alpha)) return null;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (binomialTail(mid, n, baseline) < alpha) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The 95% Wilson score interval of a proportion `successes / n`; [0, 1] when n = 0 (no evidence either way). */
export function wilsonInterval(successes: number, n: number): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const phat = successes / n;
  const z2 = Z95 * Z95;
  const denominator = 1 + z2 / n;
  const center = (phat + z2 / (2 * n)) / denominator;
  const half = (Z95 / denominator) * Math.sqrt((phat * (1 - phat)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}
