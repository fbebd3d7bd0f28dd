import { describe, expect, it } from 'vitest';
import { collector } from '../../functions/collector.ts';
import { deadLetter } from '../../functions/dead-letter.ts';
import { forecaster } from '../../functions/forecast.ts';
import { launcher } from '../../functions/launcher.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { ForecastAttempt } from '../../shared/documents.ts';
import type { ForecastRequest, TrainingRequest } from '../../shared/messages.ts';
import { DEAD_LETTER_TOPICS, DOCS, INDEX_PAGE, REPORT, TOPICS } from '../../shared/names.ts';
import { readRun, readTrial } from '../../shared/records.ts';
import { localDeps } from '../helpers/deps.ts';
import { modelDoc, runDoc, trialDoc } from '../helpers/docs.ts';
import { TestPlatform } from '../helpers/platform.ts';

/** What Pub/Sub adds to a message it dead-letters: where it came from and how often it was tried, never an error. */
const REAL_DEAD_LETTER_ATTRIBUTES = {
  CloudPubSubDeadLetterSourceDeliveryCount: '5',
  CloudPubSubDeadLetterSourceSubscription: 'projects/p/subscriptions/training-requests-push',
  CloudPubSubDeadLetterSourceSubscriptionProject: 'p',
  CloudPubSubDeadLetterSourceTopicPublishTime: '2026-11-25T10:00:00.000Z',
};

async function setup() {
  const deps = localDeps({
    prefix: 'dlq-',
    launcher: new TestPlatform(1),
    delivery: { backoffMs: 1, maxAttempts: 3 },
  });
  const { bus } = deps;
  bus.subscribe(TOPICS.trainingResults, (e) => collector(e, deps));
  for (const topic of Object.values(DEAD_LETTER_TOPICS)) bus.subscribe(topic, (e) => deadLetter(e, deps));
  const runId = 'run-dead-letter';
  const config = DEFAULT_GRID.configs[0]!;
  const request: TrainingRequest = {
    runId,
    config,
    datasetUri: 'file:///nowhere/',
    outputUri: 'file:///nowhere/out/',
  };
  await deps.docs.create(DOCS.run(runId), runDoc(runId, [config.name]));
  return { deps, bus, runId, config, request };
}

describe('dead letters', () => {
  it('a dead-lettered request fails nothing: its trial waits in the queue (put back if its entry was lost) and starts', async () => {
    const { deps, bus, runId, config, request } = await setup();
    await deps.docs.create(
      DOCS.trial(runId, config.name),
      trialDoc(runId, config.name, { status: 'queued', request }),
    );
    await bus.publish(DEAD_LETTER_TOPICS.trainingRequests, request, REAL_DEAD_LETTER_ATTRIBUTES);
    await bus.idle();
    expect((await readTrial(deps.docs, runId, config.name))!).toMatchObject({
      status: 'queued',
      error: null,
    });
    expect(await deps.docs.get(DOCS.queueEntry(runId, config.name))).toMatchObject({
      runId,
      config: config.name,
    });
    expect((await sweeper(deps)).started).toBe(1);
    expect((await readTrial(deps.docs, runId, config.name))!.status).toBe('training');
    expect((await readRun(deps.docs, runId))!.status).toBe('training');
  });

  it('a dead-lettered request leaves a trial that is already training to its job', async () => {
    const { deps, bus, runId, config, request } = await setup();
    await deps.docs.create(
      DOCS.trial(runId, config.name),
      trialDoc(runId, config.name, { status: 'training', jobId: 'job-1' }),
    );
    await bus.publish(DEAD_LETTER_TOPICS.trainingRequests, request, REAL_DEAD_LETTER_ATTRIBUTES);
    await bus.idle();
    expect((await readTrial(deps.docs, runId, config.name))!).toMatchObject({
      status: 'training',
      jobId: 'job-1',
    });
  });

  it('the local bus dead-letters a message that fails every attempt with the attributes Pub/Sub adds, and no error', async () => {
    const { deps, bus, runId, config, request } = await setup();
    await deps.docs.create(
      DOCS.trial(runId, config.name),
      trialDoc(runId, config.name, { status: 'queued' }),
    );
    const seen: Array<Record<string, string>> = [];
    bus.subscribe(TOPICS.trainingRequests, async (e) => {
      await launcher(e, {
        ...deps,
        docs: { ...deps.docs, get: () => Promise.reject(new Error('firestore unavailable')) },
      });
    });
    bus.subscribe(DEAD_LETTER_TOPICS.trainingRequests, async (e) => {
      seen.push(e.data!.message.attributes!);
    });
    await bus.publish(TOPICS.trainingRequests, request, { runId });
    await bus.idle();
    expect(seen).toHaveLength(1);
    expect(Object.keys(seen[0]!).sort()).toEqual([
      'CloudPubSubDeadLetterSourceDeliveryCount',
      'CloudPubSubDeadLetterSourceSubscription',
      'CloudPubSubDeadLetterSourceSubscriptionProject',
      'CloudPubSubDeadLetterSourceTopicPublishTime',
      'runId',
    ]);
    expect(seen[0]!.CloudPubSubDeadLetterSourceDeliveryCount).toBe('3');
  });

  it('a forecast request that keeps failing is dead-lettered: a failed attempt says why, the report and index are written', async () => {
    const { deps, bus, runId } = await setup();
    bus.subscribe(TOPICS.forecastRequests, (e) => forecaster(e, deps));
    await deps.docs.set(
      DOCS.run(runId),
      runDoc(runId, ['a'], { status: 'rejected', finishedAt: new Date().toISOString() }),
    );
    await deps.docs.set(DOCS.model('TEST', '1d'), modelDoc(1, 'a'));
    // The model's folder cannot be read, every time: a transient failure that redelivery does not cure.
    const exists = deps.store.exists.bind(deps.store);
    let reads = 0;
    deps.store.exists = async (key) => {
      if (key.startsWith('models/')) {
        reads++;
        throw new Error('injected: storage unavailable');
      }
      return exists(key);
    };
    const request: ForecastRequest = { kind: 'run', runId };
    await bus.publish(TOPICS.forecastRequests, request, { runId });
    await bus.idle();
    expect(reads).toBe(3); // every delivery attempt, then the dead-letter topic
    const attempt = ForecastAttempt.parse(await deps.docs.get(DOCS.forecastAttempt(`after-${runId}`)));
    expect(attempt).toMatchObject({ status: 'failed', runId, forecast: null });
    expect(attempt.error).toMatch(
      new RegExp(
        `^the forecast could not be made: gave up after 3 delivery attempts on subscription ${TOPICS.forecastRequests}`,
      ),
    );
    expect(await deps.store.exists(REPORT.object(runId))).toBe(true);
    expect(await deps.store.exists(INDEX_PAGE)).toBe(true);

    // Delivered again: the attempt stays as it was.
    await bus.publish(DEAD_LETTER_TOPICS.forecastRequests, request, REAL_DEAD_LETTER_ATTRIBUTES);
    await bus.idle();
    expect(await deps.docs.get(DOCS.forecastAttempt(`after-${runId}`))).toEqual(attempt);
  });
});
