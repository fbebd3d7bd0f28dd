import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KERNEL_WASM,
  kernelBinary,
  kernelMatMul,
  kernelWorkerCount,
  layerThreads,
  lstmLayerBackward,
  lstmLayerForward,
  lstmLayerInfer,
  RELAXED_KERNEL_WASM,
  releaseLstmState,
  restoreLstmState,
  saveLstmState,
  setKernelThreads,
} from '../../../trainer/engine/lstm.ts';
import {
  defaultImplementation,
  type LstmImplementation,
  lstmSequence,
} from '../../../trainer/engine/lstm-layer.ts';
import { FastRepeatVector, useFastBatchNormGradient } from '../../../trainer/fast-layers.ts';
import { freshKernelBuild } from '../../helpers/kernels.ts';

function seededValues(length: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal([length], 0, 1, 'float32', seed).dataSync() as Float32Array);
}

describe('the LSTM kernel binary', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    expect(await tf.setBackend('cpu')).toBe(true);
  });

  it('is what `npm run build:kernels` builds from trainer/engine/kernels/lstm.ts, plain and relaxed SIMD', () => {
    expect(freshKernelBuild('lstm.asconfig.json').equals(readFileSync(KERNEL_WASM))).toBe(true);
    expect(freshKernelBuild('lstm.asconfig.json', 'relaxed').equals(readFileSync(RELAXED_KERNEL_WASM))).toBe(
      true,
    );
  }, 60_000);

  it('runs the relaxed-SIMD build where the runtime validates it (Node 24 does), the plain one otherwise', () => {
    expect(kernelBinary().build).toBe('relaxed-simd');
    const plain = kernelBinary(() => false);
    expect(plain.build).toBe('simd');
    expect(Buffer.from(plain.bytes).equals(readFileSync(KERNEL_WASM))).toBe(true);
  });

  it('multiplies matrices of any shape like a plain product (blocks of six and four rows, leftover rows and columns)', () => {
    for (const [m, k, n] of [
      [6, 5, 13],
      [16, 32, 64],
      [1, 3, 7],
      [9, 17, 8],
      [32, 9, 16],
      [14, 4, 24],
      [11, 3, 8],
    ] as const) {
      const a = seededValues(m * k, m);
      const b = seededValues(k * n, n);
      const c = kernelMatMul(a, b, m, k, n);
      let worst = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
          worst = Math.max(worst, Math.abs(c[i * n + j]! - s));
        }
      }
      expect(worst, `${m}×${k}·${k}×${n}`).toBeLessThan(1e-4);
    }
  });

  it('computes sigmoid and tanh within 4e-7 of float64 over [-20, 20], a lone unit as a lane would', () => {
    setKernelThreads(1);
    // One step, every gate's pre-activation x itself (W all ones, no bias, no recurrence): the saved activations
    // are σ(x), σ(x), tanh(x), σ(x) per unit; five units, so the fifth takes the scalar path.
    const xs = Float32Array.from([
      ...Array.from({ length: 4001 }, (_, i) => -20 + i / 100),
      7.9,
      7.91,
      -7.9,
      -7.91,
      15.8,
      -15.8,
      1e-6,
    ]);
    const units = 5;
    const g = 4 * units;
    const shape = { steps: 1, batch: xs.length, inputs: 1, units };
    const weights = {
      kernel: new Float32Array(g).fill(1),
      bias: new Float32Array(g),
      recurrent: new Float32Array(units * g),
    };
    const { act, tanhC } = saveLstmState(lstmLayerForward(xs, weights, shape, 'sigmoid')).arrays;
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    let [worstSigmoid, worstTanh] = [0, 0];
    xs.forEach((x, row) => {
      const at = (gate: number, unit: number) => act[row * g + gate * units + unit]!;
      for (let unit = 0; unit < units; unit++) {
        worstSigmoid = Math.max(
          worstSigmoid,
          Math.abs(at(0, unit) - sigmoid(x)),
          Math.abs(at(3, unit) - sigmoid(x)),
        );
        worstTanh = Math.max(worstTanh, Math.abs(at(2, unit) - Math.tanh(x)));
        const cell = Math.fround(at(0, unit) * at(2, unit));
        worstTanh = Math.max(worstTanh, Math.abs(tanhC[row * units + unit]! - Math.tanh(cell)));
        expect(at(2, unit), `unit ${unit} of x = ${x}`).toBe(at(2, 0));
        expect(at(0, unit), `unit ${unit} of x = ${x}`).toBe(at(0, 0));
      }
    });
    expect(worstSigmoid).toBeLessThan(4e-7);
    expect(worstTanh).toBeLessThan(4e-7);
    expect(worstSigmoid + worstTanh).toBeGreaterThan(0);
  });
});

describe('the LSTM kernel on several threads', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    expect(await tf.setBackend('cpu')).toBe(true);
  });
  afterAll(() => setKernelThreads(1));

  // Odd sizes: 37 units are five blocks of eight (the last one short, with a scalar tail), shared 2+3 or 1+2+2; 5
  // units leave two of three threads without a unit; 5 rows are a block of four and a leftover row; 27 inputs end
  // in three scalar columns.
  for (const units of [37, 5]) {
    for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
      for (const sequences of [true, false]) {
        it(`gives bit-identical outputs and gradients on 1, 2 and 3 threads (U=${units}, ${gate}, ${sequences ? 'every step' : 'last step'})`, () => {
          const [steps, batch, inputs] = [7, 5, 27];
          const shape = { steps, batch, inputs, units };
          const g = 4 * units;
          const x = seededValues(steps * batch * inputs, 51);
          const weights = {
            kernel: seededValues(inputs * g, 52).map((v) => v * 0.3),
            bias: seededValues(g, 53).map((v) => v * 0.3),
            recurrent: seededValues(units * g, 54).map((v) => v * 0.3),
          };
          const dy = seededValues((sequences ? steps : 1) * batch * units, 55);
          const results = [1, 2, 3].map((threads) => {
            setKernelThreads(threads, { minUnitsPerThread: 1 });
            expect(layerThreads(units)).toBe(threads);
            const state = lstmLayerForward(x, weights, shape, gate);
            const grads = lstmLayerBackward(state, dy);
            const { act, c, tanhC, hPrev } = saveLstmState(state).arrays;
            return { ...grads, act, c, tanhC, hPrev, h: state.h };
          });
          expect(kernelWorkerCount()).toBeGreaterThanOrEqual(2);
          const [one, ...more] = results as [(typeof results)[0], ...typeof results];
          for (const [i, other] of more.entries()) {
            for (const name of Object.keys(one) as (keyof typeof one)[]) {
              const [a, b] = [one[name], other[name]];
              expect(b.length, name).toBe(a.length);
              const differing = a.findIndex((v, j) => !Object.is(v, b[j]));
              expect(differing, `${name} on ${i + 2} threads differs at ${differing}`).toBe(-1);
            }
          }
          // Not vacuous: the outputs and every gradient carry values.
          for (const name of Object.keys(one) as (keyof typeof one)[])
            expect(
              one[name].some((v) => v !== 0),
              name,
            ).toBe(true);
        });
      }
    }
  }

  it('keeps forward states in kernel memory until released; inference and saved states give the same numbers', () => {
    setKernelThreads(1);
    const [steps, batch, inputs, units] = [6, 5, 27, 13];
    const shape = { steps, batch, inputs, units };
    const g = 4 * units;
    const layer = (seed: number) => ({
      x: seededValues(steps * batch * inputs, seed),
      weights: {
        kernel: seededValues(inputs * g, seed + 1).map((v) => v * 0.3),
        bias: seededValues(g, seed + 2).map((v) => v * 0.3),
        recurrent: seededValues(units * g, seed + 3).map((v) => v * 0.3),
      },
      dy: seededValues(steps * batch * units, seed + 4),
    });
    const [a, b] = [layer(61), layer(71)];
    const first = lstmLayerForward(a.x, a.weights, shape, 'sigmoid');
    const alone = lstmLayerBackward(first, a.dy);
    releaseLstmState(first);
    // Two live states, one above the other, an inference pass and a product above both: the lower one's backward
    // pass gives what it gave alone.
    const lower = lstmLayerForward(a.x, a.weights, shape, 'sigmoid');
    const upper = lstmLayerForward(b.x, b.weights, shape, 'sigmoid');
    expect(lstmLayerInfer(a.x, a.weights, shape, 'sigmoid')).toEqual(lower.h);
    kernelMatMul(b.x, b.weights.kernel, steps * batch, inputs, g);
    lstmLayerBackward(upper, b.dy);
    expect(lstmLayerBackward(lower, a.dy)).toEqual(alone);
    // Saved out to JS (and released), restored, and its backward pass again.
    const restored = restoreLstmState(saveLstmState(lower));
    expect(restored.h).toEqual(lower.h);
    expect(lstmLayerBackward(restored, a.dy)).toEqual(alone);
    releaseLstmState(restored);
    // Without the input's gradient: no dx, the weights' gradients unchanged.
    const again = lstmLayerForward(a.x, a.weights, shape, 'sigmoid');
    const { dx, ...weightGradients } = alone;
    expect(dx.length).toBe(steps * batch * inputs);
    expect(lstmLayerBackward(again, a.dy, { inputGradient: false })).toEqual({
      dx: new Float32Array(0),
      ...weightGradients,
    });
    releaseLstmState(again);
    // Releasing the lower state released the upper one too.
    for (const state of [first, lower, upper, restored])
      expect(() => lstmLayerBackward(state, a.dy)).toThrow('this forward state was released');
  });

  it('gives a layer one thread per MIN_UNITS_PER_THREAD units, at most the count it was set to', () => {
    setKernelThreads(2);
    expect([16, 31, 32, 128, 256].map(layerThreads)).toEqual([1, 1, 2, 2, 2]);
    setKernelThreads(() => 4);
    expect([32, 48, 64, 256].map(layerThreads)).toEqual([2, 3, 4, 4]);
    setKernelThreads(1);
    expect(layerThreads(256)).toBe(1);
  });

  it('refuses a thread count that is not a whole number of at least 1', () => {
    expect(() => setKernelThreads(0)).toThrow(
      'setKernelThreads: the thread count must be a whole number of at least 1, got 0',
    );
    expect(() => setKernelThreads(1.5)).toThrow('got 1.5');
    setKernelThreads(() => 0);
    expect(() => layerThreads(64)).toThrow(
      'the kernel thread count source: the thread count must be a whole number of at least 1, got 0',
    );
    setKernelThreads(1);
  });

  it('refuses a layer too large for its memory, naming the pass and the shape', () => {
    const [steps, batch, inputs, units] = [60, 2048, 1, 2048];
    const shape = { steps, batch, inputs, units };
    const weights = {
      kernel: new Float32Array(inputs * 4 * units),
      bias: new Float32Array(4 * units),
      recurrent: new Float32Array(units * 4 * units),
    };
    expect(() =>
      lstmLayerForward(new Float32Array(steps * batch * inputs), weights, shape, 'sigmoid'),
    ).toThrow(
      /^LSTM kernel: the forward pass of 2048 units over 60 steps of 2048 rows needs \d+ MiB of kernel memory, more than its 1024 MiB: use fewer units or a smaller batch$/,
    );
  });
});

for (const backend of ['cpu', 'wasm']) {
  describe(`lstmSequence on the ${backend} backend`, () => {
    beforeAll(async () => {
      tf.enableProdMode();
      expect(await tf.setBackend(backend)).toBe(true);
    });

    it('uses the WebAssembly kernel here (tensors in this process)', () => {
      expect(defaultImplementation()).toBe('kernel');
    });

    // Odd sizes: batch 6 is one block of four rows and two leftover rows; 5 units leave scalar column tails.
    const [batch, steps, features, units] = [6, 4, 3, 5];
    for (const implementation of ['kernel', 'ops'] as LstmImplementation[]) {
      for (const returnSequences of [true, false]) {
        for (const gateActivation of ['sigmoid', 'hardSigmoid'] as const) {
          it(`${implementation}: output and gradients equal tf.layers.lstm autodiff to 1e-5 (returnSequences ${returnSequences}, ${gateActivation})`, () => {
            const stock = tf.layers.lstm({ units, returnSequences, recurrentActivation: gateActivation });
            const x = tf.variable(tf.randomNormal([batch, steps, features], 0, 1, 'float32', 21));
            stock.apply(x);
            const [kernel, recurrent] = stock.getWeights();
            const bias = tf.variable(tf.randomNormal([4 * units], 0, 0.5, 'float32', 22));
            stock.setWeights([kernel!, recurrent!, bias]);
            const weights = stock.trainableWeights.map((w) => w.read() as tf.Variable);
            const probeShape = returnSequences ? [batch, steps, units] : [batch, units];
            const probe = tf.randomNormal(probeShape, 0, 1, 'float32', 23);
            const run = (f: () => tf.Tensor) =>
              tf.variableGrads(() => tf.sum(tf.mul(f(), probe)) as tf.Scalar, [x, ...weights]);
            const expected = run(() => stock.apply(x) as tf.Tensor);
            const actual = run(() =>
              lstmSequence(x, weights[0]!, weights[1]!, weights[2]!, {
                returnSequences,
                gateActivation,
                implementation,
              }),
            );
            expect(Math.abs(actual.value.dataSync()[0]! - expected.value.dataSync()[0]!)).toBeLessThan(1e-4);
            for (const v of [x, ...weights]) {
              const [a, e] = [actual.grads[v.name]!, expected.grads[v.name]!];
              const scale = tf.max(tf.abs(e)).dataSync()[0]!;
              expect(scale).toBeGreaterThan(0);
              const err = tf.max(tf.abs(tf.sub(a, e))).dataSync()[0]! / scale;
              expect(err, `gradient of ${v.name}`).toBeLessThan(1e-5);
            }
            stock.dispose();
          });
        }
      }
    }

    it('batch norm gradients (the input one broadcast, not tiled) equal autodiff of the formula to 1e-5', () => {
      useFastBatchNormGradient();
      const x = tf.variable(tf.randomNormal([4, 6, 3], 0, 1, 'float32', 41));
      const scale = tf.variable(tf.randomNormal([3], 1, 0.2, 'float32', 42));
      const offset = tf.variable(tf.randomNormal([3], 0, 0.2, 'float32', 43));
      const probe = tf.randomNormal([4, 6, 3], 0, 1, 'float32', 44);
      const eps = 1e-3;
      // Batch statistics, as tfjs-layers' BatchNormalization uses them in training: gradients flow through them.
      const loss = (normalize: (mean: tf.Tensor, variance: tf.Tensor) => tf.Tensor) => () => {
        const { mean, variance } = tf.moments(x, [0, 1]);
        return tf.sum(tf.mul(normalize(mean, variance), probe)) as tf.Scalar;
      };
      const fused = tf.variableGrads(loss((m, v) => tf.batchNorm(x, m, v, offset, scale, eps)));
      const formula = tf.variableGrads(
        loss((m, v) => tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, eps))), scale), offset)),
      );
      for (const v of [x, scale, offset]) {
        const [a, e] = [fused.grads[v.name]!, formula.grads[v.name]!];
        const err = tf.max(tf.abs(tf.sub(a, e))).dataSync()[0]! / tf.max(tf.abs(e)).dataSync()[0]!;
        expect(err, v.name).toBeLessThan(1e-5);
      }
    });

    it('repeats a vector like tf.layers.repeatVector, gradient included', () => {
      const stock = tf.layers.repeatVector({ n: 7 });
      const fast = new FastRepeatVector({ n: 7 });
      expect(fast.getClassName()).toBe('RepeatVector');
      const x = tf.variable(tf.randomNormal([3, 5], 0, 1, 'float32', 31));
      const probe = tf.randomNormal([3, 7, 5], 0, 1, 'float32', 32);
      const grad = (layer: tf.layers.Layer) =>
        tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layer.apply(v) as tf.Tensor, probe)))(x);
      expect(Array.from((fast.apply(x) as tf.Tensor).dataSync())).toEqual(
        Array.from((stock.apply(x) as tf.Tensor).dataSync()),
      );
      const [g1, g2] = [grad(fast).dataSync(), grad(stock).dataSync()];
      expect(Math.max(...Array.from(g1, (v, i) => Math.abs(v - g2[i]!)))).toBeLessThan(1e-5);
    });
  });
}
