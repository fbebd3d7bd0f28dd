/**
 * The reference model's whole training step (forward, backward, Adam) on plain float32 arrays, for the backends
 * whose tensors live in this process (wasm, cpu). tfjs spends ~790 kernel calls per batch on the layers around the
 * LSTMs (dropout, batch norm, attention, dense head, loss, Adam): about two thirds of a batch. Here the three LSTM
 * layers are calls of the LSTM kernel (`lstm.ts`, over `kernels/lstm.ts`), batch norm, attention, dropout and Adam calls of the layer
 * kernels (`layers.ts`, over `kernels/layers.ts`), and the small dense head plain loops.
 *
 * The tfjs model stays the model: `FusedTraining.fromModel` reads its weights and architecture (units, dropout
 * rates, batch-norm momentum and epsilon) by layer name, and `writeTo` puts the trained weights back, so what is
 * saved, evaluated and served is the stock tfjs layers model. The maths is tfjs's, term for term: batch norm on the
 * batch's biased moments with moving averages, binary cross-entropy on probabilities clipped to [1e-7, 1 - 1e-7],
 * the L2 penalties of the regularized kernels in the training loss (not in the validation loss), tfjs's Adam
 * (ε = 1e-7 outside the square root). `test/unit/engine/fused-training.test.ts` holds the gradients to tfjs autodiff and
 * the Adam steps to `trainOnBatch`. Dropout masks come from `random` (Math.random, which the trainer seeds), not tfjs's generator,
 * so a seeded run is repeatable but draws other masks than `trainOnBatch` would.
 */
import * as tf from '@tensorflow/tfjs';
import { binaryCrossEntropy, insideProbabilityClip } from '../../shared/metrics.ts';
import type { Activation, LayerSpec } from '../architecture.ts';
import {
  activationBackward,
  DENSE_ACTIVATIONS,
  type Dense,
  type DenseActivation,
  denseBackward,
  denseForward,
  isDenseActivation,
} from './dense.ts';
import * as kernels from './layers.ts';
import {
  type GateKind,
  type LstmState,
  lstmLayerBackward,
  lstmLayerForward,
  lstmLayerInfer,
  releaseLstmState,
} from './lstm.ts';

type Lstm = { kernel: Float32Array; recurrent: Float32Array; bias: Float32Array; units: number; l2: number };
type BatchNorm = kernels.BatchNormWeights;

type LayerConfig = Record<string, unknown>;

/** The L2 factor of a layer's kernel regularizer (0 without one), or why it is not a plain L2 one. */
function l2Of(config: LayerConfig): number | string {
  const regularizer = config.kernelRegularizer as {
    className: string;
    config: { l1: number; l2: number };
  } | null;
  if (regularizer == null) return 0;
  if (regularizer.className !== 'L1L2' || regularizer.config.l1 !== 0)
    return 'a kernel regularizer other than L2';
  return regularizer.config.l2;
}

/**
 * The architecture of a tfjs model in the declaration's vocabulary (architecture.ts), read from the layers' own
 * configurations, or why a layer has no place in it. The attention block is the six layers `buildModel` makes of
 * one `attention` entry.
 */
export function readArchitecture(model: tf.LayersModel): LayerSpec[] | string {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const specs: LayerSpec[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const config = layer.getConfig() as LayerConfig;
    const name = layer.name;
    const kind = layer.getClassName();
    const l2 = l2Of(config);
    if (typeof l2 === 'string') return `${name} has ${l2}`;
    // The step adds only kernels' L2 terms to the loss and applies no weight constraint after Adam.
    const extra = Object.keys(config).find(
      (k) =>
        (k.endsWith('Constraint') || k.endsWith('Regularizer')) &&
        k !== 'kernelRegularizer' &&
        config[k] != null,
    );
    if (extra !== undefined) return `${name} (${kind}) has a ${extra}`;
    if (kind === 'LSTM') {
      const unsupported =
        ['dropout', 'recurrentDropout'].find((k) => (config[k] as number) > 0) ??
        ['goBackwards', 'stateful', 'returnState', 'unroll'].find((k) => config[k] === true) ??
        (config.useBias === false ? 'useBias: false' : undefined);
      if (unsupported !== undefined) return `${name} (LSTM) has ${unsupported}`;
      specs.push({
        kind: 'lstm',
        name,
        units: config.units as number,
        returnSequences: config.returnSequences as boolean,
        activation: config.activation as Activation,
        recurrentActivation: config.recurrentActivation as Activation,
        l2,
      });
    } else if (kind === 'Dropout') {
      if (config.noiseShape != null) return `${name} (Dropout) has a noise shape`;
      specs.push({ kind: 'dropout', name, rate: config.rate as number });
    } else if (kind === 'BatchNormalization') {
      if (config.axis !== -1 || config.center === false || config.scale === false)
        return `${name} (BatchNormalization) is not centered and scaled on the last axis`;
      specs.push({ kind: 'batchNorm', name });
    } else if (kind === 'Dense' && layers[i + 1]?.getClassName() === 'Flatten') {
      const block = layers.slice(i, i + 6).map((l) => l.getClassName());
      const expected = ['Dense', 'Flatten', 'Activation', 'RepeatVector', 'Permute', 'Multiply'];
      if (
        block.join() !== expected.join() ||
        (layers[i + 2]!.getConfig() as LayerConfig).activation !== 'softmax'
      )
        return `${name}: an attention block other than Dense(1) → Flatten → softmax → RepeatVector → Permute → Multiply`;
      if (config.units !== 1 || config.useBias === false || l2 !== 0)
        return `${name}: an attention score other than one biased, unregularized unit`;
      specs.push({
        kind: 'attention',
        name: name.replace(/_score$/, ''),
        activation: config.activation as Activation,
      });
      i += 5;
    } else if (kind === 'Dense') {
      if (config.useBias === false) return `${name} (Dense) has no bias`;
      specs.push({
        kind: 'dense',
        name,
        units: config.units as number,
        activation: config.activation as Activation,
        l2,
      });
    } else return `${name} is a ${kind} layer, which the fused step does not compute`;
  }
  return specs;
}

/**
 * The layers of an architecture the step runs, or why it cannot: (LSTM → Dropout → BatchNorm) twice, attention,
 * LSTM (last step) → Dropout, then dense layers each but the last followed by a dropout, the last one sigmoid unit
 * (the loss's gradient is taken at its logit). LSTMs with tanh and one kind of gate (sigmoid or hardSigmoid), the
 * attention score tanh, the dense layers linear, relu, sigmoid or tanh.
 */
function planOf(specs: LayerSpec[]): Plan | string {
  const take = <K extends LayerSpec['kind']>(
    i: number,
    kind: K,
  ): Extract<LayerSpec, { kind: K }> | string => {
    const spec = specs[i];
    return spec?.kind === kind
      ? (spec as Extract<LayerSpec, { kind: K }>)
      : `layer ${i + 1} is ${spec === undefined ? 'missing' : `${spec.name} (${spec.kind})`} where the fused step has a ${kind} layer`;
  };
  const sequence = [0, 3, 7].map((i) => take(i, 'lstm'));
  const dropouts = [1, 4, 8].map((i) => take(i, 'dropout'));
  const batchNorm = [2, 5].map((i) => take(i, 'batchNorm'));
  const attention = take(6, 'attention');
  const failed = [...sequence, ...dropouts, ...batchNorm, attention].find((s) => typeof s === 'string');
  if (typeof failed === 'string') return failed;
  const lstm = sequence as Extract<LayerSpec, { kind: 'lstm' }>[];
  const gate = lstm[0]!.recurrentActivation;
  for (const [k, l] of lstm.entries()) {
    if (l.activation !== 'tanh')
      return `${l.name} has a ${l.activation} activation; the LSTM kernel computes tanh`;
    if (l.recurrentActivation !== gate || (gate !== 'sigmoid' && gate !== 'hardSigmoid'))
      return `${l.name} has ${l.recurrentActivation} gates; the LSTM kernel computes one of sigmoid or hardSigmoid for all`;
    if (l.returnSequences !== k < 2)
      return `${l.name} ${k < 2 ? 'returns the last step only' : 'returns sequences'}`;
  }
  const score = attention as Extract<LayerSpec, { kind: 'attention' }>;
  if (score.activation !== 'tanh')
    return `${score.name} scores with ${score.activation}; the attention kernel computes tanh`;
  const head: { dense: Extract<LayerSpec, { kind: 'dense' }>; dropout?: string }[] = [];
  for (let i = 9; i < specs.length; i++) {
    const dense = take(i, 'dense');
    if (typeof dense === 'string') return dense;
    if (!isDenseActivation(dense.activation))
      return `${dense.name} has a ${dense.activation} activation; the fused step computes ${Object.keys(DENSE_ACTIVATIONS).join(', ')}`;
    const last = i === specs.length - 1;
    if (!last) {
      const dropout = take(++i, 'dropout');
      if (typeof dropout === 'string') return dropout;
      head.push({ dense, dropout: dropout.name });
    } else head.push({ dense });
  }
  const output = head.at(-1)?.dense;
  if (output === undefined || output.units !== 1 || output.activation !== 'sigmoid')
    return 'the last layer is not one sigmoid unit; the fused step takes the loss gradient at its logit';
  return {
    lstm: lstm.map((l) => l.name),
    batchNorm: (batchNorm as LayerSpec[]).map((l) => l.name),
    attention: `${score.name}_score`,
    dropout: [...(dropouts as LayerSpec[]).map((l) => l.name), ...head.flatMap((h) => h.dropout ?? [])],
    dense: head.map((h) => h.dense.name),
    gate: gate as GateKind,
  };
}

/** The tfjs layer names of each part of the step, in the model's order. */
type Plan = {
  lstm: string[];
  batchNorm: string[];
  attention: string;
  dropout: string[];
  dense: string[];
  gate: GateKind;
};

/** Whether the fused step computes a model, and if not, why. */
export type Support = { supported: true } | { supported: false; reason: string };

const copy = (a: Float32Array) => a.slice();

/** What one training batch reports: its loss (with the L2 penalties, as trainOnBatch) and accuracy. */
export type BatchResult = { loss: number; accuracy: number };

/** What the forward pass keeps for the backward one. */
type Forward = {
  batch: number;
  lstm: LstmState[];
  masks: (Float32Array | undefined)[];
  normalized: Float32Array[];
  inverseStd: Float32Array[];
  attention: { sequence: Float32Array; score: Float32Array; weights: Float32Array };
  dense: { input: Float32Array; output: Float32Array }[];
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

  /** Whether the step computes `model` as tfjs would; when not, the reason (training then stays with tfjs). */
  static supports(model: tf.LayersModel): Support {
    const plan = FusedTraining.planFor(model);
    return typeof plan === 'string' ? { supported: false, reason: plan } : { supported: true };
  }

  private static planFor(model: tf.LayersModel): Plan | string {
    if (model.inputs.length !== 1 || model.outputs.length !== 1)
      return 'the model has more than one input or output';
    const specs = readArchitecture(model);
    return typeof specs === 'string' ? specs : planOf(specs);
  }

  /** Reads the weights and hyperparameters of a model the step supports (`supports`); throws on another. */
  static fromModel(model: tf.LayersModel, learningRate: number): FusedTraining {
    const plan = FusedTraining.planFor(model);
    if (typeof plan === 'string') throw new Error(`fused training does not cover this model: ${plan}`);
    const [steps, features] = model.inputs[0]!.shape.slice(1) as [number, number];
    const config = (name: string) => model.getLayer(name).getConfig() as LayerConfig;
    const values = (name: string) =>
      model
        .getLayer(name)
        .getWeights()
        .map((w) => (w.dataSync() as Float32Array).slice());
    const lstm = plan.lstm.map((name) => {
      const [kernel, recurrent, bias] = values(name) as [Float32Array, Float32Array, Float32Array];
      return {
        kernel,
        recurrent,
        bias,
        units: config(name).units as number,
        l2: l2Of(config(name)) as number,
      };
    });
    const batchNorm = plan.batchNorm.map((name) => {
      const [gamma, beta, movingMean, movingVariance] = values(name) as Float32Array[];
      return {
        gamma: gamma!,
        beta: beta!,
        movingMean: movingMean!,
        movingVariance: movingVariance!,
        momentum: config(name).momentum as number,
        epsilon: config(name).epsilon as number,
      };
    });
    const [kernel, bias] = values(plan.attention) as [Float32Array, Float32Array];
    const dense = plan.dense.map((name) => {
      const [k, b] = values(name) as [Float32Array, Float32Array];
      const c = config(name);
      return {
        kernel: k,
        bias: b,
        units: c.units as number,
        l2: l2Of(c) as number,
        activation: c.activation as DenseActivation,
      };
    });
    const dropoutRates = plan.dropout.map((name) => config(name).rate as number);
    return new FusedTraining(
      lstm,
      batchNorm,
      { kernel, bias },
      dense,
      dropoutRates,
      { steps, features, gate: plan.gate },
      learningRate,
    );
  }

  /** The trainable arrays in `model.trainableWeights` order (the layers' order): Adam's moments and the gradients
   *  follow it. */
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
    const labels = Float32Array.from(indices, (i) => y[i]!);
    const { forward, gradients, penalty } = this.forwardBackward(X, labels, indices, random);
    const { loss, accuracy } = binaryCrossEntropy(labels, forward.probabilities);
    this.adam(gradients);
    return { loss: loss + penalty, accuracy };
  }

  /** Forward in training mode and backward; the LSTM states live in kernel memory only in between. */
  private forwardBackward(X: Float32Array, labels: Float32Array, indices: number[], random: () => number) {
    const states: LstmState[] = [];
    try {
      const forward = this.forward(this.gather(X, indices), indices.length, random, states);
      return { forward, ...this.backward(forward, labels) };
    } finally {
      if (states[0]) releaseLstmState(states[0]);
    }
  }

  /** The gradients of one batch's training loss, in `trainable()` order, without updating anything but the
   *  moving statistics (for the tests against tfjs autodiff). */
  gradients(X: Float32Array, y: Float32Array, indices: number[], random: () => number): Float32Array[] {
    return this.forwardBackward(
      X,
      Float32Array.from(indices, (i) => y[i]!),
      indices,
      random,
    ).gradients;
  }

  /**
   * Mean validation loss (no L2 terms) and accuracy over windows [start, end), in inference mode. Batches of 32: at
   * 256 the pass was slower and the training batches after it ran 25% slower on a year of 5-minute bars
   * (bench/RESULTS.md, "The fused training step").
   */
  evaluate(X: Float32Array, y: Float32Array, start: number, end: number, batchSize = 32): BatchResult {
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
    return this.forward(this.gather(X, indices), indices.length, undefined, []).probabilities;
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

  /**
   * Training mode when `random` is given (dropout, batch statistics, the LSTM states kept in kernel memory and
   * pushed onto `states` for the backward pass), inference otherwise (the LSTM layers' outputs alone).
   */
  private forward(
    x: Float32Array,
    B: number,
    random: (() => number) | undefined,
    states: LstmState[],
  ): Forward {
    const { steps: T, features: F, gate } = this.shape;
    const [l1, l2, l3] = this.lstm as [Lstm, Lstm, Lstm];
    const masks: (Float32Array | undefined)[] = [];
    // One draw of `random` seeds each mask's own generator (a draw per unit would cost more than the dropout).
    const dropout = (values: Float32Array, layer: number) => {
      const rate = this.dropoutRates[layer]!;
      masks[layer] = random && rate > 0 ? kernels.dropout(values, rate, random() * 4294967296) : undefined;
      return values;
    };
    const normalized: Float32Array[] = [];
    const inverseStd: Float32Array[] = [];
    const normalize = (values: Float32Array, layer: number) => {
      const n = this.batchNorm[layer]!;
      if (!random) return kernels.batchNormInfer(values, n);
      const r = kernels.batchNormTrain(values, n);
      normalized.push(r.normalized);
      inverseStd.push(r.inverseStd);
      return r.output;
    };

    // Each layer's output h is a fresh array (the backward pass reads h from kernel memory): dropout masks it in place.
    const lstm = (input: Float32Array, l: Lstm, inputs: number): Float32Array => {
      const shape = { steps: T, batch: B, inputs, units: l.units };
      if (!random) return lstmLayerInfer(input, l, shape, gate);
      const state = lstmLayerForward(input, l, shape, gate);
      states.push(state);
      return state.h;
    };

    const y1 = normalize(dropout(lstm(x, l1, F), 0), 0);
    const sequence = normalize(dropout(lstm(y1, l2, l1.units), 1), 1);

    // Attention: score = tanh(s·w + b) per row, softmax over the steps of each window, rows scaled by their weight.
    const { score, weights, output } = kernels.attentionForward(
      sequence,
      T,
      B,
      this.attention.kernel,
      this.attention.bias[0]!,
    );
    let h = dropout(lstm(output, l3, l2.units).slice((T - 1) * B * l3.units), 2);
    const dense: Forward['dense'] = [];
    this.dense.forEach((d, i) => {
      const output = denseForward(h, d, B);
      dense.push({ input: h, output });
      // The output's dropout masks a copy: the backward pass takes the activation's slope from the unmasked output.
      h = i === this.dense.length - 1 ? output : dropout(output.slice(), 3 + i);
    });
    return {
      batch: B,
      lstm: states,
      masks,
      normalized,
      inverseStd,
      attention: { sequence, score, weights },
      dense,
      probabilities: h,
    };
  }

  /** The gradients in `trainable()` order, and the L2 penalty of the weights they were taken at. */
  private backward(f: Forward, labels: Float32Array): { gradients: Float32Array[]; penalty: number } {
    const { steps: T } = this.shape;
    const B = f.batch;
    const [l1, l2, l3] = this.lstm as [Lstm, Lstm, Lstm];
    const unmask = (values: Float32Array, layer: number) => {
      const mask = f.masks[layer];
      if (mask) kernels.multiply(values, mask);
      return values;
    };

    // Loss → logit of the output: (p - z)/B where the clip lets the gradient through, as tfjs's clipByValue.
    let dy: Float32Array = f.probabilities.map((p, i) =>
      insideProbabilityClip(p) ? (p - labels[i]!) / B : 0,
    );
    let penalty = 0;
    const denseGradients: Float32Array[][] = [];
    for (let i = this.dense.length - 1; i >= 0; i--) {
      const d = this.dense[i]!;
      const { input, output } = f.dense[i]!;
      // The last layer's dy is already the loss's gradient at its logit (sigmoid and cross-entropy together).
      if (i < this.dense.length - 1) activationBackward(unmask(dy, 3 + i), output, d.activation);
      const g = denseBackward(input, dy, d, B);
      penalty += addL2(g.dKernel, d.kernel, d.l2);
      denseGradients.unshift([g.dKernel, g.dBias]);
      dy = g.dx;
    }
    unmask(dy, 2);

    const g3 = lstmLayerBackward(f.lstm[2]!, dy);
    penalty += addL2(g3.dKernel, l3.kernel, l3.l2);

    // Attention backward: through the scaling, the softmax over steps and the tanh score.
    const attention = kernels.attentionBackward(g3.dx, f.attention, T, B, this.attention.kernel);

    const n2 = kernels.batchNormBackward(
      attention.dSequence,
      f.normalized[1]!,
      f.inverseStd[1]!,
      this.batchNorm[1]!.gamma,
    );
    const g2 = lstmLayerBackward(f.lstm[1]!, unmask(n2.dx, 1));
    penalty += addL2(g2.dKernel, l2.kernel, l2.l2);
    const n1 = kernels.batchNormBackward(g2.dx, f.normalized[0]!, f.inverseStd[0]!, this.batchNorm[0]!.gamma);
    // The first layer's input is the data: no gradient of it.
    const g1 = lstmLayerBackward(f.lstm[0]!, unmask(n1.dx, 0), { inputGradient: false });
    penalty += addL2(g1.dKernel, l1.kernel, l1.l2);

    const lstm = (g: typeof g1) => [g.dKernel, g.dRecurrent, g.dBias];
    const gradients = [
      ...lstm(g1),
      n1.dGamma,
      n1.dBeta,
      ...lstm(g2),
      n2.dGamma,
      n2.dBeta,
      attention.dKernel,
      Float32Array.of(attention.dBias),
      ...lstm(g3),
      ...denseGradients.flat(),
    ];
    return { gradients, penalty };
  }

  /** tfjs's Adam: bias-corrected moments, ε added outside the square root. */
  private adam(gradients: Float32Array[]): void {
    this.step++;
    this.trainable().forEach((w, j) => {
      kernels.adam(w, gradients[j]!, this.moments[j]!, this.learningRate, this.step);
    });
  }
}

/** Adds the gradient of the penalty l2·Σw² to dw, and returns the penalty (one pass over w for both). */
function addL2(dw: Float32Array, w: Float32Array, l2: number): number {
  if (l2 === 0) return 0;
  let squares = 0;
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    squares += v * v;
    dw[i]! += 2 * l2 * v;
  }
  return l2 * squares;
}
