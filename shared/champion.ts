// The current model (the champion) judged on a new run's out-of-sample windows, like the run's own trials. Pure: the
// model itself runs in trainer/evaluate-champion.ts.
import { type BacktestOptions, backtest } from './backtest.ts';
import type { ChampionMetrics } from './documents.ts';
import { InputError } from './errors.ts';
import type { ModelPreprocessing } from './forecast.ts';
import { binaryCrossEntropy, evaluateBinary } from './metrics.ts';

/**
 * The champion's input for windows [from, to) of a dataset whose windows are `datasetL` rows long: for each, the
 * `model.sequenceLength` unscaled rows ending on that window's last row (so both models predict the same bar), scaled
 * with the champion's own scaler. `raw` is the dataset's unscaled features, row after row, F per row.
 */
export function championInputs(
  raw: Float64Array,
  datasetL: number,
  model: ModelPreprocessing,
  windows: { from: number; to: number },
  where: string,
): Float32Array {
  const F = model.features.length;
  const L = model.sequenceLength;
  const firstStart = windows.from + datasetL - L;
  if (firstStart < 0)
    throw new InputError(
      `${where} reads windows of ${L} bars; the run's first validation window has only ${windows.from + datasetL} rows up to its last bar`,
    );
  const { min, max } = model.scaler;
  const out = new Float32Array((windows.to - windows.from) * L * F);
  let o = 0;
  for (let w = windows.from; w < windows.to; w++) {
    const start = w + datasetL - L;
    for (let r = start; r < start + L; r++) {
      for (let c = 0; c < F; c++) {
        const range = max[c]! - min[c]!;
        out[o++] = range === 0 ? 0 : (raw[r * F + c]! - min[c]!) / range;
      }
    }
  }
  return out;
}

/** The champion's figures from its probabilities on the windows, computed exactly as a trial's are. */
export function championMetrics(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  tested: { close: ArrayLike<number>; nextClose: ArrayLike<number> },
  rules: BacktestOptions,
): ChampionMetrics {
  return {
    valLoss: binaryCrossEntropy(labels, probabilities).loss,
    ...evaluateBinary(labels, probabilities),
    backtest: backtest({ ...tested, probabilities }, rules),
    windows: probabilities.length,
  };
}
