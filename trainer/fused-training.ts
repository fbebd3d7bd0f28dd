/**
 * The reference model's whole training step (forward, backward, Adam) on plain float32 arrays, for the backends
 * whose tensors live in this process (wasm, cpu). tfjs spends ~790 kernel calls per batch on the layers around the
 * LSTMs (dropout, batch norm, attention, dense head, loss, Adam): about two thirds of a batch. Here the three LSTM
 * layers are the WebAssembly kernel's calls and everything else is a few loops over the same arrays.
 *
 * The tfjs model stays the model: `FusedTraining.fromModel` reads its weights and architecture (units, dropout
 * rates, batch-norm momentum and epsilon) by layer name, and `writeTo` puts the trained weights back, so what is
 * saved, evaluated and served is the stock tfjs layers model. The maths is tfjs's, term for term: batch norm on the
 * batch's biased moments with moving averages, binary cross-entropy on probabilities clipped to [1e-7, 1 - 1e-7],
 * the L2 penalties of the regularized kernels in the training loss (not in the validation loss), tfjs's Adam
 * (ε = 1e-7 outside the square root). `test/unit/fused-training.test.ts` holds the gradients and one Adam step to
 * tfjs autodiff. Dropout masks come from `random` (Math.random, which the trainer seeds), not tfjs's generator,
 * so a seeded run is repeatable but draws other masks than `trainOnBatch` would.
 */
import * as tf from '@tensorflow/tfjs';
import { binaryCrossEntropy, insideProbabilityClip } from '../shared/metrics.ts';
import { type GateKind, type LstmState, lstmLayerBackward, lstmLayerForward } from './lstm-kernel.ts';

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

type Lstm = { kernel: Float32Array; recurrent: Float32Array; bias: Float32Array; units: number; l2: number };
type BatchNorm = {
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  momentum: number;
  epsilon: number;
};
type Dense = { kernel: Float32Array; bias: Float32Array; units: number; l2: number };

/** The layers of `buildModel`, by name, in the order their weights appear in `model.getWeights()`. */
const LAYERS = {
  lstm: ['lstm_1', 'lstm_2', 'lstm_3'],
  batchNorm: ['batch_norm_1', 'batch_norm_2'],
  dropout: ['dropout_1', 'dropout_2', 'dropout_3', 'dropout_4', 'dropout_5'],
  dense: ['dense_64', 'dense_32', 'up_probability'],
  attention: 'attention_score',
} as const;

type LayerConfig = Record<string, unknown>;

function layerConfig(model: tf.LayersModel, name: string): LayerConfig {
  return model.getLayer(name).getConfig() as LayerConfig;
}

/** The L2 factor of a layer's kernel regularizer (0 without one); only tfjs's `l1l2` class with l1 = 0 is known. */
function l2Of(config: LayerConfig, layer: string): number {
  const regularizer = config.kernelRegularizer as {
    className: string;
    config: { l1: number; l2: number };
  } | null;
  if (regularizer == null) return 0;
  if (regularizer.className !== 'L1L2' || regularizer.config.l1 !== 0)
    throw new Error(`fused training: layer ${layer} has a kernel regularizer other than L2`);
  return regularizer.config.l2;
}

const copy = (a: Float32Array) => a.slice();

/** What one training batch reports: its loss (with the L2 penalties, as trainOnBatch) and accuracy. */
export type BatchResult = { loss: number; accuracy: number };

/** What the forward pass keeps for the backward one. */
type Forward = {
  batch: number;
  lstm: LstmState[];
  masks: (Float32Array | undefined)[];
  normalized: Float32Array[];
  inverseStd: Float64Array[];
  attention: { sequence: Float32Array; score: Float32Array; weights: Float32Array };
  dense: { input: Float32Array; preActivation: Float32Array }[];
  probabilities: Float32Array;
};

export class FusedTraining {
  learningRate: number;
  private step = 0;
  private readonly moments: { m: Float32Array; v: Float32Array }[];

  private constructor(
    private readonly lstm: Lstm[],
    private readonly batchNorm: BatchNorm[],
    private readonly attention: { kernel: Float32Array; bias: Float32Array },
    private readonly dense: Dense[],
    private readonly dropoutRates: number[],
    private readonly shape: { steps: number; features: number; gate: GateKind },
    learningRate: number,
  ) {
    this.learningRate = learningRate;
    this.moments = this.trainable().map((w) => ({
      m: new Float32Array(w.length),
      v: new Float32Array(w.length),
    }));
  }

  /** Reads the weights and hyperparameters of a model built by `buildModel`. */
  static fromModel(model: tf.LayersModel, learningRate: number): FusedTraining {
    const [steps, features] = model.inputs[0]!.shape.slice(1) as [number, number];
    const values = (name: string) =>
      model
        .getLayer(name)
        .getWeights()
        .map((w) => w.dataSync() as Float32Array);
    let gate: GateKind | undefined;
    const lstm = LAYERS.lstm.map((name) => {
      const config = layerConfig(model, name);
      const gates = config.recurrentActivation;
      if ((gates !== 'sigmoid' && gates !== 'hardSigmoid') || (gate !== undefined && gates !== gate))
        throw new Error(`fused training: ${name} has ${String(gates)} gates`);
      gate = gates;
      const [kernel, recurrent, bias] = values(name).map(copy) as [Float32Array, Float32Array, Float32Array];
      return { kernel, recurrent, bias, units: config.units as number, l2: l2Of(config, name) };
    });
    const batchNorm = LAYERS.batchNorm.map((name) => {
      const config = layerConfig(model, name);
      const [gamma, beta, movingMean, movingVariance] = values(name).map(copy) as Float32Array[];
      return {
        gamma: gamma!,
        beta: beta!,
        movingMean: movingMean!,
        movingVariance: movingVariance!,
        momentum: config.momentum as number,
        epsilon: config.epsilon as number,
      };
    });
    const [kernel, bias] = values(LAYERS.attention).map(copy) as [Float32Array, Float32Array];
    const dense = LAYERS.dense.map((name) => {
      const config = layerConfig(model, name);
      const [k, b] = values(name).map(copy) as [Float32Array, Float32Array];
      return { kernel: k, bias: b, units: config.units as number, l2: l2Of(config, name) };
    });
    const dropoutRates = LAYERS.dropout.map((name) => layerConfig(model, name).rate as number);
    return new FusedTraining(
      lstm,
      batchNorm,
      { kernel, bias },
      dense,
      dropoutRates,
      { steps, features, gate: gate! },
      learningRate,
    );
  }

  /** The trainable arrays in `model.trainableWeights` order: Adam's moments and the gradients follow it. */
  private trainable(): Float32Array[] {
    const [l1, l2, l3] = this.lstm as [Lstm, Lstm, Lstm];
    const [n1, n2] = this.batchNorm as [BatchNorm, BatchNorm];
    const lstm = (l: Lstm) => [l.kernel, l.recurrent, l.bias];
    return [
      ...lstm(l1),
      n1.gamma,
      n1.beta,
      ...lstm(l2),
      n2.gamma,
      n2.beta,
      this.attention.kernel,
      this.attention.bias,
      ...lstm(l3),
      ...this.dense.flatMap((d) => [d.kernel, d.bias]),
    ];
  }

  /** Every array in `model.getWeights()` order: the trainable ones, then the moving statistics. */
  private all(): Float32Array[] {
    return [...this.trainable(), ...this.batchNorm.flatMap((n) => [n.movingMean, n.movingVariance])];
  }

  /** A copy of every weight (to restore the best epoch's). */
  snapshot(): Float32Array[] {
    return this.all().map(copy);
  }

  /** Puts the weights (these, or a snapshot's) into the tfjs model they were read from. */
  writeTo(model: tf.LayersModel, weights: Float32Array[] = this.all()): void {
    const shapes = model.weights.map((w) => w.shape as number[]);
    if (
      shapes.length !== weights.length ||
      shapes.some((s, i) => s.reduce((a, b) => a * b, 1) !== weights[i]!.length)
    )
      throw new Error('fused training: the model has other weights than it was read with');
    const tensors = shapes.map((shape, i) => tf.tensor(weights[i]!, shape));
    model.setWeights(tensors);
    tf.dispose(tensors);
  }

  /**
   * One training step on windows `indices` of X [windows, steps, features] (batch-major) with labels y: forward in
   * training mode (dropout, batch statistics, moving averages updated), backward, one Adam update.
   */
  trainBatch(X: Float32Array, y: Float32Array, indices: number[], random: () => number): BatchResult {
    const batch = indices.length;
    const forward = this.forward(this.gather(X, indices), batch, random);
    const labels = Float32Array.from(indices, (i) => y[i]!);
    const { loss, accuracy } = binaryCrossEntropy(labels, forward.probabilities);
    const penalty = this.penalty();
    const gradients = this.backward(forward, labels);
    this.adam(gradients);
    return { loss: loss + penalty, accuracy };
  }

  /** The gradients of one batch's training loss, in `trainable()` order, without updating anything but the
   *  moving statistics (for the tests against tfjs autodiff). */
  gradients(X: Float32Array, y: Float32Array, indices: number[], random: () => number): Float32Array[] {
    const forward = this.forward(this.gather(X, indices), indices.length, random);
    return this.backward(
      forward,
      Float32Array.from(indices, (i) => y[i]!),
    );
  }

  /** Mean validation loss (no L2 terms) and accuracy over windows [start, end), in inference mode. */
  evaluate(X: Float32Array, y: Float32Array, start: number, end: number, batchSize = 256): BatchResult {
    let lossSum = 0;
    let accuracySum = 0;
    for (let b = start; b < end; b += batchSize) {
      const indices = Array.from({ length: Math.min(batchSize, end - b) }, (_, i) => b + i);
      const probabilities = this.predict(X, indices);
      const { loss, accuracy } = binaryCrossEntropy(
        Float32Array.from(indices, (i) => y[i]!),
        probabilities,
      );
      lossSum += loss * indices.length;
      accuracySum += accuracy * indices.length;
    }
    return { loss: lossSum / (end - start), accuracy: accuracySum / (end - start) };
  }

  /** P(up) for windows `indices`, in inference mode. */
  predict(X: Float32Array, indices: number[]): Float32Array {
    return this.forward(this.gather(X, indices), indices.length, undefined).probabilities;
  }

  /** Windows `indices` of X as one time-major [steps·batch, features] array, the kernel's layout. */
  private gather(X: Float32Array, indices: number[]): Float32Array {
    const { steps: T, features: F } = this.shape;
    const B = indices.length;
    const out = new Float32Array(T * B * F);
    indices.forEach((w, b) => {
      for (let t = 0; t < T; t++) out.set(X.subarray((w * T + t) * F, (w * T + t + 1) * F), (t * B + b) * F);
    });
    return out;
  }

  /** Training mode when `random` is given (dropout, batch statistics), inference otherwise. */
  private forward(x: Float32Array, B: number, random: (() => number) | undefined): Forward {
    const { steps: T, features: F, gate } = this.shape;
    const rows = T * B;
    const [l1, l2, l3] = this.lstm as [Lstm, Lstm, Lstm];
    const masks: (Float32Array | undefined)[] = [];
    const dropout = (values: Float32Array, layer: number) => {
      const rate = this.dropoutRates[layer]!;
      const mask = random && rate > 0 ? dropoutMask(values.length, rate, random) : undefined;
      masks[layer] = mask;
      if (mask) for (let i = 0; i < values.length; i++) values[i]! *= mask[i]!;
      return values;
    };
    const normalized: Float32Array[] = [];
    const inverseStd: Float64Array[] = [];
    const normalize = (values: Float32Array, layer: number) => {
      const n = this.batchNorm[layer]!;
      const r = batchNormForward(values, n, random !== undefined);
      normalized.push(r.normalized);
      inverseStd.push(r.inverseStd);
      return r.output;
    };

    const s1 = lstmLayerForward(x, l1, { steps: T, batch: B, inputs: F, units: l1.units }, gate);
    const y1 = normalize(dropout(s1.h.slice(), 0), 0);
    const s2 = lstmLayerForward(y1, l2, { steps: T, batch: B, inputs: l1.units, units: l2.units }, gate);
    const sequence = normalize(dropout(s2.h.slice(), 1), 1);

    // Attention: score = tanh(s·w + b) per row, softmax over the steps of each window, rows scaled by their weight.
    const U = l2.units;
    const score = new Float32Array(rows);
    const w = this.attention.kernel;
    const bias = this.attention.bias[0]!;
    for (let r = 0; r < rows; r++) {
      let sum = bias;
      for (let u = 0; u < U; u++) sum += sequence[r * U + u]! * w[u]!;
      score[r] = Math.tanh(sum);
    }
    const weights = softmaxOverSteps(score, T, B);
    const attended = new Float32Array(rows * U);
    for (let r = 0; r < rows; r++) {
      const a = weights[r]!;
      for (let u = 0; u < U; u++) attended[r * U + u] = sequence[r * U + u]! * a;
    }

    const s3 = lstmLayerForward(attended, l3, { steps: T, batch: B, inputs: U, units: l3.units }, gate);
    let h = dropout(s3.h.slice((T - 1) * B * l3.units), 2);
    const dense: Forward['dense'] = [];
    this.dense.forEach((d, i) => {
      const pre = denseForward(h, d, B);
      dense.push({ input: h, preActivation: pre });
      const last = i === this.dense.length - 1;
      const out = pre.map((v) => (last ? 1 / (1 + Math.exp(-v)) : v > 0 ? v : 0));
      h = last ? out : dropout(out, 3 + i);
    });
    return {
      batch: B,
      lstm: [s1, s2, s3],
      masks,
      normalized,
      inverseStd,
      attention: { sequence, score, weights },
      dense,
      probabilities: h,
    };
  }

  private penalty(): number {
    let sum = 0;
    for (const { kernel, l2 } of [...this.lstm, ...this.dense]) {
      if (l2 === 0) continue;
      let squares = 0;
      for (const v of kernel) squares += v * v;
      sum += l2 * squares;
    }
    return sum;
  }

  private backward(f: Forward, labels: Float32Array): Float32Array[] {
    const { steps: T } = this.shape;
    const B = f.batch;
    const rows = T * B;
    const [l1, l2, l3] = this.lstm as [Lstm, Lstm, Lstm];
    const unmask = (values: Float32Array, layer: number) => {
      const mask = f.masks[layer];
      if (mask) for (let i = 0; i < values.length; i++) values[i]! *= mask[i]!;
      return values;
    };

    // Loss → logit of the output: (p - z)/B where the clip lets the gradient through, as tfjs's clipByValue.
    let dy: Float32Array = f.probabilities.map((p, i) =>
      insideProbabilityClip(p) ? (p - labels[i]!) / B : 0,
    );
    const denseGradients: Float32Array[][] = [];
    for (let i = this.dense.length - 1; i >= 0; i--) {
      const d = this.dense[i]!;
      const { input, preActivation } = f.dense[i]!;
      if (i < this.dense.length - 1) {
        unmask(dy, 3 + i);
        for (let j = 0; j < dy.length; j++) if (!(preActivation[j]! > 0)) dy[j] = 0;
      }
      const inputs = d.kernel.length / d.units;
      const dKernel = transposedProduct(input, dy, B, inputs, d.units);
      addL2(dKernel, d.kernel, d.l2);
      denseGradients.unshift([dKernel, columnSums(dy, B, d.units)]);
      dy = productTransposed(dy, d.kernel, B, d.units, inputs);
    }
    unmask(dy, 2);

    const g3 = lstmLayerBackward(f.lstm[2]!, dy);
    addL2(g3.dKernel, l3.kernel, l3.l2);

    // Attention backward: through the scaling, the softmax over steps and the tanh score.
    const U = l2.units;
    const { sequence, score, weights } = f.attention;
    const dSequence = new Float32Array(rows * U);
    const dWeights = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const a = weights[r]!;
      let sum = 0;
      for (let u = 0; u < U; u++) {
        const g = g3.dx[r * U + u]!;
        dSequence[r * U + u] = g * a;
        sum += g * sequence[r * U + u]!;
      }
      dWeights[r] = sum;
    }
    const dScore = softmaxBackward(weights, dWeights, T, B);
    const dAttentionKernel = new Float32Array(U);
    let dAttentionBias = 0;
    const w = this.attention.kernel;
    for (let r = 0; r < rows; r++) {
      const d = dScore[r]! * (1 - score[r]! * score[r]!);
      dAttentionBias += d;
      for (let u = 0; u < U; u++) {
        dAttentionKernel[u]! += d * sequence[r * U + u]!;
        dSequence[r * U + u]! += d * w[u]!;
      }
    }

    const n2 = batchNormBackward(dSequence, f.normalized[1]!, f.inverseStd[1]!, this.batchNorm[1]!);
    const g2 = lstmLayerBackward(f.lstm[1]!, unmask(n2.dx, 1));
    addL2(g2.dKernel, l2.kernel, l2.l2);
    const n1 = batchNormBackward(g2.dx, f.normalized[0]!, f.inverseStd[0]!, this.batchNorm[0]!);
    const g1 = lstmLayerBackward(f.lstm[0]!, unmask(n1.dx, 0));
    addL2(g1.dKernel, l1.kernel, l1.l2);

    const lstm = (g: typeof g1) => [g.dKernel, g.dRecurrent, g.dBias];
    return [
      ...lstm(g1),
      n1.dGamma,
      n1.dBeta,
      ...lstm(g2),
      n2.dGamma,
      n2.dBeta,
      dAttentionKernel,
      Float32Array.of(dAttentionBias),
      ...lstm(g3),
      ...denseGradients.flat(),
    ];
  }

  /** tfjs's Adam: bias-corrected moments, ε added outside the square root. */
  private adam(gradients: Float32Array[]): void {
    this.step++;
    const { beta1, beta2, epsilon } = ADAM;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    const rate = this.learningRate;
    this.trainable().forEach((w, j) => {
      const g = gradients[j]!;
      const { m, v } = this.moments[j]!;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i]! -= (rate * (mi / c1)) / (Math.sqrt(vi / c2) + epsilon);
      }
    });
  }
}

/** Kept units scaled by 1/(1 - rate), dropped ones 0. */
function dropoutMask(n: number, rate: number, random: () => number): Float32Array {
  const mask = new Float32Array(n);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) mask[i] = random() >= rate ? keep : 0;
  return mask;
}

/** Batch norm over the rows of [rows, units]: batch statistics (and moving averages updated) when training. */
function batchNormForward(x: Float32Array, n: BatchNorm, training: boolean) {
  const U = n.gamma.length;
  const rows = x.length / U;
  const mean = new Float64Array(U);
  const variance = new Float64Array(U);
  if (training) {
    for (let r = 0; r < rows; r++) for (let u = 0; u < U; u++) mean[u]! += x[r * U + u]!;
    for (let u = 0; u < U; u++) mean[u]! /= rows;
    for (let r = 0; r < rows; r++)
      for (let u = 0; u < U; u++) {
        const d = x[r * U + u]! - mean[u]!;
        variance[u]! += d * d;
      }
    for (let u = 0; u < U; u++) {
      variance[u]! /= rows;
      n.movingMean[u]! -= (n.movingMean[u]! - mean[u]!) * (1 - n.momentum);
      n.movingVariance[u]! -= (n.movingVariance[u]! - variance[u]!) * (1 - n.momentum);
    }
  } else {
    mean.set(n.movingMean);
    variance.set(n.movingVariance);
  }
  const inverseStd = variance.map((v) => 1 / Math.sqrt(v + n.epsilon));
  const normalized = new Float32Array(x.length);
  const output = new Float32Array(x.length);
  for (let r = 0; r < rows; r++)
    for (let u = 0; u < U; u++) {
      const i = r * U + u;
      const h = (x[i]! - mean[u]!) * inverseStd[u]!;
      normalized[i] = h;
      output[i] = n.gamma[u]! * h + n.beta[u]!;
    }
  return { output, normalized, inverseStd };
}

/** The full batch-norm gradient (through the batch mean and variance). */
function batchNormBackward(
  dy: Float32Array,
  normalized: Float32Array,
  inverseStd: Float64Array,
  n: BatchNorm,
) {
  const U = n.gamma.length;
  const rows = dy.length / U;
  const dGamma = new Float64Array(U);
  const dBeta = new Float64Array(U);
  for (let r = 0; r < rows; r++)
    for (let u = 0; u < U; u++) {
      dBeta[u]! += dy[r * U + u]!;
      dGamma[u]! += dy[r * U + u]! * normalized[r * U + u]!;
    }
  const dx = new Float32Array(dy.length);
  for (let r = 0; r < rows; r++)
    for (let u = 0; u < U; u++) {
      const i = r * U + u;
      dx[i] =
        n.gamma[u]! * inverseStd[u]! * (dy[i]! - dBeta[u]! / rows - (normalized[i]! * dGamma[u]!) / rows);
    }
  return { dx, dGamma: Float32Array.from(dGamma), dBeta: Float32Array.from(dBeta) };
}

/** Softmax over the T steps of each of B windows; rows are time-major (row t·B + b). */
function softmaxOverSteps(score: Float32Array, T: number, B: number): Float32Array {
  const out = new Float32Array(T * B);
  for (let b = 0; b < B; b++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < T; t++) max = Math.max(max, score[t * B + b]!);
    let sum = 0;
    for (let t = 0; t < T; t++) sum += Math.exp(score[t * B + b]! - max);
    for (let t = 0; t < T; t++) out[t * B + b] = Math.exp(score[t * B + b]! - max) / sum;
  }
  return out;
}

function softmaxBackward(weights: Float32Array, dWeights: Float32Array, T: number, B: number): Float32Array {
  const out = new Float32Array(T * B);
  for (let b = 0; b < B; b++) {
    let dot = 0;
    for (let t = 0; t < T; t++) dot += weights[t * B + b]! * dWeights[t * B + b]!;
    for (let t = 0; t < T; t++) out[t * B + b] = weights[t * B + b]! * (dWeights[t * B + b]! - dot);
  }
  return out;
}

/** x [B, in]·kernel [in, units] + bias. */
function denseForward(x: Float32Array, d: Dense, B: number): Float32Array {
  const inputs = d.kernel.length / d.units;
  const out = new Float32Array(B * d.units);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < d.units; j++) {
      let sum = d.bias[j]!;
      for (let i = 0; i < inputs; i++) sum += x[b * inputs + i]! * d.kernel[i * d.units + j]!;
      out[b * d.units + j] = sum;
    }
  return out;
}

/** aᵀ·b for a [m, k], b [m, n]: [k, n]. */
function transposedProduct(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(k * n);
  for (let r = 0; r < m; r++)
    for (let i = 0; i < k; i++) {
      const v = a[r * k + i]!;
      if (v === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += v * b[r * n + j]!;
    }
  return out;
}

/** a·bᵀ for a [m, n], b [k, n]: [m, k]. */
function productTransposed(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const out = new Float32Array(m * k);
  for (let r = 0; r < m; r++)
    for (let i = 0; i < k; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += a[r * n + j]! * b[i * n + j]!;
      out[r * k + i] = sum;
    }
  return out;
}

function columnSums(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[j]! += a[r * cols + j]!;
  return out;
}

/** The gradient of l2·Σw² added to dw. */
function addL2(dw: Float32Array, w: Float32Array, l2: number): void {
  if (l2 === 0) return;
  for (let i = 0; i < w.length; i++) dw[i]! += 2 * l2 * w[i]!;
}
