import { posix } from 'node:path';
import { checkRunBudget, dailyHold, runHours, trialHours } from '../shared/budget.ts';
import { checkGridAllowed, DEFAULT_GRID, Grid } from '../shared/config.ts';
import { buildDataset, walkForwardFolds } from '../shared/dataset.ts';
import { type RunDoc, TrialDoc } from '../shared/documents.ts';
import { boundedText, InputError, isPermanent, messageOf } from '../shared/errors.ts';
import { planRun, trainsOnGpu } from '../shared/estimate.ts';
import type { CloudEventLike, StorageObjectData } from '../shared/events.ts';
import type { TrainingRequest } from '../shared/messages.ts';
import {
  DATASET_FILES,
  DOCS,
  GRID_DEFAULT_KEY,
  gridKeyFor,
  isForecastCsv,
  isIncomingCsv,
  PATHS,
  TOPICS,
} from '../shared/names.ts';
import type { Deps, ObjectStore } from '../shared/ports.ts';
import { readRun, readTrials } from '../shared/records.ts';
import { deriveRunId } from '../shared/run-id.ts';
import { parseJson, parseWith } from '../shared/validate.ts';
import { hoursCommittedOn } from './budget.ts';
import { routeForecast } from './forecast.ts';
import { writeIndexPage } from './index-page.ts';
import { nowIso } from './pubsub.ts';
import { queueOrder, writeQueueEntry } from './queue.ts';
import { writeRunReport } from './report.ts';
import { scoreForecastUpload, scoreStoredForecasts } from './track-record.ts';

/** The grid a CSV trains with: `incoming/<name>.grid.json` beside it, else the bucket's `config/grid.json`, else the default. */
async function loadGrid(store: ObjectStore, csvKey: string): Promise<{ grid: Grid; where: string }> {
  for (const key of [gridKeyFor(csvKey), GRID_DEFAULT_KEY]) {
    if (await store.exists(key)) {
      const text = (await store.readLimited(key, 1024 * 1024)).toString('utf8');
      return { grid: parseWith(Grid, parseJson(text, key), key), where: key };
    }
  }
  return { grid: DEFAULT_GRID, where: 'the default grid' };
}

function newRun(runId: string, object: StorageObjectData, deps: Deps): RunDoc {
  const now = nowIso();
  return {
    runId,
    status: 'ingesting',
    source: { bucket: object.bucket, object: object.name, generation: String(object.generation) },
    symbol: null,
    timeframe: null,
    configs: [],
    gate: true,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
    deadline: new Date(Date.now() + deps.settings.TRENDCAST_RUN_DEADLINE_MINUTES * 60_000).toISOString(),
    error: null,
    dataset: null,
    reason: null,
    ranking: [],
    promotion: null,
    waiting: null,
  };
}

/**
 * Ends an upload's run as `failed` with the reason: a refused CSV, or an ingest that failed on every delivery.
 * Creates the run document if the ingest never got that far; leaves a run that is already past ingesting alone.
 */
export async function failIngest(
  event: CloudEventLike<StorageObjectData>,
  deps: Deps,
  error: string,
): Promise<void> {
  const object = event.data!;
  const runId = deriveRunId(object.bucket, object.name, String(object.generation));
  // Bounded here too: a reason from anywhere must fit a document (Firestore refuses over 1 MiB) and a report.
  const reason = boundedText(error);
  await deps.docs.runTransaction(async (tx) => {
    const run = (await readRun(tx, runId)) ?? newRun(runId, object, deps);
    if (run.status !== 'ingesting') return;
    const t = nowIso();
    tx.set(DOCS.run(runId), {
      ...run,
      status: 'failed',
      error: reason,
      finishedAt: t,
      updatedAt: t,
    } satisfies RunDoc);
  });
  deps.log.warn(`run failed: ${reason}`, { runId });
  await writeRunReport(runId, deps);
  await writeIndexPage(deps); // it lists refused uploads
}

/**
 * `google.cloud.storage.object.v1.finalized` on `incoming/*.csv`: validate the CSV, build the dataset, create the run
 * and its trials, and publish one TrainingRequest per config. A bad CSV ends as a `failed` run, with nothing written
 * under `datasets/` and nothing published. A redelivered event resumes an unfinished ingest or does nothing.
 */
export async function ingest(event: CloudEventLike<StorageObjectData>, deps: Deps): Promise<void> {
  const object = event.data;
  if (!object?.name || !object.bucket) {
    deps.log.warn(`ignoring event ${event.id}: no object in it`);
    return;
  }
  if (isForecastCsv(object.name)) {
    await scoreForecastUpload(object, deps);
    await routeForecast(object, deps);
    return;
  }
  if (!isIncomingCsv(object.name)) {
    deps.log.debug(`ignoring ${object.name}: not a CSV under ${PATHS.incomingPrefix}`);
    return;
  }
  const runId = deriveRunId(object.bucket, object.name, String(object.generation));
  const log = deps.log.child({ runId });
  if (!(await deps.docs.create(DOCS.run(runId), newRun(runId, object, deps)))) {
    const existing = await readRun(deps.docs, runId);
    if (existing?.status !== 'ingesting') {
      log.info(`${object.name} was already ingested (run ${existing?.status}); nothing to do`);
      return;
    }
    log.info('resuming an ingest that did not finish');
  }
  log.info(`ingesting gs://${object.bucket}/${object.name}`);

  let grid: Grid;
  let gateOff: string | null;
  let dataset: ReturnType<typeof buildDataset>;
  let plan: ReturnType<typeof planRun>;
  let budget: NonNullable<RunDoc['budget']>;
  let hold: ReturnType<typeof dailyHold>;
  try {
    const limit = deps.settings.TRENDCAST_MAX_UPLOAD_BYTES;
    // The event says how big this generation is: refuse it before any read.
    if (object.size !== undefined && Number(object.size) > limit)
      throw new InputError(
        `${object.name}: ${object.size} bytes is over the upload limit of ${limit} bytes (TRENDCAST_MAX_UPLOAD_BYTES)`,
      );
    // The generation the event names, not the newest: the run id is derived from it, and the object may since
    // have been overwritten.
    const bytes = await deps.store.readLimited(object.name, limit, {
      generation: String(object.generation),
    });
    dataset = buildDataset({ bytes, fileName: posix.basename(object.name) });
    // Whatever becomes of this run (its grid or budget may still refuse it), its bars settle the stored forecasts
    // they can.
    await scoreStoredForecasts(dataset.series, object.name, deps);
    const loaded = await loadGrid(deps.store, object.name);
    grid = loaded.grid;
    ({ gateOff } = checkGridAllowed(grid, deps.settings, loaded.where));
    // refuses folds the history cannot hold
    const folds = walkForwardFolds(dataset.manifest.counts.windows, grid.evaluation.folds).blocks;
    const { manifest } = dataset;
    plan = planRun(
      { configs: grid.configs, folds },
      { ...manifest, features: manifest.features.length },
      {
        trialsAtOnce: deps.launcher.capacity,
        onGpu: trainsOnGpu(deps.settings),
        warnSeconds: deps.settings.TRENDCAST_ESTIMATE_WARN_MINUTES * 60,
      },
    );
    // The budget, before anything is written or queued: over the run limit fails the run; over what is left of
    // today's budget holds its jobs until the next UTC day.
    const estimateHours = runHours(plan.estimate, deps.settings);
    checkRunBudget(estimateHours, deps.settings, `${object.name} with ${loaded.where}`);
    const now = nowIso();
    const committed = await hoursCommittedOn(
      deps.docs,
      now,
      deps.settings.TRENDCAST_RUN_DEADLINE_MINUTES,
      runId,
    );
    hold = dailyHold(estimateHours, committed, deps.settings, now);
    budget = {
      estimateHours,
      trialHours: Object.fromEntries(
        plan.estimate.trials.map((t) => [t.config, trialHours(t.seconds, deps.settings)]),
      ),
      runLimitHours: deps.settings.TRENDCAST_MAX_RUN_HOURS,
      dailyLimitHours: deps.settings.TRENDCAST_MAX_DAILY_HOURS,
      committedTodayHours: committed,
      notBefore: hold?.notBefore ?? null,
    };
  } catch (error) {
    if (!isPermanent(error)) throw error; // transient: ask for redelivery
    await failIngest(event, deps, messageOf(error));
    return;
  }

  // dataset.json goes last: a folder that has it is complete.
  const datasetPrefix = PATHS.dataset(runId);
  const order = [
    DATASET_FILES.features,
    DATASET_FILES.X,
    DATASET_FILES.y,
    DATASET_FILES.windows,
    DATASET_FILES.latest,
    DATASET_FILES.manifest,
  ] as const;
  for (const name of order) {
    const data = dataset.files[name];
    if (typeof data === 'string' || Buffer.isBuffer(data)) await deps.store.write(datasetPrefix + name, data);
    else await deps.store.writeStream(datasetPrefix + name, data);
  }

  const { manifest } = dataset;
  const datasetUri = deps.store.baseUri + datasetPrefix;
  const requests: TrainingRequest[] = grid.configs.map((config, i) => ({
    runId,
    config,
    datasetUri,
    outputUri: deps.store.baseUri + PATHS.trial(runId, config.name),
    ...(grid.seed !== undefined ? { seed: grid.seed } : {}),
    evaluation: grid.evaluation,
    estimatedSeconds: plan.estimate.trials[i]!.seconds,
  }));
  for (const warning of plan.warnings) log.warn(warning);
  if (hold) log.warn(hold.reason);

  // The run, its trials and their places in the training queue, in one transaction.
  await deps.docs.runTransaction(async (tx) => {
    const run = await readRun(tx, runId);
    const existing = await readTrials(tx, runId);
    if (run?.status !== 'ingesting') return;
    const t = nowIso();
    tx.set(
      DOCS.run(runId),
      {
        symbol: manifest.symbol,
        timeframe: manifest.timeframe,
        configs: grid.configs.map((c) => c.name),
        gate: grid.gate,
        gateOff,
        evaluation: grid.evaluation,
        dataset: {
          uri: datasetUri,
          counts: manifest.counts,
          upShare: manifest.counts.windows ? manifest.counts.up / manifest.counts.windows : 0,
          firstTimestamp: manifest.firstTimestamp,
          lastTimestamp: manifest.lastTimestamp,
        },
        ...plan,
        budget,
        waiting: hold?.reason ?? null,
        // A held run gets its whole deadline from when its jobs may start, not from the upload.
        ...(hold
          ? {
              deadline: new Date(
                Date.parse(hold.notBefore) + deps.settings.TRENDCAST_RUN_DEADLINE_MINUTES * 60_000,
              ).toISOString(),
            }
          : {}),
        updatedAt: t,
      },
      { merge: true },
    );
    for (const [position, request] of requests.entries()) {
      const config = request.config;
      if (existing.some((e) => e.config === config.name)) continue;
      const trial = TrialDoc.parse({
        runId,
        config: config.name,
        status: 'queued',
        hyperparameters: config,
        jobId: null,
        createdAt: t,
        updatedAt: t,
        startedAt: null,
        finishedAt: null,
        metrics: null,
        artifacts: null,
        error: null,
        request,
        // A trial the daily budget holds takes its place in the queue from the day it may start.
        queueOrder: queueOrder(hold?.notBefore ?? t, position),
        waiting: hold?.reason ?? null,
        notBefore: hold?.notBefore ?? null,
      });
      tx.create(DOCS.trial(runId, config.name), trial);
      writeQueueEntry(tx, trial);
    }
  });

  for (const request of requests) {
    await deps.bus.publish(TOPICS.trainingRequests, request, { runId, config: request.config.name });
  }
  // Only now is the run `training`: a crash before this point is redelivered and publishes again (the launcher dedupes).
  await deps.docs.runTransaction(async (tx) => {
    const run = await readRun(tx, runId);
    if (run?.status === 'ingesting')
      tx.set(DOCS.run(runId), { status: 'training', updatedAt: nowIso() }, { merge: true });
  });
  log.info(
    `${manifest.symbol} ${manifest.timeframe}: ${manifest.counts.windows} windows (${manifest.counts.train} train, ` +
      `${manifest.counts.validation} validation); published ${requests.length} training requests`,
  );
}
