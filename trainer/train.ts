import { openFolderUri } from '../adapters/object-stores.ts';
import { backtest, backtestReturns, equityCurve, periodsPerYear, positions } from '../shared/backtest.ts';
import { DEFAULT_EVALUATION } from '../shared/config.ts';
import { parseFeatureRows, scaleWindows, walkForwardFolds } from '../shared/dataset.ts';
import type { TrialProgress } from '../shared/documents.ts';
import { InputError, messageOf } from '../shared/errors.ts';
import { steadySecondsPerEpoch, trainingPace } from '../shared/estimate.ts';
import type { ModelPreprocessing } from '../shared/forecast.ts';
import type { TrainingRequest, TrainingResult, TrialMetrics } from '../shared/messages.ts';
import { evaluateBinary } from '../shared/metrics.ts';
import { DATASET_FILES, TRIAL_FILES } from '../shared/names.ts';
import type { Logger, ObjectStore } from '../shared/ports.ts';
import type { Predictions } from '../shared/predictions.ts';
import type { EpochProgress } from '../shared/progress.ts';
import { seededRandom } from '../shared/random.ts';
import { type EpochRecord, equityCurveSvg, learningCurvesSvg, saveModel } from './artifacts.ts';
import { selectBackend } from './backend.ts';
import { type Dataset, loadDataset } from './dataset.ts';
import { type Fitted, fitFold } from './fit-fold.ts';

/**
 * Writes the trial's `progress.json` (what the sweeper copies into the trial document) at most every few seconds, so a
 * fast epoch does not become a storage write each; a failed write is logged and never fails the training. `update`
 * resolves when its write is done: the training loop awaits it, because on the wasm and cpu backends nothing else
 * in an epoch gives the event loop a turn, and a write left pending would only land when training ends.
 */
function progressFile(store: ObjectStore, key: string, log: Logger | undefined, everyMs = 5000) {
  let writtenAt = Number.NEGATIVE_INFINITY;
  return {
    async update(progress: TrialProgress): Promise<void> {
      if (Date.now() - writtenAt < everyMs) return;
      writtenAt = Date.now();
      await store
        .write(key, `${JSON.stringify(progress)}\n`, 'application/json')
        .catch((error) => log?.warn(`could not write ${key}: ${messageOf(error)}`));
    },
  };
}

/**
 * Runs `fn` with Math.random replaced by a seeded generator: tfjs draws the seeds of its initializers and dropout
 * masks from Math.random when none is given, so this makes a whole training run repeatable on one backend.
 */
async function withSeed<T>(seed: number | undefined, fn: () => Promise<T>): Promise<T> {
  if (seed === undefined) return fn();
  const original = Math.random;
  Math.random = seededRandom(seed);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * Trains one config on one dataset and writes its artifacts. Never throws for a training failure: the result says
 * `failed` with the reason in plain words, so the run can still be decided.
 */
export type TrainingHooks = {
  onEpoch?: (p: EpochProgress) => void;
  log?: Logger;
  /** Called with what made the training fail (the result only carries its message). */
  onFailure?: (error: unknown) => void;
};

export async function runTraining(
  request: TrainingRequest,
  hooks: TrainingHooks = {},
): Promise<TrainingResult> {
  const log = hooks.log?.child({ runId: request.runId, trial: request.config.name });
  const started = Date.now();
  const failed = (error: string): TrainingResult => ({
    status: 'failed',
    runId: request.runId,
    config: request.config.name,
    error,
    finishedAt: new Date().toISOString(),
  });
  try {
    const backend = await selectBackend();
    const dataset = await loadDataset(request.datasetUri);
    log?.info('training', { backend, datasetUri: request.datasetUri, ...dataset.manifest.counts });
    const result = await withSeed(request.seed, () =>
      train(request, dataset, backend, started, { ...hooks, log }),
    );
    log?.info('trained', {
      outputUri: request.outputUri,
      f1: result.status === 'succeeded' ? result.metrics.f1 : null,
    });
    return result;
  } catch (error) {
    // Reported once, by whoever reads the result (the CLI's `error:` line, the trial document): not logged here too.
    hooks.onFailure?.(error);
    return failed(messageOf(error));
  }
}

/** One model fitted on windows [0, start) and validated (early stopping, best weights) on [start, end). */
async function train(
  request: TrainingRequest,
  dataset: Dataset,
  backend: string,
  started: number,
  hooks: TrainingHooks,
): Promise<TrainingResult> {
  const { manifest, X: Xdata, y: ydata, bars } = dataset;
  const { config } = request;
  const evaluation = request.evaluation ?? DEFAULT_EVALUATION;
  const L = manifest.sequenceLength;
  const F = manifest.features.length;
  const { windows } = manifest.counts;
  // One fold is the dataset's own split and scaling; more refit the scaler on each fold's training part.
  const { initialTrain, blocks } = walkForwardFolds(windows, evaluation.folds);
  const raw =
    evaluation.folds > 1
      ? parseFeatureRows(await dataset.featuresCsv(), `${request.datasetUri}${DATASET_FILES.features}`)
      : undefined;
  if (raw && raw.length !== manifest.counts.rows * F)
    throw new InputError(
      `dataset ${request.datasetUri}: features.csv has ${raw.length / F} rows, dataset.json says ${manifest.counts.rows}`,
    );

  const { store, prefix } = await openFolderUri(request.outputUri);
  const progress = progressFile(store, prefix + TRIAL_FILES.progress, hooks.log);
  const epochSeconds: number[] = [];
  const probabilities: number[] = [];
  const history: EpochRecord[] = [];
  let lossSum = 0;
  let last: (Fitted & { scaler: { min: number[]; max: number[] } }) | undefined;
  try {
    for (const [j, block] of blocks.entries()) {
      const { X, scaler } = raw
        ? scaleWindows(raw, F, L, block.start)
        : { X: Xdata, scaler: manifest.scaler };
      const fold = blocks.length > 1 ? { fold: j + 1, folds: blocks.length } : {};
      const fitted = await fitFold(
        request,
        X,
        ydata,
        block,
        { L, F },
        (p) => {
          epochSeconds.push(p.seconds);
          const at = { ...p, ...fold };
          const pace = trainingPace(epochSeconds, at);
          hooks.onEpoch?.({ ...at, ...pace });
          return progress.update({
            epoch: p.epoch,
            epochs: p.epochs,
            ...fold,
            ...pace,
            updatedAt: new Date().toISOString(),
          });
        },
        hooks.log,
      );
      last?.model.dispose();
      last = { ...fitted, scaler };
      probabilities.push(...fitted.probabilities);
      history.push(...fitted.history.map((h) => ({ ...h, ...fold })));
      lossSum += fitted.valLoss * (block.end - block.start);
    }
    const model = last!.model;
    // Every out-of-sample window, in time order: what was known at each one's last close, and what the next did.
    const tested = {
      close: bars.close.slice(initialTrain),
      nextClose: bars.nextClose.slice(initialTrain),
      probabilities,
    };
    const rules = { ...evaluation, periodsPerYear: periodsPerYear(manifest.timeframe) };
    const position = positions(probabilities, rules);
    const labels = Array.from(ydata.subarray(initialTrain));
    const metrics: TrialMetrics = {
      valLoss: lossSum / (windows - initialTrain), // the pooled mean: each fold's mean weighted by its windows
      ...evaluateBinary(labels, probabilities),
      backtest: backtest(tested, rules),
      folds: blocks.length,
      backend,
      epochsRun: history.length,
      bestEpoch: last!.bestEpoch,
      seconds: (Date.now() - started) / 1000,
      secondsPerEpoch: steadySecondsPerEpoch(epochSeconds),
      parameterCount: model.countParams(),
    };

    const uri = (name: string) => `${store.baseUri}${prefix}${name}`;
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    await saveModel(model, store, prefix);
    // Everything needed to recompute every figure of metrics.json by hand, one entry per out-of-sample window.
    await store.write(
      prefix + TRIAL_FILES.predictions,
      json({
        threshold: rules.threshold,
        costBps: rules.costBps,
        allowShort: rules.allowShort,
        periodsPerYear: rules.periodsPerYear,
        folds: blocks,
        probabilities,
        labels,
        windows: probabilities.map((probability, i) => ({
          timestamp: bars.timestamp[initialTrain + i]!,
          close: tested.close[i]!,
          nextTimestamp: bars.nextTimestamp[initialTrain + i]!,
          nextClose: tested.nextClose[i]!,
          label: labels[i]!,
          probability,
          position: position[i]!,
        })),
      } satisfies Predictions),
    );
    await store.write(prefix + TRIAL_FILES.history, json(history));
    // Beside the weights, and copied with them on promotion: what a forecast needs to prepare new bars.
    const preprocessing: ModelPreprocessing = {
      symbol: manifest.symbol,
      timeframe: manifest.timeframe,
      sequenceLength: L,
      features: manifest.features,
      scaler: last!.scaler,
      threshold: rules.threshold,
    };
    await store.write(prefix + TRIAL_FILES.preprocessing, json(preprocessing));
    const foldNote = blocks.length > 1 ? ` (fold ${blocks.length} of ${blocks.length})` : '';
    const title = `${manifest.symbol} ${manifest.timeframe} ${config.name}${foldNote}: best epoch ${last!.bestEpoch}, F1 ${metrics.f1.toFixed(3)}`;
    await store.write(
      prefix + TRIAL_FILES.curves,
      learningCurvesSvg(last!.history, last!.bestEpoch, title),
      'image/svg+xml',
    );
    const returns = backtestReturns(tested.close, tested.nextClose, position, rules.costBps);
    const b = metrics.backtest;
    await store.write(
      prefix + TRIAL_FILES.equity,
      equityCurveSvg(
        { first: bars.timestamp[initialTrain]!, last: bars.nextTimestamp[windows - 1]! },
        equityCurve(returns.strategy),
        equityCurve(returns.buyHold),
        `${manifest.symbol} ${manifest.timeframe} ${config.name}: ${pct(b.totalReturn)} vs buy-and-hold ${pct(b.buyHoldReturn)}, ${b.costBps} bps`,
      ),
      'image/svg+xml',
    );
    await store.write(prefix + TRIAL_FILES.metrics, json(metrics));
    const result: TrainingResult = {
      status: 'succeeded',
      runId: request.runId,
      config: config.name,
      metrics,
      artifacts: {
        model: uri(TRIAL_FILES.model),
        metrics: uri(TRIAL_FILES.metrics),
        predictions: uri(TRIAL_FILES.predictions),
        history: uri(TRIAL_FILES.history),
        curves: uri(TRIAL_FILES.curves),
        equity: uri(TRIAL_FILES.equity),
      },
      finishedAt: new Date().toISOString(),
    };
    await store.write(prefix + TRIAL_FILES.result, json(result));
    return result;
  } finally {
    last?.model.dispose();
  }
}
