// The cloud pipeline on the emulators, wired as the stack wires it: the reference CSV uploaded to the emulated bucket
// goes through the functions under the Functions Framework, the real Pub/Sub, Firestore and Storage clients, and the
// real VertexJobLauncher against the local Vertex AI service, whose jobs run the real `trendcast train`. The LSTMs are
// small and the epochs few; everything else is as in production (one training slot, one T4 of quota).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageClient } from '../../adapters/gcp/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { type EmulatedCloud, startEmulatedCloud } from '../../emulators/cloud.ts';
import { emulatorSkipReason, STORAGE_NOTIFICATIONS_TOPIC, sessionPids } from '../../emulators/harness.ts';
import type { TrialDoc } from '../../shared/documents.ts';
import { DATASET_FILES, DOCS, gridKeyFor, PATHS, TOPICS } from '../../shared/names.ts';
import { readModel, readRun, readTrial, readTrials } from '../../shared/records.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { smallDefaultGrid, tinyConfig } from '../helpers/docs.ts';
import { until } from '../helpers/wait.ts';

const skip = emulatorSkipReason();

const GRID = smallDefaultGrid(2);
const CSV = readFileSync(REFERENCE_CSV);

/** Drops a CSV (and its grid) under `name`; resolves to its run id. */
async function drop(cloud: EmulatedCloud, name: string, grid: unknown): Promise<string> {
  const key = `${PATHS.incomingPrefix}${name}.csv`;
  await cloud.upload(gridKeyFor(key), JSON.stringify(grid));
  return cloud.upload(key, CSV);
}

const overlap = (a: TrialDoc, b: TrialDoc) =>
  Date.parse(a.startedAt!) < Date.parse(b.finishedAt!) &&
  Date.parse(b.startedAt!) < Date.parse(a.finishedAt!);

describe.skipIf(skip).sequential('the pipeline on the emulators, one training slot and one T4', () => {
  let cloud: EmulatedCloud;
  const logLines: string[] = [];
  const deliveredTo = (target: string) =>
    cloud.deliveries.filter((d) => d.target === target && d.status < 300);
  let runId: string;

  beforeAll(async () => {
    cloud = await startEmulatedCloud({
      maxJobs: 1,
      gpuQuota: 1,
      sweepEveryMs: 2_000,
      // These grids turn the gate off to reach the failure under test; the deployment allows it.
      settings: {
        TRENDCAST_JOB_TIMEOUT_MINUTES: '0.5',
        TRENDCAST_STALE_START_SECONDS: '2',
        TRENDCAST_ALLOW_GATE_OFF: '1',
      },
      log: createLogger({}, { json: true, write: (line) => logLines.push(line) }),
    });
  }, 180_000);

  afterAll(async () => {
    await cloud?.stop();
  });

  it('the default grid: three trials train one after another, nothing is dead-lettered, the run is decided', async () => {
    const key = `${PATHS.incomingPrefix}${basename(REFERENCE_CSV)}`;
    await cloud.upload(gridKeyFor(key), JSON.stringify(GRID));
    runId = await cloud.upload(key, CSV);
    const run = await cloud.waitForRun(runId);
    expect(run.status).toBe('rejected'); // the seeded default grid on the reference CSV: nothing beats guessing
    expect(run).toMatchObject({
      symbol: 'RELIANCE',
      timeframe: '1d',
      configs: GRID.configs.map((c) => c.name),
    });
    expect(run.dataset?.uri).toBe(`gs://${cloud.emulators.env.TRENDCAST_BUCKET}/${PATHS.dataset(runId)}`);
    expect(await cloud.deps.store.list(PATHS.dataset(runId))).toEqual(
      Object.values(DATASET_FILES)
        .map((f) => PATHS.dataset(runId) + f)
        .sort(),
    );
    const trials = await readTrials(cloud.deps.docs, runId);
    expect(trials.map((t) => t.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const trial of trials) {
      expect(trial.jobId).toMatch(/^projects\/\d+\/locations\/asia-south1\/customJobs\/\d+$/);
      expect(trial.accelerator).toBe('NVIDIA_TESLA_T4');
      expect(trial.metrics?.epochsRun).toBe(2);
      for (const uri of Object.values(trial.artifacts!))
        expect(await cloud.deps.store.exists(uri.replace(/^gs:\/\/[^/]+\//, ''))).toBe(true);
    }
    // One slot: no two trainings overlapped.
    for (const [i, a] of trials.entries())
      for (const b of trials.slice(i + 1)) expect(overlap(a, b)).toBe(false);
    expect(deliveredTo('deadLetter')).toEqual([]);
    // One delivery of each request was enough: the queue, not Pub/Sub redelivery, held the waiting trials.
    expect(cloud.deliveries.filter((d) => d.target === 'launcher' && d.status >= 300)).toEqual([]);
    expect(await cloud.deps.docs.get(DOCS.model('RELIANCE', '1d'))).toBeUndefined();
    // The forecaster, asked by the decision, writes the run's report once the forecast is known not to be possible.
    const reportUri = await until(
      'the run report',
      async () => (await readRun(cloud.deps.docs, runId))?.reportUri,
    );
    expect(reportUri).toBe(`gs://${cloud.emulators.env.TRENDCAST_BUCKET}/runs/${runId}/report.html`);
    expect((await cloud.deps.store.read(`runs/${runId}/report.html`)).toString()).toMatch(/^<!doctype html>/);
  }, 480_000);

  it('duplicate deliveries change nothing: the same object event, training request and result again', async () => {
    const before = {
      run: await cloud.deps.docs.get(DOCS.run(runId)),
      trials: await cloud.deps.docs.list(DOCS.trials(runId)),
      objects: await cloud.deps.store.list(''),
    };
    const counts = { ingest: deliveredTo('ingest').length, launcher: deliveredTo('launcher').length };
    const collected = deliveredTo('collector').length;
    const key = `${PATHS.incomingPrefix}${basename(REFERENCE_CSV)}`;
    const [metadata] = await storageClient()
      .bucket(cloud.emulators.env.TRENDCAST_BUCKET)
      .file(key)
      .getMetadata();
    await cloud.deps.bus.publish(STORAGE_NOTIFICATIONS_TOPIC, metadata, {
      eventType: 'OBJECT_FINALIZE',
      bucketId: cloud.emulators.env.TRENDCAST_BUCKET,
      objectId: key,
      objectGeneration: String(metadata.generation),
      payloadFormat: 'JSON_API_V1',
    });
    const trial = (await readTrials(cloud.deps.docs, runId))[0]!;
    await cloud.deps.bus.publish(TOPICS.trainingRequests, trial.request);
    await cloud.deps.bus.publish(TOPICS.trainingResults, {
      status: 'succeeded',
      runId,
      config: trial.config,
      metrics: { ...trial.metrics!, f1: 0.99 },
      artifacts: trial.artifacts,
      finishedAt: new Date().toISOString(),
    });
    await until('the redeliveries to be handled', async () =>
      deliveredTo('ingest').length > counts.ingest &&
      deliveredTo('launcher').length > counts.launcher &&
      deliveredTo('collector').length > collected
        ? true
        : undefined,
    );
    expect(await cloud.deps.docs.get(DOCS.run(runId))).toEqual(before.run);
    expect(await cloud.deps.docs.list(DOCS.trials(runId))).toEqual(before.trials);
    expect(await cloud.deps.store.list('')).toEqual(before.objects);
    expect((await cloud.deps.docs.list(DOCS.runs)).length).toBe(1);
    expect(cloud.vertex.jobs.quotaUsage().NVIDIA_TESLA_T4?.used).toBe(0); // no new job
  }, 120_000);

  it('an image that cannot be pulled fails its trial with Vertex AI’s message within a few sweeps', async () => {
    cloud.injectFault('image-pull', 'pull_a');
    const started = Date.now();
    const id = await drop(cloud, 'image-pull', {
      gate: false,
      seed: 1,
      configs: [tinyConfig('pull_a'), tinyConfig('pull_b')],
    });
    const run = await cloud.waitForRun(id, 240_000);
    const a = (await readTrial(cloud.deps.docs, id, 'pull_a'))!;
    expect(a.status).toBe('failed');
    expect(a.error).toMatch(/^training job failed \(JOB_STATE_FAILED\): .*image/i);
    expect(Date.now() - started).toBeLessThan(240_000); // decided by the sweeps, not at the 24 h deadline
    expect(run.status).toBe('promoted');
    expect(run.promotion?.config).toBe('pull_b');
  }, 300_000);

  it('a hanging job is stopped at its timeout; the trial fails "timed out" and the run is decided', async () => {
    cloud.injectFault('hang', 'hang_a');
    const id = await drop(cloud, 'hang', {
      gate: false,
      seed: 1,
      configs: [tinyConfig('hang_a'), tinyConfig('hang_b')],
    });
    const run = await cloud.waitForRun(id, 300_000);
    const a = (await readTrial(cloud.deps.docs, id, 'hang_a'))!;
    expect(a.status).toBe('failed');
    expect(a.error).toMatch(/^timed out: the training job ran past its timeout/);
    expect(run.status).toBe('promoted');
    expect(run.promotion?.config).toBe('hang_b');
    expect(cloud.vertex.jobs.quotaUsage().NVIDIA_TESLA_T4?.used).toBe(0); // the slot and the GPU are free again
  }, 360_000);

  it('a launcher that dies after creating the job: a sweep finds the job by its name and records it, none is created twice', async () => {
    cloud.injectFault('launcher-crash');
    cloud.injectFault('hang', 'crash_a'); // the job runs on until its timeout, so only the sweep can record it
    const id = await drop(cloud, 'launcher-crash', {
      gate: false,
      seed: 1,
      configs: [tinyConfig('crash_a'), tinyConfig('crash_b')],
    });
    const recorded = await until("the sweep to record crash_a's job", async () => {
      const a = await readTrial(cloud.deps.docs, id, 'crash_a');
      return a?.status === 'training' ? a : undefined;
    });
    const created = (config: string) =>
      logLines.filter((l) => l.includes('created Vertex AI job') && l.includes(`${id}-${config})`));
    expect(created('crash_a')).toHaveLength(1);
    expect(created('crash_a')[0]).toContain(recorded.jobId!);
    expect(
      logLines.some((l) => l.includes('was left starting; finishing its launch') && l.includes(id)),
    ).toBe(true);
    const run = await cloud.waitForRun(id, 300_000);
    expect(run.status).toBe('promoted');
    expect(created('crash_b')).toHaveLength(1);
    expect(deliveredTo('deadLetter')).toEqual([]);
  }, 360_000);

  it('a preempted job fails its trial (no retry: the run is decided on the others; drop the CSV again to retry)', async () => {
    cloud.injectFault('preempt', 'preempt_a');
    const id = await drop(cloud, 'preempt', {
      gate: false,
      seed: 1,
      configs: [tinyConfig('preempt_a', 30), tinyConfig('preempt_b')],
    });
    const run = await cloud.waitForRun(id, 300_000);
    const a = (await readTrial(cloud.deps.docs, id, 'preempt_a'))!;
    expect(a.status).toBe('failed');
    expect(a.error).toMatch(/^training job failed \(JOB_STATE_FAILED\): .*preempt/i);
    expect(run.status).toBe('promoted');
  }, 360_000);

  it('a result that cannot be recorded is dead-lettered, and the run is still decided', async () => {
    const runTransaction = cloud.deps.docs.runTransaction.bind(cloud.deps.docs);
    const id = await drop(cloud, 'dead-result', { gate: false, seed: 1, configs: [tinyConfig('dead_a')] });
    await until('dead_a to train', async () => {
      const a = await readTrial(cloud.deps.docs, id, 'dead_a');
      return a?.status === 'training' ? true : undefined;
    });
    // Firestore refuses the collector's transactions from now on: every delivery of the result fails.
    let refused = 0;
    cloud.deps.docs.runTransaction = async (fn) => {
      const stack = new Error().stack ?? '';
      if (stack.includes('recordResult')) {
        refused++;
        throw new Error('injected: firestore unavailable');
      }
      return runTransaction(fn);
    };
    try {
      const run = await cloud.waitForRun(id, 300_000);
      expect(refused).toBeGreaterThanOrEqual(5);
      // The run is decided inside the dead-letter function's delivery, which the relay records once it has answered.
      await until('the dead letter to be delivered', async () =>
        deliveredTo('deadLetter').length ? true : undefined,
      );
      const a = (await readTrial(cloud.deps.docs, id, 'dead_a'))!;
      expect(a.error).toMatch(
        /^its result could not be recorded: gave up after 5 delivery attempts on subscription/,
      );
      expect(run.status).toBe('rejected');
    } finally {
      cloud.deps.docs.runTransaction = runTransaction;
    }
  }, 360_000);

  it('a bad CSV ends as a failed run with the error in plain words, no dataset and no training', async () => {
    const launched = deliveredTo('launcher').length;
    const key = `${PATHS.incomingPrefix}broken-prices.csv`;
    const badRunId = await cloud.upload(key, 'Date,Open,High\n2024-01-01,abc,\n');
    const run = await cloud.waitForRun(badRunId, 60_000);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/broken-prices\.csv/);
    expect(run.error).not.toMatch(/\n\s+at /);
    expect(await cloud.deps.store.list(PATHS.dataset(badRunId))).toEqual([]);
    expect(await cloud.deps.docs.list(DOCS.trials(badRunId))).toEqual([]);
    expect(deliveredTo('launcher').length).toBe(launched);
  });

  it('the bucket failing a write mid-ingest: the event is delivered again and the run completes once', async () => {
    // X.npy is streamed to the bucket: the stream fails as an unavailable bucket would, after features.csv landed.
    const writeStream = cloud.deps.store.writeStream.bind(cloud.deps.store);
    let failures = 0;
    cloud.deps.store.writeStream = async (key, chunks, contentType) => {
      if (key.endsWith(DATASET_FILES.X) && failures === 0) {
        failures++;
        throw new Error('injected: storage unavailable');
      }
      return writeStream(key, chunks, contentType);
    };
    try {
      const id = await drop(cloud, 'flaky-bucket', { gate: false, configs: [tinyConfig('flaky', 1)] });
      const run = await cloud.waitForRun(id);
      expect(failures).toBe(1);
      expect(run.status).toBe('promoted');
      expect(await cloud.deps.store.list(PATHS.dataset(id))).toHaveLength(Object.keys(DATASET_FILES).length);
      expect(cloud.deliveries.some((d) => d.target === 'ingest' && d.status >= 500)).toBe(true);
      const model = await readModel(cloud.deps.docs, run.symbol!, run.timeframe!);
      expect(model?.history.filter((h) => h.runId === id)).toHaveLength(1);
    } finally {
      cloud.deps.store.writeStream = writeStream;
    }
  }, 300_000);

  it('logs one JSON object per line with severity, message and the run id, none of them escaped JSON', () => {
    const records = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(['DEBUG', 'INFO', 'WARNING', 'ERROR']).toContain(r.severity);
      expect(typeof r.message).toBe('string');
      expect(String(r.message)).not.toMatch(/^\s*\{.*"severity"/);
    }
    expect(records.some((r) => r.runId === runId && r.severity === 'INFO')).toBe(true);
  });

  it('stopping leaves no emulator process behind', async () => {
    const sessions = cloud.emulators.sessions;
    await cloud.stop();
    expect(sessions.flatMap((sid) => sessionPids(sid))).toEqual([]);
  });
});

describe.skipIf(skip).sequential('the pipeline on the emulators, no GPU quota', () => {
  let cloud: EmulatedCloud;

  afterAll(async () => {
    await cloud?.stop();
  });

  it('trials wait with the quota reason on the run; once the quota is raised they train', async () => {
    cloud = await startEmulatedCloud({
      maxJobs: 1,
      gpuQuota: 0,
      sweepEveryMs: 2_000,
      log: createLogger({}, { write: () => {} }),
      settings: { TRENDCAST_ALLOW_GATE_OFF: '1' },
    });
    const id = await drop(cloud, 'no-quota', {
      gate: false,
      seed: 1,
      configs: [tinyConfig('quota_a'), tinyConfig('quota_b')],
    });
    const reason = 'waiting for GPU quota custom_model_training_nvidia_t4_gpus in asia-south1';
    const waiting = await until('the run to wait for quota', async () => {
      const run = await readRun(cloud.deps.docs, id);
      return run?.waiting ? run : undefined;
    });
    expect(waiting.waiting).toBe(reason);
    // Each sweep tries it again (starting, 429, back in the queue): wait for it to be seen queued.
    const queued = await until('quota_a to wait in the queue', async () => {
      const a = await readTrial(cloud.deps.docs, id, 'quota_a');
      return a?.status === 'queued' ? a : undefined;
    });
    expect(queued.waiting).toBe(reason);
    cloud.vertex.jobs.setQuota({ NVIDIA_TESLA_T4: 1 });
    const run = await cloud.waitForRun(id, 300_000);
    expect(run.status).toBe('promoted');
    expect(run.waiting).toBeNull();
    expect((await readTrials(cloud.deps.docs, id)).map((t) => t.accelerator)).toEqual([
      'NVIDIA_TESLA_T4',
      'NVIDIA_TESLA_T4',
    ]);
    expect(cloud.deliveries.filter((d) => d.target === 'deadLetter')).toEqual([]);
    await cloud.stop();
  }, 400_000);

  it('with TRENDCAST_ON_NO_GPU_QUOTA=cpu they train on CPU at once, and each trial says so', async () => {
    cloud = await startEmulatedCloud({
      maxJobs: 2,
      gpuQuota: 0,
      sweepEveryMs: 2_000,
      settings: { TRENDCAST_ON_NO_GPU_QUOTA: 'cpu', TRENDCAST_ALLOW_GATE_OFF: '1' },
      log: createLogger({}, { write: () => {} }),
    });
    const id = await drop(cloud, 'cpu-fallback', {
      gate: false,
      seed: 1,
      configs: [tinyConfig('cpu_a'), tinyConfig('cpu_b')],
    });
    const run = await cloud.waitForRun(id, 300_000);
    expect(run.status).toBe('promoted');
    for (const trial of await readTrials(cloud.deps.docs, id)) {
      expect(trial.accelerator).toBe('NONE');
      expect(trial.note).toMatch(/^trained on CPU: no GPU quota for NVIDIA_TESLA_T4/);
    }
    expect(cloud.deliveries.filter((d) => d.target === 'deadLetter')).toEqual([]);
  }, 400_000);
});
