/**
 * How a fold's batches are trained and validated, one way per kind of backend: `FusedTraining` where tensors live
 * in this process (wasm, cpu: the LSTM kernel's backends) and it covers the model, tfjs's own `trainOnBatch` elsewhere (tfjs-node and its
 * GPU build, where the data would cross into TensorFlow's memory and back for every layer).
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../shared/ports.ts';
import { type BatchResult, FusedTraining } from './engine/fused-training.ts';
import { defaultImplementation } from './engine/lstm-layer.ts';

export type FoldTrainer = {
  /** One optimizer step on windows `indices` of the training part; the batch's mean loss and accuracy. */
  trainBatch(indices: number[]): Promise<BatchResult>;
  /** Mean loss (without regularization terms) and accuracy over the validation windows, in inference mode. */
  evaluate(): Promise<BatchResult>;
  setLearningRate(rate: number): void;
  /** Remembers the current weights (batch-norm statistics included) as the best so far. */
  keepBest(): void;
  /** Leaves the tfjs model holding the best weights kept (or the current ones if none were) and frees the rest. */
  finish(): void;
};

/**
 * X [windows, steps, features] and y; training windows [0, validation.start), validation [start, end).
 */
export type FoldData = {
  X: Float32Array;
  y: Float32Array;
  validation: { start: number; end: number };
  shape: { L: number; F: number };
};

/** The fused step where the backend has the kernels and it covers the model; tfjs otherwise, saying why. */
export function foldTrainer(
  model: tf.LayersModel,
  data: FoldData,
  learningRate: number,
  log?: Logger,
): FoldTrainer {
  if (defaultImplementation() !== 'kernel') return tfjsTrainer(model, data, learningRate);
  const support = FusedTraining.supports(model);
  if (support.supported) return fusedTrainer(model, data, learningRate);
  log?.warn(`training with tfjs: the fused training step does not cover this model (${support.reason})`, {
    reason: support.reason,
  });
  return tfjsTrainer(model, data, learningRate);
}

function fusedTrainer(model: tf.LayersModel, data: FoldData, learningRate: number): FoldTrainer {
  const fused = FusedTraining.fromModel(model, learningRate);
  let best: Float32Array[] | undefined;
  return {
    // Dropout masks from Math.random, which the trainer seeds for a repeatable run.
    trainBatch: async (indices) => fused.trainBatch(data.X, data.y, indices, Math.random),
    evaluate: async () => fused.evaluate(data.X, data.y, data.validation.start, data.validation.end),
    setLearningRate: (rate) => {
      fused.learningRate = rate;
    },
    keepBest: () => {
      best = fused.snapshot();
    },
    finish: () => fused.writeTo(model, best),
  };
}

function tfjsTrainer(model: tf.LayersModel, data: FoldData, learningRate: number): FoldTrainer {
  const { L, F } = data.shape;
  const { start, end } = data.validation;
  const xTrain = tf.tensor3d(data.X.subarray(0, start * L * F), [start, L, F]);
  const yTrain = tf.tensor2d(data.y.subarray(0, start), [start, 1]);
  const xVal = tf.tensor3d(data.X.subarray(start * L * F, end * L * F), [end - start, L, F]);
  const yVal = tf.tensor2d(data.y.subarray(start, end), [end - start, 1]);
  const optimizer = tf.train.adam(learningRate);
  model.compile({ optimizer, loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  let best: tf.Tensor[] | undefined;
  return {
    trainBatch: async (indices) => {
      const [xb, yb] = tf.tidy(() => {
        const idx = tf.tensor1d(indices, 'int32');
        return [tf.gather(xTrain, idx), tf.gather(yTrain, idx)];
      });
      const [loss, accuracy] = (await model.trainOnBatch(xb!, yb!)) as number[];
      tf.dispose([xb!, yb!]);
      return { loss: loss!, accuracy: accuracy! };
    },
    evaluate: async () => {
      const [loss, accuracy] = model.evaluate(xVal, yVal, { batchSize: 256 }) as tf.Scalar[];
      const values = { loss: (await loss!.data())[0]!, accuracy: (await accuracy!.data())[0]! };
      tf.dispose([loss!, accuracy!]);
      return values;
    },
    setLearningRate: (rate) => {
      // tfjs keeps the rate in a protected field that every Adam step reads; there is no public setter.
      (optimizer as unknown as { learningRate: number }).learningRate = rate;
    },
    keepBest: () => {
      tf.dispose(best ?? []);
      best = model.getWeights().map((w) => w.clone());
    },
    finish: () => {
      if (best) model.setWeights(best);
      tf.dispose([xTrain, yTrain, xVal, yVal, ...(best ?? [])]);
    },
  };
}
