import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collector } from '../../functions/collector.ts';
import { deadLetter } from '../../functions/dead-letter.ts';
import { ingest } from '../../functions/ingest.ts';
import { launcher } from '../../functions/launcher.ts';
import { dispatch, MAX_LAUNCH_FAILURES } from '../../functions/queue.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { DEAD_LETTER_TOPICS, DOCS, TOPICS } from '../../shared/names.ts';
import type { Deps } from '../../shared/ports.ts';
import { readRun, readTrial, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { localDeps, objectFinalized } from '../helpers/deps.ts';
import { succeeded } from '../helpers/docs.ts';
import { TestPlatform } from '../helpers/platform.ts';

const CONFIGS = DEFAULT_GRID.configs.map((c) => c.name);

/** The ids of the training queue's entries, in queue order. */
const queueEntries = async (deps: Deps) =>
  (await deps.docs.query(DOCS.trainingQueue, { orderBy: 'order' })).map((e) => e.id);

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
    expect((await sweeper(deps)).decided).toBe(0); // logged, not thrown: the other runs are still swept
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
    expect(await queueEntries(deps)).toEqual([]);
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

/** Waits until `check` holds, polling the store (a launch that never returns cannot be awaited). */
async function until(check: () => Promise<boolean>) {
  for (let i = 0; i < 500 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
  expect(await check()).toBe(true);
}

describe('the control plane under faults (issue 21)', () => {
  it('1: a launcher that dies after creating the job: the sweep finds the job by its name and records it', async () => {
    const platform = new TestPlatform(1);
    platform.gpuQuota = 0; // everything waits, so the test chooses when the launch happens
    const { runId, deps, statuses } = await pipeline(platform);
    platform.gpuQuota = 1;
    platform.crashAfterCreate = 1;
    void sweeper(deps); // its launch never returns
    await until(async () => platform.jobs.size === 1);
    for (let i = 0; i < 3; i++) await sweeper(deps, { staleStartMs: 0 });
    const trial = (await readTrial(deps.docs, runId, CONFIGS[0]!))!;
    expect(trial).toMatchObject({ status: 'training', jobId: `job-${runId}-${CONFIGS[0]}` });
    expect(await statuses()).toEqual(['training', 'queued', 'queued']);
    expect(platform.jobs.size).toBe(1);
    expect(platform.maxRunning).toBe(1);
    expect(await queueEntries(deps)).toEqual([`${runId}~${CONFIGS[1]}`, `${runId}~${CONFIGS[2]}`]);
  });

  it('2: a dead-lettered request leaves a training trial to its job, whose real result then counts', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps, bus, finish } = await pipeline(platform);
    const request = (await readTrial(deps.docs, runId, CONFIGS[0]!))!.request!;
    await bus.publish(DEAD_LETTER_TOPICS.trainingRequests, request, {
      CloudPubSubDeadLetterSourceDeliveryCount: '5',
    });
    await bus.idle();
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.status).toBe('training');
    expect(platform.maxRunning).toBe(1);
    await finish(CONFIGS[0]!, 0.7);
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.status).toBe('succeeded');
    expect((await readTrial(deps.docs, runId, CONFIGS[1]!))!.status).toBe('training');
  });

  it('3: a run that cannot be read or swept stops neither the other runs nor the dispatch', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps } = await pipeline(platform);
    // The oldest deadline, so it is swept first.
    await deps.docs.set(DOCS.run('run-broken'), { status: 'training', deadline: '2000-01-01T00:00:00.000Z' });
    await deps.docs.set(DOCS.run('run-broken-trials'), {
      ...(await readRun(deps.docs, runId))!,
      runId: 'run-broken-trials',
      deadline: '2000-01-02T00:00:00.000Z',
    });
    await deps.docs.set(DOCS.trial('run-broken-trials', 'x'), { status: 'nonsense' });
    platform.end(`job-${runId}-${CONFIGS[0]}`, { state: 'failed', platformState: 'JOB_STATE_FAILED' });
    expect((await sweeper(deps)).jobsFailed).toBe(1);
    await deps.bus.idle();
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.status).toBe('failed');
    expect((await readTrial(deps.docs, runId, CONFIGS[1]!))!.status).toBe('training');
  });

  it('3: an unreadable trial or queue entry is skipped by the dispatch, never fatal', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps, finish } = await pipeline(platform);
    await deps.docs.set(DOCS.trial(runId, CONFIGS[1]!), { status: 'queued', runId, config: 'broken' });
    await deps.docs.set(`${DOCS.trainingQueue}/garbage`, { order: '0000' });
    await finish(CONFIGS[0]!);
    expect((await readTrial(deps.docs, runId, CONFIGS[2]!))!.status).toBe('training');
    expect(await queueEntries(deps)).toEqual([]);
  });

  it('4: a job that SUCCEEDED whose result is late is credited from its result.json, not failed', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps } = await pipeline(platform);
    const result = succeeded(runId, CONFIGS[0]!, { f1: 0.7 }, deps.store.baseUri);
    await deps.store.write(`runs/${runId}/trials/${CONFIGS[0]}/result.json`, JSON.stringify(result));
    platform.end(`job-${runId}-${CONFIGS[0]}`, {
      state: 'succeeded',
      platformState: 'JOB_STATE_SUCCEEDED',
      endedAt: new Date(Date.now() - 3600_000).toISOString(),
    });
    expect((await sweeper(deps)).jobsFailed).toBe(0);
    await deps.bus.idle();
    const trial = (await readTrial(deps.docs, runId, CONFIGS[0]!))!;
    expect(trial.status).toBe('succeeded');
    expect(trial.metrics?.f1).toBe(0.7);
  });

  it('5: a sweep acting on a snapshot never turns a final trial back', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps } = await pipeline(platform);
    await deps.docs.set(
      DOCS.trial(runId, CONFIGS[0]!),
      { updatedAt: new Date(0).toISOString(), status: 'starting' },
      { merge: true },
    );
    // The sweep reads its snapshot, then the trial's result is recorded before it acts.
    const list = deps.docs.list.bind(deps.docs);
    deps.docs.list = async (collection) => {
      const snapshot = await list(collection);
      if (collection === DOCS.trials(runId)) {
        await collector(
          {
            id: 'r',
            data: {
              message: {
                data: Buffer.from(
                  JSON.stringify(succeeded(runId, CONFIGS[0]!, { f1: 0.6 }, deps.store.baseUri)),
                ).toString('base64'),
              },
            },
          } as never,
          deps,
        );
      }
      return snapshot;
    };
    await sweeper(deps, { staleStartMs: 0 });
    deps.docs.list = list;
    expect((await readTrial(deps.docs, runId, CONFIGS[0]!))!.status).toBe('succeeded');
  });

  it('5: a run still `ingesting` that has trials is swept', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps } = await pipeline(platform);
    await deps.docs.set(DOCS.run(runId), { status: 'ingesting' }, { merge: true });
    platform.end(`job-${runId}-${CONFIGS[0]}`, { state: 'failed', platformState: 'JOB_STATE_FAILED' });
    expect((await sweeper(deps)).jobsFailed).toBe(1);
  });

  it('5: a queued trial of a run already decided is not started', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps, finish } = await pipeline(platform);
    await deps.docs.set(DOCS.run(runId), { status: 'failed' }, { merge: true });
    await finish(CONFIGS[0]!);
    expect(platform.jobs.size).toBe(1);
    expect((await readTrial(deps.docs, runId, CONFIGS[1]!))!).toMatchObject({
      status: 'failed',
      error: 'not started: its run is already failed',
    });
  });

  it('6: a dispatch reads as many documents with 300 trials waiting as with 3', async () => {
    const reads = async (waiting: number) => {
      const platform = new TestPlatform(2);
      platform.gpuQuota = 0;
      const grid = {
        ...DEFAULT_GRID,
        configs: Array.from({ length: waiting }, (_, i) => ({ ...DEFAULT_GRID.configs[0]!, name: `c${i}` })),
      };
      // A backlog past the default grid and budget limits (issue 22), lifted for this measurement.
      const settings = {
        TRENDCAST_MAX_CONFIGS: String(waiting),
        TRENDCAST_MAX_RUN_HOURS: '100000',
        TRENDCAST_MAX_DAILY_HOURS: '100000',
      };
      const deps = localDeps({
        prefix: 'queue-reads-',
        launcher: platform,
        delivery: { backoffMs: 1 },
        settings,
      });
      await deps.store.write('incoming/ref.grid.json', JSON.stringify(grid));
      await deps.store.write('incoming/ref.csv', readFileSync(REFERENCE_CSV));
      await ingest(objectFinalized('incoming/ref.csv'), deps);
      platform.gpuQuota = 2;
      let count = 0;
      const runTransaction = deps.docs.runTransaction.bind(deps.docs);
      deps.docs.runTransaction = (fn) =>
        runTransaction((tx) =>
          fn({
            ...tx,
            get: (path) => {
              count++;
              return tx.get(path);
            },
            list: async (c) => {
              const docs = await tx.list(c);
              count += docs.length;
              return docs;
            },
            query: async (c, q) => {
              const docs = await tx.query(c, q);
              count += docs.length;
              return docs;
            },
          }),
        );
      expect(await dispatch(deps)).toBe(2);
      return count;
    };
    expect(await reads(300)).toBe(await reads(3));
  });

  it('6: no document grows with the backlog: the queue is one small entry per waiting trial', async () => {
    const platform = new TestPlatform(1);
    const { runId, deps } = await pipeline(platform);
    expect(await deps.docs.get('queue/training')).toBeUndefined();
    const entries = await deps.docs.query(DOCS.trainingQueue, { orderBy: 'order' });
    expect(entries.map((e) => e.data)).toEqual([
      expect.objectContaining({ runId, config: CONFIGS[1] }),
      expect.objectContaining({ runId, config: CONFIGS[2] }),
    ]);
    expect(Math.max(...entries.map((e) => JSON.stringify(e.data).length))).toBeLessThan(200);
  });
});
