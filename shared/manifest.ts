import { z } from 'zod';

/** `dataset.json`: what a dataset folder holds, written by `trendcast features` / ingest, read by the trainer. */
export const DatasetManifest = z.object({
  symbol: z.string().min(1),
  timeframe: z.string().min(1),
  /** The 27 feature names, in column order of X.npy and features.csv. */
  features: z.array(z.string()).length(27),
  counts: z.object({
    days: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    windows: z.number().int().nonnegative(),
    train: z.number().int().nonnegative(),
    validation: z.number().int().nonnegative(),
    up: z.number().int().nonnegative(),
    down: z.number().int().nonnegative(),
  }),
  sequenceLength: z.number().int().positive(),
  /** MinMax scaler fitted on the rows the training windows cover; x' = (x - min) / (max - min), 0 where max = min. */
  scaler: z.object({ min: z.array(z.number()).length(27), max: z.array(z.number()).length(27) }),
  source: z.object({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  firstTimestamp: z.string(),
  lastTimestamp: z.string(),
});
export type DatasetManifest = z.infer<typeof DatasetManifest>;

/**
 * `windows.json`: per window, in window order, the last bar it covers (where the prediction is made) and the next bar
 * (its target): what a backtest needs and what predictions.json repeats for the validation windows.
 */
export const DatasetWindows = z.object({
  timestamp: z.array(z.string()),
  close: z.array(z.number().positive()),
  nextTimestamp: z.array(z.string()),
  nextClose: z.array(z.number().positive()),
});
export type DatasetWindows = z.infer<typeof DatasetWindows>;
