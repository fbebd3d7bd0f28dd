import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collector } from '../../functions/collector.ts';
import { deadLetter } from '../../functions/dead-letter.ts';
import { ingest } from '../../functions/ingest.ts';
import { launcher } from '../../functions/launcher.ts';
import { MAX_LAUNCH_FAILURES } from '../../functions/queue.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { DEAD_LETTER_TOPICS, DOCS, TOPICS } from '../../shared/names.ts';
import { readQueue, readRun, readTrial, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { localDeps, objectFinalized } from '../helpers/deps.ts';
import { succeeded } from '../helpers/docs.ts';
import { TestPlatform } from '../helpers/platform.ts';

const CONFIGS = DEFAULT_GRID.configs.map((c) => c.name);

/** The handlers on the local bus with a test platform; the reference CSV dropped and ingested. */
async function pipeline(
  platform: TestPlatform,
  settings: Record<string, string> = {},
  object = 'incoming/ref.csv',
) {
  const deps = localDeps({ prefix: 'queue-', launcher: platform, settings, delivery: { backoffMs: 1 } });
  const { bus } = deps;
  bus.subscribe(TOPICS.trainingRequests, (e) => launcher(e, deps));
  bus.subscribe(TOPICS.trainingResults, (e) => collector(e, deps));
  for (const topic of Object.values(DEAD_LETTER_TOPICS)) bus.subscribe(topic, (e) => deadLetter(e, deps));
  await deps.store.write(object, readFileSync(REFERENCE_CSV));
  await ingest(objectFinalized(object), deps);
  await bus.idle();
  const runId = deriveRunId('local', object, '1');
  const statuses = async () => (await readTrials(deps.docs, runId)).map((t) => t.status);
  /** The platform's job ends and its trainer reports success, as a real job does. */
  const finish = async (config: string, f1 = 0.6) => {
    const jobId = `job-${runId}-${config}`;
    platform.end(jobId, { state: 'succeeded', platformState: 'JOB_STATE_SUCCEEDED' });
    await bus.publish(TOPICS.trainingResults, succeeded(runId, config, { f1 }, deps.store.baseUri));
    await bus.idle();
  };
  return { deps, bus, runId, statuses, finish };
}

describe('the job lifecycle, watched by the sweeper', () => {
  it("fails a trial whose job the platform reports FAILED, with the platform's message, long before the deadline", async () => {
    const platform = new TestPlatform(1);
    const { runId, deps, statuses } = await pipeline(platform);
    platform.end(`job-${runId}-${CONFIGS[0]}`, {
      state: 'failed',
      platformState: 'JOB_STATE_FAILED',
      error: 'Unable to pull image: image not found',
    });
    expect((await sweeper(deps)).jobsFailed).toBe(1);
    await deps.bus.idle();
    const trial = (await readTrial(deps.docs, runId, CONFIGS[0]!))!;
    expect(trial.status).toBe('failed');
    expect(trial.error).toBe('training job failed (JOB_STATE_FAILED): Unable to pull image: image not found');
    expect(trial.jobState).toBe('JOB_STATE_FAILED');
    expect(await statuses()).toEqual(['failed', 'training', 'queued']);
  });

  it('fails a trial whose job SUCCEEDED without reporting, once the grace period is over', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps } = await pipeline(platform);
    const ended = new Date(Date.now() - 60_000).toISOString();
    platform.end(`job-${runId}-${CONFIGS[0]}`, {
      state: 'succeeded',
      platformState: 'JOB_STATE_SUCCEEDED',
      endedAt: ended,
    });
    expect((await sweeper(deps, { resultGraceMs: 120_000 })).jobsFailed).toBe(0);
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!).toMatchObject({
      status: 'training',
      jobEndedAt: ended,
    });
    expect((await sweeper(deps, { resultGraceMs: 30_000 })).jobsFailed).toBe(1);
    await deps.bus.idle();
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.error).toBe(
      'training job finished (JOB_STATE_SUCCEEDED) without reporting a result',
    );
  });

  it('at the deadline, times out every trial without a result, cancels its job, and the run is decided', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps, statuses } = await pipeline(platform);
    const later = new Date(Date.now() + 2 * 24 * 3600_000);
    expect((await sweeper(deps, { now: later })).timedOut).toBe(3);
    await deps.bus.idle();
    expect(platform.cancelled).toEqual([`job-${runId}-${CONFIGS[0]}`]);
    expect(await statuses()).toEqual(['failed', 'failed', 'failed']);
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.error).toMatch(
      /^timed out: no result by the run deadline/,
    );
    expect((await readRun(deps.docs, runId))!.status).toBe('rejected');
    expect(platform.runningJobs).toEqual([]);
  });

  it('decides a run whose last result was dead-lettered', async () => {
    const platform = new TestPlatform(3);
    const { runId, deps, finish } = await pipeline(platform);
    await finish(CONFIGS[0]!, 0.7);
    await finish(CONFIGS[1]!, 0.65);
    // The last result could not be recorded: Pub/Sub gave up and put it on the dead-letter topic.
    await deps.bus.publish(
      DEAD_LETTER_TOPICS.trainingResults,
      succeeded(runId, CONFIGS[2]!, { f1: 0.9 }, deps.store.baseUri),
      {
        CloudPubSubDeadLetterSourceDeliveryCount: '5',
        CloudPubSubDeadLetterSourceSubscription: 'projects/p/subscriptions/training-results-push',
      },
    );
    await deps.bus.idle();
    expect((await readTrial(deps.docs, runId, CONFIGS[2]!))!.error).toBe(
      'its result could not be recorded: gave up after 5 delivery attempts on subscription projects/p/subscriptions/training-results-push',
    );
    const run = (await readRun(deps.docs, runId))!;
    expect(run.status).toBe('promoted');
    expect(run.promotion?.config).toBe(CONFIGS[0]);
  });

  it('decides a run nobody decided, and finishes a reserved promotion that did not finish', async () => {
    const platform = new TestPlatform(3);
    const { runId, deps } = await pipeline(platform);
    // Every trial final, but no result went through the collector (it crashed after writing them).
    for (const config of CONFIGS)
      await deps.store.write(`runs/${runId}/trials/${config}/metrics.json`, config);
    for (const config of CONFIGS)
      await deps.docs.set(
        DOCS.trial(runId, config),
        succeeded(runId, config, { f1: 0.6 }, deps.store.baseUri) as never,
        {
          merge: true,
        },
      );
    expect((await readRun(deps.docs, runId))!.status).toBe('training');
    // The first attempt reserves the promotion, then the bucket fails while the model is copied.
    const copy = deps.store.copy.bind(deps.store);
    deps.store.copy = async () => {
      throw new Error('503 backend error');
    };
    await expect(sweeper(deps)).rejects.toThrow(/503/);
    const reserved = (await readRun(deps.docs, runId))!;
    expect(reserved).toMatchObject({ status: 'training', promotion: { version: 1 } });
    deps.store.copy = copy;
    expect((await sweeper(deps)).decided).toBe(1);
    expect((await readRun(deps.docs, runId))!.status).toBe('promoted');
    const winner = reserved.promotion!.config;
    expect((await deps.store.read('models/REF/1d/versions/v0001/metrics.json')).toString()).toBe(winner);
    expect(JSON.parse((await deps.store.read('models/REF/1d/current.json')).toString())).toMatchObject({
      version: 1,
      config: winner,
    });
  });

  it('puts a trial left `starting` by a launcher that died back in the queue', async () => {
    const platform = new TestPlatform(1);
    platform.failures = [];
    const { runId, deps, statuses } = await pipeline(platform);
    await deps.docs.set(
      DOCS.trial(runId, CONFIGS[1]!),
      { status: 'starting', updatedAt: new Date(0).toISOString() },
      {
        merge: true,
      },
    );
    await sweeper(deps);
    expect((await statuses())[1]).toBe('queued');
    expect((await readQueue(deps.docs)).waiting).toContain(`${runId}/${CONFIGS[1]}`);
  });
});

describe('the durable training queue', () => {
  it('with one slot, trains the three trials one after another; nothing is dead-lettered', async () => {
    const platform = new TestPlatform(1);
    const { bus, runId, statuses, finish, deps } = await pipeline(platform);
    expect(await statuses()).toEqual(['training', 'queued', 'queued']);
    expect(platform.runningJobs).toEqual([`job-${runId}-${CONFIGS[0]}`]);
    await finish(CONFIGS[0]!);
    expect(await statuses()).toEqual(['succeeded', 'training', 'queued']);
    await finish(CONFIGS[1]!);
    expect(await statuses()).toEqual(['succeeded', 'succeeded', 'training']);
    await finish(CONFIGS[2]!);
    expect(await statuses()).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(bus.published.get(DEAD_LETTER_TOPICS.trainingRequests)).toBeUndefined();
    expect(platform.launches).toHaveLength(3);
    expect((await readRun(deps.docs, runId))!.status).toMatch(/promoted|rejected/);
    expect(await readQueue(deps.docs)).toMatchObject({ waiting: [], active: [] });
  });

  it('never holds more slots than the platform has, however requests are delivered', async () => {
    const platform = new TestPlatform(2);
    const { bus, runId, statuses, deps } = await pipeline(platform);
    const requests = (await readTrials(deps.docs, runId)).map((t) => t.request!);
    await Promise.all(
      [...requests, ...requests, ...requests].map((r) => bus.publish(TOPICS.trainingRequests, r)),
    );
    await bus.idle();
    expect((await statuses()).filter((s) => s === 'training')).toHaveLength(2);
    expect(new Set(platform.launches).size).toBe(2);
    expect(platform.runningJobs).toHaveLength(2);
  });

  it('waits for GPU quota with the reason on the trial and the run, and proceeds once quota is granted', async () => {
    const platform = new TestPlatform(1);
    platform.gpuQuota = 0;
    const { runId, statuses, deps } = await pipeline(platform);
    expect(await statuses()).toEqual(['queued', 'queued', 'queued']);
    const reason = 'waiting for GPU quota custom_model_training_nvidia_t4_gpus in asia-south1';
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.waiting).toBe(reason);
    expect((await readRun(deps.docs, runId))!.waiting).toBe(reason);
    await sweeper(deps);
    expect(await statuses()).toEqual(['queued', 'queued', 'queued']);
    platform.gpuQuota = 1;
    expect((await sweeper(deps)).started).toBe(1);
    expect(await statuses()).toEqual(['training', 'queued', 'queued']);
    expect((await readRun(deps.docs, runId))!.waiting).toBeNull();
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!).toMatchObject({
      waiting: null,
      accelerator: 'NVIDIA_TESLA_T4',
    });
  });

  it('trains on CPU at once when GPU quota is 0 and TRENDCAST_ON_NO_GPU_QUOTA=cpu, and the trial says so', async () => {
    const platform = new TestPlatform(3);
    platform.gpuQuota = 0;
    const { runId, statuses, deps } = await pipeline(platform, { TRENDCAST_ON_NO_GPU_QUOTA: 'cpu' });
    expect(await statuses()).toEqual(['training', 'training', 'training']);
    const trial = (await readTrial(deps.docs, runId, CONFIGS[0]!))!;
    expect(trial.accelerator).toBe('NONE');
    expect(trial.note).toMatch(/trained on CPU: no GPU quota for NVIDIA_TESLA_T4/);
    expect([...platform.jobs.values()].every((j) => j.cpu)).toBe(true);
  });

  it('fails a trial whose job the platform refuses for good, and the run is decided on the others', async () => {
    const platform = new TestPlatform(3);
    platform.refuse = true;
    const { runId, statuses, deps } = await pipeline(platform);
    expect(await statuses()).toEqual(['failed', 'failed', 'failed']);
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.error).toBe('the job spec is invalid: no image');
    expect((await readRun(deps.docs, runId))!.status).toBe('rejected');
  });

  it('records a transient launch failure and retries it at later dispatches, failing after the last attempt', async () => {
    const platform = new TestPlatform(1);
    platform.failures = Array.from(
      { length: MAX_LAUNCH_FAILURES },
      () => new Error('503 service unavailable'),
    );
    const { runId, deps } = await pipeline(platform);
    const first = (await readTrial(deps.docs, runId, CONFIGS[0]!))!;
    expect(first).toMatchObject({
      status: 'queued',
      lastError: '503 service unavailable',
      launchFailures: 1,
    });
    for (let i = 1; i < MAX_LAUNCH_FAILURES; i++) await sweeper(deps);
    await deps.bus.idle();
    const failed = (await readTrial(deps.docs, runId, CONFIGS[0]!))!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe(
      `training job could not be started after ${MAX_LAUNCH_FAILURES} attempts: 503 service unavailable`,
    );
    // The slot went to the next trial.
    expect((await readTrial(deps.docs, runId, CONFIGS[1]!))!.status).toBe('training');
  });
});
