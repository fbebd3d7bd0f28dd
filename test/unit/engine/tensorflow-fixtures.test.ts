import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  activationBackward,
  type DenseActivation,
  denseBackward,
  denseForward,
} from '../../../trainer/engine/dense.ts';
import * as kernels from '../../../trainer/engine/layers.ts';
import { lstmLayerBackward, lstmLayerForward, releaseLstmState } from '../../../trainer/engine/lstm.ts';

// Each layer of the engine, forward and backward, against TensorFlow's own layers and autodiff (not tfjs's):
// `python bench/keras_reference.py --fixtures test/fixtures/tensorflow/engine-layers.json` wrote the file.
type Fixture = Record<string, number[] | number | string>;
const FIXTURES = JSON.parse(
  readFileSync(new URL('../../fixtures/tensorflow/engine-layers.json', import.meta.url), 'utf8'),
) as { tensorflow: string } & Record<string, Fixture>;

const f32 = (fixture: Fixture, key: string) => Float32Array.from(fixture[key] as number[]);

/** max |a - b| / max |b|: float32 sums in another order differ by a few units in the last place of the largest. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  let error = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    error = Math.max(error, Math.abs(actual[i]! - expected[i]!));
  }
  return error / scale;
}

/** [B, T, U] (Keras's batch-major layout) as the engine's time-major [T·B, U], and back. */
function timeMajor(a: Float32Array, B: number, T: number, U: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) out.set(a.subarray((b * T + t) * U, (b * T + t + 1) * U), (t * B + b) * U);
  return out;
}
function batchMajor(a: Float32Array, B: number, T: number, U: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) out.set(a.subarray((t * B + b) * U, (t * B + b + 1) * U), (b * T + t) * U);
  return out;
}

const TOLERANCE = 1e-5;

describe(`the engine's layers against TensorFlow ${FIXTURES.tensorflow}`, () => {
  it.each(['lstm_sequences', 'lstm_last'])('LSTM (%s): output and gradients', (name) => {
    const f = FIXTURES[name]!;
    const [B, T, F, U] = f.shape as number[] as [number, number, number, number];
    const sequences = name === 'lstm_sequences';
    const weights = { kernel: f32(f, 'kernel'), recurrent: f32(f, 'recurrent'), bias: f32(f, 'bias') };
    const state = lstmLayerForward(
      timeMajor(f32(f, 'x'), B, T, F),
      weights,
      { steps: T, batch: B, inputs: F, units: U },
      'sigmoid',
    );
    const output = sequences ? batchMajor(state.h, B, T, U) : state.h.slice((T - 1) * B * U);
    expect(relativeError(output, f32(f, 'y'))).toBeLessThan(TOLERANCE);
    const dy = sequences ? timeMajor(f32(f, 'dy'), B, T, U) : f32(f, 'dy');
    const g = lstmLayerBackward(state, dy);
    releaseLstmState(state);
    expect(relativeError(batchMajor(g.dx, B, T, F), f32(f, 'dx')), 'dx').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dKernel, f32(f, 'dKernel')), 'dKernel').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dRecurrent, f32(f, 'dRecurrent')), 'dRecurrent').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dBias, f32(f, 'dBias')), 'dBias').toBeLessThan(TOLERANCE);
  });

  it('batch norm in training mode: output, gradients and moving statistics', () => {
    const f = FIXTURES.batch_norm!;
    const n = {
      gamma: f32(f, 'gamma'),
      beta: f32(f, 'beta'),
      movingMean: f32(f, 'movingMean'),
      movingVariance: f32(f, 'movingVariance'),
      momentum: f.momentum as number,
      epsilon: f.epsilon as number,
    };
    const forward = kernels.batchNormTrain(f32(f, 'x'), n);
    expect(relativeError(forward.output, f32(f, 'y'))).toBeLessThan(TOLERANCE);
    expect(relativeError(n.movingMean, f32(f, 'movedMean')), 'moving mean').toBeLessThan(TOLERANCE);
    expect(relativeError(n.movingVariance, f32(f, 'movedVariance')), 'moving variance').toBeLessThan(
      TOLERANCE,
    );
    const g = kernels.batchNormBackward(f32(f, 'dy'), forward.normalized, forward.inverseStd, n.gamma);
    expect(relativeError(g.dx, f32(f, 'dx')), 'dx').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dGamma, f32(f, 'dGamma')), 'dGamma').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dBeta, f32(f, 'dBeta')), 'dBeta').toBeLessThan(TOLERANCE);
  });

  it('attention (tanh score, softmax over the steps, scaled sequence): output and gradients', () => {
    const f = FIXTURES.attention!;
    const [B, T, U] = f.shape as number[] as [number, number, number];
    const kernel = f32(f, 'kernel');
    const sequence = timeMajor(f32(f, 'x'), B, T, U);
    const forward = kernels.attentionForward(sequence, T, B, kernel, f32(f, 'bias')[0]!);
    expect(relativeError(batchMajor(forward.output, B, T, U), f32(f, 'y'))).toBeLessThan(TOLERANCE);
    const g = kernels.attentionBackward(
      timeMajor(f32(f, 'dy'), B, T, U),
      { sequence, ...forward },
      T,
      B,
      kernel,
    );
    expect(relativeError(batchMajor(g.dSequence, B, T, U), f32(f, 'dx')), 'dx').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dKernel, f32(f, 'dKernel')), 'dKernel').toBeLessThan(TOLERANCE);
    // One number, a sum over every step that nearly cancels (softmax): held to the scale of the kernel's gradient.
    const kernelScale = Math.max(...Array.from(f32(f, 'dKernel'), Math.abs));
    expect(Math.abs(g.dBias - f32(f, 'dBias')[0]!) / kernelScale, 'dBias').toBeLessThan(TOLERANCE);
  });

  it.each(['relu', 'tanh', 'sigmoid', 'linear'])('dense (%s): output and gradients', (activation) => {
    const f = FIXTURES[`dense_${activation}`]!;
    const [B, , U] = f.shape as number[] as [number, number, number];
    const d = {
      kernel: f32(f, 'kernel'),
      bias: f32(f, 'bias'),
      units: U,
      l2: 0,
      activation: activation as DenseActivation,
    };
    const x = f32(f, 'x');
    const output = denseForward(x, d, B);
    expect(relativeError(output, f32(f, 'y'))).toBeLessThan(TOLERANCE);
    const dy = f32(f, 'dy');
    activationBackward(dy, output, d.activation);
    const g = denseBackward(x, dy, d, B);
    expect(relativeError(g.dx, f32(f, 'dx')), 'dx').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dKernel, f32(f, 'dKernel')), 'dKernel').toBeLessThan(TOLERANCE);
    expect(relativeError(g.dBias, f32(f, 'dBias')), 'dBias').toBeLessThan(TOLERANCE);
  });
});
