import { FINAL_TRIAL_STATUSES, type RunDoc, type TrialDoc, TrialProgress } from '../shared/documents.ts';
import { messageOf } from '../shared/errors.ts';
import { TrainingResult } from '../shared/messages.ts';
import { DOCS, PATHS, TOPICS, TRIAL_FILES } from '../shared/names.ts';
import type { Deps, JobStatus } from '../shared/ports.ts';
import { readOpenRuns, readRun, readTrial, readTrials } from '../shared/records.ts';
import { parseJson, parseWith } from '../shared/validate.ts';
import { decideRun } from './decide.ts';
import { nowIso } from './pubsub.ts';
import { dispatch, enqueue, failTrial, startReserved } from './queue.ts';
import { writeRunReport } from './report.ts';

export interface SweepOptions {
  now?: Date;
  /** How long a job that SUCCEEDED may take to deliver its result before its trial fails. */
  resultGraceMs?: number;
  /** How long a trial may stay `starting` (its launcher died mid-launch) before the sweep finishes its launch. */
  staleStartMs?: number;
}

export interface SweepReport {
  timedOut: number;
  jobsFailed: number;
  decided: number;
  started: number;
  /** Training trials whose progress was copied from their trainer's `progress.json`. */
  progressed: number;
}

/**
 * Looks after every open run (run on a schedule: Cloud Scheduler in the cloud, a timer locally), whatever path its
 * trials took: a job that Vertex AI reports FAILED, CANCELLED or EXPIRED fails its trial with Vertex's own message; a
 * job that SUCCEEDED but never reported fails after a grace period; past the run's deadline, trials without a result
 * fail "timed out" and their jobs are cancelled; a run whose trials are all final but that nobody decided is decided
 * (a reserved promotion is finished); queued trials are started where slots are free. Results go through the
 * collector like any other, so every sweep is idempotent.
 */
export async function sweeper(deps: Deps, options: SweepOptions = {}): Promise<SweepReport> {
  const now = options.now ?? new Date();
  const report: SweepReport = { timedOut: 0, jobsFailed: 0, decided: 0, started: 0, progressed: 0 };
  // Each run on its own: one that cannot be swept (a bad document, a failing call) is logged and the others go on.
  for (const run of await readOpenRuns(deps.docs)) {
    if (run instanceof Error) {
      deps.log.error(`run not swept: ${run.message}`);
      continue;
    }
    try {
      await sweepRun(deps, run, now, options, report);
    } catch (error) {
      deps.log.error(`run not swept: ${messageOf(error)}`, { runId: run.runId });
    }
  }
  try {
    report.started = await dispatch(deps);
  } catch (error) {
    deps.log.error(`could not start queued trials: ${messageOf(error)}`);
  }
  return report;
}

async function sweepRun(
  deps: Deps,
  run: RunDoc,
  now: Date,
  options: SweepOptions,
  report: SweepReport,
): Promise<void> {
  const log = deps.log.child({ runId: run.runId });
  const trials = await readTrials(deps.docs, run.runId);
  const pastDeadline = new Date(run.deadline) <= now;
  // A run still `ingesting` with trials (its ingest died after queuing them) is swept like any other.
  if (run.status === 'ingesting' && trials.length === 0) {
    if (pastDeadline) await failIngestAtDeadline(deps, run);
    return;
  }
  const staleStartMs = options.staleStartMs ?? deps.settings.TRENDCAST_STALE_START_SECONDS * 1000;
  for (const trial of trials.filter((t) => !FINAL_TRIAL_STATUSES.has(t.status))) {
    if (pastDeadline) {
      await timeOut(deps, run, trial);
      report.timedOut++;
    } else if (trial.status === 'training' && trial.jobId) {
      if (await checkJob(deps, trial, now, options.resultGraceMs ?? 10 * 60_000)) report.jobsFailed++;
      else if (await copyProgress(deps, trial)) report.progressed++;
    } else if (trial.status === 'starting' && now.getTime() - Date.parse(trial.updatedAt) > staleStartMs) {
      // Its launcher died mid-launch, perhaps after creating the job: launching again finds that job by its display
      // name (or creates it), and the trial keeps its slot throughout, so no job ever runs uncounted.
      const current = await readTrial(deps.docs, run.runId, trial.config);
      if (current?.status !== 'starting' || current.slot !== trial.slot) continue;
      log.warn(`trial ${trial.config} was left starting; finishing its launch`);
      if ((await startReserved(deps, current)) === 'started') report.started++;
    } else if (trial.status === 'queued' && (await enqueue(deps, run.runId, trial.config))) {
      log.warn(`trial ${trial.config} was queued without a queue entry; queued it again`);
    }
  }
  if (trials.length && trials.every((t) => FINAL_TRIAL_STATUSES.has(t.status))) {
    const decided = await decideRun(run.runId, deps);
    if (decided && decided.status !== run.status) {
      log.info(`decided a run nobody had decided: ${decided.status}`);
      report.decided++;
    }
  }
}

async function timeOut(deps: Deps, run: RunDoc, trial: TrialDoc): Promise<void> {
  if (trial.jobId) {
    // The job would otherwise go on billing its machine and holding a slot.
    await deps.launcher.cancel(trial.jobId).catch((error) => {
      deps.log.warn(`could not cancel job ${trial.jobId}: ${messageOf(error)}`, {
        runId: run.runId,
        trial: trial.config,
      });
    });
  }
  await failTrial(
    deps,
    trial,
    `timed out: no result by the run deadline ${run.deadline} (trial was ${trial.status})`,
  );
  deps.log.warn(`trial ${trial.config} timed out`, { runId: run.runId });
}

/** Asks the platform how the trial's job is doing; fails the trial when the job ended without it. True if it did. */
async function checkJob(deps: Deps, trial: TrialDoc, now: Date, graceMs: number): Promise<boolean> {
  let status: JobStatus;
  try {
    status = await deps.launcher.status(trial.jobId!);
  } catch (error) {
    deps.log.warn(`could not read job ${trial.jobId}: ${messageOf(error)}`, {
      runId: trial.runId,
      trial: trial.config,
    });
    return false;
  }
  const endedAt =
    status.endedAt ?? trial.jobEndedAt ?? (status.state === 'succeeded' ? now.toISOString() : null);
  if (status.platformState !== trial.jobState || endedAt !== trial.jobEndedAt) {
    await deps.docs.runTransaction(async (tx) => {
      const current = await readTrial(tx, trial.runId, trial.config);
      if (current?.status !== 'training' || current.jobId !== trial.jobId) return;
      tx.set(
        DOCS.trial(trial.runId, trial.config),
        { jobState: status.platformState, jobEndedAt: endedAt, updatedAt: nowIso() },
        { merge: true },
      );
    });
  }
  if (status.timedOut) {
    await failTrial(
      deps,
      trial,
      `timed out: the training job ran past its timeout (${status.platformState}: ${status.error ?? 'stopped'})`,
    );
    return true;
  }
  if (status.state === 'failed' || status.state === 'cancelled') {
    await failTrial(
      deps,
      trial,
      `training job ${status.state === 'failed' ? 'failed' : 'was cancelled'} (${status.platformState})${status.error ? `: ${status.error}` : ''}`,
    );
    return true;
  }
  if (status.state === 'succeeded' && endedAt && now.getTime() - Date.parse(endedAt) > graceMs) {
    // The trainer writes its result beside its model before publishing it: a result that is late (the collector's
    // redelivery backoff reaches 600 s) or lost is delivered from there, never beaten by a synthetic failure.
    if (await redeliverResult(deps, trial)) return false;
    await failTrial(
      deps,
      trial,
      `training job finished (${status.platformState}) without reporting a result`,
    );
    return true;
  }
  return false;
}

/** Publishes the trial's own `result.json`, if its trainer wrote a readable one; true if it did. */
async function redeliverResult(deps: Deps, trial: TrialDoc): Promise<boolean> {
  const key = PATHS.trial(trial.runId, trial.config) + TRIAL_FILES.result;
  let result: TrainingResult;
  try {
    if (!(await deps.store.exists(key))) return false;
    const text = (await deps.store.readLimited(key, 1024 * 1024)).toString('utf8');
    result = parseWith(TrainingResult, parseJson(text, key), key);
  } catch (error) {
    deps.log.warn(`could not read ${key}: ${messageOf(error)}`, { runId: trial.runId, trial: trial.config });
    return false;
  }
  if (result.runId !== trial.runId || result.config !== trial.config) return false;
  deps.log.warn(`job ended without its result arriving; delivering ${key}`, {
    runId: trial.runId,
    trial: trial.config,
  });
  await deps.bus.publish(TOPICS.trainingResults, result, { runId: trial.runId, config: trial.config });
  return true;
}

/**
 * Copies a training trial's `progress.json` (its trainer's pace and time left) into the trial document, while the
 * trial is still training. True if the document changed. The trainer has no document access in the cloud; an
 * unreadable or malformed file is logged and left for the next sweep.
 */
async function copyProgress(deps: Deps, trial: TrialDoc): Promise<boolean> {
  const key = PATHS.trial(trial.runId, trial.config) + TRIAL_FILES.progress;
  let progress: TrialProgress;
  try {
    if (!(await deps.store.exists(key))) return false;
    const text = (await deps.store.readLimited(key, 64 * 1024)).toString('utf8');
    progress = parseWith(TrialProgress, parseJson(text, key), key);
  } catch (error) {
    deps.log.warn(`could not read ${key}: ${messageOf(error)}`, { runId: trial.runId, trial: trial.config });
    return false;
  }
  if (trial.progress?.updatedAt === progress.updatedAt) return false;
  return deps.docs.runTransaction(async (tx) => {
    const current = await readTrial(tx, trial.runId, trial.config);
    if (current?.status !== 'training' || current.progress?.updatedAt === progress.updatedAt) return false;
    tx.set(DOCS.trial(trial.runId, trial.config), { progress }, { merge: true });
    return true;
  });
}

async function failIngestAtDeadline(deps: Deps, run: RunDoc): Promise<void> {
  await deps.docs.runTransaction(async (tx) => {
    const current = await readRun(tx, run.runId);
    if (current?.status !== 'ingesting') return;
    const t = nowIso();
    tx.set(DOCS.run(run.runId), {
      ...current,
      status: 'failed',
      error: `timed out: ingest did not finish by the run deadline ${run.deadline}`,
      finishedAt: t,
      updatedAt: t,
    } satisfies RunDoc);
  });
  deps.log.warn('run failed: ingest did not finish by its deadline', { runId: run.runId });
  await writeRunReport(run.runId, deps);
}
