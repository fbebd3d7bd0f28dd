// Forecasts with a symbol's current model. ingest and the collector only publish a request (this module loads no
// TensorFlow.js when imported, so their cold starts stay small); the `forecaster` handler loads it on its first event.
import { posix } from 'node:path';
import { parsePriceCsv } from '../shared/csv.ts';
import {
  FORECAST_HISTORY,
  type Forecast,
  type ForecastAttempt,
  type ForecastDoc,
} from '../shared/documents.ts';
import { boundedText, InputError, isPermanent, messageOf } from '../shared/errors.ts';
import type { StorageObjectData } from '../shared/events.ts';
import {
  type LatestWindow,
  LatestWindow as LatestWindowSchema,
  latestWindow,
  signalOf,
} from '../shared/forecast.ts';
import { ForecastRequest } from '../shared/messages.ts';
import { DATASET_FILES, DOCS, PATHS, TOPICS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readForecast, readModel, readRun } from '../shared/records.ts';
import { deriveRunId } from '../shared/run-id.ts';
import { forecastKey } from '../shared/track-record.ts';
import { parseJson, parseWith } from '../shared/validate.ts';
import { writeIndexPage } from './index-page.ts';
import { nowIso, onMessage } from './pubsub.ts';
import { writeRunReport } from './report.ts';

/** ingest's route for a CSV dropped under `forecast/`: a forecast request, no run, no training. */
export async function routeForecast(object: StorageObjectData, deps: Deps): Promise<void> {
  const request: ForecastRequest = {
    kind: 'upload',
    bucket: object.bucket,
    object: object.name,
    generation: String(object.generation),
  };
  await deps.bus.publish(TOPICS.forecastRequests, request, { object: object.name });
  deps.log.info(`forecast requested for gs://${object.bucket}/${object.name}`);
}

/** After a run ends: forecast the next bar of its CSV with whatever model is current then (promoted or kept). */
export async function requestRunForecast(runId: string, deps: Deps): Promise<void> {
  const request: ForecastRequest = { kind: 'run', runId };
  await deps.bus.publish(TOPICS.forecastRequests, request, { runId });
}

/** One id per request, so a redelivered request finds its attempt and does nothing. */
const attemptIdOf = (request: ForecastRequest) =>
  request.kind === 'run'
    ? `after-${request.runId}`
    : deriveRunId(request.bucket, request.object, request.generation).replace(/^run-/, 'upload-');

/** The bars to forecast from: their symbol and timeframe, and the window of a given length ending on the last bar. */
type Bars = {
  symbol: string;
  timeframe: string;
  source: string;
  runId: string | null;
  window: (sequenceLength: number) => Promise<LatestWindow>;
};

async function barsOf(request: ForecastRequest, deps: Deps): Promise<Bars | undefined> {
  if (request.kind === 'upload') {
    const bytes = await deps.store.readLimited(request.object, deps.settings.TRENDCAST_MAX_UPLOAD_BYTES, {
      generation: request.generation,
    });
    const series = parsePriceCsv(bytes, posix.basename(request.object));
    return {
      symbol: series.symbol,
      timeframe: series.timeframe,
      source: request.object,
      runId: null,
      window: async (L) => latestWindow(series, L),
    };
  }
  const run = await readRun(deps.docs, request.runId);
  if (!run?.symbol || !run.timeframe) return undefined;
  const key = PATHS.dataset(run.runId) + DATASET_FILES.latest;
  // Read only once a model is known to exist: a run that leaves none has nothing to forecast with.
  const window = async () => {
    if (!(await deps.store.exists(key)))
      throw new InputError(
        `${key} is missing (a dataset made before forecasts existed): nothing to forecast from`,
      );
    const text = (await deps.store.read(key)).toString('utf8');
    return parseWith(LatestWindowSchema, parseJson(text, key), key);
  };
  return {
    symbol: run.symbol,
    timeframe: run.timeframe,
    source: run.source.object,
    runId: run.runId,
    window,
  };
}

/**
 * `forecast-requests`: the current model's P(up) for the bar after the CSV's last one, written to
 * `forecasts/{symbol}_{timeframe}` (latest and history). A refused input ends as a failed attempt with the reason;
 * the model is only read, never written.
 */
export const forecaster = onMessage(ForecastRequest, 'forecast request', async (request, deps) => {
  await makeForecast(request, deps);
  // A run's report and the index page show the forecast, so they are written once it is in (or known not to be).
  if (request.kind === 'run') await writeRunReport(request.runId, deps);
  await writeIndexPage(deps);
});

/**
 * A forecast request Pub/Sub gave up on (dead-lettered): its attempt is recorded as failed with why, unless one is
 * recorded already, and what the forecaster would have written after it (the run's report, the index) is written.
 */
export async function abandonForecast(request: ForecastRequest, why: string, deps: Deps): Promise<void> {
  const attemptId = attemptIdOf(request);
  const error = boundedText(`the forecast could not be made: ${why}`);
  const created = await deps.docs.create(DOCS.forecastAttempt(attemptId), {
    attemptId,
    status: 'failed',
    runId: request.kind === 'run' ? request.runId : null,
    source: request.kind === 'upload' ? request.object : `run ${request.runId}`,
    symbol: null,
    timeframe: null,
    forecast: null,
    error,
    createdAt: nowIso(),
  } satisfies ForecastAttempt);
  if (created) deps.log.error(error, { forecast: attemptId });
  else deps.log.warn('dead-lettered forecast request left alone: its attempt is already recorded');
  if (request.kind === 'run') await writeRunReport(request.runId, deps);
  await writeIndexPage(deps);
}

async function makeForecast(request: ForecastRequest, deps: Deps): Promise<void> {
  const attemptId = attemptIdOf(request);
  const log = deps.log.child({ forecast: attemptId });
  if (await deps.docs.get(DOCS.forecastAttempt(attemptId))) {
    log.info('this forecast was already attempted; nothing to do');
    return;
  }
  const source = request.kind === 'upload' ? request.object : `run ${request.runId}`;
  let bars: Bars | undefined;
  let forecast: Forecast;
  try {
    bars = await barsOf(request, deps);
    if (!bars) {
      log.warn(`run ${request.kind === 'run' ? request.runId : ''} has no dataset; no forecast`);
      return;
    }
    const model = await readModel(deps.docs, bars.symbol, bars.timeframe);
    if (!model?.current) {
      // After a run that promoted nothing and found no model, there is nothing to forecast with: not a failure.
      if (request.kind === 'run') return;
      throw new InputError(
        `no current model for ${bars.symbol} ${bars.timeframe}: train one first (drop the CSV under ${PATHS.incomingPrefix})`,
      );
    }
    const { version } = model.current;
    const prefix = PATHS.modelVersion(bars.symbol, bars.timeframe, version);
    const where = `model ${bars.symbol} ${bars.timeframe} v${version}`;
    const { readPreprocessing, predictProbability } = await import('../trainer/predict.ts');
    const preprocessing = await readPreprocessing(deps.store, prefix, where);
    const input = await bars.window(preprocessing.sequenceLength);
    const probabilityUp = await predictProbability(deps.store, prefix, preprocessing, input, where);
    forecast = {
      asOf: input.asOf,
      ...(input.close !== undefined ? { close: input.close } : {}),
      probabilityUp,
      signal: signalOf(probabilityUp, preprocessing.threshold),
      threshold: preprocessing.threshold,
      modelVersion: version,
      runId: bars.runId,
      source: bars.source,
      createdAt: nowIso(),
    };
  } catch (error) {
    if (!isPermanent(error)) throw error; // transient: ask for redelivery
    const name = request.kind === 'upload' ? posix.basename(request.object) : '';
    const message = messageOf(error);
    const reason = boundedText(name && !message.includes(name) ? `${name}: ${message}` : message);
    const failed: ForecastAttempt = {
      attemptId,
      status: 'failed',
      runId: request.kind === 'run' ? request.runId : null,
      source: bars?.source ?? source,
      symbol: bars?.symbol ?? null,
      timeframe: bars?.timeframe ?? null,
      forecast: null,
      error: reason,
      createdAt: nowIso(),
    };
    await deps.docs.create(DOCS.forecastAttempt(attemptId), failed);
    log.warn(`forecast failed: ${reason}`);
    return;
  }

  const { symbol, timeframe } = bars;
  await deps.docs.runTransaction(async (tx) => {
    if (await tx.get(DOCS.forecastAttempt(attemptId))) return;
    const doc = await readForecast(tx, symbol, timeframe);
    tx.create(DOCS.forecastAttempt(attemptId), {
      attemptId,
      status: 'succeeded',
      runId: forecast.runId,
      source: forecast.source,
      symbol,
      timeframe,
      forecast,
      error: null,
      createdAt: forecast.createdAt,
    } satisfies ForecastAttempt);
    // The same model on the same bar answers the same: a repeat becomes the latest (with the outcome its first
    // copy may have), but not a second history entry, which would be scored and counted twice.
    const repeat = doc?.history.find((h) => forecastKey(h) === forecastKey(forecast));
    tx.set(DOCS.forecast(symbol, timeframe), {
      ...forecast,
      ...(repeat?.outcome ? { outcome: repeat.outcome } : {}),
      symbol,
      timeframe,
      history: repeat ? doc!.history : [...(doc?.history ?? []), forecast].slice(-FORECAST_HISTORY),
      updatedAt: forecast.createdAt,
    } satisfies ForecastDoc);
  });
  log.info(
    `${symbol} ${timeframe} after ${forecast.asOf}: ${forecast.signal} (P(up) ${forecast.probabilityUp.toFixed(4)}, model v${forecast.modelVersion})`,
  );
}
