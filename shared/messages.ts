import { z } from 'zod';
import { Evaluation, TrainingConfig } from './config.ts';

/** An id that is safe in a document path, an object path and a Vertex AI display name. */
export const RunId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{2,62}$/, 'lower-case letters, digits and "-", 3 to 63');

/** Published to `training-requests`, one per config; also the trainer's `--request`. */
export const TrainingRequest = z
  .object({
    runId: RunId,
    config: TrainingConfig,
    /** Folder written by `trendcast features`: `file:///...` or `gs://bucket/...`, ending in `/`. */
    datasetUri: z.string().regex(/^(file|gs):\/\/.+\/$/, 'a file:// or gs:// folder URI ending in "/"'),
    /** Folder the trial's artifacts go to, same forms as datasetUri. */
    outputUri: z.string().regex(/^(file|gs):\/\/.+\/$/, 'a file:// or gs:// folder URI ending in "/"'),
    seed: z.number().int().min(0).optional(),
    /** The grid's backtest rules (threshold, costs, short or flat); the defaults when absent. */
    evaluation: Evaluation.optional(),
    /** Ingest's estimate of this trial's seconds (shared/estimate.ts): the job's timeout is a multiple of it. */
    estimatedSeconds: z.number().nonnegative().optional(),
  })
  .strict();
export type TrainingRequest = z.infer<typeof TrainingRequest>;

export const Confusion = z.object({
  tp: z.number().int().nonnegative(),
  fp: z.number().int().nonnegative(),
  tn: z.number().int().nonnegative(),
  fn: z.number().int().nonnegative(),
});
export type Confusion = z.infer<typeof Confusion>;

/** What the validation windows' predictions would have earned, in time order, after costs (shared/backtest.ts). */
export const BacktestMetrics = z.object({
  /** Π(1 + s_i) − 1 over the strategy's per-window returns. */
  totalReturn: z.number(),
  /** Π(1 + b_i) − 1 holding throughout, the entry cost paid once. */
  buyHoldReturn: z.number(),
  /** mean / population std of s_i × √periodsPerYear; 0 when every s_i is the same. */
  sharpe: z.number(),
  /** The largest fall of the equity from its running peak (which starts at 1), as a share of the peak. */
  maxDrawdown: z.number(),
  /** Windows whose position differs from the previous one (the first compared with flat). */
  trades: z.number().int().nonnegative(),
  /** Share of windows with a position. */
  exposure: z.number(),
  costBps: z.number(),
  threshold: z.number(),
  allowShort: z.boolean(),
  periodsPerYear: z.number(),
});
export type BacktestMetrics = z.infer<typeof BacktestMetrics>;

/** `metrics.json` and the metrics a TrainingResult carries: the validation windows at threshold 0.5. */
export const TrialMetrics = z.object({
  valLoss: z.number(),
  accuracy: z.number(),
  /** null when the validation windows hold one class only. */
  auc: z.number().nullable(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  mcc: z.number(),
  balancedAccuracy: z.number(),
  /** Accuracy of always answering the validation slice's majority class. */
  baselineAccuracy: z.number(),
  /** True when one class is given for at least 95% of the windows. */
  degenerate: z.boolean(),
  confusion: Confusion,
  /** P(at least this many correct | windows, each right with the baseline accuracy): one-sided exact binomial. */
  pValue: z.number().min(0).max(1),
  /** 95% Wilson score interval of the accuracy. */
  accuracyInterval: z.object({ low: z.number(), high: z.number() }),
  backtest: BacktestMetrics,
  /** Walk-forward folds pooled into these figures (1: the single split). */
  folds: z.number().int().positive().default(1),
  backend: z.string(),
  epochsRun: z.number().int().nonnegative(),
  bestEpoch: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  /** Mean seconds of an epoch (training and validation pass) after the first, which carries start-up. */
  secondsPerEpoch: z.number().nonnegative().optional(),
  parameterCount: z.number().int().nonnegative(),
});
export type TrialMetrics = z.infer<typeof TrialMetrics>;

export const TrialArtifacts = z.object({
  model: z.string(),
  metrics: z.string(),
  predictions: z.string(),
  history: z.string(),
  curves: z.string(),
  /** Equity of the strategy and of buy-and-hold over the validation windows (SVG). */
  equity: z.string(),
});
export type TrialArtifacts = z.infer<typeof TrialArtifacts>;

/** Published to `training-results` by the trainer (or by the launcher when a job could not run). */
export const TrainingResult = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('succeeded'),
    runId: RunId,
    config: z.string(),
    metrics: TrialMetrics,
    artifacts: TrialArtifacts,
    finishedAt: z.string(),
  }),
  z.object({
    status: z.literal('failed'),
    runId: RunId,
    config: z.string(),
    /** Plain words, for the Firestore console. */
    error: z.string(),
    finishedAt: z.string(),
  }),
]);
export type TrainingResult = z.infer<typeof TrainingResult>;

/** Published to `forecast-requests`: forecast with the current model after a run, or for a CSV under `forecast/`. */
export const ForecastRequest = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('run'), runId: RunId }),
  z.object({
    kind: z.literal('upload'),
    bucket: z.string().min(1),
    object: z.string().min(1),
    generation: z.string().min(1),
  }),
]);
export type ForecastRequest = z.infer<typeof ForecastRequest>;
