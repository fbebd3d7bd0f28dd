import { JobRefusedError } from '../shared/errors.ts';
import { TrainingRequest, type TrainingResult } from '../shared/messages.ts';
import { DOCS, TOPICS } from '../shared/names.ts';
import { readTrial } from '../shared/records.ts';
import { nowIso, onMessage } from './pubsub.ts';

/**
 * A TrainingRequest from `training-requests`: start its training job and mark the trial `training`.
 * A redelivered request starts nothing new: the trial has left `queued`, and the job launcher dedupes by job id.
 */
export const launcher = onMessage(TrainingRequest, 'training request', async (request, deps, { log }) => {
  const { runId } = request;
  const config = request.config.name;
  const trial = await readTrial(deps.docs, runId, config);
  if (!trial) {
    log.error('no trial document for this request; dropping it');
    return;
  }
  if (trial.status !== 'queued') {
    log.info(`trial is already ${trial.status}; nothing to start`);
    return;
  }

  let jobId: string;
  try {
    ({ jobId } = await deps.launcher.launch(request));
  } catch (error) {
    if (!(error instanceof JobRefusedError)) throw error; // transient: Pub/Sub redelivers with backoff
    log.error(`training job refused: ${error.message}`);
    const failed: TrainingResult = {
      status: 'failed',
      runId,
      config,
      error: error.message,
      finishedAt: nowIso(),
    };
    await deps.bus.publish(TOPICS.trainingResults, failed, { runId, config });
    return;
  }
  await deps.docs.runTransaction(async (tx) => {
    const current = await readTrial(tx, runId, config);
    if (current?.status !== 'queued') return; // the result may already be in
    const t = nowIso();
    tx.set(
      DOCS.trial(runId, config),
      { status: 'training', jobId, startedAt: t, updatedAt: t },
      { merge: true },
    );
  });
  log.info(`started training job ${jobId}`);
});
