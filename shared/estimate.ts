import type { TrainingConfig } from './config.ts';
import type { Settings } from './settings.ts';

// How long training takes, to plan with: before a run (ingest's estimate of the grid) and during it (each trial's
// measured pace). Pure arithmetic; the constants below are the only measured figures.

/**
 * The calibration of the default CPU backend (tfjs wasm with trendcast's fused training step, one core per trainer),
 * from bench/RESULTS.md "Issue 24, speed part" (2026-12-05, Intel Xeon KVM, 16:52-17:25 UTC, `bench:train` pinned to
 * one core): config_1 0.19 s/epoch, config_2 0.57-0.64, config_3 0.38 on the reference dataset, config_1 23.4-24.6 s
 * on a year of 5-minute bars. Fitted to those: the LSTM stack's products and the kernel's loops around them at 40
 * GFLOP/s (the products alone run at about 62), the rest of a batch (batch norm, attention, dropout, the dense head,
 * Adam) about 3 ms plus 0.18 ms per window. The model gives 0.19, 0.60, 0.38 and 24.6 s for those four: within 3%.
 * A trial's fixed cost (process and backend start-up, reading the dataset, building the model, the final evaluation
 * and saving) was 2-3 s in `trendcast run` on the reference CSV.
 */
export const WASM_CALIBRATION = {
  /** Throughput of the LSTM layers (their products and the loops around them), FLOP per second. */
  flopsPerSecond: 40e9,
  /** Fixed cost of one training batch outside the LSTM layers, seconds. */
  batchSeconds: 0.003,
  /** Cost per window of a training batch outside the LSTM layers, seconds. */
  windowSeconds: 0.00018,
  /** Fixed cost of a trial outside its epochs, seconds. */
  trialSeconds: 3,
} as const;
export type Calibration = typeof WASM_CALIBRATION;

/** What a backend's figures are called in plain words (the warning names it). */
export const ESTIMATE_BASIS = 'the CPU (wasm) backend';

/**
 * Matrix-product FLOPs of one window through the three LSTM layers: forward 2·T·(in + U)·4U per layer; training adds
 * the backward products (dW, dR, dh, and dx except for the first layer, whose input needs no gradient).
 */
export function lstmFlopsPerWindow(
  lstmUnits: readonly number[],
  shape: { sequenceLength: number; features: number },
): { forward: number; training: number } {
  let forward = 0;
  let training = 0;
  let inputs = shape.features;
  for (const [i, units] of lstmUnits.entries()) {
    const gates = 4 * units;
    const layerForward = 2 * shape.sequenceLength * (inputs + units) * gates;
    const backward = 2 * shape.sequenceLength * gates * ((i === 0 ? inputs : 2 * inputs) + 2 * units);
    forward += layerForward;
    training += layerForward + backward;
    inputs = units;
  }
  return { forward, training };
}

/** Seconds of one epoch: training on `train` windows in batches, then the validation pass over `validation`. */
export function secondsPerEpoch(
  config: Pick<TrainingConfig, 'lstmUnits' | 'batchSize'>,
  data: { train: number; validation: number; sequenceLength: number; features: number },
  calibration: Calibration = WASM_CALIBRATION,
): number {
  const flops = lstmFlopsPerWindow(config.lstmUnits, data);
  const batches = Math.ceil(data.train / config.batchSize);
  const glue = batches * calibration.batchSeconds + data.train * calibration.windowSeconds;
  return (flops.training * data.train + flops.forward * data.validation) / calibration.flopsPerSecond + glue;
}

export type TrialEstimate = { config: string; secondsPerEpoch: number; seconds: number };
export type GridEstimate = { trials: TrialEstimate[]; trialsAtOnce: number; seconds: number };

/**
 * Upper bound of a grid's time: every config trains to its epoch limit (early stopping usually ends it sooner), on
 * each walk-forward fold's training windows, and the trials start in grid order on `trialsAtOnce` slots, each on the
 * first slot to free up (the training queue's order).
 */
export function estimateGrid(
  configs: ReadonlyArray<Pick<TrainingConfig, 'name' | 'lstmUnits' | 'batchSize' | 'epochs'>>,
  data: {
    /** Training and validation windows of each fold (one entry without walk-forward folds). */
    folds: ReadonlyArray<{ train: number; validation: number }>;
    sequenceLength: number;
    features: number;
  },
  trialsAtOnce: number,
  calibration: Calibration = WASM_CALIBRATION,
): GridEstimate {
  const trials = configs.map((config) => {
    const perFold = data.folds.map((fold) => secondsPerEpoch(config, { ...data, ...fold }, calibration));
    return {
      config: config.name,
      // Of the last (largest) fold: the pace a progress line shows for most of the trial.
      secondsPerEpoch: perFold[perFold.length - 1] ?? 0,
      seconds: calibration.trialSeconds + perFold.reduce((sum, s) => sum + s * config.epochs, 0),
    };
  });
  const slots = Array.from({ length: Math.max(1, trialsAtOnce) }, () => 0);
  for (const trial of trials) {
    const first = slots.indexOf(Math.min(...slots));
    slots[first]! += trial.seconds;
  }
  return { trials, trialsAtOnce: slots.length, seconds: Math.max(...slots) };
}

/** A coarser bar size that cuts the windows by an order of magnitude, or null above a day. */
export function coarserTimeframe(timeframe: string): string | null {
  const match = /^(\d+)(m|h|d)$/.exec(timeframe);
  if (!match) return null;
  const unit = match[2];
  if (unit === 'm') return '1h';
  if (unit === 'h') return '1d';
  return null;
}

/** The run document's warning when a grid's estimate is over the limit: how long, and the ways out. */
export function estimateWarning(
  estimate: GridEstimate,
  timeframe: string,
  limitSeconds: number,
): string | null {
  if (estimate.seconds <= limitSeconds) return null;
  const coarser = coarserTimeframe(timeframe);
  const configs = estimate.trials.length;
  return (
    `this grid may take up to ${formatDuration(estimate.seconds)} on ${ESTIMATE_BASIS} ` +
    `(${configs} config${configs === 1 ? '' : 's'} to their epoch limits, ${estimate.trialsAtOnce} at a time; ` +
    'early stopping usually ends them sooner): train on the GPU (Vertex AI, T4), which is much faster, or ' +
    (coarser
      ? `use a coarser timeframe (e.g. ${coarser} instead of ${timeframe})`
      : 'use a shorter history or fewer epochs')
  );
}

/** Mean seconds of the last `recent` epochs, leaving out the first (it carries start-up) once there are others. */
export function steadySecondsPerEpoch(
  epochSeconds: readonly number[],
  recent = Number.POSITIVE_INFINITY,
): number {
  const steady = epochSeconds.length > 1 ? epochSeconds.slice(1) : epochSeconds;
  const last = steady.slice(-Math.min(recent, steady.length));
  return last.length ? last.reduce((a, b) => a + b, 0) / last.length : 0;
}

/**
 * A trial's pace from its epochs' seconds so far (the mean of the last few), and the time left if every remaining
 * epoch runs (an upper bound: early stopping may end it sooner). With walk-forward folds, the later folds are counted
 * at the current pace.
 */
export function trainingPace(
  epochSeconds: readonly number[],
  at: { epoch: number; epochs: number; fold?: number; folds?: number },
  recent = 5,
): { secondsPerEpoch: number; remainingSeconds: number } {
  const secondsPerEpoch = steadySecondsPerEpoch(epochSeconds, recent);
  const laterFolds = (at.folds ?? 1) - (at.fold ?? 1);
  const remainingEpochs = at.epochs - at.epoch + laterFolds * at.epochs;
  return { secondsPerEpoch, remainingSeconds: secondsPerEpoch * Math.max(0, remainingEpochs) };
}

/** "45 s", "12 min", "5 h 20 min": a duration as people plan with it. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/**
 * The run document's `estimate` and `warnings` for a grid on a dataset: a warning when the grid may take longer than
 * `warnSeconds` on the CPU (wasm) backend. Jobs on a GPU get the estimate (what a CPU would take) but no warning:
 * the figures do not describe them.
 */
export function planRun(
  grid: {
    configs: ReadonlyArray<Pick<TrainingConfig, 'name' | 'lstmUnits' | 'batchSize' | 'epochs'>>;
    folds: ReadonlyArray<{ start: number; end: number }>;
  },
  dataset: { timeframe: string; sequenceLength: number; features: number },
  where: { trialsAtOnce: number; onGpu: boolean; warnSeconds: number },
): { estimate: GridEstimate & { basis: string }; warnings: string[] } {
  const estimate = estimateGrid(
    grid.configs,
    {
      folds: grid.folds.map((b) => ({ train: b.start, validation: b.end - b.start })),
      sequenceLength: dataset.sequenceLength,
      features: dataset.features,
    },
    where.trialsAtOnce,
  );
  const warning = where.onGpu ? null : estimateWarning(estimate, dataset.timeframe, where.warnSeconds);
  return { estimate: { basis: ESTIMATE_BASIS, ...estimate }, warnings: warning ? [warning] : [] };
}

/** Whether training jobs get a GPU: Vertex AI jobs with an accelerator (as the launcher decides, quota permitting). */
export function trainsOnGpu(
  settings: Pick<
    Settings,
    'TRENDCAST_BACKEND' | 'TRENDCAST_ACCELERATOR_TYPE' | 'TRENDCAST_ACCELERATOR_COUNT'
  >,
): boolean {
  return (
    settings.TRENDCAST_BACKEND === 'gcp' &&
    settings.TRENDCAST_ACCELERATOR_TYPE !== 'NONE' &&
    settings.TRENDCAST_ACCELERATOR_COUNT > 0
  );
}
