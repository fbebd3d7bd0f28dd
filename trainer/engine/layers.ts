/**
 * The layers around the LSTMs in a fused training step (batch norm, attention, dropout, Adam) as WebAssembly SIMD
 * calls, from `trainer/engine/kernels/layers.ts` (AssemblyScript, built by `npm run build:kernels` into
 * `trainer/engine/kernels/layers.wasm`). Written rather than taken from tfjs for speed: tfjs runs these as ~790 small
 * kernel calls per batch, plain JS loops at about a fifth of a batch; here they are a few passes each.
 *
 * Every call lays out its arrays afresh from the module's heap base, copies its inputs in and its outputs out: the
 * module keeps no state between calls. Arrays are row-major float32, rows time-major (row t·B + b).
 */
import { readFileSync } from 'node:fs';
import { layoutFloats, type WasmMemory, wasm } from './wasm-memory.ts';

export const LAYER_KERNELS_WASM = new URL('./kernels/layers.wasm', import.meta.url);

type Exports = {
  memory: WasmMemory;
  heapBase(): number;
  batchNormTrain(...args: number[]): void;
  batchNormInfer(...args: number[]): void;
  batchNormBackward(...args: number[]): void;
  attentionForward(...args: number[]): void;
  attentionBackward(...args: number[]): number;
  dropout(values: number, n: number, rate: number, seed: number, mask: number): void;
  multiply(values: number, mask: number, n: number): void;
  adam(...args: number[]): void;
};

let loaded: Exports | undefined;

function kernels(): Exports {
  // Synchronous: a module of a few kilobytes compiles at once.
  loaded ??= new wasm.Instance(new wasm.Module(readFileSync(LAYER_KERNELS_WASM)), {})
    .exports as unknown as Exports;
  return loaded;
}

/**
 * Lays out arrays of `sizes` floats in the module's memory (16-byte aligned), copies in those given as arrays,
 * runs `fn` with their byte offsets, and returns a reader of any of them afterwards.
 */
function run<R>(
  arrays: (Float32Array | number)[],
  fn: (at: number[], k: Exports) => R,
): { result: R; read: (i: number) => Float32Array; into: (target: Float32Array, i: number) => void } {
  const k = kernels();
  const { offsets, view } = layoutFloats(
    k.memory,
    k.heapBase(),
    arrays.map((a) => (typeof a === 'number' ? a : a.length)),
  );
  arrays.forEach((a, i) => {
    if (typeof a !== 'number') view(i).set(a);
  });
  const result = fn(offsets, k);
  // Copies out: the next call reuses the memory.
  return { result, read: (i) => view(i).slice(), into: (target, i) => target.set(view(i)) };
}

export type BatchNormWeights = {
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  momentum: number;
  epsilon: number;
};

/** Batch norm in training mode over the rows of x [rows, units]; moves `n`'s moving statistics in place. */
export function batchNormTrain(x: Float32Array, n: BatchNormWeights) {
  const u = n.gamma.length;
  const rows = x.length / u;
  const { read, into } = run(
    [x, n.gamma, n.beta, n.movingMean, n.movingVariance, u, u, u, x.length, x.length],
    ([xAt, g, b, mm, mv, mean, variance, invStd, normalized, out], k) =>
      k.batchNormTrain(
        xAt!,
        rows,
        u,
        g!,
        b!,
        mm!,
        mv!,
        n.momentum,
        n.epsilon,
        mean!,
        variance!,
        invStd!,
        normalized!,
        out!,
      ),
  );
  into(n.movingMean, 3);
  into(n.movingVariance, 4);
  return { output: read(9), normalized: read(8), inverseStd: read(7) };
}

/** Batch norm in inference mode (the moving statistics). */
export function batchNormInfer(x: Float32Array, n: BatchNormWeights): Float32Array {
  const u = n.gamma.length;
  const { read } = run(
    [x, n.gamma, n.beta, n.movingMean, n.movingVariance, u, x.length],
    ([xAt, g, b, mm, mv, invStd, out], k) =>
      k.batchNormInfer(xAt!, x.length / u, u, g!, b!, mm!, mv!, n.epsilon, invStd!, out!),
  );
  return read(6);
}

/** The full batch-norm gradient from dy and the forward pass's normalized values and 1/√(var + ε). */
export function batchNormBackward(
  dy: Float32Array,
  normalized: Float32Array,
  inverseStd: Float32Array,
  gamma: Float32Array,
) {
  const u = gamma.length;
  const { read } = run(
    [dy, normalized, gamma, inverseStd, u, u, dy.length],
    ([dyAt, norm, g, inv, dGamma, dBeta, dx], k) =>
      k.batchNormBackward(dyAt!, norm!, dy.length / u, u, g!, inv!, dGamma!, dBeta!, dx!),
  );
  return { dx: read(6), dGamma: read(4), dBeta: read(5) };
}

/** Attention over the steps of each window of `sequence` [steps·batch, units]: scores, weights, scaled rows. */
export function attentionForward(
  sequence: Float32Array,
  steps: number,
  batch: number,
  kernel: Float32Array,
  bias: number,
) {
  const rows = steps * batch;
  const { read } = run([sequence, kernel, rows, rows, sequence.length], ([s, w, score, weights, out], k) =>
    k.attentionForward(s!, steps, batch, kernel.length, w!, bias, score!, weights!, out!),
  );
  return { score: read(2), weights: read(3), output: read(4) };
}

/** The attention block's gradients: d sequence (through the scaling and the scores), d kernel, d bias. */
export function attentionBackward(
  dOutput: Float32Array,
  forward: { sequence: Float32Array; score: Float32Array; weights: Float32Array },
  steps: number,
  batch: number,
  kernel: Float32Array,
) {
  const rows = steps * batch;
  const { result, read } = run(
    [
      dOutput,
      forward.sequence,
      forward.score,
      forward.weights,
      kernel,
      rows,
      rows,
      dOutput.length,
      kernel.length,
    ],
    ([dOut, s, score, weights, w, dWeights, dScore, dS, dW], k) =>
      k.attentionBackward(
        dOut!,
        s!,
        score!,
        weights!,
        steps,
        batch,
        kernel.length,
        w!,
        dWeights!,
        dScore!,
        dS!,
        dW!,
      ),
  );
  return { dSequence: read(7), dKernel: read(8), dBias: result };
}

/**
 * Dropout in place: kept units scaled by 1/(1 - rate), the others 0, by uniform draws of mulberry32 from `seed`;
 * returns the mask for the backward pass.
 */
export function dropout(values: Float32Array, rate: number, seed: number): Float32Array {
  const { read, into } = run([values, values.length], ([v, mask], k) =>
    k.dropout(v!, values.length, rate, seed >>> 0, mask!),
  );
  into(values, 0);
  return read(1);
}

/** values ⊙ mask in place. */
export function multiply(values: Float32Array, mask: Float32Array): void {
  const { into } = run([values, mask], ([v, m], k) => k.multiply(v!, m!, values.length));
  into(values, 0);
}

export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

/** One step of tfjs's Adam on w in place (moments m, v in place too), at `step` (1, 2, ...). */
export function adam(
  w: Float32Array,
  g: Float32Array,
  moments: { m: Float32Array; v: Float32Array },
  rate: number,
  step: number,
): void {
  const { beta1, beta2, epsilon } = ADAM;
  const { into } = run([w, g, moments.m, moments.v], ([wAt, gAt, m, v], k) =>
    k.adam(wAt!, gAt!, m!, v!, w.length, rate, 1 - beta1 ** step, 1 - beta2 ** step, beta1, beta2, epsilon),
  );
  into(w, 0);
  into(moments.m, 2);
  into(moments.v, 3);
}
