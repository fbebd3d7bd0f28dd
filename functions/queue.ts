import { mayStartNow } from '../shared/budget.ts';
import {
  OPEN_RUN_STATUSES,
  QueueEntry,
  type RunDoc,
  SLOT_TRIAL_STATUSES,
  type SlotDoc,
  type TrialDoc,
} from '../shared/documents.ts';
import { JobRefusedError, messageOf, QuotaExceededError } from '../shared/errors.ts';
import type { TrainingResult } from '../shared/messages.ts';
import { DOCS, TOPICS } from '../shared/names.ts';
import type { Deps, Logger, Transaction } from '../shared/ports.ts';
import { readRun, readSlot, readTrial } from '../shared/records.ts';
import { nowIso } from './pubsub.ts';

// The durable training queue, with no document that every trial writes: one `trainingQueue` entry per waiting trial
// and one `trainingSlots` document per slot. A dispatch reads the slots, their holders and, in enqueue order, only as
// many entries as slots are free, so its cost follows the capacity, never the backlog. Every change is a transaction
// that checks the state it expects and otherwise does nothing, so any handler may run it again (Pub/Sub delivers at
// least once). A request that cannot start yet is acknowledged and started later, when a result frees a slot
// (collector) or at a sweep.

/** Transient launch failures a trial may meet before it fails for good. */
export const MAX_LAUNCH_FAILURES = 5;

const slotIds = (capacity: number) => Array.from({ length: capacity }, (_, i) => `slot-${i}`);
const isOpen = (run: RunDoc) => (OPEN_RUN_STATUSES as readonly string[]).includes(run.status);
const freeSlot = (): SlotDoc => ({ runId: null, config: null, updatedAt: nowIso() });

/** A trial's place in the queue: when its run queued it, then its position in the grid (runs go in arrival order). */
export const queueOrder = (queuedAt: string, position: number) =>
  `${queuedAt}#${String(position).padStart(6, '0')}`;

/** Writes the queue entry of a trial that is (or, in this transaction, becomes) `queued`. */
export function writeQueueEntry(tx: Transaction, trial: Pick<TrialDoc, 'runId' | 'config' | 'queueOrder'>) {
  const entry: QueueEntry = {
    runId: trial.runId,
    config: trial.config,
    order: trial.queueOrder ?? queueOrder(nowIso(), 0),
  };
  tx.set(DOCS.queueEntry(trial.runId, trial.config), entry);
}

/** Reads a trial, or logs why it cannot and resolves to undefined: one bad document never stops the queue. */
async function readTrialOrSkip(tx: Transaction, runId: string, config: string, log: Logger) {
  try {
    return await readTrial(tx, runId, config);
  } catch (error) {
    log.error(`skipping trial ${config}: ${messageOf(error)}`, { runId, trial: config });
    return undefined;
  }
}

/** Whether the trial holds its slot: the slot's document names it (read in the caller's transaction). */
export async function heldSlot(tx: Transaction, trial: TrialDoc): Promise<string | undefined> {
  if (!trial.slot) return undefined;
  const slot = await readSlot(tx, trial.slot).catch(() => undefined);
  return slot?.runId === trial.runId && slot.config === trial.config ? trial.slot : undefined;
}

/**
 * The writes that take a trial out of the queue for good (it became final): its slot is freed, its entry deleted.
 * `slot` is what heldSlot read in the same transaction.
 */
export function releaseTrial(tx: Transaction, trial: TrialDoc, slot: string | undefined): void {
  if (slot) tx.set(DOCS.trainingSlot(slot), freeSlot());
  if (trial.status === 'queued') tx.delete(DOCS.queueEntry(trial.runId, trial.config));
}

/** Puts a queued trial back in the queue when its entry is missing; resolves to true if it wrote the entry. */
export async function enqueue(deps: Deps, runId: string, config: string): Promise<boolean> {
  return deps.docs.runTransaction(async (tx) => {
    const trial = await readTrial(tx, runId, config);
    const entry = await tx.get(DOCS.queueEntry(runId, config));
    if (trial?.status !== 'queued' || entry) return false;
    writeQueueEntry(tx, trial);
    return true;
  });
}

/**
 * Gives free slots to the oldest waiting trials, in one transaction. A slot whose holder is gone, final or holds
 * another slot is free. An entry that cannot be read, or whose trial is no longer `queued`, is dropped (the sweeper
 * queues a queued trial without an entry again); a trial whose run was already decided fails instead of starting.
 * Resolves to the trials now `starting`, and whether anything changed (the caller stops when nothing did).
 */
async function reserveSlots(deps: Deps): Promise<{ starting: TrialDoc[]; changed: boolean }> {
  const log = deps.log;
  return deps.docs.runTransaction(async (tx) => {
    const ids = slotIds(deps.launcher.capacity);
    const free: string[] = [];
    for (const id of ids) {
      const slot = await readSlot(tx, id).catch((error) => {
        log.error(`slot ${id} is unreadable, taken as free: ${messageOf(error)}`);
        return undefined;
      });
      const holder = slot?.runId && slot.config && (await readTrialOrSkip(tx, slot.runId, slot.config, log));
      const held = holder && SLOT_TRIAL_STATUSES.has(holder.status) && holder.slot === id;
      if (!held) free.push(id);
    }
    if (free.length === 0) return { starting: [], changed: false };

    const t = nowIso();
    const entries = await tx.query(DOCS.trainingQueue, { orderBy: 'order', limit: free.length });
    const drop: string[] = [];
    const runs = new Map<string, RunDoc | undefined>();
    const take: TrialDoc[] = [];
    const refuse: Array<{ trial: TrialDoc; run: RunDoc | undefined }> = [];
    for (const { id, data } of entries) {
      const path = `${DOCS.trainingQueue}/${id}`;
      const entry = QueueEntry.safeParse(data);
      if (!entry.success) {
        log.error(`queue entry ${path} is unreadable; dropped: ${entry.error.message}`);
        drop.push(path);
        continue;
      }
      const { runId, config } = entry.data;
      const trial = await readTrialOrSkip(tx, runId, config, log);
      if (trial?.status !== 'queued') {
        drop.push(path);
        continue;
      }
      if (!runs.has(runId)) runs.set(runId, await readRun(tx, runId).catch(() => undefined));
      const run = runs.get(runId);
      // A trial the daily budget holds keeps its entry: its order starts at the day it may start (ingest), so
      // nothing behind it in the queue could start before it either.
      if (run && isOpen(run)) {
        if (mayStartNow(trial, t)) take.push(trial);
      } else refuse.push({ trial, run });
    }

    for (const path of drop) tx.delete(path);
    for (const { trial, run } of refuse) {
      tx.delete(DOCS.queueEntry(trial.runId, trial.config));
      tx.set(DOCS.trial(trial.runId, trial.config), {
        ...trial,
        status: 'failed',
        error: run ? `not started: its run is already ${run.status}` : 'not started: its run is gone',
        finishedAt: t,
        updatedAt: t,
      } satisfies TrialDoc);
    }
    const starting = take.map((trial, i) => {
      const slot = free[i]!;
      const reserved: TrialDoc = { ...trial, status: 'starting', slot, updatedAt: t };
      tx.set(DOCS.trainingSlot(slot), {
        runId: trial.runId,
        config: trial.config,
        updatedAt: t,
      } satisfies SlotDoc);
      tx.set(DOCS.trial(trial.runId, trial.config), reserved);
      tx.delete(DOCS.queueEntry(trial.runId, trial.config));
      return reserved;
    });
    return { starting, changed: starting.length + drop.length + refuse.length > 0 };
  });
}

/**
 * Puts a `starting` trial that could not start back in its place at the head of the queue, freeing its slot, saying
 * why it waits. Does nothing unless the trial is still `starting` in that slot.
 */
async function requeue(deps: Deps, trial: TrialDoc, fields: Partial<TrialDoc>): Promise<void> {
  await deps.docs.runTransaction(async (tx) => {
    const current = await readTrial(tx, trial.runId, trial.config);
    if (current?.status !== 'starting' || current.slot !== trial.slot) return;
    const slot = await heldSlot(tx, current);
    const queued: TrialDoc = { ...current, ...fields, status: 'queued', slot: null, updatedAt: nowIso() };
    if (slot) tx.set(DOCS.trainingSlot(slot), freeSlot());
    tx.set(DOCS.trial(trial.runId, trial.config), queued);
    writeQueueEntry(tx, queued);
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
  for (;;) {
    const { starting, changed } = await reserveSlots(deps);
    if (!changed) return started;
    let stop = false;
    for (const trial of starting) {
      if (stop) await requeue(deps, trial, {});
      else {
        const outcome = await startReserved(deps, trial);
        if (outcome === 'started') started++;
        stop = outcome === 'stop';
      }
    }
    if (stop) return started;
  }
}

/**
 * A dispatch from a message handler, after its own work is done: one that loses to other dispatchers under contention
 * is logged, not thrown. The trials wait durably and the next result or sweep starts them, where a redelivered
 * message would end on a dead-letter topic. Resolves to the number of jobs started.
 */
export function dispatchFromHandler(deps: Deps, log: Logger): Promise<number> {
  return dispatch(deps).catch((error) => {
    log.warn(`could not start queued trials now (the next result or sweep will): ${messageOf(error)}`);
    return 0;
  });
}

/**
 * Creates the job of a trial that holds a slot (`starting`) and records it. Also how the sweeper recovers a trial
 * whose launcher died mid-launch: the launcher finds a job it already created by its display name and creates no
 * second one. Resolves to 'stop' when no trial behind it can start now either.
 */
export async function startReserved(deps: Deps, trial: TrialDoc): Promise<'started' | 'failed' | 'stop'> {
  const log = deps.log.child({ runId: trial.runId, trial: trial.config });
  if (!trial.request) {
    await failTrial(deps, trial, 'the trial has no training request to start its job with');
    return 'failed';
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
    return 'started';
  } catch (error) {
    if (error instanceof QuotaExceededError) {
      log.warn(error.message);
      await requeue(deps, trial, { waiting: error.message });
      await setRunWaiting(deps, trial.runId, error.message);
      return 'stop'; // no quota now for anyone behind it either; later sweeps try again
    }
    if (error instanceof JobRefusedError) {
      log.error(`training job refused: ${error.message}`);
      await failTrial(deps, trial, error.message);
      return 'failed';
    }
    const failures = trial.launchFailures + 1;
    log.warn(`could not start the training job (${failures} of ${MAX_LAUNCH_FAILURES}): ${messageOf(error)}`);
    if (failures >= MAX_LAUNCH_FAILURES) {
      await failTrial(
        deps,
        trial,
        `training job could not be started after ${failures} attempts: ${messageOf(error)}`,
      );
      return 'failed';
    }
    await requeue(deps, trial, { lastError: messageOf(error), launchFailures: failures });
    return 'stop';
  }
}

/** Records the job of a trial still `starting` in the same slot; otherwise (a result came first) does nothing. */
async function markTraining(
  deps: Deps,
  trial: TrialDoc,
  jobId: string,
  accelerator: string,
  fellBackToCpu: boolean,
): Promise<void> {
  await deps.docs.runTransaction(async (tx) => {
    const current = await readTrial(tx, trial.runId, trial.config);
    if (current?.status !== 'starting' || current.slot !== trial.slot) return;
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
