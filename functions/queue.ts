import { mayStartNow } from '../shared/budget.ts';
import {
  FINAL_TRIAL_STATUSES,
  type QueueDoc,
  queueKey,
  SLOT_TRIAL_STATUSES,
  type TrialDoc,
} from '../shared/documents.ts';
import { JobRefusedError, messageOf, QuotaExceededError } from '../shared/errors.ts';
import type { TrainingResult } from '../shared/messages.ts';
import { DOCS, TOPICS } from '../shared/names.ts';
import type { Deps, Transaction } from '../shared/ports.ts';
import { type DocumentReader, readQueue, readTrial } from '../shared/records.ts';
import { nowIso } from './pubsub.ts';

// The durable training queue. A trial waits as `queued` until one of the launcher's `capacity` slots is free; slots
// are counted from the trial documents in a transaction, so two launchers never over-start. Pub/Sub redelivery is not
// the queue: a request that cannot start yet is acknowledged and started later, when a result frees a slot (collector)
// or at a sweep.

/** Transient launch failures a trial may meet before it fails for good. */
export const MAX_LAUNCH_FAILURES = 5;

const splitKey = (key: string) => {
  const slash = key.indexOf('/');
  return { runId: key.slice(0, slash), config: key.slice(slash + 1) };
};

async function trialsOf(tx: DocumentReader, keys: string[]) {
  return Promise.all(
    keys.map(async (key) => {
      const { runId, config } = splitKey(key);
      return { key, trial: await readTrial(tx, runId, config) };
    }),
  );
}

/** Puts a queued trial in the queue (once: a redelivered request finds it there). */
export async function enqueue(deps: Deps, runId: string, config: string): Promise<void> {
  const key = queueKey(runId, config);
  await deps.docs.runTransaction(async (tx) => {
    const queue = await readQueue(tx);
    const trial = await readTrial(tx, runId, config);
    if (trial?.status !== 'queued' || queue.waiting.includes(key) || queue.active.includes(key)) return;
    writeQueue(tx, { ...queue, waiting: [...queue.waiting, key] });
  });
}

function writeQueue(tx: Transaction, queue: Omit<QueueDoc, 'updatedAt'>): void {
  tx.set(DOCS.trainingQueue, { ...queue, updatedAt: nowIso() } satisfies QueueDoc);
}

/**
 * Reserves the next slot for the oldest waiting trial, in one transaction: the trials in `active` that still hold a
 * slot are counted; entries whose trial ended are dropped. Resolves to the trial now `starting`, or undefined.
 */
async function reserveSlot(deps: Deps): Promise<TrialDoc | undefined> {
  return deps.docs.runTransaction(async (tx) => {
    const queue = await readQueue(tx);
    const active = (await trialsOf(tx, queue.active)).filter(
      (a) => a.trial && SLOT_TRIAL_STATUSES.has(a.trial.status),
    );
    const waiting = (await trialsOf(tx, queue.waiting)).filter((w) => w.trial?.status === 'queued');
    const t = nowIso();
    // A trial held by the daily budget keeps its place; the first one free to start goes (issue 22).
    const next = waiting.find((w) => w.trial && mayStartNow(w.trial, t));
    const cleaned = { active: active.map((a) => a.key), waiting: waiting.map((w) => w.key) };
    if (!next?.trial || active.length >= deps.launcher.capacity) {
      if (cleaned.active.length !== queue.active.length || cleaned.waiting.length !== queue.waiting.length)
        writeQueue(tx, cleaned);
      return undefined;
    }
    const starting: TrialDoc = { ...next.trial, status: 'starting', updatedAt: t };
    tx.set(DOCS.trial(starting.runId, starting.config), starting);
    writeQueue(tx, {
      active: [...cleaned.active, next.key],
      waiting: cleaned.waiting.filter((k) => k !== next.key),
    });
    return starting;
  });
}

/** Puts a trial that could not start back at the head of the queue, saying why it waits. */
async function requeue(deps: Deps, trial: TrialDoc, fields: Partial<TrialDoc>): Promise<void> {
  const key = queueKey(trial.runId, trial.config);
  await deps.docs.runTransaction(async (tx) => {
    const queue = await readQueue(tx);
    const current = await readTrial(tx, trial.runId, trial.config);
    if (current?.status !== 'starting') return;
    tx.set(DOCS.trial(trial.runId, trial.config), {
      ...current,
      ...fields,
      status: 'queued',
      updatedAt: nowIso(),
    });
    writeQueue(tx, {
      active: queue.active.filter((k) => k !== key),
      waiting: [key, ...queue.waiting.filter((k) => k !== key)],
    });
  });
}

async function setRunWaiting(deps: Deps, runId: string, waiting: string | null): Promise<void> {
  await deps.docs.set(DOCS.run(runId), { waiting, updatedAt: nowIso() }, { merge: true });
}

/** Fails a trial the way every path does: a failed result, recorded by the collector like any other. */
export async function failTrial(
  deps: Deps,
  trial: Pick<TrialDoc, 'runId' | 'config'>,
  error: string,
): Promise<void> {
  const failed: TrainingResult = {
    status: 'failed',
    runId: trial.runId,
    config: trial.config,
    error,
    finishedAt: nowIso(),
  };
  await deps.bus.publish(TOPICS.trainingResults, failed, { runId: trial.runId, config: trial.config });
}

/**
 * Starts queued trials, oldest first, while slots are free. A trial the platform has no quota for goes back to the
 * head of the queue with the reason on the trial and its run (or, with TRENDCAST_ON_NO_GPU_QUOTA=cpu, trains on CPU
 * at once); a refused job fails its trial; a transient failure is recorded and retried at the next dispatch, up to
 * MAX_LAUNCH_FAILURES. Resolves to the number of jobs started.
 */
export async function dispatch(deps: Deps): Promise<number> {
  let started = 0;
  for (let trial = await reserveSlot(deps); trial; trial = await reserveSlot(deps)) {
    const log = deps.log.child({ runId: trial.runId, trial: trial.config });
    if (!trial.request) {
      await failTrial(deps, trial, 'the trial has no training request to start its job with');
      continue;
    }
    const accelerator = deps.settings.TRENDCAST_ACCELERATOR_TYPE;
    let onCpu = trial.accelerator === 'NONE';
    try {
      let jobId: string;
      try {
        ({ jobId } = await deps.launcher.launch(trial.request, onCpu ? { cpu: true } : undefined));
      } catch (error) {
        if (
          !(error instanceof QuotaExceededError) ||
          deps.settings.TRENDCAST_ON_NO_GPU_QUOTA !== 'cpu' ||
          onCpu
        )
          throw error;
        log.warn(`${error.message}: training on CPU instead (TRENDCAST_ON_NO_GPU_QUOTA=cpu)`);
        onCpu = true;
        ({ jobId } = await deps.launcher.launch(trial.request, { cpu: true }));
      }
      await markTraining(deps, trial, jobId, onCpu ? 'NONE' : accelerator, onCpu && accelerator !== 'NONE');
      if (trial.waiting) await setRunWaiting(deps, trial.runId, null);
      log.info(`started training job ${jobId}`);
      started++;
    } catch (error) {
      if (error instanceof QuotaExceededError) {
        log.warn(error.message);
        await requeue(deps, trial, { waiting: error.message });
        await setRunWaiting(deps, trial.runId, error.message);
        break; // no quota now for anyone behind it either; later sweeps try again
      }
      if (error instanceof JobRefusedError) {
        log.error(`training job refused: ${error.message}`);
        await failTrial(deps, trial, error.message);
        continue;
      }
      const failures = trial.launchFailures + 1;
      log.warn(
        `could not start the training job (${failures} of ${MAX_LAUNCH_FAILURES}): ${messageOf(error)}`,
      );
      if (failures >= MAX_LAUNCH_FAILURES) {
        await failTrial(
          deps,
          trial,
          `training job could not be started after ${failures} attempts: ${messageOf(error)}`,
        );
        continue;
      }
      await requeue(deps, trial, { lastError: messageOf(error), launchFailures: failures });
      break;
    }
  }
  return started;
}

async function markTraining(
  deps: Deps,
  trial: TrialDoc,
  jobId: string,
  accelerator: string,
  fellBackToCpu: boolean,
): Promise<void> {
  await deps.docs.runTransaction(async (tx) => {
    const current = await readTrial(tx, trial.runId, trial.config);
    if (!current || FINAL_TRIAL_STATUSES.has(current.status)) return; // the result may already be in
    const t = nowIso();
    tx.set(DOCS.trial(trial.runId, trial.config), {
      ...current,
      status: 'training',
      jobId,
      accelerator,
      waiting: null,
      note: fellBackToCpu
        ? `trained on CPU: no GPU quota for ${deps.settings.TRENDCAST_ACCELERATOR_TYPE} (TRENDCAST_ON_NO_GPU_QUOTA=cpu)`
        : current.note,
      startedAt: current.startedAt ?? t,
      updatedAt: t,
    } satisfies TrialDoc);
  });
}
