// VertexJobLauncher. There is no Vertex AI emulator: the CustomJob it builds is checked against the client library's
// own protobuf types, and its dedupe, job limit and quota retries run against a FAKE job service (FakeJobService
// below, an in-memory stand-in for the two JobServiceClient calls it makes). Nothing here needs the emulators.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protos } from '@google-cloud/aiplatform';
import { describe, expect, it } from 'vitest';
import {
  buildCustomJob,
  type CustomJobClient,
  displayNameFor,
  quotaFor,
  VertexJobLauncher,
} from '../../adapters/gcp/job-launcher.ts';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { launcher } from '../../functions/launcher.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { JobRefusedError } from '../../shared/errors.ts';
import type { CloudEventLike, MessagePublishedData } from '../../shared/events.ts';
import { TrainingRequest, TrainingResult } from '../../shared/messages.ts';
import { DOCS, TOPICS } from '../../shared/names.ts';
import type { Deps } from '../../shared/ports.ts';
import { readTrial } from '../../shared/records.ts';
import { readSettings, type Settings } from '../../shared/settings.ts';
import { runDoc, trialDoc } from '../helpers/docs.ts';

const { CustomJob } = protos.google.cloud.aiplatform.v1;
type Job = protos.google.cloud.aiplatform.v1.ICustomJob;

const IMAGE = 'asia-south1-docker.pkg.dev/p/trendcast/trainer:1';
const settings = (env: Record<string, string> = {}): Settings =>
  readSettings({ GOOGLE_CLOUD_PROJECT: 'proj', TRENDCAST_TRAINER_IMAGE: IMAGE, ...env });

const request: TrainingRequest = TrainingRequest.parse({
  runId: 'run-0123456789abcdef0123',
  config: DEFAULT_GRID.configs[0]!,
  datasetUri: 'gs://bucket/datasets/run-0123456789abcdef0123/',
  outputUri: 'gs://bucket/runs/run-0123456789abcdef0123/trials/config_1_baseline/',
  seed: 7,
});

/** FAKE: an in-memory job service with the calls the launcher makes; `quotaFailures` 429s come first. */
class FakeJobService implements CustomJobClient {
  jobs: Job[] = [];
  creates = 0;
  lists: string[] = [];
  constructor(
    private quotaFailures = 0,
    private failWith?: Error,
  ) {}

  async createCustomJob({ parent, customJob }: { parent: string; customJob: Job }): Promise<[Job]> {
    this.creates++;
    if (this.failWith) throw this.failWith;
    if (this.quotaFailures > 0) {
      this.quotaFailures--;
      const error = new Error('8 RESOURCE_EXHAUSTED: The following quota metrics exceed quota limits');
      throw Object.assign(error, { code: 8 });
    }
    const n = this.jobs.length + 1;
    const job: Job = {
      ...customJob,
      name: `${parent}/customJobs/${n}`,
      state: 'JOB_STATE_PENDING',
      createTime: { seconds: 1_700_000_000 + n, nanos: 0 },
    };
    this.jobs.push(job);
    return [job];
  }

  async cancelCustomJob({ name }: { name: string }): Promise<void> {
    const job = this.jobs.find((j) => j.name === name);
    if (job) job.state = 'JOB_STATE_CANCELLED';
  }

  async listCustomJobs({ filter }: { parent: string; filter: string }): Promise<[Job[]]> {
    this.lists.push(filter);
    const byName = /^display_name="([^"]+)"$/.exec(filter);
    return [byName ? this.jobs.filter((j) => j.displayName === byName[1]) : this.jobs];
  }
}

const quiet = createLogger({}, { write: () => {} });

describe('VertexJobLauncher: the CustomJob it builds', () => {
  it('is a valid google.cloud.aiplatform.v1.CustomJob: every field survives the library’s own protobuf types', () => {
    const job = buildCustomJob(request, settings());
    const message = CustomJob.fromObject(job as Record<string, unknown>);
    expect(CustomJob.verify(message)).toBeNull();
    // fromObject drops any field the proto does not have; the round trip proves none was misnamed.
    expect(CustomJob.toObject(message, { enums: String, longs: Number })).toEqual(job);
  });

  it('runs the trainer image on n1-standard-4 with one T4 by default, with the request as arguments', () => {
    const job = buildCustomJob(request, settings());
    const pool = job.jobSpec!.workerPoolSpecs![0]!;
    expect(pool.machineSpec).toEqual({
      machineType: 'n1-standard-4',
      acceleratorType: 'NVIDIA_TESLA_T4',
      acceleratorCount: 1,
    });
    expect(pool.replicaCount).toBe(1);
    expect(pool.containerSpec!.imageUri).toBe(IMAGE);
    const args = pool.containerSpec!.args!;
    expect(args.slice(0, 2)).toEqual(['train', '--request']);
    expect(TrainingRequest.parse(JSON.parse(args[2]!))).toEqual(request);
    expect(pool.containerSpec!.env).toContainEqual({
      name: 'TRENDCAST_RESULTS_TOPIC',
      value: 'training-results',
    });
    expect(job.jobSpec!.serviceAccount).toBeUndefined();
  });

  it('trains on CPU with TRENDCAST_ACCELERATOR_TYPE=NONE, and uses the configured service account', () => {
    const job = buildCustomJob(
      request,
      settings({ TRENDCAST_ACCELERATOR_TYPE: 'NONE', TRENDCAST_TRAINER_SERVICE_ACCOUNT: 'trainer@proj.iam' }),
    );
    expect(job.jobSpec!.workerPoolSpecs![0]!.machineSpec).toEqual({ machineType: 'n1-standard-4' });
    expect(job.jobSpec!.serviceAccount).toBe('trainer@proj.iam');
    expect(CustomJob.verify(CustomJob.fromObject(job as Record<string, unknown>))).toBeNull();
  });

  it('has a deterministic display name and labels that follow the label rules', () => {
    const odd = { ...request, config: { ...request.config, name: 'Wide-Config_3' } };
    const a = buildCustomJob(odd, settings());
    const b = buildCustomJob(odd, settings());
    expect(a.displayName).toBe(b.displayName);
    expect(a.displayName).toBe(displayNameFor(odd));
    expect(a.labels).toEqual({ app: 'trendcast', run: request.runId, config: 'wide-config_3' });
    for (const [key, value] of Object.entries(a.labels!)) {
      expect(key).toMatch(/^[a-z][a-z0-9_-]{0,62}$/);
      expect(value).toMatch(/^[a-z0-9_-]{0,63}$/);
    }
  });

  it('names the quota a 429 means', () => {
    expect(quotaFor('NVIDIA_TESLA_T4')).toBe('custom_model_training_nvidia_t4_gpus');
    expect(quotaFor('NVIDIA_L4')).toBe('custom_model_training_nvidia_l4_gpus');
    expect(quotaFor('NONE')).toBe('custom_model_training_cpus');
  });
});

describe('VertexJobLauncher against a FAKE job service', () => {
  it('creates the job in the configured region and returns its resource name', async () => {
    const fake = new FakeJobService();
    const jobs = new VertexJobLauncher(settings(), { client: fake });
    const launched = await jobs.launch(request);
    expect(launched).toEqual({ jobId: 'projects/proj/locations/asia-south1/customJobs/1', started: true });
    expect(fake.jobs[0]!.displayName).toBe(displayNameFor(request));
  });

  it('a redelivered request finds the job by display name and starts nothing', async () => {
    const fake = new FakeJobService();
    const jobs = new VertexJobLauncher(settings({ TRENDCAST_MAX_JOBS: '3' }), { client: fake });
    const first = await jobs.launch(request);
    const again = await new VertexJobLauncher(settings(), { client: fake }).launch(request);
    expect(again).toEqual({ jobId: first.jobId, started: false });
    expect(fake.creates).toBe(1);
    expect(fake.lists).toContain(`display_name="${displayNameFor(request)}"`);
  });

  it('two simultaneous deliveries of one request leave one job: the later creator cancels its own', async () => {
    const fake = new FakeJobService();
    const [a, b] = await Promise.all([
      new VertexJobLauncher(settings({ TRENDCAST_MAX_JOBS: '2' }), { client: fake }).launch(request),
      new VertexJobLauncher(settings({ TRENDCAST_MAX_JOBS: '2' }), { client: fake }).launch(request),
    ]);
    expect(fake.creates).toBe(2); // both saw no job: the race this guards against did happen
    expect([a.started, b.started].sort()).toEqual([false, true]);
    expect(a.jobId).toBe(b.jobId);
    expect(fake.jobs.map((j) => j.state)).toEqual(['JOB_STATE_PENDING', 'JOB_STATE_CANCELLED']);
  });

  it('at the job limit it throws (not a refusal), so Pub/Sub redelivers later; TRENDCAST_MAX_JOBS=0 means 1', async () => {
    const fake = new FakeJobService();
    const jobs = new VertexJobLauncher(settings(), { client: fake });
    await jobs.launch(request);
    const second = { ...request, config: { ...request.config, name: 'config_2_deeper' } };
    const refused = jobs.launch(second);
    await expect(refused).rejects.toThrow(/limit is 1 \(TRENDCAST_MAX_JOBS\)/);
    await expect(jobs.launch(second)).rejects.not.toBeInstanceOf(JobRefusedError);
    expect(fake.creates).toBe(1);

    fake.jobs[0]!.state = 'JOB_STATE_SUCCEEDED'; // the first job finished: room again
    expect((await jobs.launch(second)).started).toBe(true);
  });

  it('retries 429 RESOURCE_EXHAUSTED with doubling backoff, then succeeds', async () => {
    const fake = new FakeJobService(2);
    const waits: number[] = [];
    const jobs = new VertexJobLauncher(settings(), {
      client: fake,
      backoffMs: 10,
      sleep: async (ms) => void waits.push(ms),
    });
    expect((await jobs.launch(request)).started).toBe(true);
    expect(waits).toEqual([10, 20]);
    expect(fake.creates).toBe(3);
  });

  it('after TRENDCAST_QUOTA_ATTEMPTS it refuses for good, naming the quota and the region', async () => {
    const fake = new FakeJobService(100);
    const jobs = new VertexJobLauncher(settings({ TRENDCAST_QUOTA_ATTEMPTS: '3' }), {
      client: fake,
      sleep: async () => {},
    });
    const attempt = jobs.launch(request);
    await expect(attempt).rejects.toBeInstanceOf(JobRefusedError);
    await expect(attempt).rejects.toThrow(/custom_model_training_nvidia_t4_gpus in region asia-south1/);
    expect(fake.creates).toBe(3);
  });

  it('other errors are not retried and not refusals: Pub/Sub redelivers', async () => {
    const fake = new FakeJobService(0, Object.assign(new Error('14 UNAVAILABLE'), { code: 14 }));
    const jobs = new VertexJobLauncher(settings(), { client: fake, sleep: async () => {} });
    const attempt = jobs.launch(request);
    await expect(attempt).rejects.toThrow('14 UNAVAILABLE');
    await expect(attempt).rejects.not.toBeInstanceOf(JobRefusedError);
    expect(fake.creates).toBe(1);
  });

  it('without a trainer image it refuses at once', async () => {
    const fake = new FakeJobService();
    const jobs = new VertexJobLauncher(settings({ TRENDCAST_TRAINER_IMAGE: '' }), { client: fake });
    await expect(jobs.launch(request)).rejects.toThrow(/TRENDCAST_TRAINER_IMAGE is not set/);
    expect(fake.creates).toBe(0);
  });

  it('through the launcher handler, an exhausted quota ends the trial failed with the quota named', async () => {
    const home = mkdtempSync(join(tmpdir(), 'vertex-'));
    const bus = new LocalMessageBus();
    const jobs = new VertexJobLauncher(settings({ TRENDCAST_QUOTA_ATTEMPTS: '2' }), {
      client: new FakeJobService(100),
      sleep: async () => {},
    });
    const deps: Deps = {
      store: new LocalObjectStore(join(home, 'bucket')),
      docs: new LocalDocumentStore(join(home, 'firestore')),
      bus,
      launcher: jobs,
      settings: settings(),
      log: quiet,
    };
    const config = request.config.name;
    await deps.docs.create(DOCS.run(request.runId), runDoc(request.runId, [config]));
    await deps.docs.create(
      DOCS.trial(request.runId, config),
      trialDoc(request.runId, config, { status: 'queued' }),
    );
    const event: CloudEventLike<MessagePublishedData> = {
      id: '1',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      source: '//pubsub.googleapis.com/projects/proj/topics/training-requests',
      data: { message: { data: Buffer.from(JSON.stringify(request)).toString('base64'), messageId: '1' } },
    };
    await launcher(event, deps);
    const results = (bus.published.get(TOPICS.trainingResults) ?? []).map((r) => TrainingResult.parse(r));
    expect(results).toHaveLength(1);
    expect(results[0]!.status).toBe('failed');
    expect(results[0]!.status === 'failed' && results[0]!.error).toMatch(
      /custom_model_training_nvidia_t4_gpus/,
    );
    expect((await readTrial(deps.docs, request.runId, config))?.status).toBe('queued');
  });
});
