import { z } from 'zod';
import { Evaluation, TrainingConfig } from './config.ts';
import { DatasetManifest } from './manifest.ts';
import { BacktestMetrics, TrainingRequest, TrialArtifacts, TrialMetrics } from './messages.ts';

// The Firestore documents, as a user reads them in the console: plain field names, ISO timestamps, status words.

export const RUN_STATUSES = ['ingesting', 'training', 'promoted', 'rejected', 'failed'] as const;
export const FINAL_RUN_STATUSES: ReadonlySet<string> = new Set(['promoted', 'rejected', 'failed']);
/**
 * `queued`: waiting in the training queue for a slot (or for GPU quota); `starting`: holds a slot while its job is
 * being created; `training`: its job runs; then `succeeded` or `failed`.
 */
export const TRIAL_STATUSES = ['queued', 'starting', 'training', 'succeeded', 'failed'] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];
export const FINAL_TRIAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed']);
/** Trials that hold one of the training slots. */
export const SLOT_TRIAL_STATUSES: ReadonlySet<string> = new Set(['starting', 'training']);
export const OPEN_RUN_STATUSES = ['ingesting', 'training'] as const;

/** One trial's line in a run's decision: why it could or could not win. */
export const RankedTrial = z.object({
  config: z.string(),
  status: z.enum(TRIAL_STATUSES),
  f1: z.number().nullable(),
  auc: z.number().nullable(),
  valLoss: z.number().nullable(),
  eligible: z.boolean(),
  /** Plain words: "eligible", "degenerate: answers up for 100% of windows", "failed: ...". */
  note: z.string(),
});
export type RankedTrial = z.infer<typeof RankedTrial>;

/**
 * A training trial's pace, as the trainer last wrote it to `progress.json` in its output folder (copied into the trial
 * document by the sweeper): where it is, the measured seconds per epoch, and the time left at that pace.
 */
export const TrialProgress = z.object({
  epoch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  /** With walk-forward folds: which fold is training, of how many. */
  fold: z.number().int().positive().optional(),
  folds: z.number().int().positive().optional(),
  /** Mean of the last few epochs (training and the validation pass), the first one left out (it carries start-up). */
  secondsPerEpoch: z.number().nonnegative(),
  /** An upper bound: every remaining epoch to the epoch limit at the current pace (early stopping may end sooner). */
  remainingSeconds: z.number().nonnegative(),
  updatedAt: z.string(),
});
export type TrialProgress = z.infer<typeof TrialProgress>;

/**
 * The current model's figures on a run's own out-of-sample windows, scaled with its own saved preprocessing: the
 * same classification metrics, p-value, interval and backtest as the trials, so a challenger is compared like for like.
 */
export const ChampionMetrics = TrialMetrics.pick({
  valLoss: true,
  accuracy: true,
  auc: true,
  precision: true,
  recall: true,
  f1: true,
  mcc: true,
  balancedAccuracy: true,
  baselineAccuracy: true,
  degenerate: true,
  confusion: true,
  pValue: true,
  accuracyInterval: true,
}).extend({ backtest: BacktestMetrics, windows: z.number().int().nonnegative() });
export type ChampionMetrics = z.infer<typeof ChampionMetrics>;

/**
 * The model that was current for the run's symbol and timeframe when the run was decided, evaluated on the run's
 * windows: `metrics` when it could be, `error` (and null metrics) when it could not (the challenger is then judged by
 * the gate alone).
 */
export const Champion = z.object({
  version: z.number().int().positive(),
  config: z.string(),
  runId: z.string(),
  metrics: ChampionMetrics.nullable(),
  error: z.string().nullable(),
});
export type Champion = z.infer<typeof Champion>;

/** `runs/{runId}` */
export const RunDoc = z.object({
  runId: z.string(),
  status: z.enum(RUN_STATUSES),
  source: z.object({ bucket: z.string(), object: z.string(), generation: z.string() }),
  symbol: z.string().nullable(),
  timeframe: z.string().nullable(),
  /** The configs this run trains, one trial each. */
  configs: z.array(z.string()),
  gate: z.boolean(),
  /** Why the promotion gate is off (the grid that turned it off, and the setting that allowed it); null when on. */
  gateOff: z.string().nullable().optional(),
  /** The grid's significance level and backtest rules; absent on runs from before they existed (the defaults). */
  evaluation: Evaluation.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** After this time, trials that have not reported are failed as "timed out". */
  deadline: z.string(),
  /** Plain words when the run failed. */
  error: z.string().nullable(),
  dataset: z
    .object({
      uri: z.string(),
      counts: DatasetManifest.shape.counts,
      /** Share of up targets among all windows, and in the validation slice. */
      upShare: z.number(),
      firstTimestamp: z.string(),
      lastTimestamp: z.string(),
    })
    .nullable(),
  /** Why the winner won, or why nothing was promoted. */
  reason: z.string().nullable(),
  ranking: z.array(RankedTrial),
  /** Set once, in the transaction that decides the run: exactly one promotion per run. */
  promotion: z
    .object({ config: z.string(), version: z.number().int().positive(), uri: z.string(), f1: z.number() })
    .nullable(),
  /**
   * The current model the best trial had to beat, set in the transaction that decides the run; null when there was
   * none; absent on runs not decided yet (or decided before champions existed).
   */
  champion: Champion.nullable().optional(),
  /** Why trials of this run are waiting (e.g. for GPU quota), while they wait. */
  waiting: z.string().nullable().default(null),
  /** The run's report (`runs/<runId>/report.html`), set once it is written. */
  reportUri: z.string().optional(),
  /**
   * Ingest's upper bound of the grid's training time (every config to its epoch limit) on the CPU (wasm) backend,
   * from `shared/estimate.ts`; a GPU trains much faster. Absent on runs from before it existed.
   */
  estimate: z
    .object({
      basis: z.string(),
      trialsAtOnce: z.number().int().positive(),
      seconds: z.number().nonnegative(),
      trials: z.array(
        z.object({ config: z.string(), secondsPerEpoch: z.number().nonnegative(), seconds: z.number() }),
      ),
    })
    .optional(),
  /** Plain-words warnings for whoever planned the run (e.g. a grid that may take hours), with the ways out. */
  warnings: z.array(z.string()).optional(),
  /**
   * The run's training budget as ingest checked it (shared/budget.ts): its estimated accelerator-hours, each trial's
   * share, the limits then in force, and until when a daily-budget hold keeps its jobs from starting (null: none).
   * Absent on runs from before it existed.
   */
  budget: z
    .object({
      estimateHours: z.number().nonnegative(),
      trialHours: z.record(z.string(), z.number().nonnegative()),
      runLimitHours: z.number().positive(),
      dailyLimitHours: z.number().positive(),
      committedTodayHours: z.number().nonnegative(),
      notBefore: z.string().nullable(),
    })
    .optional(),
});
export type RunDoc = z.infer<typeof RunDoc>;

/** `runs/{runId}/trials/{configName}` */
export const TrialDoc = z.object({
  runId: z.string(),
  config: z.string(),
  status: z.enum(TRIAL_STATUSES),
  hyperparameters: TrainingConfig,
  jobId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  metrics: TrialMetrics.nullable(),
  artifacts: TrialArtifacts.nullable(),
  error: z.string().nullable(),
  /** What the training job is started with: the trial starts itself from the queue with it. */
  request: TrainingRequest.nullable().default(null),
  /** Why the trial is still queued (no free slot, GPU quota, the daily budget), in plain words. */
  waiting: z.string().nullable().default(null),
  /** A daily-budget hold: the trial's job may not start before this time (shared/budget.ts mayStartNow). */
  notBefore: z.string().nullable().default(null),
  /** The last transient failure the launcher met starting this trial, and how many it met. */
  lastError: z.string().nullable().default(null),
  launchFailures: z.number().int().nonnegative().default(0),
  /** What the job trains on: the accelerator type, or `NONE` (CPU), with a note when it is not the configured one. */
  accelerator: z.string().nullable().default(null),
  note: z.string().nullable().default(null),
  /** The job's state as the sweeper last saw it (Vertex AI's words), and when it ended. */
  jobState: z.string().nullable().default(null),
  jobEndedAt: z.string().nullable().default(null),
  /** While it trains: its pace and remaining time, as the sweeper last copied them from the trainer. */
  progress: TrialProgress.nullable().default(null),
  /** Its place in the training queue (`QueueEntry.order`), kept so a trial that could not start goes back to it. */
  queueOrder: z.string().nullable().default(null),
  /** The training slot it holds while `starting` or `training` (`trainingSlots/{slot}`). */
  slot: z.string().nullable().default(null),
});
export type TrialDoc = z.infer<typeof TrialDoc>;

export const ModelVersion = z.object({
  version: z.number().int().positive(),
  runId: z.string(),
  config: z.string(),
  f1: z.number(),
  auc: z.number().nullable(),
  accuracy: z.number(),
  /** The immutable versioned folder; `models/{symbol}/{timeframe}/current.json` names the current one. */
  uri: z.string(),
  promotedAt: z.string(),
});
export type ModelVersion = z.infer<typeof ModelVersion>;

/** `models/{symbol}_{timeframe}` */
export const ModelDoc = z.object({
  symbol: z.string(),
  timeframe: z.string(),
  /** Highest version number handed out; a version is reserved before its files are copied. */
  latestVersion: z.number().int().nonnegative(),
  current: ModelVersion.nullable(),
  history: z.array(ModelVersion),
  updatedAt: z.string(),
});
export type ModelDoc = z.infer<typeof ModelDoc>;

/**
 * `trainingQueue/{runId}~{config}`: one document per waiting trial, so no document grows with the backlog. The
 * launcher reads the head by `order` (enqueue time, then grid position), only as many as there are free slots.
 */
export const QueueEntry = z.object({
  runId: z.string(),
  config: z.string(),
  order: z.string(),
});
export type QueueEntry = z.infer<typeof QueueEntry>;

/** `trainingSlots/slot-{n}`: one of the launcher's `capacity` slots, free (`trial` null) or held by one trial. */
export const SlotDoc = z.object({
  runId: z.string().nullable(),
  config: z.string().nullable(),
  updatedAt: z.string(),
});
export type SlotDoc = z.infer<typeof SlotDoc>;

/** What became of a forecast, once a later CSV held the bar it was for. */
export const ForecastOutcome = z.object({
  /** The close of the `asOf` bar (from the scoring CSV, else as the forecast saw it) and of the bar after it. */
  close: z.number(),
  nextClose: z.number(),
  /** The bar after `asOf`: the one the forecast was for. */
  nextTimestamp: z.string(),
  /** The next close is above the close: the target's definition. */
  up: z.boolean(),
  /** The forecast's signal was the direction that happened. */
  correct: z.boolean(),
  scoredAt: z.string(),
  /** The bucket object whose bars scored it. */
  source: z.string(),
});
export type ForecastOutcome = z.infer<typeof ForecastOutcome>;

/** One forecast of the bar after `asOf`, by the current model of a symbol and timeframe. */
export const Forecast = z.object({
  /** The last bar's timestamp: the forecast is for the next bar. */
  asOf: z.string(),
  /** The last bar's close, so a later CSV that starts at the next bar can still score it; absent on older forecasts. */
  close: z.number().optional(),
  probabilityUp: z.number().min(0).max(1),
  signal: z.enum(['up', 'down']),
  threshold: z.number(),
  modelVersion: z.number().int().positive(),
  /** The run that made it, or null for a CSV dropped under `forecast/`. */
  runId: z.string().nullable(),
  /** The bucket object its bars came from. */
  source: z.string(),
  createdAt: z.string(),
  /** Set once, when a later CSV holds the bar after `asOf` (shared/track-record.ts). */
  outcome: ForecastOutcome.optional(),
});
export type Forecast = z.infer<typeof Forecast>;

/** How many past forecasts a forecast document keeps (a Firestore document holds at most 1 MiB). */
export const FORECAST_HISTORY = 500;

/** `forecasts/{symbol}_{timeframe}`: the latest forecast at the top level, and the history, oldest first. */
export const ForecastDoc = Forecast.extend({
  symbol: z.string(),
  timeframe: z.string(),
  history: z.array(Forecast),
  updatedAt: z.string(),
});
export type ForecastDoc = z.infer<typeof ForecastDoc>;

/** `forecastAttempts/{attemptId}`: every forecast asked for, and why it failed when it did (the model is never touched). */
export const ForecastAttempt = z.object({
  attemptId: z.string(),
  status: z.enum(['succeeded', 'failed']),
  runId: z.string().nullable(),
  source: z.string(),
  symbol: z.string().nullable(),
  timeframe: z.string().nullable(),
  forecast: Forecast.nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
});
export type ForecastAttempt = z.infer<typeof ForecastAttempt>;

/** Scored forecasts as counts: what a track record is made of (the rates are derived from these). */
export const ScoredCounts = z.object({
  scored: z.number().int().nonnegative(),
  correct: z.number().int().nonnegative(),
  /** Scored bars that went up: the commoner outcome is the baseline a hit rate must beat. */
  ups: z.number().int().nonnegative(),
});
export type ScoredCounts = z.infer<typeof ScoredCounts>;

/** Counts and what they say: hit rate, its 95% Wilson interval, and the p-value against the commoner outcome. */
export const TrackFigures = ScoredCounts.extend({
  /** correct / scored; null before anything is scored. */
  hitRate: z.number().nullable(),
  interval: z.object({ low: z.number(), high: z.number() }),
  /** The share of the commoner outcome among the scored bars: the hit rate of always answering it. */
  baselineRate: z.number().nullable(),
  /** One-sided exact binomial P(at least `correct` hits | scored, baselineRate); 1 before anything is scored. */
  pValue: z.number().min(0).max(1),
});
export type TrackFigures = z.infer<typeof TrackFigures>;

/** `trackRecords/{symbol}_{timeframe}`: every scored forecast counted, overall and per model version. */
export const TrackRecord = TrackFigures.extend({
  symbol: z.string(),
  timeframe: z.string(),
  /** Keyed by the model version as a string ("1", "2", ...). */
  byVersion: z.record(z.string(), TrackFigures),
  updatedAt: z.string(),
});
export type TrackRecord = z.infer<typeof TrackRecord>;
