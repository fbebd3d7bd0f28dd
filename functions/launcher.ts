import { TrainingRequest } from '../shared/messages.ts';
import { readTrial } from '../shared/records.ts';
import { onMessage } from './pubsub.ts';
import { dispatchFromHandler, enqueue } from './queue.ts';

/**
 * A TrainingRequest from `training-requests`: make sure its trial waits in the training queue (ingest queued it; this
 * puts it back if its entry was lost), then start queued trials while slots are free (dispatchFromHandler: a
 * dispatch lost to contention is not retried). A redelivered request starts nothing new.
 */
export const launcher = onMessage(TrainingRequest, 'training request', async (request, deps, { log }) => {
  const trial = await readTrial(deps.docs, request.runId, request.config.name);
  if (!trial) {
    log.error('no trial document for this request; dropping it');
    return;
  }
  if (trial.status === 'queued') await enqueue(deps, request.runId, request.config.name);
  else log.info(`trial is already ${trial.status}`);
  const started = await dispatchFromHandler(deps, log);
  if (trial.status === 'queued' && started === 0)
    log.info('no free training slot: the trial waits in the queue');
});
