import type { CloudEventLike, MessagePublishedData } from '../shared/events.ts';
import { TrainingRequest, TrainingResult } from '../shared/messages.ts';
import { DEAD_LETTER_TOPICS, DOCS, TOPICS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readTrial } from '../shared/records.ts';
import { decodeMessage, nowIso } from './pubsub.ts';

/**
 * A message that kept failing: its trial must say so, and its run must still end.
 * A dead request becomes a failed result (the collector then decides the run on the other trials);
 * a dead result is written to its trial directly, since the collector is what kept failing on it.
 */
export async function deadLetter(event: CloudEventLike<MessagePublishedData>, deps: Deps): Promise<void> {
  const topic = event.source.split('/topics/')[1] ?? '';
  const attempts = event.data?.message?.attributes?.CloudPubSubDeadLetterSourceDeliveryCount ?? 'every';
  const error = event.data?.message?.attributes?.error;
  const why = `gave up after ${attempts} delivery attempts${error ? ` (last error: ${error})` : ''}`;
  if (topic === DEAD_LETTER_TOPICS.trainingRequests) {
    const request = decodeMessage(event, TrainingRequest, 'dead-lettered training request');
    const failed: TrainingResult = {
      status: 'failed',
      runId: request.runId,
      config: request.config.name,
      error: `training job could not be started: ${why}`,
      finishedAt: nowIso(),
    };
    deps.log.error(failed.error, { runId: request.runId, trial: request.config.name });
    await deps.bus.publish(TOPICS.trainingResults, failed, {
      runId: request.runId,
      config: request.config.name,
    });
    return;
  }
  if (topic === DEAD_LETTER_TOPICS.trainingResults) {
    const result = decodeMessage(event, TrainingResult, 'dead-lettered training result');
    const path = DOCS.trial(result.runId, result.config);
    await deps.docs.runTransaction(async (tx) => {
      const trial = await readTrial(tx, result.runId, result.config);
      if (!trial || trial.status === 'succeeded' || trial.status === 'failed') return;
      const t = nowIso();
      tx.set(path, {
        ...trial,
        status: 'failed',
        error: `its result could not be recorded: ${why}`,
        finishedAt: t,
        updatedAt: t,
      });
    });
    deps.log.error(`result could not be recorded: ${why}`, { runId: result.runId, trial: result.config });
    return;
  }
  deps.log.warn(`dead letter from an unknown topic ${topic}; dropped`);
}
