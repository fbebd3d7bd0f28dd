import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { cutWindows } from '../../shared/dataset.ts';
import { TrainingResult } from '../../shared/messages.ts';
import { decodeNpy } from '../../shared/npy.ts';
import { loadModel } from '../../trainer/artifacts.ts';
import { runTraining } from '../../trainer/train.ts';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';
import { tfjsNodeSkipReason } from '../helpers/tfjs-node.ts';

// The path the GPU image trains on (tfjs's trainOnBatch on TensorFlow's kernels), here on tfjs-node's CPU build:
// the reference CSV through `trendcast features` and `trendcast train`, held to what the wasm path is held to in
// trainer.test.ts (metrics recomputed from the predictions, the saved model reloaded by stock tfjs).

const skip = await tfjsNodeSkipReason();
const root = mkdtempSync(join(tmpdir(), 'tfjs-node-'));
const datasetDir = join(root, 'dataset');
const request = (out: string) => ({
  runId: 'run-tfjs-node',
  config: { ...DEFAULT_GRID.configs[0]!, epochs: 3 },
  datasetUri: `${pathToFileURL(datasetDir).href}/`,
  outputUri: `${pathToFileURL(join(root, out)).href}/`,
  seed: 7,
});
type Window = { close: number; nextClose: number; label: number; probability: number; position: number };

describe.skipIf(skip).sequential('the trainer on tfjs-node, end to end on the reference CSV', () => {
  let result: TrainingResult;
  let predictions: { probabilities: number[]; windows: Window[] };

  beforeAll(async () => {
    const features = await trendcast(['features', REFERENCE_CSV, '--out', datasetDir]);
    expect(features.code, features.stderr).toBe(0);
    const train = await trendcast(['train', '--request', JSON.stringify(request('cli'))], {
      TRENDCAST_TFJS_BACKEND: 'node',
    });
    expect(train.code, train.stderr).toBe(0);
    result = TrainingResult.parse(JSON.parse(readFileSync(join(root, 'cli', 'result.json'), 'utf8')));
    predictions = JSON.parse(readFileSync(join(root, 'cli', 'predictions.json'), 'utf8'));
  });

  it('trains on TensorFlow: the metrics name the backend, and the training loss falls', () => {
    if (result.status !== 'succeeded') throw new Error(`training failed: ${result.error}`);
    expect(result.metrics.backend).toBe('node');
    expect(result.metrics.epochsRun).toBe(3);
    const history = JSON.parse(readFileSync(join(root, 'cli', 'history.json'), 'utf8')) as { loss: number }[];
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss);
  });

  it('writes predictions from which accuracy, AUC and the backtest recompute', () => {
    if (result.status !== 'succeeded') throw new Error(`training failed: ${result.error}`);
    const { windows } = predictions;
    expect(windows).toHaveLength(28); // the reference dataset's validation windows
    let equity = 1;
    let previous = 0;
    let correct = 0;
    for (const w of windows) {
      expect(w.label).toBe(w.nextClose > w.close ? 1 : 0);
      expect(w.position).toBe(w.probability >= 0.5 ? 1 : 0);
      equity *= 1 + w.position * (w.nextClose / w.close - 1) - 0.001 * Math.abs(w.position - previous);
      previous = w.position;
      if ((w.probability > 0.5 ? 1 : 0) === w.label) correct++;
    }
    const m = result.metrics;
    expect(m.accuracy).toBeCloseTo(correct / windows.length, 12);
    expect(Math.abs(m.backtest.totalReturn - (equity - 1))).toBeLessThan(1e-9);
    // AUC: the share of (up, down) pairs the model ranks the right way round, ties counting half.
    const up = windows.filter((w) => w.label === 1).map((w) => w.probability);
    const down = windows.filter((w) => w.label === 0).map((w) => w.probability);
    let ranked = 0;
    for (const u of up) for (const d of down) ranked += u > d ? 1 : u === d ? 0.5 : 0;
    expect(m.auc).toBeCloseTo(ranked / (up.length * down.length), 12);
  });

  describe('in this process', () => {
    const before = process.env.TRENDCAST_TFJS_BACKEND;
    afterAll(() => {
      if (before === undefined) delete process.env.TRENDCAST_TFJS_BACKEND;
      else process.env.TRENDCAST_TFJS_BACKEND = before;
    });

    it('is used only where named: unforced, the trainer picks the fused wasm engine, faster on a CPU', async () => {
      delete process.env.TRENDCAST_TFJS_BACKEND;
      const { selectBackend } = await import('../../trainer/backend.ts');
      expect(await selectBackend(undefined)).toBe('wasm');
    });

    it('gives the same metrics for the same request and seed as the CLI run', async () => {
      process.env.TRENDCAST_TFJS_BACKEND = 'node';
      const again = await runTraining(request('again'));
      if (result.status !== 'succeeded' || again.status !== 'succeeded') throw new Error('training failed');
      const { seconds: _a, secondsPerEpoch: _pa, ...m1 } = result.metrics;
      const { seconds: _b, secondsPerEpoch: _pb, ...m2 } = again.metrics;
      expect(m2).toEqual(m1);
    });

    it("saves a model that stock tfjs, on its own CPU backend, loads back with TensorFlow's predictions", async () => {
      expect(await tf.setBackend('cpu')).toBe(true);
      const model = await loadModel(new LocalObjectStore(join(root, 'cli')), '');
      const manifest = JSON.parse(readFileSync(join(datasetDir, 'dataset.json'), 'utf8'));
      const matrix = decodeNpy(readFileSync(join(datasetDir, 'X.npy')));
      const L = manifest.sequenceLength as number;
      const F = matrix.shape[1]!;
      const { train, validation } = manifest.counts as { train: number; validation: number };
      const X = cutWindows(matrix.data as Float32Array, F, L);
      const xVal = tf.tensor3d(X.subarray(train * L * F), [validation, L, F]);
      const reloaded = Array.from(await (model.predict(xVal) as tf.Tensor).data());
      expect(tf.getBackend()).toBe('cpu');
      expect(reloaded).toHaveLength(predictions.probabilities.length);
      const worst = Math.max(...reloaded.map((p, i) => Math.abs(p - predictions.probabilities[i]!)));
      expect(worst).toBeLessThan(1e-6);
    });
  });
});
