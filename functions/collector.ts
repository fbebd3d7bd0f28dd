import {
  FINAL_TRIAL_STATUSES,
  type ModelDoc,
  type ModelVersion,
  type RunDoc,
  type TrialDoc,
} from '../shared/documents.ts';
import { TrainingResult } from '../shared/messages.ts';
import { DOCS, PATHS } from '../shared/names.ts';
import { promoteBestTrial } from '../shared/promotion.ts';
import { InputError } from '../shared/validate.ts';
import { decodeMessage, nowIso } from './decode.ts';
import type { CloudEventLike, Deps, MessagePublishedData } from './deps.ts';
import { requestRunForecast } from './forecast.ts';

const OPEN_RUN_STATUSES: ReadonlySet<string> = new Set(['ingesting', 'training']);

/**
 * A TrainingResult from `training-results`: record the trial; when the run's last trial is in, decide the run in one
 * transaction (exactly one decision however often and however simultaneously results arrive), then promote the winner.
 */
export async function collector(event: CloudEventLike<MessagePublishedData>, deps: Deps): Promise<void> {
  let result: TrainingResult;
  try {
    result = decodeMessage(event, TrainingResult, 'training result');
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    deps.log.error(`dropping a malformed message: ${error.message}`);
    return;
  }
  const log = deps.log.child({ runId: result.runId, trial: result.config });
  const run = await recordResult(result, deps);
  if (!run) {
    log.error('no run or trial document for this result; dropping it');
    return;
  }
  if (run.status === 'rejected' && !run.promotion) log.info(`run rejected: ${run.reason}`);
  if (run.promotion && run.status !== 'promoted') await finishPromotion(run, deps);
  if (run.promotion || run.status === 'rejected') {
    // The forecast is a by-product of a decided run: failing to ask for it must not redeliver the result forever.
    await requestRunForecast(run.runId, deps).catch((error: Error) =>
      log.error(`could not request the run's forecast: ${error.message}`),
    );
  }
}

/** Records the result and, if it completes the run, decides it. Returns the run as it stands after the transaction. */
async function recordResult(result: TrainingResult, deps: Deps): Promise<RunDoc | undefined> {
  const runPath = DOCS.run(result.runId);
  return deps.docs.runTransaction(async (tx) => {
    const run = await tx.get<RunDoc>(runPath);
    const trials = await tx.list<TrialDoc>(DOCS.trials(result.runId));
    const model =
      run?.symbol && run.timeframe
        ? await tx.get<ModelDoc>(DOCS.model(run.symbol, run.timeframe))
        : undefined;
    const trial = trials.find((t) => t.id === result.config)?.data;
    if (!run || !trial) return undefined;
    const t = nowIso();

    let recorded = trial;
    if (!FINAL_TRIAL_STATUSES.has(trial.status)) {
      recorded = {
        ...trial,
        status: result.status,
        metrics: result.status === 'succeeded' ? result.metrics : null,
        artifacts: result.status === 'succeeded' ? result.artifacts : null,
        error: result.status === 'failed' ? result.error : null,
        finishedAt: result.finishedAt,
        updatedAt: t,
      };
      tx.set(DOCS.trial(result.runId, result.config), recorded);
    }

    const all = trials.map((x) => (x.id === recorded.config ? recorded : x.data));
    const complete = all.length >= run.configs.length && all.every((x) => FINAL_TRIAL_STATUSES.has(x.status));
    if (!complete || run.promotion || !OPEN_RUN_STATUSES.has(run.status) || !run.symbol || !run.timeframe)
      return run;

    const decision = promoteBestTrial(all, run.gate, run.evaluation?.alpha);
    if (decision.outcome === 'reject') {
      const rejected: RunDoc = {
        ...run,
        status: 'rejected',
        reason: decision.reason,
        ranking: decision.ranking,
        finishedAt: t,
        updatedAt: t,
      };
      tx.set(runPath, rejected);
      return rejected;
    }
    // Reserve the next model version now, inside the transaction; the files are copied after it commits.
    const version = (model?.latestVersion ?? 0) + 1;
    const winner = all.find((x) => x.config === decision.winner)!;
    const promotion = {
      config: decision.winner,
      version,
      uri: deps.store.baseUri + PATHS.modelVersion(run.symbol, run.timeframe, version),
      f1: winner.metrics!.f1,
    };
    tx.set(DOCS.model(run.symbol, run.timeframe), {
      symbol: run.symbol,
      timeframe: run.timeframe,
      current: model?.current ?? null,
      history: model?.history ?? [],
      latestVersion: version,
      updatedAt: t,
    } satisfies ModelDoc);
    const deciding: RunDoc = {
      ...run,
      reason: decision.reason,
      ranking: decision.ranking,
      promotion,
      updatedAt: t,
    };
    tx.set(runPath, deciding);
    return deciding;
  });
}

/** Copies the winner's artifacts to its version folder and to `current/`, then marks the model and the run. Idempotent. */
async function finishPromotion(run: RunDoc, deps: Deps): Promise<void> {
  const promotion = run.promotion!;
  const symbol = run.symbol!;
  const timeframe = run.timeframe!;
  const from = PATHS.trial(run.runId, promotion.config);
  const versionPrefix = PATHS.modelVersion(symbol, timeframe, promotion.version);
  const currentPrefix = PATHS.modelCurrent(symbol, timeframe);
  // model.json last: its weights are in place before the file that names them.
  const keys = (await deps.store.list(from)).sort(
    (a, b) => Number(a.endsWith('model.json')) - Number(b.endsWith('model.json')),
  );
  for (const key of keys) await deps.store.copy(key, versionPrefix + key.slice(from.length));

  const model = await deps.docs.get<ModelDoc>(DOCS.model(symbol, timeframe));
  if (!model?.current || model.current.version <= promotion.version) {
    for (const key of keys) await deps.store.copy(key, currentPrefix + key.slice(from.length));
  }

  await deps.docs.runTransaction(async (tx) => {
    const current = await tx.get<RunDoc>(DOCS.run(run.runId));
    const doc = await tx.get<ModelDoc>(DOCS.model(symbol, timeframe));
    const trial = await tx.get<TrialDoc>(DOCS.trial(run.runId, promotion.config));
    if (!current || current.status === 'promoted' || !doc || !trial?.metrics) return;
    const t = nowIso();
    const entry: ModelVersion = {
      version: promotion.version,
      runId: run.runId,
      config: promotion.config,
      f1: trial.metrics.f1,
      auc: trial.metrics.auc,
      accuracy: trial.metrics.accuracy,
      uri: promotion.uri,
      promotedAt: t,
    };
    const newer = doc.current && doc.current.version > entry.version;
    tx.set(DOCS.model(symbol, timeframe), {
      ...doc,
      current: newer ? doc.current : entry,
      history: [...doc.history.filter((h) => h.version !== entry.version), entry].sort(
        (a, b) => a.version - b.version,
      ),
      updatedAt: t,
    } satisfies ModelDoc);
    tx.set(DOCS.run(run.runId), {
      ...current,
      status: 'promoted',
      finishedAt: t,
      updatedAt: t,
    } satisfies RunDoc);
  });
  deps.log.info(`promoted ${promotion.config} as ${symbol} ${timeframe} v${promotion.version}`, {
    runId: run.runId,
  });
}
