import * as tf from '@tensorflow/tfjs';
import type { TrainingConfig } from '../shared/config.ts';
import { fastRepeatVector, useFastBatchNormGradient } from './fast-layers.ts';
import { fastLstm, KERAS_LSTM_DEFAULTS } from './fast-lstm.ts';

const L2 = 1e-3;

/**
 * The reference "LSTM with attention", layer for layer:
 * LSTM(u1) → Dropout → BatchNorm → LSTM(u2) → Dropout → BatchNorm → attention (Dense(1, tanh) per step → Flatten →
 * softmax over the steps → RepeatVector(u2) → Permute(2,1) → Multiply with the LSTM(u2) output) → LSTM(u3) → Dropout →
 * Dense(64, relu) → Dropout(0.2) → Dense(32, relu) → Dropout(0.2) → Dense(1, sigmoid).
 * The LSTMs are fastLstm and the RepeatVector fastRepeatVector (faster training steps; saved as the standard tfjs
 * layers); every layer takes Keras's
 * defaults where tfjs's differ (sigmoid gates, glorotUniform kernels, unit forget bias).
 */
export function buildModel(
  config: TrainingConfig,
  sequenceLength: number,
  featureCount: number,
  seed?: number,
): tf.LayersModel {
  useFastBatchNormGradient();
  const [u1, u2, u3] = config.lstmUnits;
  const l2 = () => tf.regularizers.l2({ l2: L2 });
  // With a seed, every random initializer gets its own seed derived from it. Dropout layers are left unseeded on
  // purpose: a seeded tfjs dropout draws the same mask on every batch; runTraining seeds Math.random instead.
  const glorot = (offset: number) =>
    seed === undefined ? 'glorotUniform' : tf.initializers.glorotUniform({ seed: seed + offset });
  const lstmSeed = (offset: number) => (seed === undefined ? {} : { seed: seed + offset });
  const input = tf.input({ shape: [sequenceLength, featureCount], name: 'windows' });

  let x = fastLstm({
    ...KERAS_LSTM_DEFAULTS,
    units: u1,
    returnSequences: true,
    kernelRegularizer: l2(),
    ...lstmSeed(10),
    name: 'lstm_1',
  }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: config.dropout, name: 'dropout_1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'batch_norm_1' }).apply(x) as tf.SymbolicTensor;
  x = fastLstm({
    ...KERAS_LSTM_DEFAULTS,
    units: u2,
    returnSequences: true,
    kernelRegularizer: l2(),
    ...lstmSeed(20),
    name: 'lstm_2',
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: config.dropout, name: 'dropout_2' }).apply(x) as tf.SymbolicTensor;
  const sequence = tf.layers.batchNormalization({ name: 'batch_norm_2' }).apply(x) as tf.SymbolicTensor;

  // Attention: one score per time step, softmax over the steps, the weights applied to every unit of the sequence.
  let attention = tf.layers
    .dense({ units: 1, activation: 'tanh', kernelInitializer: glorot(41), name: 'attention_score' })
    .apply(sequence) as tf.SymbolicTensor;
  attention = tf.layers.flatten({ name: 'attention_flatten' }).apply(attention) as tf.SymbolicTensor;
  attention = tf.layers
    .activation({ activation: 'softmax', name: 'attention_weights' })
    .apply(attention) as tf.SymbolicTensor;
  attention = fastRepeatVector({ n: u2, name: 'attention_repeat' }).apply(attention) as tf.SymbolicTensor;
  attention = tf.layers
    .permute({ dims: [2, 1], name: 'attention_permute' })
    .apply(attention) as tf.SymbolicTensor;
  x = tf.layers.multiply({ name: 'attention_apply' }).apply([sequence, attention]) as tf.SymbolicTensor;

  x = fastLstm({
    ...KERAS_LSTM_DEFAULTS,
    units: u3,
    returnSequences: false,
    kernelRegularizer: l2(),
    ...lstmSeed(30),
    name: 'lstm_3',
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: config.dropout, name: 'dropout_3' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({
      units: 64,
      activation: 'relu',
      kernelInitializer: glorot(42),
      kernelRegularizer: l2(),
      name: 'dense_64',
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.2, name: 'dropout_4' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: 32, activation: 'relu', kernelInitializer: glorot(43), name: 'dense_32' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.2, name: 'dropout_5' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: 1, activation: 'sigmoid', kernelInitializer: glorot(44), name: 'up_probability' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: `trendcast_${config.name}` });
}
