import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../adapters/log.ts';
import { openFolderUri } from '../adapters/object-stores.ts';
import { DEFAULT_PATIENCE } from '../shared/config.ts';
import { DatasetManifest } from '../shared/manifest.ts';
import type { TrainingRequest, TrainingResult, TrialMetrics } from '../shared/messages.ts';
import { evaluateBinary } from '../shared/metrics.ts';
import { DATASET_FILES, TRIAL_FILES } from '../shared/names.ts';
import { decodeNpy } from '../shared/npy.ts';
import { InputError, parseJson, parseWith } from '../shared/validate.ts';
import { type EpochRecord, learningCurvesSvg, saveModel } from './artifacts.ts';
import { selectBackend } from './backend.ts';
import { EarlyStopping, ReduceLrOnPlateau } from './callbacks.ts';
import { buildModel } from './model.ts';

export type EpochProgress = {
  epoch: number;
  epochs: number;
  loss: number;
  valLoss: number;
  bestValLoss: number;
  lr: number;
  /** Wall-clock seconds of this epoch (training and the validation pass), to plan the remaining time with. */
  seconds: number;
};

/** mulberry32: a small seeded PRNG, enough for repeatable shuffles and dropout masks. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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

/** Reads and checks a dataset folder written by `trendcast features` (or the ingest function). */
export async function loadDataset(datasetUri: string) {
  const { store, prefix } = await openFolderUri(datasetUri);
  const read = async (name: string) => {
    try {
      return await store.read(prefix + name);
    } catch {
      throw new InputError(`dataset ${datasetUri}: cannot read ${name}`);
    }
  };
  const manifest = parseWith(
    DatasetManifest,
    parseJson(
      (await read(DATASET_FILES.manifest)).toString('utf8'),
      `${datasetUri}${DATASET_FILES.manifest}`,
    ),
    `${datasetUri}${DATASET_FILES.manifest}`,
  );
  const X = decodeNpy(await read(DATASET_FILES.X), `${datasetUri}${DATASET_FILES.X}`);
  const y = decodeNpy(await read(DATASET_FILES.y), `${datasetUri}${DATASET_FILES.y}`);
  const { windows, train, validation } = manifest.counts;
  const L = manifest.sequenceLength;
  const F = manifest.features.length;
  if (X.dtype !== 'float32' || X.shape.join() !== [windows, L, F].join()) {
    throw new InputError(
      `dataset ${datasetUri}: X.npy is ${X.dtype} [${X.shape}], dataset.json says float32 [${windows}, ${L}, ${F}]`,
    );
  }
  if (y.shape.join() !== String(windows) || train + validation !== windows || train < 1 || validation < 1) {
    throw new InputError(
      `dataset ${datasetUri}: y.npy [${y.shape}] does not match ${train} training + ${validation} validation windows`,
    );
  }
  return { manifest, X: X.data as Float32Array, y: Float32Array.from(y.data) };
}

function snapshot(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights().map((w) => w.clone());
}

/**
 * Trains one config on one dataset and writes its artifacts. Never throws for a training failure: the result says
 * `failed` with the reason in plain words, so the run can still be decided.
 */
export type TrainingHooks = { onEpoch?: (p: EpochProgress) => void; log?: Logger };

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
    const { manifest, X, y } = await loadDataset(request.datasetUri);
    log?.info('training', { backend, datasetUri: request.datasetUri, ...manifest.counts });
    const result = await withSeed(request.seed, () =>
      train(request, manifest, X, y, backend, started, hooks),
    );
    log?.info('trained', {
      outputUri: request.outputUri,
      f1: result.status === 'succeeded' ? result.metrics.f1 : null,
    });
    return result;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log?.error(`training failed: ${reason}`);
    return failed(reason);
  }
}

async function train(
  request: TrainingRequest,
  manifest: DatasetManifest,
  Xdata: Float32Array,
  ydata: Float32Array,
  backend: string,
  started: number,
  hooks: TrainingHooks,
): Promise<TrainingResult> {
  const { config } = request;
  const { train: nTrain, validation: nVal } = manifest.counts;
  const L = manifest.sequenceLength;
  const F = manifest.features.length;
  const xTrain = tf.tensor3d(Xdata.subarray(0, nTrain * L * F), [nTrain, L, F]);
  const yTrain = tf.tensor2d(ydata.subarray(0, nTrain), [nTrain, 1]);
  const xVal = tf.tensor3d(Xdata.subarray(nTrain * L * F), [nVal, L, F]);
  const yVal = tf.tensor2d(ydata.subarray(nTrain), [nVal, 1]);
  const model = buildModel(config, L, F, request.seed);
  let lr = config.learningRate;
  const optimizer = tf.train.adam(lr);
  model.compile({ optimizer, loss: 'binaryCrossentropy', metrics: ['accuracy'] });

  const stopping = new EarlyStopping(config.patience ?? DEFAULT_PATIENCE);
  const plateau = new ReduceLrOnPlateau(0.5, 7, 1e-7);
  const history: EpochRecord[] = [];
  let best: tf.Tensor[] | undefined;
  const evaluate = async () => {
    const [loss, acc] = model.evaluate(xVal, yVal, { batchSize: 256 }) as tf.Scalar[];
    const values = [(await loss!.data())[0]!, (await acc!.data())[0]!];
    tf.dispose([loss!, acc!]);
    return values as [number, number];
  };

  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const epochStarted = performance.now();
      const order = Array.from({ length: nTrain }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      let accSum = 0;
      for (let b = 0; b < nTrain; b += config.batchSize) {
        const batch = order.slice(b, b + config.batchSize);
        const [xb, yb] = tf.tidy(() => {
          const idx = tf.tensor1d(batch, 'int32');
          return [tf.gather(xTrain, idx), tf.gather(yTrain, idx)];
        });
        const [loss, acc] = (await model.trainOnBatch(xb!, yb!)) as number[];
        tf.dispose([xb!, yb!]);
        lossSum += loss! * batch.length;
        accSum += acc! * batch.length;
      }
      const [valLoss, valAccuracy] = await evaluate();
      if (!Number.isFinite(valLoss) || !Number.isFinite(lossSum)) {
        throw new Error(
          `training diverged at epoch ${epoch} (loss ${lossSum / nTrain}, val_loss ${valLoss})`,
        );
      }
      history.push({
        epoch,
        loss: lossSum / nTrain,
        val_loss: valLoss,
        accuracy: accSum / nTrain,
        val_accuracy: valAccuracy,
        lr,
      });
      const { improved, stop } = stopping.update(epoch, valLoss);
      if (improved) {
        tf.dispose(best ?? []);
        best = snapshot(model);
      }
      hooks.onEpoch?.({
        epoch,
        epochs: config.epochs,
        loss: lossSum / nTrain,
        valLoss,
        bestValLoss: stopping.best,
        lr,
        seconds: (performance.now() - epochStarted) / 1000,
      });
      lr = plateau.update(valLoss, lr);
      // tfjs keeps the rate in a protected field that every Adam step reads; there is no public setter.
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      if (stop) break;
    }
    // The best epoch's weights (batch-norm statistics included) are what is evaluated and saved.
    if (best) model.setWeights(best);
    const [valLoss] = await evaluate();
    const probabilityTensor = model.predict(xVal) as tf.Tensor;
    const probabilities = Array.from(await probabilityTensor.data());
    probabilityTensor.dispose();
    const metrics: TrialMetrics = {
      valLoss,
      ...evaluateBinary(ydata.subarray(nTrain), probabilities),
      backend,
      epochsRun: history.length,
      bestEpoch: stopping.bestEpoch,
      seconds: (Date.now() - started) / 1000,
      parameterCount: model.countParams(),
    };

    const { store, prefix } = await openFolderUri(request.outputUri);
    const uri = (name: string) => `${store.baseUri}${prefix}${name}`;
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    await saveModel(model, store, prefix);
    await store.write(
      prefix + TRIAL_FILES.predictions,
      json({ probabilities, labels: Array.from(ydata.subarray(nTrain)) }),
    );
    await store.write(prefix + TRIAL_FILES.history, json(history));
    const title = `${manifest.symbol} ${manifest.timeframe} ${config.name}: best epoch ${stopping.bestEpoch}, F1 ${metrics.f1.toFixed(3)}`;
    await store.write(
      prefix + TRIAL_FILES.curves,
      learningCurvesSvg(history, stopping.bestEpoch, title),
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
      },
      finishedAt: new Date().toISOString(),
    };
    await store.write(prefix + TRIAL_FILES.result, json(result));
    return result;
  } finally {
    tf.dispose([xTrain, yTrain, xVal, yVal, ...(best ?? [])]);
    model.dispose();
  }
}
