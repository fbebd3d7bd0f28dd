/**
 * A drop-in replacement for `tf.layers.lstm` whose training step is several times faster.
 *
 * tfjs-layers runs an LSTM one time step at a time and lets autodiff record every small op; its backward pass
 * then spends most of its time in hundreds of small transposed matrix products. Here the whole sequence is one
 * `tf.customGrad` op with a hand-written backward pass:
 * - the input projection of all time steps is one product,
 * - the backward loop over time does only the recurrent product dz·Rᵀ (Rᵀ transposed once per batch) and a few
 *   element-wise ops per step, with every per-step factor that does not depend on the recursion computed for all
 *   steps at once,
 * - the weight gradients of all steps are single products over [steps·batch, ·] matrices,
 * - no product uses matMul's transpose flags (they are several times slower on the wasm backend).
 *
 * The layer is a subclass of tfjs's own LSTM class: it has the same arguments, defaults, weights (kernel
 * [in, 4u], recurrent_kernel [u, 4u], bias [4u], gate order i, f, c, o) and regularizers, and it serializes as
 * class `LSTM`, so a saved model loads with stock `tf.loadLayersModel`. Configurations the fast path does not
 * cover (dropout inside the cell, masks, stateful, goBackwards, returnState, no bias, activations other than
 * tanh with sigmoid/hardSigmoid gates) run tfjs's own code unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { orthogonal } from '../orthogonal.ts';
import { stockClass } from '../stock-classes.ts';
import {
  type LstmGradients,
  lstmLayerBackward,
  lstmLayerForward,
  releaseLstmState,
  restoreLstmState,
  saveLstmState,
} from './lstm.ts';

type StockLstm = ReturnType<typeof tf.layers.lstm>;
type LstmCell = ReturnType<typeof tf.layers.lstmCell>;
type LstmArgs = Parameters<typeof tf.layers.lstm>[0];
type CallKwargs = Parameters<StockLstm['call']>[1];
type InitializerArg = LstmArgs['kernelInitializer'];
// What the forward pass keeps for the backward one: input rows, W, R, and i, f, o, g, tanh(c), c(t-1), h(t-1)
// of every step.
type SavedForGradient = [
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
  tf.Tensor,
];

/** The arguments of `tf.layers.lstm`, plus `seed`, which makes the random weight initializers repeatable. */
export type FastLstmArgs = LstmArgs & { seed?: number };

/** The gate activations the hand-written gradient knows; `hardSigmoid` is tfjs's default, `sigmoid` Keras's. */
export type GateActivation = 'sigmoid' | 'hardSigmoid';

/**
 * How the recurrence runs: `kernel`, the WebAssembly SIMD kernel (two calls per layer and batch; data goes through
 * JS memory, which costs nothing on the wasm and cpu backends, whose tensors live in this process's memory), or
 * `ops`, tfjs ops per step (what runs on tfjs-node and its GPU build, whose tensors live in TensorFlow's memory or
 * on the GPU, where a round trip through JS per layer would cost more than it saves).
 */
export type LstmImplementation = 'kernel' | 'ops';

/** The implementation for the active backend: the kernel where tensors live in this process (wasm, cpu). */
export function defaultImplementation(): LstmImplementation {
  return ['wasm', 'cpu'].includes(tf.getBackend()) ? 'kernel' : 'ops';
}

/**
 * Runs an LSTM over `x` [batch, steps, in] from zero states: returns every step's output [batch, steps, units]
 * when `returnSequences`, else the last one [batch, units]. Differentiable with respect to all four inputs.
 */
export function lstmSequence(
  x: tf.Tensor,
  kernel: tf.Tensor,
  recurrentKernel: tf.Tensor,
  bias: tf.Tensor,
  options: { returnSequences: boolean; gateActivation: GateActivation; implementation?: LstmImplementation },
): tf.Tensor {
  if (x.rank !== 3) throw new Error(`lstmSequence: input must be [batch, steps, features], got [${x.shape}]`);
  return (options.implementation ?? defaultImplementation()) === 'kernel'
    ? kernelSequence(x, kernel, recurrentKernel, bias, options)
    : opsSequence(x, kernel, recurrentKernel, bias, options);
}

/** lstmSequence by the WebAssembly kernel (trainer/engine/lstm.ts): one call forward, one backward. */
function kernelSequence(
  x: tf.Tensor,
  kernel: tf.Tensor,
  recurrentKernel: tf.Tensor,
  bias: tf.Tensor,
  options: { returnSequences: boolean; gateActivation: GateActivation },
): tf.Tensor {
  const { returnSequences, gateActivation } = options;
  const [batch, steps, inputs] = x.shape as [number, number, number];
  const units = recurrentKernel.shape[0] as number;
  const shape = { steps, batch, inputs, units };
  const op = tf.customGrad((...args) => {
    const [xIn, w, r, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    // Time-major rows (row t·batch + s is sample s at step t), so that one step is a contiguous block.
    const state = lstmLayerForward(
      read(tf.transpose(xIn, [1, 0, 2])),
      { kernel: read(w), bias: read(b), recurrent: read(r) },
      shape,
      gateActivation,
    );
    const value = returnSequences
      ? tf.transpose(tf.tensor3d(state.h, [steps, batch, units]), [1, 0, 2])
      : tf.tensor2d(state.h.subarray((steps - 1) * batch * units), [batch, units]);
    // tfjs may run other layers' passes, or none, before this gradient: the state waits in JS, not in the kernel.
    const saved = saveLstmState(state);
    const gradFunc = (dy: tf.Tensor) =>
      tf.tidy(() => {
        const dyRows = read(returnSequences ? tf.transpose(dy, [1, 0, 2]) : dy);
        const restored = restoreLstmState(saved);
        let grads: LstmGradients;
        try {
          grads = lstmLayerBackward(restored, dyRows);
        } finally {
          releaseLstmState(restored);
        }
        return [
          tf.transpose(tf.tensor3d(grads.dx, [steps, batch, inputs]), [1, 0, 2]),
          tf.tensor2d(grads.dKernel, [inputs, 4 * units]),
          tf.tensor2d(grads.dRecurrent, [units, 4 * units]),
          tf.tensor1d(grads.dBias),
        ];
      });
    return { value, gradFunc };
  });
  return op(x, kernel, recurrentKernel, bias);
}

/**
 * dx, dW, dR, db from dz of all steps [T·B, 4U] (time-major rows), as single products; none uses matMul's
 * transpose flags (several times slower on the wasm backend).
 */
function weightAndInputGradients(
  dzRows: tf.Tensor,
  xRows: tf.Tensor,
  w: tf.Tensor,
  hPrev: tf.Tensor,
  shape: { steps: number; batch: number; inputDim: number; units: number },
): tf.Tensor[] {
  const { steps, batch, inputDim, units } = shape;
  const dx = tf.transpose(
    tf.reshape(tf.matMul(dzRows, tf.transpose(w)), [steps, batch, inputDim]),
    [1, 0, 2],
  );
  const dw = tf.matMul(tf.transpose(xRows), dzRows);
  const dr = tf.matMul(tf.transpose(hPrev), dzRows);
  // A product with ones: wasm's column sum over [steps·batch, 4u] is several times slower.
  const db = tf.reshape(tf.matMul(tf.ones([1, steps * batch]), dzRows), [4 * units]);
  return [dx, dw, dr, db];
}

/** lstmSequence by tfjs ops: one customGrad op with a hand-written backward pass; see the top of this file. */
function opsSequence(
  x: tf.Tensor,
  kernel: tf.Tensor,
  recurrentKernel: tf.Tensor,
  bias: tf.Tensor,
  options: { returnSequences: boolean; gateActivation: GateActivation },
): tf.Tensor {
  const { returnSequences, gateActivation } = options;
  const [batch, steps, inputDim] = x.shape as [number, number, number];
  const units = recurrentKernel.shape[0] as number;
  const gates = (z: tf.Tensor) => (gateActivation === 'sigmoid' ? tf.sigmoid(z) : hardSigmoid(z));
  // The derivative of the gate activation, from its output a. (Hard sigmoid: where 0.2·z + 0.5 is exactly 0 or 1,
  // tfjs's clip gradient gives 0.2 and this 0; a measure-zero difference.)
  const gateSlope = (a: tf.Tensor) =>
    gateActivation === 'sigmoid'
      ? tf.mul(a, tf.sub(1, a))
      : tf.mul(0.2, tf.cast(tf.logicalAnd(tf.greater(a, 0), tf.less(a, 1)), 'float32'));

  const op = tf.customGrad((...args) => {
    const [xIn, w, r, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[4] as tf.GradSaveFunc;
    // Time-major rows (row t·batch + s is sample s at step t), so that one step is a contiguous block.
    const xRows = tf.reshape(tf.transpose(xIn, [1, 0, 2]), [steps * batch, inputDim]);
    const projected = unstackSteps(tf.reshape(tf.add(tf.matMul(xRows, w), b), [steps, batch, 4 * units]));
    const is: tf.Tensor[] = [];
    const fs: tf.Tensor[] = [];
    const os: tf.Tensor[] = [];
    const gs: tf.Tensor[] = [];
    const cs: tf.Tensor[] = [];
    const tanhCs: tf.Tensor[] = [];
    const hs: tf.Tensor[] = [];
    for (let t = 0; t < steps; t++) {
      const hPrev = hs[t - 1];
      const cPrev = cs[t - 1];
      const z = hPrev === undefined ? projected[t]! : tf.add(projected[t]!, tf.matMul(hPrev, r));
      const a = gates(z); // all four blocks, the c block unused
      const i = tf.slice(a, [0, 0], [batch, units]);
      const f = tf.slice(a, [0, units], [batch, units]);
      const o = tf.slice(a, [0, 3 * units], [batch, units]);
      const g = tf.tanh(tf.slice(z, [0, 2 * units], [batch, units]));
      const ig = tf.mul(i, g);
      const c = cPrev === undefined ? ig : tf.add(tf.mul(f, cPrev), ig);
      const tanhC = tf.tanh(c);
      is.push(i);
      fs.push(f);
      os.push(o);
      gs.push(g);
      cs.push(c);
      tanhCs.push(tanhC);
      hs.push(tf.mul(o, tanhC));
    }
    // Stacked [steps, batch, units] for the backward pass, which works on all steps at once where it can.
    const zero = tf.zerosLike(hs[0]!);
    const previous = (list: tf.Tensor[]) => tf.stack([zero, ...list.slice(0, -1)]);
    save([
      xRows,
      w,
      r,
      ...[is, fs, os, gs, tanhCs].map((list) => tf.stack(list)),
      previous(cs),
      previous(hs),
    ]);
    const value = returnSequences ? tf.transpose(tf.stack(hs), [1, 0, 2]) : hs[steps - 1]!;

    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [xRowsS, wS, rS, i, f, o, g, tanhC, cPrev, hPrevS] = saved as SavedForGradient;
        const hPrev = tf.reshape(hPrevS, [steps * batch, units]);
        // dz = [dc, dc, dc, dh] ⊙ m, where m holds ∂(i, f, g, o gate pre-activations) per unit of dc or dh.
        const m = unstackSteps(
          tf.concat(
            [
              tf.mul(g, gateSlope(i)),
              tf.mul(cPrev, gateSlope(f)),
              tf.mul(i, tf.sub(1, tf.square(g))),
              tf.mul(tanhC, gateSlope(o)),
            ],
            2,
          ),
        );
        const dcFromDh = unstackSteps(tf.mul(o, tf.sub(1, tf.square(tanhC)))); // ∂c-path of h = o·tanh(c)
        const forget = unstackSteps(f);
        const dyPerStep = returnSequences ? unstackSteps(tf.transpose(dy, [1, 0, 2])) : undefined;
        const rT = tf.transpose(rS);
        const dz: tf.Tensor[] = new Array(steps);
        let dhCarry: tf.Tensor | undefined;
        let dcCarry: tf.Tensor | undefined;
        for (let t = steps - 1; t >= 0; t--) {
          const dyT = dyPerStep ? dyPerStep[t] : t === steps - 1 ? dy : undefined;
          const dh = dyT === undefined ? dhCarry! : dhCarry === undefined ? dyT : tf.add(dyT, dhCarry);
          const dcHere = tf.mul(dh, dcFromDh[t]!);
          const dc = dcCarry === undefined ? dcHere : tf.add(dcHere, dcCarry);
          const dzT = tf.mul(tf.concat([dc, dc, dc, dh], 1), m[t]!);
          dz[t] = dzT;
          if (t > 0) {
            dhCarry = tf.matMul(dzT, rT);
            dcCarry = tf.mul(dc, forget[t]!);
          }
        }
        const dzRows = tf.concat(dz, 0); // [steps·batch, 4u], time-major like xRows
        return weightAndInputGradients(dzRows, xRowsS, wS, hPrev, { steps, batch, inputDim, units });
      });
    return { value, gradFunc };
  });
  return op(x, kernel, recurrentKernel, bias);
}

/**
 * tf.unstack along the first axis. The wasm backend's Slice kernel copies the whole source tensor through JS for
 * every slice (about 1.5 ms per step of a [60, 16, 1024] tensor, measured), so there the tensor is read once and
 * each step uploaded: about 40× faster. Other backends slice in place.
 */
function unstackSteps(x: tf.Tensor): tf.Tensor[] {
  if (tf.getBackend() !== 'wasm') return tf.unstack(x);
  const [steps, ...stepShape] = x.shape as [number, ...number[]];
  const values = x.dataSync();
  const size = values.length / steps;
  return Array.from({ length: steps }, (_, t) =>
    tf.tensor(values.subarray(t * size, (t + 1) * size), stepShape, x.dtype),
  );
}

/** tfjs's hard sigmoid (tfjs-layers K.hardSigmoid): clip(0.2·x + 0.5, 0, 1). */
function hardSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.clipByValue(tf.add(0.5, tf.mul(0.2, x)), 0, 1);
}

/** tf.layers.lstm with a hand-written training step; see the top of this file. Create it with `fastLstm`. */
export class FastLstm extends stockClass<LstmArgs, StockLstm>('LSTM') {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: CallKwargs): tf.Tensor | tf.Tensor[] {
    const gateActivation = this.fastPathGateActivation(kwargs);
    if (gateActivation === undefined) return super.call(inputs, kwargs);
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (x === undefined || (Array.isArray(inputs) && inputs.length !== 1)) {
      throw new Error(`LSTM layer ${this.name} expects exactly one input tensor`);
    }
    const cell = this.cell as LstmCell;
    return lstmSequence(x, cell.kernel.read(), cell.recurrentKernel.read(), cell.bias.read(), {
      returnSequences: this.returnSequences,
      gateActivation,
    });
  }

  /**
   * The layer's regularization losses and its cell's: tfjs's RNN layers leave out the cell's (where the kernel,
   * recurrent and bias regularizers live), so a model training with tfjs alone silently drops the LSTM kernels' L2
   * terms that Keras applies.
   */
  override get losses(): StockLstm['losses'] {
    return [...super.losses, ...this.cell.losses];
  }

  /** Whether this layer's configuration takes the hand-written path (calls with a mask or initial state do not). */
  get usesFastPath(): boolean {
    return this.gateActivation() !== undefined;
  }

  /** The gate activation when this call can take the fast path, else undefined (tfjs's own code runs). */
  private fastPathGateActivation(kwargs: CallKwargs): GateActivation | undefined {
    return kwargs?.mask == null && kwargs?.initialState == null ? this.gateActivation() : undefined;
  }

  private gateActivation(): GateActivation | undefined {
    const cell = this.cell as LstmCell;
    const gate = cell.recurrentActivation.getClassName();
    const covered =
      cell.activation.getClassName() === 'tanh' &&
      (gate === 'sigmoid' || gate === 'hardSigmoid') &&
      cell.useBias &&
      cell.dropout === 0 &&
      cell.recurrentDropout === 0 &&
      !this.goBackwards &&
      !this.stateful &&
      !this.returnState;
    return covered ? (gate as GateActivation) : undefined;
  }
}

// Initializers that draw random numbers and accept a seed, by their tfjs identifier.
const SEEDABLE_INITIALIZERS = {
  glorotNormal: tf.initializers.glorotNormal,
  glorotUniform: tf.initializers.glorotUniform,
  heNormal: tf.initializers.heNormal,
  heUniform: tf.initializers.heUniform,
  leCunNormal: tf.initializers.leCunNormal,
  leCunUniform: tf.initializers.leCunUniform,
  orthogonal, // tfjs's values, without its slow QR and its warning
  randomNormal: tf.initializers.randomNormal,
  randomUniform: tf.initializers.randomUniform,
  truncatedNormal: tf.initializers.truncatedNormal,
} as const;

function seeded(initializer: InitializerArg, seed: number): InitializerArg {
  if (typeof initializer !== 'string' || !(initializer in SEEDABLE_INITIALIZERS)) return initializer;
  const make = SEEDABLE_INITIALIZERS[initializer as keyof typeof SEEDABLE_INITIALIZERS] as (args: {
    seed: number;
  }) => InitializerArg;
  return make({ seed });
}

/**
 * The arguments under which tf.layers.lstm (and fastLstm) compute what Keras's `LSTM` computes by default; tfjs's
 * own defaults differ (hardSigmoid gates, glorotNormal kernel, no unit forget bias).
 */
export const KERAS_LSTM_DEFAULTS = {
  recurrentActivation: 'sigmoid',
  kernelInitializer: 'glorotUniform',
  recurrentInitializer: 'orthogonal',
  unitForgetBias: true,
} as const satisfies Partial<LstmArgs>;

/**
 * Same arguments and defaults as `tf.layers.lstm` (note tfjs's defaults differ from Keras's: recurrentActivation
 * 'hardSigmoid', kernelInitializer 'glorotNormal', unitForgetBias off). With `seed`, the kernel and recurrent
 * initializers given by name (or the defaults) are seeded with `seed` and `seed + 1`; initializer objects are
 * used as given. An orthogonal recurrent initializer named by string is `FastOrthogonal` (same values as tfjs's).
 */
export function fastLstm(args: FastLstmArgs): FastLstm {
  const { seed, ...layerArgs } = args;
  // 'glorotNormal' and 'orthogonal' are tfjs's LSTMCell defaults.
  const recurrentInitializer = layerArgs.recurrentInitializer ?? 'orthogonal';
  if (seed !== undefined) {
    layerArgs.kernelInitializer = seeded(layerArgs.kernelInitializer ?? 'glorotNormal', seed);
    layerArgs.recurrentInitializer = seeded(recurrentInitializer, seed + 1);
  } else if (recurrentInitializer === 'orthogonal') {
    layerArgs.recurrentInitializer = orthogonal();
  }
  return new FastLstm(layerArgs);
}
