// The cloud pipeline on the emulators: the reference CSV uploaded to the emulated bucket becomes a promoted (or a
// reasonably rejected) model in the emulated bucket and Firestore. The functions run under the Functions Framework
// behind the emulated Eventarc (scripts/eventarc.ts); trainers run as local child processes (there is no Vertex AI
// emulator) and their results travel through the Pub/Sub emulator. Epochs are capped and the LSTMs made small.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcpDeps } from '../../adapters/gcp/deps.ts';
import { storageClient } from '../../adapters/gcp/object-store.ts';
import { ChildProcessJobLauncher, type EpochProgress } from '../../adapters/local/job-launcher.ts';
import { createLogger } from '../../adapters/log.ts';
import type { Deps } from '../../functions/deps.ts';
import { sweeper } from '../../functions/sweeper.ts';
import {
  Emulators,
  emulatorSkipReason,
  STORAGE_NOTIFICATIONS_TOPIC,
  sessionPids,
} from '../../scripts/emulator-harness.ts';
import { type Eventarc, startPipeline } from '../../scripts/eventarc.ts';
import { DEFAULT_GRID, type GridInput } from '../../shared/config.ts';
import { FINAL_RUN_STATUSES, ModelDoc, RunDoc, TrialDoc } from '../../shared/documents.ts';
import { DATASET_FILES, DOCS, PATHS, TOPICS } from '../../shared/names.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { readSettings } from '../../shared/settings.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';

const skip = emulatorSkipReason();

const GRID: GridInput = {
  ...DEFAULT_GRID,
  seed: 42,
  configs: DEFAULT_GRID.configs.map((c) => ({
    ...c,
    epochs: 2,
    lstmUnits: c.lstmUnits.map((u) => Math.max(2, u / 16)) as [number, number, number],
  })),
};
const CSV_KEY = `${PATHS.incomingPrefix}${basename(REFERENCE_CSV)}`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

describe.skipIf(skip).sequential('the pipeline on the emulators, with the real event wiring', () => {
  let emulators: Emulators;
  let eventarc: Eventarc;
  let deps: Deps;
  let jobs: ChildProcessJobLauncher;
  const logLines: string[] = [];
  /** Lets a test act on a trainer's progress (a fault injected mid-training). */
  let onProgress: ((p: EpochProgress) => void) | undefined;

  /** Uploads an object to the emulated bucket; resolves to its generation, as GCS assigns it. */
  async function upload(key: string, data: Buffer | string): Promise<string> {
    await deps.store.write(key, data);
    const [metadata] = await storageClient().bucket(emulators.env.TRENDCAST_BUCKET).file(key).getMetadata();
    return String(metadata.generation);
  }

  async function finishedRun(runId: string, timeoutMs = 300_000): Promise<RunDoc> {
    return until(
      `run ${runId} to end`,
      async () => {
        const run = await deps.docs.get<RunDoc>(DOCS.run(runId));
        return run && FINAL_RUN_STATUSES.has(run.status) ? RunDoc.parse(run) : undefined;
      },
      timeoutMs,
    );
  }

  const deliveredTo = (target: string) =>
    eventarc.deliveries.filter((d) => d.target === target && d.status < 300);

  beforeAll(async () => {
    emulators = await Emulators.start({ setProcessEnv: true });
    const log = createLogger({}, { json: true, write: (line) => logLines.push(line) });
    deps = gcpDeps(readSettings({ ...process.env, TRENDCAST_BACKEND: 'gcp' }), log);
    jobs = new ChildProcessJobLauncher(deps.bus, { maxJobs: 2, log, onProgress: (p) => onProgress?.(p) });
    deps.launcher = jobs;
    eventarc = await startPipeline(emulators, deps);
  });

  afterAll(async () => {
    jobs?.stop();
    await Promise.allSettled([eventarc?.stop()]);
    await emulators?.stop();
  });

  let runId: string;

  it('the reference CSV dropped in incoming/ becomes a promoted (or reasonably rejected) model', async () => {
    await upload(CSV_KEY.replace(/\.csv$/, '.grid.json'), JSON.stringify(GRID));
    const generation = await upload(CSV_KEY, readFileSync(REFERENCE_CSV));
    runId = deriveRunId(emulators.env.TRENDCAST_BUCKET, CSV_KEY, generation);
    const run = await finishedRun(runId);

    expect(['promoted', 'rejected']).toContain(run.status);
    expect(run.reason).toBeTruthy();
    expect(run).toMatchObject({
      symbol: 'RELIANCE',
      timeframe: '1d',
      configs: GRID.configs.map((c) => c.name),
    });
    expect(run.dataset?.uri).toBe(`gs://${emulators.env.TRENDCAST_BUCKET}/${PATHS.dataset(runId)}`);
    expect(await deps.store.list(PATHS.dataset(runId))).toEqual(
      Object.values(DATASET_FILES)
        .map((f) => PATHS.dataset(runId) + f)
        .sort(),
    );

    const trials = (await deps.docs.list(DOCS.trials(runId))).map((t) => TrialDoc.parse(t.data));
    expect(trials.map((t) => t.config)).toEqual(GRID.configs.map((c) => c.name));
    for (const trial of trials) {
      expect(trial.status).toBe('succeeded');
      expect(trial.metrics?.epochsRun).toBe(2);
      for (const uri of Object.values(trial.artifacts!)) {
        expect(uri.startsWith(`gs://${emulators.env.TRENDCAST_BUCKET}/`)).toBe(true);
        expect(await deps.store.exists(uri.slice(`gs://${emulators.env.TRENDCAST_BUCKET}/`.length))).toBe(
          true,
        );
      }
    }

    const model = await deps.docs.get(DOCS.model('RELIANCE', '1d'));
    if (run.status === 'rejected') {
      expect(model === undefined || ModelDoc.parse(model).current?.runId !== runId).toBe(true);
      return;
    }
    const doc = ModelDoc.parse(model);
    expect(doc.current).toMatchObject({ runId, config: run.promotion!.config, version: 1 });
    const version = PATHS.modelVersion('RELIANCE', '1d', 1);
    expect(doc.current!.uri).toBe(`gs://${emulators.env.TRENDCAST_BUCKET}/${version}`);
    expect(await deps.store.exists(`${version}model.json`)).toBe(true);
    expect(await deps.store.exists(`${PATHS.modelCurrent('RELIANCE', '1d')}model.json`)).toBe(true);
  }, 480_000); // three trainers, two at a time, on a shared 2-core machine

  it('duplicate deliveries change nothing: the same object event, training request and result again', async () => {
    const before = {
      run: await deps.docs.get(DOCS.run(runId)),
      trials: await deps.docs.list(DOCS.trials(runId)),
      model: await deps.docs.get(DOCS.model('RELIANCE', '1d')),
      objects: await deps.store.list(''),
    };
    const counts = { ingest: deliveredTo('ingest').length, launcher: deliveredTo('launcher').length };
    const collected = deliveredTo('collector').length;

    // At-least-once: the bucket's notification for the same generation, a request and a result, each delivered again.
    const [metadata] = await storageClient()
      .bucket(emulators.env.TRENDCAST_BUCKET)
      .file(CSV_KEY)
      .getMetadata();
    await deps.bus.publish(STORAGE_NOTIFICATIONS_TOPIC, metadata, {
      eventType: 'OBJECT_FINALIZE',
      bucketId: emulators.env.TRENDCAST_BUCKET,
      objectId: CSV_KEY,
      objectGeneration: String(metadata.generation),
      payloadFormat: 'JSON_API_V1',
    });
    const trial = TrialDoc.parse(before.trials[0]!.data);
    await deps.bus.publish(TOPICS.trainingRequests, {
      runId,
      config: trial.hyperparameters,
      datasetUri: RunDoc.parse(before.run).dataset!.uri,
      outputUri: `gs://${emulators.env.TRENDCAST_BUCKET}/${PATHS.trial(runId, trial.config)}`,
      seed: GRID.seed,
    });
    await deps.bus.publish(TOPICS.trainingResults, {
      status: 'succeeded',
      runId,
      config: trial.config,
      metrics: { ...trial.metrics!, f1: 0.99 },
      artifacts: trial.artifacts,
      finishedAt: new Date().toISOString(),
    });
    await until(
      'the redeliveries to be handled',
      async () => {
        const done =
          deliveredTo('ingest').length > counts.ingest &&
          deliveredTo('launcher').length > counts.launcher &&
          deliveredTo('collector').length > collected;
        return done ? true : undefined;
      },
      60_000,
    );

    expect(jobs.busy).toBe(false); // the redelivered request started no trainer
    expect(logLines.some((l) => l.includes('trial is already succeeded; nothing to start'))).toBe(true);
    expect(await deps.docs.get(DOCS.run(runId))).toEqual(before.run);
    expect(await deps.docs.list(DOCS.trials(runId))).toEqual(before.trials);
    expect(await deps.docs.get(DOCS.model('RELIANCE', '1d'))).toEqual(before.model);
    expect(await deps.store.list('')).toEqual(before.objects);
    expect((await deps.docs.list(DOCS.runs)).length).toBe(1);
  });

  it('a bad CSV ends as a failed run with the error in plain words, no dataset and no training', async () => {
    const launched = deliveredTo('launcher').length;
    const key = `${PATHS.incomingPrefix}broken-prices.csv`;
    const generation = await upload(key, 'Date,Open,High\n2024-01-01,abc,\n');
    const badRunId = deriveRunId(emulators.env.TRENDCAST_BUCKET, key, generation);
    const run = await finishedRun(badRunId, 60_000);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/broken-prices\.csv/);
    expect(run.error).not.toMatch(/\n\s+at /); // words, not a stack trace
    expect(await deps.store.list(PATHS.dataset(badRunId))).toEqual([]);
    expect(await deps.docs.list(DOCS.trials(badRunId))).toEqual([]);
    expect(deliveredTo('launcher').length).toBe(launched);
  });

  /** Uploads the reference CSV under another name with two tiny configs; calls `fault` once tiny_b has trained an epoch. */
  async function runWithFault(name: string, fault: (pid: number) => void): Promise<{ runId: string }> {
    const tiny = (n: string) => ({
      name: n,
      lstmUnits: [4, 4, 4] as [number, number, number],
      dropout: 0.1,
      learningRate: 0.01,
      batchSize: 32,
      epochs: 40,
    });
    const key = `${PATHS.incomingPrefix}${name}.csv`;
    let injected = false;
    onProgress = (p) => {
      const job = jobs.running().find((j) => j.jobId.endsWith('tiny_b'));
      if (injected || p.config !== 'tiny_b' || !job) return;
      injected = true;
      fault(job.pid);
    };
    await upload(
      key.replace(/\.csv$/, '.grid.json'),
      JSON.stringify({ gate: false, seed: 3, configs: [tiny('tiny_a'), tiny('tiny_b')] }),
    );
    const generation = await upload(key, readFileSync(REFERENCE_CSV));
    const faultRunId = deriveRunId(emulators.env.TRENDCAST_BUCKET, key, generation);
    await until('the fault to be injected', async () => (injected ? true : undefined), 240_000);
    return { runId: faultRunId };
  }

  it('a trainer killed mid-training fails its trial, and the run is decided on the rest', async () => {
    const { runId: faultRunId } = await runWithFault('killed-trainer', (pid) => process.kill(pid, 'SIGKILL'));
    const run = await finishedRun(faultRunId);
    onProgress = undefined;
    expect(['promoted', 'rejected']).toContain(run.status);
    const b = TrialDoc.parse(await deps.docs.get(DOCS.trial(faultRunId, 'tiny_b')));
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/killed by SIGKILL/);
    if (run.status === 'promoted') expect(run.promotion?.config).toBe('tiny_a');
  }, 480_000);

  it('a trainer that never reports is timed out by the sweeper, and the run is decided', async () => {
    const { runId: faultRunId } = await runWithFault('silent-trainer', (pid) => process.kill(pid, 'SIGSTOP'));
    await until(
      'tiny_a to finish',
      async () => {
        const a = await deps.docs.get<TrialDoc>(DOCS.trial(faultRunId, 'tiny_a'));
        return a?.status === 'succeeded' ? true : undefined;
      },
      240_000,
    );
    onProgress = undefined;
    // What the scheduled sweeper function does once the run's deadline has passed.
    const swept = await sweeper(deps, new Date(Date.now() + 48 * 3600_000));
    expect(swept.timedOut).toBe(1);
    const run = await finishedRun(faultRunId, 60_000);
    expect(['promoted', 'rejected']).toContain(run.status);
    const b = TrialDoc.parse(await deps.docs.get(DOCS.trial(faultRunId, 'tiny_b')));
    expect(b.error).toMatch(/^timed out/);
    await jobs.stop('SIGKILL');
  }, 480_000);

  it('the bucket failing a write mid-ingest: the event is delivered again and the run completes once', async () => {
    const write = deps.store.write.bind(deps.store);
    let failures = 0;
    // A partial write: features.csv lands, then X.npy fails as an unavailable bucket would.
    deps.store.write = async (key, data, contentType) => {
      if (key.endsWith(DATASET_FILES.X) && failures === 0) {
        failures++;
        throw new Error('injected: storage unavailable');
      }
      return write(key, data, contentType);
    };
    try {
      const key = `${PATHS.incomingPrefix}flaky-bucket.csv`;
      const tiny = {
        name: 'tiny',
        lstmUnits: [4, 4, 4],
        dropout: 0.1,
        learningRate: 0.01,
        batchSize: 32,
        epochs: 1,
      };
      await upload(key.replace(/\.csv$/, '.grid.json'), JSON.stringify({ gate: false, configs: [tiny] }));
      const generation = await upload(key, readFileSync(REFERENCE_CSV));
      const flakyRunId = deriveRunId(emulators.env.TRENDCAST_BUCKET, key, generation);
      const run = await finishedRun(flakyRunId);
      expect(failures).toBe(1);
      expect(run.status).toBe('promoted');
      expect(await deps.store.list(PATHS.dataset(flakyRunId))).toHaveLength(
        Object.keys(DATASET_FILES).length,
      );
      // The failed attempt answered 5xx, so Pub/Sub delivered the notification again.
      expect(eventarc.deliveries.some((d) => d.target === 'ingest' && d.status >= 500)).toBe(true);
    } finally {
      deps.store.write = write;
    }
  }, 480_000);

  it('logs one JSON object per line with severity, message and the run id', () => {
    const records = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(['DEBUG', 'INFO', 'WARNING', 'ERROR']).toContain(r.severity);
      expect(typeof r.message).toBe('string');
    }
    expect(records.some((r) => r.runId === runId && r.severity === 'INFO')).toBe(true);
  });

  it('stopping leaves no emulator process behind', async () => {
    jobs.stop();
    await eventarc.stop();
    const sessions = emulators.sessions;
    await emulators.stop();
    expect(sessions.flatMap((sid) => sessionPids(sid))).toEqual([]);
  });
});
