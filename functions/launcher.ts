import type { TrialDoc } from '../shared/documents.ts';
import { InputError, JobRefusedError } from '../shared/errors.ts';
import type { CloudEventLike, MessagePublishedData } from '../shared/events.ts';
import { TrainingRequest, type TrainingResult } from '../shared/messages.ts';
import { DOCS, TOPICS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { decodeMessage, nowIso } from './decode.ts';

/**
 * A TrainingRequest from `training-requests`: start its training job and mark the trial `training`.
 * A redelivered request starts nothing new: the trial has left `queued`, and the job launcher dedupes by job id.
 */
export async function launcher(event: CloudEventLike<MessagePublishedData>, deps: Deps): Promise<void> {
  let request: TrainingRequest;
  try {
    request = decodeMessage(event, TrainingRequest, 'training request');
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    deps.log.error(`dropping a malformed message: ${error.message}`); // redelivery cannot fix it
    return;
  }
  const { runId } = request;
  const config = request.config.name;
  const log = deps.log.child({ runId, trial: config });
  const trialPath = DOCS.trial(runId, config);
  const trial = await deps.docs.get<TrialDoc>(trialPath);
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
    const current = await tx.get<TrialDoc>(trialPath);
    if (current?.status !== 'queued') return; // the result may already be in
    const t = nowIso();
    tx.set(trialPath, { status: 'training', jobId, startedAt: t, updatedAt: t }, { merge: true });
  });
  log.info(`started training job ${jobId}`);
}
