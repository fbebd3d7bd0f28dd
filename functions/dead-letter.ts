import { z } from 'zod';
import { FINAL_TRIAL_STATUSES, type TrialDoc } from '../shared/documents.ts';
import { TrainingRequest, TrainingResult } from '../shared/messages.ts';
import { DOCS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readTrial } from '../shared/records.ts';
import { decideRun } from './decide.ts';
import { nowIso, onMessage, type PubSubEvent } from './pubsub.ts';
import { heldSlot, releaseTrial } from './queue.ts';

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
 * A dead request fails its trial only while the trial is still `queued`: one that is `starting` or `training` has its
 * job (or is getting it), holds its slot and will report, so it is left to its job and the sweeper. A dead result is
 * written to its trial, since the collector is what kept failing on it. Both are written here in a transaction that
 * checks the trial's state, and the run is decided here. Told apart by their content, which Pub/Sub delivers
 * unchanged.
 */
export const deadLetter = onMessage(
  DeadLetter,
  'dead-lettered message',
  async (message, deps, { event, log }) => {
    const config = 'status' in message ? message.config : message.config.name;
    const why = whyGivenUp(event, await readTrial(deps.docs, message.runId, config));
    const error =
      'status' in message
        ? `its result could not be recorded: ${why}`
        : `training job could not be started: ${why}`;
    const failed = await failTrialDirectly(
      deps,
      message.runId,
      config,
      error,
      'status' in message ? undefined : 'queued',
    );
    if (failed) log.error(error);
    else log.warn(`dead-lettered message left alone: its trial is ${failed === false ? 'past it' : 'gone'}`);
    await decideRun(message.runId, deps);
  },
);

/**
 * Fails the trial unless it is final (or, with `onlyIf`, unless it is in that state), freeing what it holds. Resolves
 * to true if it did, false if the trial was left alone, undefined without a trial.
 */
async function failTrialDirectly(
  deps: Deps,
  runId: string,
  config: string,
  error: string,
  onlyIf?: TrialDoc['status'],
): Promise<boolean | undefined> {
  return deps.docs.runTransaction(async (tx) => {
    const trial = await readTrial(tx, runId, config);
    if (!trial) return undefined;
    if (FINAL_TRIAL_STATUSES.has(trial.status) || (onlyIf && trial.status !== onlyIf)) return false;
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
