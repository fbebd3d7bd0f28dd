import { z } from 'zod';

/** One out-of-sample window of predictions.json: its bar, the next one, the label, P(up) and the position taken. */
export const PredictionWindow = z.object({
  timestamp: z.string(),
  close: z.number(),
  nextTimestamp: z.string(),
  nextClose: z.number(),
  label: z.number(),
  probability: z.number(),
  position: z.number(),
});
export type PredictionWindow = z.infer<typeof PredictionWindow>;

/**
 * A trial's predictions.json, as the trainer writes it: everything needed to recompute every figure of metrics.json
 * by hand, one entry per out-of-sample window.
 */
export const Predictions = z.object({
  threshold: z.number(),
  costBps: z.number(),
  allowShort: z.boolean(),
  periodsPerYear: z.number(),
  folds: z.array(z.object({ start: z.number().int(), end: z.number().int() })),
  probabilities: z.array(z.number()),
  labels: z.array(z.number()),
  windows: z.array(PredictionWindow),
});
export type Predictions = z.infer<typeof Predictions>;
