/**
 * One walk-forward fold's training loop: epochs of shuffled batches through the fold trainer (the fused step or
 * tfjs), validation, early stopping and learning-rate reduction, the best epoch's weights kept.
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_PATIENCE } from '../shared/config.ts';
import type { TrainingRequest } from '../shared/messages.ts';
import { binaryCrossEntropy } from '../shared/metrics.ts';
import type { Logger } from '../shared/ports.ts';
import type { EpochProgress } from '../shared/progress.ts';
import type { EpochRecord } from './artifacts.ts';
import { EarlyStopping, ReduceLrOnPlateau } from './callbacks.ts';
import { foldTrainer } from './fold-trainer.ts';
import { buildModel } from './model.ts';

/** What one fold's loop knows of an epoch; the pace is added over the whole trial. */
export type FoldEpoch = Omit<EpochProgress, 'secondsPerEpoch' | 'remainingSeconds'>;

/** A fold's model with its best epoch's weights, its history and its validation windows' probabilities. */
export type Fitted = {
  model: tf.LayersModel;
  history: EpochRecord[];
  bestEpoch: number;
  valLoss: number;
  probabilities: number[];
};

/**
 * Trains a fresh model on one fold's training windows [0, block.start) and validates it on [block.start, block.end)
 * every epoch, with early stopping and learning-rate reduction on plateau.
 */
export async function fitFold(
  request: TrainingRequest,
  X: Float32Array,
  y: Float32Array,
  block: { start: number; end: number },
  shape: { L: number; F: number },
  onEpoch: (p: FoldEpoch) => Promise<void>,
  log: Logger | undefined,
): Promise<Fitted> {
  const { config } = request;
  const { L, F } = shape;
  const nTrain = block.start;
  const model = buildModel(config, L, F, request.seed);
  let lr = config.learningRate;
  const trainer = foldTrainer(model, { X, y, validation: block, shape }, lr, log);
  const stopping = new EarlyStopping(config.patience ?? DEFAULT_PATIENCE);
  const plateau = new ReduceLrOnPlateau(0.5, 7, 1e-7);
  const history: EpochRecord[] = [];
  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const epochStarted = performance.now();
      const order = Array.from({ length: nTrain }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      let accSum = 0;
      for (let b = 0; b < nTrain; b += config.batchSize) {
        const batch = order.slice(b, b + config.batchSize);
        const { loss, accuracy } = await trainer.trainBatch(batch);
        lossSum += loss * batch.length;
        accSum += accuracy * batch.length;
      }
      const { loss: valLoss, accuracy: valAccuracy } = await trainer.evaluate();
      if (!Number.isFinite(valLoss) || !Number.isFinite(lossSum)) {
        throw new Error(
          `training diverged at epoch ${epoch} (loss ${lossSum / nTrain}, val_loss ${valLoss})`,
        );
      }
      history.push({
        epoch,
        loss: lossSum / nTrain,
        val_loss: valLoss,
        accuracy: accSum / nTrain,
        val_accuracy: valAccuracy,
        lr,
      });
      const { improved, stop } = stopping.update(epoch, valLoss);
      if (improved) trainer.keepBest();
      await onEpoch({
        epoch,
        epochs: config.epochs,
        loss: lossSum / nTrain,
        valLoss,
        bestValLoss: stopping.best,
        lr,
        seconds: (performance.now() - epochStarted) / 1000,
      });
      lr = plateau.update(valLoss, lr);
      trainer.setLearningRate(lr);
      if (stop) break;
    }
    // The best epoch's weights (batch-norm statistics included) are what is evaluated and saved: by the stock tfjs
    // model from here on, whichever way it was trained.
    trainer.finish();
    const probabilities = tf.tidy(() => {
      const xVal = tf.tensor3d(X.subarray(block.start * L * F, block.end * L * F), [
        block.end - block.start,
        L,
        F,
      ]);
      return Array.from((model.predict(xVal, { batchSize: 256 }) as tf.Tensor).dataSync());
    });
    const { loss: valLoss } = binaryCrossEntropy(y.subarray(block.start, block.end), probabilities);
    return { model, history, bestEpoch: stopping.bestEpoch, valLoss, probabilities };
  } catch (error) {
    trainer.finish(); // frees what the trainer holds; the model goes with it
    model.dispose();
    throw error;
  }
}
