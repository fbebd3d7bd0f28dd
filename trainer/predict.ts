// Runs a saved model on one window: the forecast's only use of TensorFlow.js, loaded on demand by its callers.
import * as tf from '@tensorflow/tfjs';
import { CorruptModelError, InputError } from '../shared/errors.ts';
import { checkFits, type LatestWindow, ModelPreprocessing, scaleWindow } from '../shared/forecast.ts';
import { TRIAL_FILES } from '../shared/names.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { parseJson, parseWith } from '../shared/validate.ts';
import { loadModel } from './artifacts.ts';
import { selectBackend } from './backend.ts';

/** The scaler and feature list saved beside a model's weights; `where` names the model in errors. */
export async function readPreprocessing(
  store: ObjectStore,
  prefix: string,
  where: string,
): Promise<ModelPreprocessing> {
  const key = prefix + TRIAL_FILES.preprocessing;
  if (!(await store.exists(prefix + TRIAL_FILES.model)))
    throw new InputError(`${where}: no ${TRIAL_FILES.model} there`);
  if (!(await store.exists(key)))
    throw new InputError(
      `${where}: no ${TRIAL_FILES.preprocessing} beside the weights (a model from before forecasts existed): promote a newer one`,
    );
  const text = (await store.read(key)).toString('utf8');
  return parseWith(
    ModelPreprocessing,
    parseJson(text, `${where}${TRIAL_FILES.preprocessing}`),
    `${where}${TRIAL_FILES.preprocessing}`,
  );
}

/** P(up) for the bar after the window's last one, from the model saved under `prefix`. */
export async function predictProbability(
  store: ObjectStore,
  prefix: string,
  preprocessing: ModelPreprocessing,
  input: LatestWindow,
  where: string,
): Promise<number> {
  checkFits(preprocessing, input, where);
  const [probability] = await predictProbabilities(
    store,
    prefix,
    preprocessing,
    scaleWindow(preprocessing, input),
    where,
  );
  return probability!;
}

/**
 * P(up) for each of a batch of scaled windows ([n, sequenceLength, features] flattened), from the model saved under
 * `prefix`. A model whose head is not one sigmoid unit loads but answers nothing usable: that is a CorruptModelError.
 */
export async function predictProbabilities(
  store: ObjectStore,
  prefix: string,
  preprocessing: ModelPreprocessing,
  windows: Float32Array,
  where: string,
): Promise<Float32Array> {
  const { sequenceLength: L, features } = preprocessing;
  const n = windows.length / (L * features.length);
  await selectBackend();
  const model = await loadModel(store, prefix);
  const x = tf.tensor3d(windows, [n, L, features.length]);
  try {
    const y = model.predict(x, { batchSize: 256 }) as tf.Tensor;
    const probabilities = (await y.data()) as Float32Array;
    y.dispose();
    const bad = probabilities.findIndex((p) => !(p >= 0 && p <= 1));
    if (probabilities.length !== n || bad >= 0)
      throw new CorruptModelError(
        `${where}: the model answered ${probabilities.length === n ? probabilities[bad] : `${probabilities.length} values for ${n} windows`} where a probability belongs`,
      );
    return probabilities;
  } finally {
    x.dispose();
    model.dispose();
  }
}
