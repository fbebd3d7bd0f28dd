/**
 * The model's architecture, declared once. `buildModel` (model.ts) builds the tfjs model from this list, and the
 * fused training step (fused-training.ts) reads the built model back into the same vocabulary (`readArchitecture`)
 * and either runs what it finds or says why it cannot. Nothing else states the layers, their sizes or activations.
 */
import type { TrainingConfig } from '../shared/config.ts';

/** tfjs activation identifiers the declaration uses. */
export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'hardSigmoid' | 'elu' | 'softmax';

export type LayerSpec =
  | {
      kind: 'lstm';
      name: string;
      units: number;
      returnSequences: boolean;
      activation: Activation;
      recurrentActivation: Activation;
      l2: number;
    }
  | { kind: 'dropout'; name: string; rate: number }
  | { kind: 'batchNorm'; name: string }
  /** One score per time step (Dense(1, activation)), softmax over the steps, the sequence scaled by its weights. */
  | { kind: 'attention'; name: string; activation: Activation }
  | { kind: 'dense'; name: string; units: number; activation: Activation; l2: number };

/** The L2 factor of the regularized kernels. */
const L2 = 1e-3;

/**
 * The reference "LSTM with attention", layer for layer. Activations are Keras's defaults where tfjs's differ
 * (sigmoid gates).
 */
export function referenceArchitecture(config: TrainingConfig): LayerSpec[] {
  const [u1, u2, u3] = config.lstmUnits;
  const lstm = (name: string, units: number, returnSequences: boolean): LayerSpec => ({
    kind: 'lstm',
    name,
    units,
    returnSequences,
    activation: 'tanh',
    recurrentActivation: 'sigmoid',
    l2: L2,
  });
  const dropout = (name: string, rate: number): LayerSpec => ({ kind: 'dropout', name, rate });
  return [
    lstm('lstm_1', u1, true),
    dropout('dropout_1', config.dropout),
    { kind: 'batchNorm', name: 'batch_norm_1' },
    lstm('lstm_2', u2, true),
    dropout('dropout_2', config.dropout),
    { kind: 'batchNorm', name: 'batch_norm_2' },
    { kind: 'attention', name: 'attention', activation: 'tanh' },
    lstm('lstm_3', u3, false),
    dropout('dropout_3', config.dropout),
    { kind: 'dense', name: 'dense_64', units: 64, activation: 'relu', l2: L2 },
    dropout('dropout_4', 0.2),
    { kind: 'dense', name: 'dense_32', units: 32, activation: 'relu', l2: 0 },
    dropout('dropout_5', 0.2),
    { kind: 'dense', name: 'up_probability', units: 1, activation: 'sigmoid', l2: 0 },
  ];
}
