import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { buildDataset } from '../../shared/dataset.ts';
import { TrainingResult, TrialMetrics } from '../../shared/messages.ts';
import { loadModel } from '../../trainer/artifacts.ts';
import { selectBackend } from '../../trainer/backend.ts';
import { buildModel } from '../../trainer/model.ts';
import { type EpochProgress, runTraining } from '../../trainer/train.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';

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

beforeAll(() => {
  // The reference CSV with 20-row windows: the same features and split rule, a smaller model input.
  const { files } = buildDataset({
    bytes: readFileSync(REFERENCE_CSV),
    fileName: REFERENCE_CSV,
    sequenceLength: 20,
  });
  mkdirSync(datasetDir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(datasetDir, name), data);
});

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
  beforeAll(async () => {
    first = await runTraining(request('a'), { onEpoch: (p) => progress.push(p) });
  }, 120_000);

  it('reports every epoch with its measured seconds, to plan the remaining time with', () => {
    expect(progress.map((p) => [p.epoch, p.epochs])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    for (const p of progress) expect(p.seconds).toBeGreaterThan(0);
    if (first.status !== 'succeeded') throw new Error('training failed');
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

  it('gives the same metrics for the same request and seed on the same backend', async () => {
    const again = await runTraining(request('b'));
    if (first.status !== 'succeeded' || again.status !== 'succeeded') throw new Error('training failed');
    const { seconds: _a, ...m1 } = first.metrics;
    const { seconds: _b, ...m2 } = again.metrics;
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
    const X = (await import('../../shared/npy.ts')).decodeNpy(files['X.npy']);
    const [windows, L, F] = X.shape as [number, number, number];
    const validation = tf.tensor3d((X.data as Float32Array).subarray(142 * L * F), [windows - 142, L, F]);
    const reloaded = Array.from(await (model.predict(validation) as tf.Tensor).data());
    expect(reloaded).toHaveLength(probabilities.length);
    const worst = Math.max(...reloaded.map((p, i) => Math.abs(p - probabilities[i])));
    expect(worst).toBeLessThan(1e-6);
  });

  it('fails with a plain reason, not a throw, when the dataset is missing', async () => {
    const result = await runTraining(
      request('c', { datasetUri: `${pathToFileURL(join(root, 'nowhere')).href}/` }),
    );
    expect(result.status).toBe('failed');
    if (result.status === 'failed') expect(result.error).toMatch(/cannot read dataset.json/);
  });
});

describe('backends', () => {
  it('refuses an unknown forced backend by name', async () => {
    await expect(selectBackend('gpu-please')).rejects.toThrow(
      /"gpu-please" is not one of node-gpu, node, wasm, cpu/,
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
