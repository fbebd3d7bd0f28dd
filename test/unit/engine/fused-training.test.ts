import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../adapters/log.ts';
import type { TrainingConfig } from '../../../shared/config.ts';
import { seededRandom } from '../../../shared/random.ts';
import { type LayerSpec, referenceArchitecture } from '../../../trainer/architecture.ts';
import { FusedTraining } from '../../../trainer/engine/fused-training.ts';
import { foldTrainer } from '../../../trainer/fold-trainer.ts';
import { buildModel } from '../../../trainer/model.ts';

const STEPS = 7;
const FEATURES = 5;
const WINDOWS = 9;
const CONFIG: TrainingConfig = {
  name: 'fused',
  lstmUnits: [12, 10, 6],
  dropout: 0.3,
  learningRate: 0.01,
  batchSize: 5,
  epochs: 1,
};

/** max |a - b| / max |b|. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  let error = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    error = Math.max(error, Math.abs(actual[i]! - expected[i]!));
  }
  return scale === 0 ? error : error / scale;
}

/** A model with every weight random and non-trivial (batch-norm scales, offsets and moving statistics too). */
function randomModel(architecture: LayerSpec[] = referenceArchitecture(CONFIG)) {
  const model = buildModel(CONFIG, STEPS, FEATURES, 3, architecture);
  const random = seededRandom(11);
  model.setWeights(
    model.weights.map((w) => {
      const n = w.shape.reduce((a, b) => a! * b!, 1)!;
      const positive = w.name.includes('moving_variance') || w.name.includes('gamma');
      const values = Float32Array.from({ length: n }, () => (positive ? 0.5 + random() : random() - 0.5));
      return tf.tensor(values, w.shape as number[]);
    }),
  );
  return model;
}

function data() {
  const random = seededRandom(5);
  const X = Float32Array.from({ length: WINDOWS * STEPS * FEATURES }, () => 2 * random() - 1);
  const y = Float32Array.from({ length: WINDOWS }, (_, i) => (i % 3 === 0 ? 1 : 0));
  return { X, y };
}

/**
 * Makes the tfjs model's dropout layers apply the masks FusedTraining draws from the same random sequence (in its
 * order and time-major layout), so tfjs autodiff differentiates the same function.
 */
function replayMasks(model: tf.LayersModel, seed: number, batch: number) {
  const random = seededRandom(seed);
  for (const dropout of model.layers.filter((l) => l.getClassName() === 'Dropout')) {
    const layer = dropout as unknown as {
      rate: number;
      call: (x: tf.Tensor | tf.Tensor[]) => tf.Tensor;
    };
    // [batch, steps, units] after a sequence layer, [batch, units] after the last step.
    const shape = dropout.outputShape as number[];
    const [T, U] = shape.length === 3 ? [shape[1]!, shape[2]!] : [1, shape[1]!];
    const B = batch;
    const keep = 1 / (1 - layer.rate);
    // One draw seeds each mask's own mulberry32.
    const units = seededRandom(Math.floor(random() * 4294967296) >>> 0);
    const timeMajor = Float32Array.from({ length: T * B * U }, () => (units() >= layer.rate ? keep : 0));
    const mask = tf.tidy(() => {
      const m = tf.tensor3d(timeMajor, [T, B, U]).transpose([1, 0, 2]);
      return T === 1 ? m.reshape([B, U]) : m;
    });
    layer.call = (x) => tf.mul(Array.isArray(x) ? x[0]! : x, mask);
  }
}

function batchTensors(X: Float32Array, y: Float32Array, indices: number[]) {
  const xs = tf.tensor3d(
    Float32Array.from(
      indices.flatMap((w) => Array.from(X.subarray(w * STEPS * FEATURES, (w + 1) * STEPS * FEATURES))),
    ),
    [indices.length, STEPS, FEATURES],
  );
  return {
    xs,
    ys: tf.tensor2d(
      Float32Array.from(indices, (i) => y[i]!),
      [indices.length, 1],
    ),
  };
}

/**
 * Expects FusedTraining's gradients of one batch (dropout, batch statistics, attention, L2 terms) to be tfjs
 * autodiff's to 1e-5, and the batch-norm moving averages to move as tfjs's.
 */
function expectAutodiffGradients(model: tf.LayersModel, indices: number[]) {
  const { X, y } = data();
  const fused = FusedTraining.fromModel(model, CONFIG.learningRate);
  const gradients = fused.gradients(X, y, indices, seededRandom(21));

  replayMasks(model, 21, indices.length);
  const { xs, ys } = batchTensors(X, y, indices);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(xs, { training: true }) as tf.Tensor;
    const loss = tf.mean(tf.metrics.binaryCrossentropy(ys, p));
    return tf.addN([loss, ...model.calculateLosses()]) as tf.Scalar;
  }, variables);
  expect(value.dataSync()[0]).toBeGreaterThan(0);
  expect(gradients).toHaveLength(variables.length);
  // Errors relative to the largest gradient of the same layer: the attention bias's gradient is a sum that
  // nearly cancels (softmax), so tfjs's float32 sum of it is only good to that scale.
  const layerOf = (name: string) => name.split('/')[0]!;
  const scale = new Map<string, number>();
  variables.forEach((v) => {
    const largest = Math.max(...Array.from(grads[v.name]!.dataSync(), Math.abs));
    scale.set(layerOf(v.name), Math.max(scale.get(layerOf(v.name)) ?? 0, largest));
  });
  variables.forEach((v, i) => {
    expect(gradients[i], v.name).toHaveLength(v.size);
    const expected = grads[v.name]!.dataSync();
    const error = Math.max(...Array.from(expected, (e, j) => Math.abs(gradients[i]![j]! - e)));
    expect(error / scale.get(layerOf(v.name))!, v.name).toBeLessThan(1e-5);
  });
  // The batch-norm moving averages moved the same way (tfjs updated them in model.apply).
  const after = fused.snapshot();
  model.getWeights().forEach((w, i) => {
    expect(relativeError(after[i]!, w.dataSync()), model.weights[i]!.name).toBeLessThan(1e-5);
  });
  tf.dispose([xs, ys, value, ...Object.values(grads)]);
}

for (const backend of ['cpu', 'wasm']) {
  describe(`FusedTraining on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
    });
    const indices = [4, 0, 7, 2, 5];

    it('has the gradients of tfjs autodiff (dropout, batch statistics, attention, L2 terms) to 1e-5', () => {
      const model = randomModel();
      expectAutodiffGradients(model, indices);
      model.dispose();
    });

    it('takes the same Adam step and reports the same loss as trainOnBatch', async () => {
      const model = randomModel();
      const { X, y } = data();
      const fused = FusedTraining.fromModel(model, CONFIG.learningRate);
      const steps = [indices, [1, 3, 6, 8, 0]];
      const results = steps.map((batch, k) => fused.trainBatch(X, y, batch, seededRandom(30 + k)));

      model.compile({
        optimizer: tf.train.adam(CONFIG.learningRate),
        loss: 'binaryCrossentropy',
        metrics: ['accuracy'],
      });
      for (const [k, batch] of steps.entries()) {
        replayMasks(model, 30 + k, batch.length);
        const { xs, ys } = batchTensors(X, y, batch);
        const [loss, accuracy] = (await model.trainOnBatch(xs, ys)) as number[];
        expect(Math.abs(results[k]!.loss - loss!) / loss!).toBeLessThan(1e-5);
        expect(results[k]!.accuracy).toBeCloseTo(accuracy!, 6);
        tf.dispose([xs, ys]);
      }
      const trained = fused.snapshot();
      model.getWeights().forEach((w, i) => {
        // 5e-5 of the weights' scale, not 1e-5: Adam moves a weight by about the learning rate (0.01 here) whatever
        // the size of its gradient, so float32 rounding in a near-zero gradient shows in the update. A wrong step
        // (no bias correction, ε inside the root, a missed term) is off by a good part of 0.01.
        expect(relativeError(trained[i]!, w.dataSync()), model.weights[i]!.name).toBeLessThan(5e-5);
      });
      model.dispose();
    });

    it('predicts and evaluates as the tfjs model in inference mode, and writes its weights back', () => {
      const model = randomModel();
      const { X, y } = data();
      const fused = FusedTraining.fromModel(model, CONFIG.learningRate);
      fused.trainBatch(X, y, indices, seededRandom(40));
      const copy = randomModel();
      fused.writeTo(copy);
      const all = Array.from({ length: WINDOWS }, (_, i) => i);
      const { xs, ys } = batchTensors(X, y, all);
      const expected = tf.tidy(() => (copy.predict(xs) as tf.Tensor).dataSync());
      expect(relativeError(fused.predict(X, all), expected)).toBeLessThan(1e-5);
      copy.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
      const [loss, accuracy] = (copy.evaluate(xs, ys) as tf.Scalar[]).map((s) => s.dataSync()[0]!);
      const evaluated = fused.evaluate(X, y, 0, WINDOWS, 4);
      expect(Math.abs(evaluated.loss - loss!) / loss!).toBeLessThan(1e-5);
      expect(evaluated.accuracy).toBeCloseTo(accuracy!, 6);
      tf.dispose([xs, ys]);
      model.dispose();
      copy.dispose();
    });

    it('draws new dropout masks from the random source on every batch', () => {
      const model = randomModel();
      const { X, y } = data();
      const fused = FusedTraining.fromModel(model, 0);
      const a = fused.gradients(X, y, indices, seededRandom(1));
      const b = fused.gradients(X, y, indices, seededRandom(1));
      const c = fused.gradients(X, y, indices, seededRandom(2));
      // Same random sequence, same gradients (the moving statistics changed, which training-mode outputs ignore).
      expect(a.map((g) => Array.from(g))).toEqual(b.map((g) => Array.from(g)));
      expect(relativeError(c[0]!, a[0]!)).toBeGreaterThan(1e-3);
      model.dispose();
    });

    describe('with the declared architecture changed', () => {
      const changed = (changes: Record<string, Partial<LayerSpec>>) =>
        referenceArchitecture(CONFIG).map((l) => ({ ...l, ...changes[l.name] }) as LayerSpec);
      const foldData = () => ({
        ...data(),
        validation: { start: 6, end: WINDOWS },
        shape: { L: STEPS, F: FEATURES },
      });

      it('follows changed activations and sizes: its gradients are those of the changed tfjs model', () => {
        const model = randomModel(
          changed({ lstm_2: { units: 8 }, dense_64: { units: 48 }, dense_32: { activation: 'tanh' } }),
        );
        expect(FusedTraining.supports(model)).toEqual({ supported: true });
        expect(model.getLayer('dense_64').getConfig().units).toBe(48);
        expectAutodiffGradients(model, indices);
        model.dispose();
      });

      it.each([
        [{ lstm_2: { activation: 'relu' } }, 'lstm_2 has a relu activation; the LSTM kernel computes tanh'],
        [
          { attention: { activation: 'sigmoid' } },
          'attention scores with sigmoid; the attention kernel computes tanh',
        ],
        [{ dense_32: { activation: 'elu' } }, 'dense_32 has a elu activation'],
        [
          { up_probability: { activation: 'tanh' } },
          'the last layer is not one sigmoid unit; the fused step takes the loss gradient at its logit',
        ],
      ] as [Record<string, Partial<LayerSpec>>, string][])(
        'falls back to tfjs and logs why for %o',
        async (changes, reason) => {
          const model = randomModel(changed(changes));
          const support = FusedTraining.supports(model);
          expect(support.supported).toBe(false);
          expect(support.supported === false && support.reason).toContain(reason);
          expect(() => FusedTraining.fromModel(model, CONFIG.learningRate)).toThrow(reason);

          const warnings: { severity: string; message: string; reason: string }[] = [];
          const log = createLogger({}, { json: true, write: (line) => warnings.push(JSON.parse(line)) });
          const before = model.getWeights().map((w) => w.dataSync().slice());
          const trainer = foldTrainer(model, foldData(), CONFIG.learningRate, log);
          expect(warnings).toEqual([
            expect.objectContaining({ severity: 'WARNING', reason: expect.stringContaining(reason) }),
          ]);
          expect(warnings[0]!.message).toContain(reason);
          const { loss } = await trainer.trainBatch([0, 1, 2, 3]);
          trainer.finish();
          expect(Number.isFinite(loss)).toBe(true);
          // tfjs's Adam moved the changed model's own weights.
          const after = model.getWeights().map((w) => w.dataSync());
          expect(after.some((w, i) => relativeError(w, before[i]!) > 1e-4)).toBe(true);
          model.dispose();
        },
      );

      it('falls back for what the declaration cannot say but a tfjs model can have: a weight constraint', () => {
        const model = randomModel();
        const dense = model.getLayer('dense_32') as unknown as { kernelConstraint: unknown };
        dense.kernelConstraint = tf.constraints.maxNorm({ maxValue: 1 });
        expect(FusedTraining.supports(model)).toEqual({
          supported: false,
          reason: 'dense_32 (Dense) has a kernelConstraint',
        });
        model.dispose();
      });

      it('trains the declared architecture with the fused step, logging nothing', () => {
        const model = randomModel();
        const warnings: string[] = [];
        const log = createLogger({}, { json: true, write: (line) => warnings.push(line) });
        expect(FusedTraining.supports(model)).toEqual({ supported: true });
        foldTrainer(model, foldData(), CONFIG.learningRate, log).finish();
        expect(warnings).toEqual([]);
        model.dispose();
      });
    });
  });
}
