import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { DEFAULT_EVALUATION, DEFAULT_GRID } from '../../shared/config.ts';
import { buildDataset, cutWindows, datasetFileBytes } from '../../shared/dataset.ts';
import { TrialProgress } from '../../shared/documents.ts';
import { TrainingResult, TrialMetrics } from '../../shared/messages.ts';
import { Predictions } from '../../shared/predictions.ts';
import type { EpochProgress } from '../../shared/progress.ts';
import { loadModel } from '../../trainer/artifacts.ts';
import { selectBackend } from '../../trainer/backend.ts';
import { buildModel } from '../../trainer/model.ts';
import { runTraining } from '../../trainer/train.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { writeReferenceDataset } from '../helpers/dataset.ts';

const root = mkdtempSync(join(tmpdir(), 'trainer-'));
const datasetDir = join(root, 'dataset');
const datasetUri = `${pathToFileURL(datasetDir).href}/`;
const tiny = {
  name: 'tiny',
  lstmUnits: [4, 4, 4] as [number, number, number],
  dropout: 0.1,
  learningRate: 0.01,
  batchSize: 32,
  epochs: 3,
};
const request = (out: string, over: object = {}) => ({
  runId: 'run-trainer-test',
  config: tiny,
  datasetUri,
  outputUri: `${pathToFileURL(join(root, out)).href}/`,
  seed: 5,
  ...over,
});

beforeAll(() => writeReferenceDataset(datasetDir));

describe('the model', () => {
  it('is the reference architecture: config_1_baseline has the Keras model parameter count', async () => {
    await selectBackend();
    const model = buildModel(DEFAULT_GRID.configs[0]!, 60, 27);
    // LSTM 79,872 + BN 512 + LSTM 49,408 + BN 256 + attention 65 + LSTM 12,416 + dense 2,112 + 2,080 + 33
    expect(model.countParams()).toBe(146_754);
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'LSTM',
      'Dropout',
      'BatchNormalization',
      'LSTM',
      'Dropout',
      'BatchNormalization',
      'Dense',
      'Flatten',
      'Activation',
      'RepeatVector',
      'Permute',
      'Multiply',
      'LSTM',
      'Dropout',
      'Dense',
      'Dropout',
      'Dense',
      'Dropout',
      'Dense',
    ]);
    model.dispose();
  });
});

describe('runTraining', () => {
  let first: TrainingResult;
  const progress: EpochProgress[] = [];
  let midTraining = '';
  beforeAll(async () => {
    first = await runTraining(request('a'), {
      onEpoch: (p) => {
        progress.push(p);
        // What a reader (the sweeper) finds while the trial trains: epoch 1's pace, written during epoch 2.
        if (p.epoch === 3) {
          try {
            midTraining = readFileSync(join(root, 'a', 'progress.json'), 'utf8');
          } catch (error) {
            midTraining = String(error);
          }
        }
      },
    });
  }, 120_000);

  it('reports every epoch with its measured seconds, to plan the remaining time with', () => {
    expect(progress.map((p) => [p.epoch, p.epochs])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    for (const p of progress) expect(p.seconds).toBeGreaterThan(0);
    // the pace leaves out the first epoch (start-up) once there are others; the time left is to the epoch limit
    expect(progress.map((p) => p.secondsPerEpoch)).toEqual([
      progress[0]!.seconds,
      progress[1]!.seconds,
      (progress[1]!.seconds + progress[2]!.seconds) / 2,
    ]);
    expect(progress.map((p) => p.remainingSeconds)).toEqual([
      2 * progress[0]!.seconds,
      progress[1]!.seconds,
      0,
    ]);
    if (first.status !== 'succeeded') throw new Error('training failed');
    expect(first.metrics.secondsPerEpoch).toBe((progress[1]!.seconds + progress[2]!.seconds) / 2);
    // progress.json (written at the first epoch, then at most every 5 s) holds one epoch's pace, in the document's shape
    const file = TrialProgress.parse(JSON.parse(readFileSync(join(root, 'a', 'progress.json'), 'utf8')));
    const at = progress[file.epoch - 1]!;
    expect(file).toMatchObject({
      epochs: 3,
      secondsPerEpoch: at.secondsPerEpoch,
      remainingSeconds: at.remainingSeconds,
    });
    // Written while training went on, not only once it ended: the training loop lets I/O run between epochs.
    expect(TrialProgress.parse(JSON.parse(midTraining))).toMatchObject({ epoch: 1, epochs: 3 });
    // Each epoch's seconds fit inside the whole run's.
    expect(progress.reduce((sum, p) => sum + p.seconds, 0)).toBeLessThanOrEqual(first.metrics.seconds);
  });

  it('trains, evaluates and writes every artifact', () => {
    expect(first.status).toBe('succeeded');
    if (first.status !== 'succeeded') return;
    const m = TrialMetrics.parse(first.metrics);
    expect(m.epochsRun).toBe(3);
    expect(m.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(m.confusion.tp + m.confusion.fp + m.confusion.tn + m.confusion.fn).toBe(36); // validation windows
    const dir = join(root, 'a');
    const history = JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8'));
    expect(history).toHaveLength(3);
    expect(Object.keys(history[0]).sort()).toEqual([
      'accuracy',
      'epoch',
      'loss',
      'lr',
      'val_accuracy',
      'val_loss',
    ]);
    expect(readFileSync(join(dir, 'learning-curves.svg'), 'utf8')).toMatch(
      /^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/,
    );
    expect(TrainingResult.parse(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')))).toEqual(first);
  });

  it('writes predictions from which anyone can recompute the backtest and the p-value', () => {
    if (first.status !== 'succeeded') throw new Error('training failed');
    const dir = join(root, 'a');
    // The schema every reader of predictions.json shares: parse throws on a file that strays from it.
    const predictions = Predictions.parse(JSON.parse(readFileSync(join(dir, 'predictions.json'), 'utf8')));
    const { windows } = predictions;
    expect(windows).toHaveLength(36);
    expect(windows.at(-1)!.nextTimestamp).toBe('2025-11-11');
    expect(predictions).toMatchObject({
      threshold: 0.5,
      costBps: 10,
      allowShort: false,
      periodsPerYear: 252,
    });
    let equity = 1;
    let previous = 0;
    let correct = 0;
    for (const w of windows) {
      expect(w.label).toBe(w.nextClose > w.close ? 1 : 0); // the closes are the ones the target compares
      expect(w.position).toBe(w.probability >= 0.5 ? 1 : 0);
      equity *= 1 + w.position * (w.nextClose / w.close - 1) - 0.001 * Math.abs(w.position - previous);
      previous = w.position;
      if ((w.probability > 0.5 ? 1 : 0) === w.label) correct++;
    }
    const m = first.metrics;
    expect(Math.abs(m.backtest.totalReturn - (equity - 1))).toBeLessThan(1e-9);
    const buyHold =
      windows.reduce((e, w) => e * (w.nextClose / w.close), 1) *
      (1 - 0.001 / (windows[0]!.nextClose / windows[0]!.close));
    expect(Math.abs(m.backtest.buyHoldReturn - (buyHold - 1))).toBeLessThan(1e-9);
    expect(m.accuracy).toBeCloseTo(correct / 36, 12);
    expect(m.pValue).toBeGreaterThan(0);
    expect(m.accuracyInterval.low).toBeLessThanOrEqual(m.accuracy);
    expect(readFileSync(join(dir, 'equity-curve.svg'), 'utf8')).toMatch(/buy and hold/);
    expect(first.artifacts.equity).toMatch(/equity-curve\.svg$/);
  });

  it('gives the same metrics for the same request and seed on the same backend', async () => {
    const again = await runTraining(request('b'));
    if (first.status !== 'succeeded' || again.status !== 'succeeded') throw new Error('training failed');
    const { seconds: _a, secondsPerEpoch: _pa, ...m1 } = first.metrics;
    const { seconds: _b, secondsPerEpoch: _pb, ...m2 } = again.metrics;
    expect(m2).toEqual(m1);
  });

  it('saves a model that stock tfjs loads back with the same predictions', async () => {
    const store = new LocalObjectStore(join(root, 'a'));
    const model = await loadModel(store, '');
    const { probabilities } = JSON.parse(readFileSync(join(root, 'a', 'predictions.json'), 'utf8'));
    const { files } = buildDataset({
      bytes: readFileSync(REFERENCE_CSV),
      fileName: REFERENCE_CSV,
      sequenceLength: 20,
    });
    const matrix = (await import('../../shared/npy.ts')).decodeNpy(datasetFileBytes(files['X.npy']));
    const [rows, F] = matrix.shape as [number, number];
    const L = 20;
    const windows = rows - L + 1;
    const X = cutWindows(matrix.data as Float32Array, F, L);
    const validation = tf.tensor3d(X.subarray(142 * L * F), [windows - 142, L, F]);
    const reloaded = Array.from(await (model.predict(validation) as tf.Tensor).data());
    expect(reloaded).toHaveLength(probabilities.length);
    const worst = Math.max(...reloaded.map((p, i) => Math.abs(p - probabilities[i])));
    expect(worst).toBeLessThan(1e-6);
  });

  it("walk-forward folds: pools every block out of sample, and keeps the last fold's model and scaler", async () => {
    const epochs: Array<[number | undefined, number | undefined]> = [];
    const folded = await runTraining(
      request('folds', { config: { ...tiny, epochs: 1 }, evaluation: { ...DEFAULT_EVALUATION, folds: 2 } }),
      { onEpoch: (p) => epochs.push([p.fold, p.folds]) },
    );
    if (folded.status !== 'succeeded') throw new Error(`training failed: ${JSON.stringify(folded)}`);
    expect(epochs).toEqual([
      [1, 2],
      [2, 2],
    ]); // two models trained: the cost grows with the folds
    const m = folded.metrics;
    expect(m.folds).toBe(2);
    expect(m.epochsRun).toBe(2);
    expect(m.confusion.tp + m.confusion.fp + m.confusion.tn + m.confusion.fn).toBe(72); // two blocks of 36
    const dir = join(root, 'folds');
    const predictions = JSON.parse(readFileSync(join(dir, 'predictions.json'), 'utf8'));
    expect(predictions.folds).toEqual([
      { start: 106, end: 142 },
      { start: 142, end: 178 },
    ]);
    expect(predictions.windows).toHaveLength(72);
    expect(predictions.windows.at(-1).nextTimestamp).toBe('2025-11-11');
    // the last fold trains on windows 0..141, the dataset's own training part: the same scaler
    const manifest = JSON.parse(readFileSync(join(datasetDir, 'dataset.json'), 'utf8'));
    const preprocessing = JSON.parse(readFileSync(join(dir, 'preprocessing.json'), 'utf8'));
    expect(preprocessing.scaler).toEqual(manifest.scaler);
    expect(
      JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')).map((h: { fold: number }) => h.fold),
    ).toEqual([1, 2]);
  });

  it('fails with a plain reason, not a throw, when the dataset is missing', async () => {
    const result = await runTraining(
      request('c', { datasetUri: `${pathToFileURL(join(root, 'nowhere')).href}/` }),
    );
    expect(result.status).toBe('failed');
    if (result.status === 'failed') expect(result.error).toMatch(/dataset.json does not exist/);
  });
});

describe('backends', () => {
  it('refuses an unknown forced backend by name', async () => {
    await expect(selectBackend('gpu-please')).rejects.toThrow(
      /"gpu-please" is not one of node-gpu, wasm, node, cpu/,
    );
  });

  it('uses a forced backend that loads, and says so when one cannot', async () => {
    expect(await selectBackend('cpu')).toBe('cpu');
    expect(await selectBackend('wasm')).toBe('wasm');
    let nativeInstalled = true;
    try {
      const pkg = '@tensorflow/tfjs-node-gpu';
      await import(pkg);
    } catch {
      nativeInstalled = false;
    }
    if (!nativeInstalled) await expect(selectBackend('node-gpu')).rejects.toThrow(/cannot load here/);
  });
});
