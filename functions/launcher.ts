import { TrainingRequest } from '../shared/messages.ts';
import { readTrial } from '../shared/records.ts';
import { onMessage } from './pubsub.ts';
import { dispatch, enqueue } from './queue.ts';

/**
 * A TrainingRequest from `training-requests`: make sure its trial waits in the training queue, then start queued
 * trials while slots are free. A request that cannot start yet is acknowledged: it starts when a result frees a slot
 * or at a sweep, not by Pub/Sub redelivery. A redelivered request starts nothing new.
 */
export const launcher = onMessage(TrainingRequest, 'training request', async (request, deps, { log }) => {
  const trial = await readTrial(deps.docs, request.runId, request.config.name);
  if (!trial) {
    log.error('no trial document for this request; dropping it');
    return;
  }
  if (trial.status === 'queued') await enqueue(deps, request.runId, request.config.name);
  else log.info(`trial is already ${trial.status}`);
  const started = await dispatch(deps);
  if (trial.status === 'queued' && started === 0)
    log.info('no free training slot: the trial waits in the queue');
});
