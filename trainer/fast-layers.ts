/**
 * Stock tfjs layers with a cheaper training step, serialized as the stock class (a saved model loads with stock
 * `tf.loadLayersModel`).
 */
import * as tf from '@tensorflow/tfjs';
import { stockClass } from './stock-classes.ts';

type StockRepeatVector = ReturnType<typeof tf.layers.repeatVector>;
type RepeatVectorArgs = Parameters<typeof tf.layers.repeatVector>[0];
type CallKwargs = Parameters<StockRepeatVector['call']>[1];

/**
 * tf.layers.repeatVector by a broadcasting product instead of `tile`: the same values, but its gradient is one sum
 * over the repeated axis, where tile's is one slice and one add per repetition (128 of each per batch for the
 * attention block of config_2, with wasm's Slice copying the whole tensor every time).
 */
export class FastRepeatVector extends stockClass<RepeatVectorArgs, StockRepeatVector>('RepeatVector') {
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: CallKwargs): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (x === undefined || x.rank !== 2) {
      throw new Error(`RepeatVector layer ${this.name} expects one [batch, features] input`);
    }
    const n = (this as unknown as { n: number }).n;
    return tf.tidy(() => tf.mul(tf.expandDims(x, 1), tf.ones([1, n, 1])));
  }
}

export function fastRepeatVector(args: RepeatVectorArgs): FastRepeatVector {
  return new FastRepeatVector(args);
}

let batchNormGradientReplaced = false;

/**
 * Replaces the gradient tfjs registered for its FusedBatchNorm kernel by the same one whose input gradient
 * broadcasts 1/√(variance + ε) in a product instead of `tile`-ing it to the input's shape first (wasm's Tile is
 * slow: about a tenth of a training batch of config_2, two calls). Same values; process-wide, once; tfjs only warns
 * about the replacement in debug mode, which the trainer never enables.
 */
export function useFastBatchNormGradient(): void {
  if (batchNormGradientReplaced) return;
  const stock = tf.getGradient('FusedBatchNorm');
  if (stock === undefined) throw new Error('tfjs has no gradient registered for FusedBatchNorm');
  tf.registerGradient({
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      const grads = stock.gradFunc(dy as tf.Tensor, saved, attrs);
      const [x, , variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      const inputGradient = () =>
        tf.reshape(tf.mul(tf.mul(dy as tf.Tensor, tf.rsqrt(tf.add(variance, epsilon))), scale ?? 1), x.shape);
      return { ...grads, x: inputGradient };
    },
  });
  batchNormGradientReplaced = true;
}
