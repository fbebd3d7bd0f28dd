// The champion's evaluation on a run's windows: loaded on demand by the decision (like the forecast), so the functions
// that never decide load no TensorFlow.js.
import { periodsPerYear } from '../shared/backtest.ts';
import { championInputs, championMetrics } from '../shared/champion.ts';
import { DEFAULT_EVALUATION } from '../shared/config.ts';
import { parseFeatureRows, walkForwardFolds } from '../shared/dataset.ts';
import type { ChampionMetrics, RunDoc } from '../shared/documents.ts';
import { InputError } from '../shared/errors.ts';
import { DATASET_FILES } from '../shared/names.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { readDataset } from './dataset.ts';
import { predictProbabilities, readPreprocessing } from './predict.ts';

/**
 * The model saved under `modelPrefix`, with its own preprocessing, on the run's out-of-sample windows (every
 * walk-forward block, as the trials are pooled): the same metrics, p-value, interval and backtest as a trial's.
 * Refuses (InputError) a model that cannot be judged on these windows: other features, no preprocessing, windows
 * longer than the history before the first validation window.
 */
export async function evaluateChampion(
  store: ObjectStore,
  modelPrefix: string,
  run: RunDoc,
  where: string,
): Promise<ChampionMetrics> {
  if (!run.dataset) throw new InputError(`run ${run.runId} has no dataset`);
  const preprocessing = await readPreprocessing(store, modelPrefix, where);
  const datasetPrefix = run.dataset.uri.startsWith(store.baseUri)
    ? run.dataset.uri.slice(store.baseUri.length)
    : undefined;
  if (datasetPrefix === undefined)
    throw new InputError(`run ${run.runId}: its dataset ${run.dataset.uri} is not in ${store.baseUri}`);
  const { manifest, y, bars, featuresCsv } = await readDataset(store, datasetPrefix, run.dataset.uri);
  if (preprocessing.features.join() !== manifest.features.join())
    throw new InputError(`${where} was trained on other features than this run's dataset has`);
  const evaluation = run.evaluation ?? DEFAULT_EVALUATION;
  const { windows } = manifest.counts;
  const { initialTrain } = walkForwardFolds(windows, evaluation.folds);
  const raw = parseFeatureRows(await featuresCsv(), `${run.dataset.uri}${DATASET_FILES.features}`);
  const inputs = championInputs(
    raw,
    manifest.sequenceLength,
    preprocessing,
    { from: initialTrain, to: windows },
    where,
  );
  const probabilities = await predictProbabilities(store, modelPrefix, preprocessing, inputs, where);
  return championMetrics(
    y.subarray(initialTrain),
    probabilities,
    { close: bars.close.slice(initialTrain), nextClose: bars.nextClose.slice(initialTrain) },
    { ...evaluation, periodsPerYear: periodsPerYear(manifest.timeframe) },
  );
}
