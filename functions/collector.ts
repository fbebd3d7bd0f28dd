import { FINAL_TRIAL_STATUSES, type TrialDoc } from '../shared/documents.ts';
import { TrainingResult } from '../shared/messages.ts';
import { DOCS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readTrial } from '../shared/records.ts';
import { decideRun } from './decide.ts';
import { nowIso, onMessage } from './pubsub.ts';
import { dispatchFromHandler, heldSlot, releaseTrial } from './queue.ts';

/**
 * A TrainingResult from `training-results`: record the trial (the first result per trial counts) and free its slot;
 * start the next queued trial in the slot this one freed (dispatchFromHandler: a dispatch lost to contention is not
 * retried, so a busy queue never pushes results to the dead-letter topic); when it was the run's last, decide the run.
 */
export const collector = onMessage(TrainingResult, 'training result', async (result, deps, { log }) => {
  if (!(await recordResult(result, deps))) {
    log.error('no trial document for this result; dropping it');
    return;
  }
  // The freed slot first: a run that cannot be decided (and is redelivered) must not hold up the others' trials.
  await dispatchFromHandler(deps, log);
  await decideRun(result.runId, deps);
});

/**
 * Records the result on its trial unless the trial is already final, freeing the slot it held (or its queue entry).
 * Resolves to false when there is no trial.
 */
async function recordResult(result: TrainingResult, deps: Deps): Promise<boolean> {
  return deps.docs.runTransaction(async (tx) => {
    const trial = await readTrial(tx, result.runId, result.config);
    if (!trial) return false;
    if (FINAL_TRIAL_STATUSES.has(trial.status)) return true;
    releaseTrial(tx, trial, await heldSlot(tx, trial));
    tx.set(DOCS.trial(result.runId, result.config), {
      ...trial,
      status: result.status,
      metrics: result.status === 'succeeded' ? result.metrics : null,
      artifacts: result.status === 'succeeded' ? result.artifacts : null,
      error: result.status === 'failed' ? result.error : null,
      waiting: null,
      slot: null,
      finishedAt: result.finishedAt,
      updatedAt: nowIso(),
    } satisfies TrialDoc);
    return true;
  });
}
