import {
  type Champion,
  FINAL_TRIAL_STATUSES,
  type ModelDoc,
  type ModelVersion,
  OPEN_RUN_STATUSES,
  type RunDoc,
  type TrialDoc,
} from '../shared/documents.ts';
import { boundedText, isPermanent, messageOf } from '../shared/errors.ts';
import { DOCS, PATHS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { promoteBestTrial } from '../shared/promotion.ts';
import { readModel, readRun, readTrial, readTrials } from '../shared/records.ts';
import { requestRunForecast } from './forecast.ts';
import { writeIndexPage } from './index-page.ts';
import { nowIso } from './pubsub.ts';
import { writeRunReport } from './report.ts';

const isOpen = (run: RunDoc) => (OPEN_RUN_STATUSES as readonly string[]).includes(run.status);
const allFinal = (run: RunDoc, trials: readonly TrialDoc[]) =>
  trials.length >= run.configs.length && trials.every((x) => FINAL_TRIAL_STATUSES.has(x.status));

/**
 * The model a run's best trial has to beat: the symbol's current model, evaluated on the run's windows (outside any
 * transaction: it runs a model). Undefined when the run is not ready to be decided; null when there is no current
 * model. A model that cannot be judged on these windows is a champion with an `error`; a failed read is thrown
 * (redelivery). An evaluation the run already holds for the same version is reused.
 */
async function championFor(runId: string, deps: Deps): Promise<Champion | null | undefined> {
  // One consistent read of the run, its trials and the model (a transaction that writes nothing).
  const ready = await deps.docs.runTransaction(async (tx) => {
    const run = await readRun(tx, runId);
    if (!run || run.promotion || !isOpen(run) || !run.symbol || !run.timeframe) return undefined;
    if (!allFinal(run, await readTrials(tx, runId))) return undefined;
    const current = (await readModel(tx, run.symbol, run.timeframe))?.current ?? null;
    return { run, symbol: run.symbol, timeframe: run.timeframe, current };
  });
  if (!ready) return undefined;
  const { run, symbol, timeframe, current } = ready;
  if (!current) return null;
  if (run.champion?.version === current.version) return run.champion;
  const where = `model ${symbol} ${timeframe} v${current.version}`;
  const champion = { version: current.version, config: current.config, runId: current.runId };
  try {
    const { evaluateChampion } = await import('../trainer/evaluate-champion.ts');
    const prefix = PATHS.modelVersion(symbol, timeframe, current.version);
    const metrics = await evaluateChampion(deps.store, prefix, run, where);
    deps.log.info(`${where} on this run's windows: F1 ${metrics.f1.toFixed(4)}`, { runId });
    return { ...champion, metrics, error: null };
  } catch (error) {
    if (!isPermanent(error)) throw error;
    const reason = boundedText(messageOf(error), 300);
    deps.log.warn(`${where} could not be evaluated on this run's windows: ${reason}`, { runId });
    return { ...champion, metrics: null, error: reason };
  }
}

/** How often a decision re-evaluates when another run promotes a new current model while it evaluates the old one. */
const CHAMPION_ATTEMPTS = 3;

/**
 * Decides a run whose trials are all final, whoever gets there first (the collector on the last result, the sweeper
 * for a run nobody decided), in one transaction: exactly one decision per run. The best trial must beat the current
 * model (the champion) on the run's own windows. A promotion reserves its model version in that transaction and
 * copies the files after it; a reserved promotion that did not finish is finished here. Resolves to the run as it
 * stands afterwards.
 */
export async function decideRun(runId: string, deps: Deps): Promise<RunDoc | undefined> {
  let run: RunDoc | undefined;
  for (let attempt = 1; ; attempt++) {
    const champion = await championFor(runId, deps);
    const decided = await decideWith(runId, champion ?? null, deps);
    if (decided !== 'champion changed') {
      run = decided;
      break;
    }
    if (attempt === CHAMPION_ATTEMPTS)
      throw new Error(
        `run ${runId}: the current model changed ${attempt} times while it was being evaluated`,
      );
  }
  if (run?.status === 'rejected' && !run.promotion) deps.log.info(`run rejected: ${run.reason}`, { runId });
  if (run?.promotion && run.status !== 'promoted') await finishPromotion(run, deps);
  // A finisher that died between its transaction and the pointer is redelivered here: bring the pointer in line.
  else if (run?.status === 'promoted' && run.symbol && run.timeframe)
    await syncCurrentPointer(run.symbol, run.timeframe, deps);
  const decided = await readRun(deps.docs, runId);
  if (decided?.status === 'promoted' || decided?.status === 'rejected') {
    // The forecaster makes the run's forecast (once, however often asked), then writes the run's report and the
    // index page, which show it. Failing to ask must not redeliver the result forever: both are then written here,
    // without a forecast.
    try {
      await requestRunForecast(runId, deps);
    } catch (error) {
      deps.log.error(`could not request the run's forecast: ${messageOf(error)}`, { runId });
      await writeRunReport(runId, deps);
      await writeIndexPage(deps);
    }
  }
  return readRun(deps.docs, runId);
}

/** The decision's transaction, against the champion evaluated before it; 'champion changed' when that is stale. */
async function decideWith(
  runId: string,
  champion: Champion | null,
  deps: Deps,
): Promise<RunDoc | undefined | 'champion changed'> {
  return deps.docs.runTransaction(async (tx) => {
    const run = await readRun(tx, runId);
    if (!run || run.promotion || !isOpen(run) || !run.symbol || !run.timeframe) return run;
    const trials = await readTrials(tx, runId);
    const model = await readModel(tx, run.symbol, run.timeframe);
    if (!allFinal(run, trials)) return run;
    if ((model?.current?.version ?? null) !== (champion?.version ?? null)) return 'champion changed';
    const t = nowIso();
    const decision = promoteBestTrial(trials, run.gate, run.evaluation?.alpha, champion);
    if (decision.outcome === 'reject') {
      const rejected: RunDoc = {
        ...run,
        status: 'rejected',
        reason: decision.reason,
        ranking: decision.ranking,
        champion,
        waiting: null,
        finishedAt: t,
        updatedAt: t,
      };
      tx.set(DOCS.run(runId), rejected);
      return rejected;
    }
    // Reserve the next model version now, inside the transaction; the files are copied after it commits.
    const version = (model?.latestVersion ?? 0) + 1;
    const winner = trials.find((x) => x.config === decision.winner)!;
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
      champion,
      promotion,
      updatedAt: t,
    };
    tx.set(DOCS.run(runId), deciding);
    return deciding;
  });
}

/**
 * Copies the winner's artifacts to its version folder, marks the model and the run, then points `current.json` at
 * the document's current version. Idempotent.
 */
async function finishPromotion(run: RunDoc, deps: Deps): Promise<void> {
  const promotion = run.promotion!;
  const symbol = run.symbol!;
  const timeframe = run.timeframe!;
  const from = PATHS.trial(run.runId, promotion.config);
  const versionPrefix = PATHS.modelVersion(symbol, timeframe, promotion.version);
  // model.json last: its weights are in place before the file that names them.
  const keys = (await deps.store.list(from)).sort(
    (a, b) => Number(a.endsWith('model.json')) - Number(b.endsWith('model.json')),
  );
  for (const key of keys) await deps.store.copy(key, versionPrefix + key.slice(from.length));

  await deps.docs.runTransaction(async (tx) => {
    const current = await readRun(tx, run.runId);
    const doc = await readModel(tx, symbol, timeframe);
    const trial = await readTrial(tx, run.runId, promotion.config);
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
  await syncCurrentPointer(symbol, timeframe, deps);
}

/**
 * Writes `current.json` from the model document until a re-read of the document still names what was written. The
 * document's current version only grows (in transactions), so whichever finisher writes last has just seen the
 * newest version: two promotions finishing together, in any order, leave the pointer on the document's version.
 * (Copying a folder into `current/` could not: two copies interleave file by file.) Readers go through the document.
 */
async function syncCurrentPointer(symbol: string, timeframe: string, deps: Deps): Promise<void> {
  const key = PATHS.modelCurrent(symbol, timeframe);
  let written: number | undefined;
  for (;;) {
    const current = (await readModel(deps.docs, symbol, timeframe))?.current;
    if (!current || current.version === written) return;
    await deps.store.write(key, `${JSON.stringify(current, null, 2)}\n`, 'application/json');
    written = current.version;
  }
}
