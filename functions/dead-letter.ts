import { z } from 'zod';
import type { TrialDoc } from '../shared/documents.ts';
import { TrainingRequest, TrainingResult } from '../shared/messages.ts';
import { DOCS, TOPICS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readTrial } from '../shared/records.ts';
import { decideRun } from './decide.ts';
import { nowIso, onMessage, type PubSubEvent } from './pubsub.ts';

/** What lands on a dead-letter topic: the original message, unchanged. */
const DeadLetter = z.union([TrainingRequest, TrainingResult]);

/**
 * Why Pub/Sub gave up, from what a real dead-lettered message carries: the delivery attempts and the subscription it
 * came from (Pub/Sub adds no error), and the last error the trial's own handler recorded, if it recorded one.
 */
function whyGivenUp(event: PubSubEvent, trial: TrialDoc | undefined): string {
  const attributes = event.data?.message?.attributes ?? {};
  const attempts = attributes.CloudPubSubDeadLetterSourceDeliveryCount;
  const subscription = attributes.CloudPubSubDeadLetterSourceSubscription;
  return [
    `gave up after ${attempts ? `${attempts} delivery attempts` : 'every delivery attempt'}`,
    subscription ? ` on subscription ${subscription}` : '',
    trial?.lastError ? ` (last error recorded: ${trial.lastError})` : '',
  ].join('');
}

/**
 * A message that kept failing, from either dead-letter topic: its trial must say so, and its run must still end.
 * A dead request fails its trial through the collector (a failed result), which then decides the run on the others;
 * a dead result is written to its trial directly, since the collector is what kept failing on it, and the run is
 * decided here. Told apart by their content, which Pub/Sub delivers unchanged.
 */
export const deadLetter = onMessage(
  DeadLetter,
  'dead-lettered message',
  async (message, deps, { event, log }) => {
    if ('status' in message) {
      await failTrialDirectly(
        deps,
        message,
        whyGivenUp(event, await readTrial(deps.docs, message.runId, message.config)),
      );
      await decideRun(message.runId, deps);
      return;
    }
    const config = message.config.name;
    const why = whyGivenUp(event, await readTrial(deps.docs, message.runId, config));
    const failed: TrainingResult = {
      status: 'failed',
      runId: message.runId,
      config,
      error: `training job could not be started: ${why}`,
      finishedAt: nowIso(),
    };
    log.error(failed.error);
    await deps.bus.publish(TOPICS.trainingResults, failed, { runId: message.runId, config });
  },
);

async function failTrialDirectly(deps: Deps, result: TrainingResult, why: string): Promise<void> {
  await deps.docs.runTransaction(async (tx) => {
    const trial = await readTrial(tx, result.runId, result.config);
    if (!trial || trial.status === 'succeeded' || trial.status === 'failed') return;
    const t = nowIso();
    tx.set(DOCS.trial(result.runId, result.config), {
      ...trial,
      status: 'failed',
      error: `its result could not be recorded: ${why}`,
      finishedAt: t,
      updatedAt: t,
    } satisfies TrialDoc);
  });
  deps.log.error(`result could not be recorded: ${why}`, { runId: result.runId, trial: result.config });
}
