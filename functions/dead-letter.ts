import { z } from 'zod';
import { FINAL_TRIAL_STATUSES, type TrialDoc } from '../shared/documents.ts';
import { ForecastRequest, TrainingRequest, TrainingResult } from '../shared/messages.ts';
import { DOCS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readTrial } from '../shared/records.ts';
import { decideRun } from './decide.ts';
import { abandonForecast } from './forecast.ts';
import { nowIso, onMessage, type PubSubEvent } from './pubsub.ts';
import { enqueue, heldSlot, releaseTrial } from './queue.ts';

/** What lands on a dead-letter topic: the original message, unchanged. */
const DeadLetter = z.union([TrainingRequest, TrainingResult, ForecastRequest]);

/**
 * Why Pub/Sub gave up, from what a real dead-lettered message carries: the delivery attempts and the subscription it
 * came from (Pub/Sub adds no error), and the last error the trial's own handler recorded, if it recorded one.
 */
function whyGivenUp(event: PubSubEvent, trial?: TrialDoc): string {
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
 * A message that kept failing, from any dead-letter topic. A dead forecast request is recorded as a failed forecast
 * attempt (the run's report then written without it). A dead request fails nothing: a request only nudges the
 * launcher, since its trial waits durably in the training queue from ingest on; it is logged and its trial queued again
 * if its entry is missing; the next result or sweep starts it (this function starts no jobs: it has no Vertex AI
 * role). (Failing it would fail trials that a busy launcher merely could
 * not take in time, and a trial already `starting` or `training` has its job.) A dead result is written to its trial,
 * since the collector is what kept failing on it, in a transaction that checks the trial is not final, and the run is
 * decided here. Told apart by their content, which Pub/Sub delivers unchanged.
 */
export const deadLetter = onMessage(
  DeadLetter,
  'dead-lettered message',
  async (message, deps, { event, log }) => {
    if ('kind' in message) {
      await abandonForecast(message, whyGivenUp(event), deps);
      return;
    }
    if (!('status' in message)) {
      const config = message.config.name;
      log.error(
        `training request not delivered: ${whyGivenUp(event, await readTrial(deps.docs, message.runId, config))}`,
      );
      if (await enqueue(deps, message.runId, config))
        log.warn('its trial was not in the queue; queued it again');
      return;
    }
    const why = whyGivenUp(event, await readTrial(deps.docs, message.runId, message.config));
    const error = `its result could not be recorded: ${why}`;
    if (await failTrialDirectly(deps, message.runId, message.config, error)) log.error(error);
    else log.warn('dead-lettered result left alone: its trial is already final, or gone');
    await decideRun(message.runId, deps);
  },
);

/** Fails the trial unless it is final, freeing what it holds. Resolves to true if it did. */
async function failTrialDirectly(deps: Deps, runId: string, config: string, error: string): Promise<boolean> {
  return deps.docs.runTransaction(async (tx) => {
    const trial = await readTrial(tx, runId, config);
    if (!trial || FINAL_TRIAL_STATUSES.has(trial.status)) return false;
    releaseTrial(tx, trial, await heldSlot(tx, trial));
    const t = nowIso();
    tx.set(DOCS.trial(runId, config), {
      ...trial,
      status: 'failed',
      error,
      waiting: null,
      slot: null,
      finishedAt: t,
      updatedAt: t,
    } satisfies TrialDoc);
    return true;
  });
}
