import * as tf from '@tensorflow/tfjs';
import type { TrainingConfig } from '../shared/config.ts';
import { type LayerSpec, referenceArchitecture } from './architecture.ts';
import { fastLstm, KERAS_LSTM_DEFAULTS } from './engine/lstm-layer.ts';
import { fastRepeatVector, useFastBatchNormGradient } from './fast-layers.ts';

/**
 * The tfjs model of an architecture (the reference one of `config` unless given), one layer after the other. The
 * LSTMs are fastLstm and the attention's RepeatVector fastRepeatVector (faster training steps under tfjs; saved as
 * the standard tfjs layers); every layer takes Keras's defaults where tfjs's differ (glorotUniform kernels, unit
 * forget bias).
 */
export function buildModel(
  config: TrainingConfig,
  sequenceLength: number,
  featureCount: number,
  seed?: number,
  architecture: LayerSpec[] = referenceArchitecture(config),
): tf.LayersModel {
  useFastBatchNormGradient();
  // With a seed, every random initializer gets its own seed derived from it (the k-th LSTM seed + 10k, the
  // attention seed + 41, the k-th dense seed + 42 + k). Dropout layers are left unseeded on purpose: a seeded tfjs
  // dropout draws the same mask on every batch; runTraining seeds Math.random instead.
  const glorot = (offset: number) =>
    seed === undefined ? 'glorotUniform' : tf.initializers.glorotUniform({ seed: seed + offset });
  const l2 = (factor: number) => (factor === 0 ? undefined : tf.regularizers.l2({ l2: factor }));
  let lstmCount = 0;
  let denseCount = 0;
  const input = tf.input({ shape: [sequenceLength, featureCount], name: 'windows' });
  let x: tf.SymbolicTensor = input;
  const apply = (layer: tf.layers.Layer, inputs: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    layer.apply(inputs) as tf.SymbolicTensor;
  for (const spec of architecture) {
    switch (spec.kind) {
      case 'lstm':
        lstmCount++;
        x = apply(
          fastLstm({
            ...KERAS_LSTM_DEFAULTS,
            units: spec.units,
            returnSequences: spec.returnSequences,
            activation: spec.activation,
            recurrentActivation: spec.recurrentActivation,
            kernelRegularizer: l2(spec.l2),
            ...(seed === undefined ? {} : { seed: seed + 10 * lstmCount }),
            name: spec.name,
          }),
          x,
        );
        break;
      case 'dropout':
        x = apply(tf.layers.dropout({ rate: spec.rate, name: spec.name }), x);
        break;
      case 'batchNorm':
        x = apply(tf.layers.batchNormalization({ name: spec.name }), x);
        break;
      case 'attention': {
        const units = x.shape[2] as number;
        let weights = apply(
          tf.layers.dense({
            units: 1,
            activation: spec.activation,
            kernelInitializer: glorot(41),
            name: `${spec.name}_score`,
          }),
          x,
        );
        weights = apply(tf.layers.flatten({ name: `${spec.name}_flatten` }), weights);
        weights = apply(
          tf.layers.activation({ activation: 'softmax', name: `${spec.name}_weights` }),
          weights,
        );
        weights = apply(fastRepeatVector({ n: units, name: `${spec.name}_repeat` }), weights);
        weights = apply(tf.layers.permute({ dims: [2, 1], name: `${spec.name}_permute` }), weights);
        x = apply(tf.layers.multiply({ name: `${spec.name}_apply` }), [x, weights]);
        break;
      }
      case 'dense':
        x = apply(
          tf.layers.dense({
            units: spec.units,
            activation: spec.activation,
            kernelInitializer: glorot(42 + denseCount++),
            kernelRegularizer: l2(spec.l2),
            name: spec.name,
          }),
          x,
        );
        break;
    }
  }
  return tf.model({ inputs: input, outputs: x, name: `trendcast_${config.name}` });
}
