// The forecast of the next bar: the window ending on a CSV's last bar (which has no target yet), scaled with the
// model's own scaler. Pure: the model itself runs in trainer/predict.ts.
import { z } from 'zod';
import type { PriceSeries } from './csv.ts';
import { InputError } from './errors.ts';
import { computeFeatures, FEATURE_NAMES, type FeatureTable, firstDefinedBar } from './features.ts';
import { DatasetManifest } from './manifest.ts';

/** `preprocessing.json`, beside every model's weights: what turns bars into that model's input. */
export const ModelPreprocessing = z.object({
  symbol: z.string(),
  timeframe: z.string(),
  sequenceLength: z.number().int().positive(),
  features: DatasetManifest.shape.features,
  scaler: DatasetManifest.shape.scaler,
  /** The up/down line of the forecast's signal (the grid's evaluation.threshold). */
  threshold: z.number().gt(0).lt(1),
});
export type ModelPreprocessing = z.infer<typeof ModelPreprocessing>;

/** `latest.json` of a dataset: the unscaled features of the last `sequenceLength` bars, the CSV's last bar last. */
export const LatestWindow = z.object({
  symbol: z.string(),
  timeframe: z.string(),
  /** The last bar's timestamp: the forecast is for the bar after it. */
  asOf: z.string(),
  /** The last bar's close (absent in datasets made before forecasts were scored). */
  close: z.number().optional(),
  features: z.array(z.string()),
  rows: z.array(z.array(z.number())),
});
export type LatestWindow = z.infer<typeof LatestWindow>;

/** The window of `sequenceLength` bars ending on the series' last bar, unscaled; refuses a series too short for one. */
export function latestWindow(
  series: PriceSeries,
  sequenceLength: number,
  table: FeatureTable = computeFeatures(series.bars),
): LatestWindow {
  const { bars } = series;
  const first = firstDefinedBar(table);
  const usable = Math.max(0, bars.length - first);
  if (usable < sequenceLength) {
    throw new InputError(
      `${series.symbol} ${series.timeframe}: ${usable} usable bars (every feature defined, after the first ${first} of ${bars.length}); a forecast needs ${sequenceLength}`,
    );
  }
  const rows: number[][] = [];
  for (let i = bars.length - sequenceLength; i < bars.length; i++) {
    const row = table.columns.map((c) => c[i]!);
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new InputError(`${FEATURE_NAMES[bad]} is not finite at ${bars.timestamp(i)}`);
    rows.push(row);
  }
  return {
    symbol: series.symbol,
    timeframe: series.timeframe,
    asOf: bars.timestamp(bars.length - 1),
    close: bars.close[bars.length - 1]!,
    features: [...FEATURE_NAMES],
    rows,
  };
}

/** Refuses a window the model was not trained for: another symbol, timeframe, feature list or window length. */
export function checkFits(model: ModelPreprocessing, input: LatestWindow, where: string): void {
  const mine = `${model.symbol} ${model.timeframe}`;
  const theirs = `${input.symbol} ${input.timeframe}`;
  if (mine !== theirs) throw new InputError(`${where}: the bars are ${theirs}; the model is ${mine}`);
  if (model.features.join() !== input.features.join())
    throw new InputError(`${where}: the model was trained on other features than trendcast computes`);
  if (input.rows.length !== model.sequenceLength)
    throw new InputError(
      `${where}: the model reads windows of ${model.sequenceLength} bars, the input has ${input.rows.length}`,
    );
}

/** The model's input [1, L, F]: each feature scaled as the dataset scaled it, x' = (x − min)/(max − min), 0 where max = min. */
export function scaleWindow(model: ModelPreprocessing, input: LatestWindow): Float32Array {
  const F = model.features.length;
  const { min, max } = model.scaler;
  const out = new Float32Array(input.rows.length * F);
  input.rows.forEach((row, k) => {
    for (let c = 0; c < F; c++) {
      const range = max[c]! - min[c]!;
      out[k * F + c] = range === 0 ? 0 : (row[c]! - min[c]!) / range;
    }
  });
  return out;
}

export type Signal = 'up' | 'down';
/** Up when P(up) is at least the threshold: the backtest's long position. */
export const signalOf = (probabilityUp: number, threshold: number): Signal =>
  probabilityUp >= threshold ? 'up' : 'down';
