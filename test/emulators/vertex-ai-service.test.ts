// The local Vertex AI service (emulators/vertex-ai/), driven by the REAL @google-cloud/aiplatform JobServiceClient
// (its REST transport, as VertexJobLauncher builds it from TRENDCAST_VERTEX_ENDPOINT) and the REAL VertexJobLauncher.
// Most jobs run a tiny stand-in trainer (FAKE_TRAINER below, a node one-liner given as the image's entrypoint) so the
// states, cancel, timeout and faults are quick to reach; one describe runs the real `trendcast train` end to end.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JobServiceClient, protos } from '@google-cloud/aiplatform';
import { type Message, PubSub } from '@google-cloud/pubsub';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCustomJob,
  displayNameFor,
  jobServiceOptions,
  VertexJobLauncher,
} from '../../adapters/gcp/job-launcher.ts';
import { GcsObjectStore } from '../../adapters/gcp/object-store.ts';
import { Emulators, emulatorSkipReason } from '../../emulators/harness.ts';
import { type JobState, parseFilter } from '../../emulators/vertex-ai/filter.ts';
import { FAULT_LABEL, projectNumber } from '../../emulators/vertex-ai/jobs.ts';
import {
  startVertexAiService,
  type VertexAiService,
  type VertexAiServiceOptions,
} from '../../emulators/vertex-ai/server.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { QuotaExceededError } from '../../shared/errors.ts';
import { TrainingRequest, TrainingResult, TrialMetrics } from '../../shared/messages.ts';
import { TOPICS } from '../../shared/names.ts';
import { readSettings, type Settings } from '../../shared/settings.ts';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';

const { CustomJob } = protos.google.cloud.aiplatform.v1;
type Job = protos.google.cloud.aiplatform.v1.ICustomJob;

const PROJECT = 'trendcast-emulated';
const REGION = 'asia-south1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const IMAGE = 'asia-south1-docker.pkg.dev/trendcast-emulated/trendcast/trainer:1';

/**
 * A stand-in trainer: FAKE_TRAINER=ok writes {argv, env} to FAKE_OUT and exits 0; fail says why on stderr and exits 1;
 * sleep prints a line and waits to be killed (writing its pid to FAKE_OUT first).
 */
const FAKE_TRAINER = `
const fs = require('node:fs');
const mode = process.env.FAKE_TRAINER || 'ok';
const out = process.env.FAKE_OUT;
if (out) fs.writeFileSync(out, JSON.stringify({ pid: process.pid, argv: process.argv.slice(1), env: process.env }));
if (mode === 'fail') { console.error('loading the dataset'); console.error('error: dataset gs://b/d/: cannot read X.npy'); process.exit(1); }
if (mode === 'sleep') { console.error('epoch 1/100'); setInterval(() => {}, 1000); }
`;

const services: VertexAiService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

async function serve(options: VertexAiServiceOptions = {}): Promise<VertexAiService> {
  const service = await startVertexAiService({
    entrypoint: [process.execPath, '-e', FAKE_TRAINER, '--'],
    stepMs: 30,
    killGraceMs: 2000,
    stateDir: mkdtempSync(join(tmpdir(), 'vertex-ai-state-')),
    ...options,
  });
  services.push(service);
  return service;
}

const settingsFor = (service: VertexAiService, env: Record<string, string> = {}): Settings =>
  readSettings({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    TRENDCAST_REGION: REGION,
    TRENDCAST_TRAINER_IMAGE: IMAGE,
    TRENDCAST_VERTEX_ENDPOINT: service.endpoint,
    ...env,
  });

/** The real client, configured exactly as VertexJobLauncher configures it. */
const clientFor = (service: VertexAiService) => new JobServiceClient(jobServiceOptions(settingsFor(service)));

const request = (config = 'config_1_baseline', runId = 'run-0123456789abcdef0123'): TrainingRequest =>
  TrainingRequest.parse({
    runId,
    config: { ...DEFAULT_GRID.configs[0]!, name: config },
    datasetUri: `gs://trendcast-emulated/datasets/${runId}/`,
    outputUri: `gs://trendcast-emulated/runs/${runId}/trials/${config}/`,
    seed: 7,
  });

/** A CPU CustomJob for the stand-in trainer, with extra env and labels. */
function cpuJob(
  displayName: string,
  env: Record<string, string> = {},
  labels: Record<string, string> = {},
): Job {
  const job = buildCustomJob(
    request(),
    settingsFor({ endpoint: 'http://x:1' } as VertexAiService, {
      TRENDCAST_ACCELERATOR_TYPE: 'NONE',
    }),
  );
  job.displayName = displayName;
  job.labels = { ...job.labels, ...labels };
  const container = job.jobSpec!.workerPoolSpecs![0]!.containerSpec!;
  container.env = [...container.env!, ...Object.entries(env).map(([name, value]) => ({ name, value }))];
  return job;
}

async function waitForState(client: JobServiceClient, name: string, states: JobState[]): Promise<Job> {
  for (;;) {
    const [job] = await client.getCustomJob({ name });
    if (states.includes(job.state as JobState)) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const FINAL: JobState[] = [
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_EXPIRED',
];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function admin(service: VertexAiService, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${service.endpoint}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Drops proto3 default values ("", false, 0, null, empty lists and objects), leaving the fields that were set. */
function pruneDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pruneDefaults);
  if (value === null || typeof value !== 'object') return value;
  const kept = Object.entries(value)
    .map(([k, v]) => [k, pruneDefaults(v)] as const)
    // proto3 defaults: empty strings, false, 0, null, and an enum's zero value (`..._UNSPECIFIED`).
    .filter(([, v]) => !(v === '' || v === false || v === 0 || v === null))
    .filter(([, v]) => !(typeof v === 'string' && v.endsWith('_UNSPECIFIED')))
    .filter(([, v]) => !(typeof v === 'object' && v !== null && Object.keys(v).length === 0));
  return Object.fromEntries(kept);
}

/** The {code, message, status} of a REST error, from the client's error (whose message is the response body). */
function restError(error: unknown): { code: number; message: string; status: string } {
  return (
    JSON.parse((error as Error).message) as { error: { code: number; message: string; status: string } }
  ).error;
}

const tmpFile = (name: string) => join(mkdtempSync(join(tmpdir(), 'vertex-ai-')), name);

describe('local Vertex AI service: create, get, and the states of a job', () => {
  it('create answers a CustomJob the library’s own types accept: QUEUED, a Vertex resource name, times', async () => {
    const service = await serve({ stepMs: 600_000 }); // stays QUEUED for this test
    const client = clientFor(service);
    const sent = buildCustomJob(request(), settingsFor(service));
    const [created] = await client.createCustomJob({ parent: PARENT, customJob: sent });

    expect(created.name).toMatch(
      new RegExp(`^projects/${projectNumber(PROJECT)}/locations/${REGION}/customJobs/\\d{19}$`),
    );
    expect(projectNumber(PROJECT)).toMatch(/^\d{12}$/);
    expect(created.state).toBe('JOB_STATE_QUEUED');
    expect(Number(created.createTime!.seconds)).toBeGreaterThan(1_700_000_000);
    // Every field sent comes back, through the library's CustomJob message (enums decoded from numbers); the client
    // fills in proto3 defaults ("", false, []), which are pruned before comparing.
    const message = CustomJob.fromObject(created as Record<string, unknown>);
    expect(CustomJob.verify(message)).toBeNull();
    const back = pruneDefaults(CustomJob.toObject(message, { enums: String, longs: Number })) as Job;
    expect(back.displayName).toBe(sent.displayName);
    expect(back.labels).toEqual(sent.labels);
    expect(back.jobSpec).toEqual(sent.jobSpec);

    // The wire format, as a plain REST caller sees it: enum names and RFC 3339 times unless ints are asked for.
    const raw = (await (await fetch(`${service.endpoint}/v1/${created.name}`)).json()) as Record<
      string,
      unknown
    >;
    expect(raw.state).toBe('JOB_STATE_QUEUED');
    expect(raw.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const numeric = await (
      await fetch(`${service.endpoint}/v1/${created.name}?$alt=json%3Benum-encoding=int`)
    ).json();
    expect((numeric as { state: unknown }).state).toBe(
      protos.google.cloud.aiplatform.v1.JobState.JOB_STATE_QUEUED,
    );

    // The project id and its number name the same job.
    const [byNumber] = await client.getCustomJob({ name: created.name! });
    const [byId] = await client.getCustomJob({
      name: `${PARENT}/customJobs/${created.name!.split('/').pop()}`,
    });
    expect(byId.name).toBe(byNumber.name);
    await client.close();
  });

  it('runs the container with its args and env: QUEUED, PENDING, RUNNING, SUCCEEDED, with start and end times', async () => {
    const out = tmpFile('out.json');
    const service = await serve({ env: { SERVICE_ONLY: 'from-service', OVERRIDDEN: 'by-service' } });
    const client = clientFor(service);
    const job = cpuJob('ok-job', { FAKE_OUT: out, OVERRIDDEN: 'by-job' });
    const [created] = await client.createCustomJob({ parent: PARENT, customJob: job });
    const done = await waitForState(client, created.name!, FINAL);

    expect(done.state).toBe('JOB_STATE_SUCCEEDED');
    expect(service.jobs.transitions(created.name!)).toEqual([
      'JOB_STATE_QUEUED',
      'JOB_STATE_PENDING',
      'JOB_STATE_RUNNING',
      'JOB_STATE_SUCCEEDED',
    ]);
    const ms = (t: Job['createTime']) => Number(t!.seconds) * 1000 + (t!.nanos ?? 0) / 1e6;
    expect(ms(done.startTime)).toBeGreaterThanOrEqual(ms(done.createTime));
    expect(ms(done.endTime)).toBeGreaterThanOrEqual(ms(done.startTime));
    expect(done.error).toBeNull();

    const seen = JSON.parse(readFileSync(out, 'utf8')) as { argv: string[]; env: Record<string, string> };
    expect(seen.argv).toEqual(job.jobSpec!.workerPoolSpecs![0]!.containerSpec!.args);
    expect(seen.env).toMatchObject({
      TRENDCAST_RESULTS_TOPIC: 'training-results',
      TRENDCAST_BACKEND: 'gcp',
      SERVICE_ONLY: 'from-service',
      OVERRIDDEN: 'by-job',
    });
    await client.close();
  });

  it('a container that exits non-zero: FAILED, its last stderr line in error.message', async () => {
    const service = await serve();
    const client = clientFor(service);
    const [created] = await client.createCustomJob({
      parent: PARENT,
      customJob: cpuJob('failing-job', { FAKE_TRAINER: 'fail' }),
    });
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.state).toBe('JOB_STATE_FAILED');
    expect(done.error!.code).toBe(3);
    expect(done.error!.message).toBe(
      'The replica workerpool0-0 exited with a non-zero status of 1. Termination reason: Error. ' +
        'error: dataset gs://b/d/: cannot read X.npy',
    );
    expect(service.jobs.transitions(created.name!)).toContain('JOB_STATE_RUNNING');
    await client.close();
  });

  it('get of a job that does not exist: 404 NOT_FOUND', async () => {
    const service = await serve();
    const client = clientFor(service);
    await expect(
      client.getCustomJob({ name: `${PARENT}/customJobs/1234567890123456789` }),
    ).rejects.toMatchObject({
      code: 404,
      message: expect.stringMatching(/NOT_FOUND/),
    });
    await client.close();
  });

  it('refuses an invalid CustomJob with 400 INVALID_ARGUMENT, naming each bad field', async () => {
    const service = await serve();
    const client = clientFor(service);
    const refused = async (mutate: (job: Job) => void) => {
      const job = cpuJob('invalid');
      mutate(job);
      const error = await client.createCustomJob({ parent: PARENT, customJob: job }).then(() => {
        throw new Error('accepted');
      }, restError);
      expect(error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      return error.message;
    };
    const pool = (job: Job) => job.jobSpec!.workerPoolSpecs![0]!;
    expect(
      await refused((j) => {
        pool(j).containerSpec!.imageUri = '';
      }),
    ).toMatch(
      /Field: custom_job\.job_spec\.worker_pool_specs\[0\]\.container_spec\.image_uri; Message: Required field is not set/,
    );
    expect(
      await refused((j) => {
        pool(j).machineSpec = {};
      }),
    ).toMatch(/machine_spec\.machine_type/);
    expect(
      await refused((j) => {
        j.jobSpec!.workerPoolSpecs = [];
      }),
    ).toMatch(/worker_pool_specs; Message/);
    expect(
      await refused((j) => {
        j.displayName = '';
      }),
    ).toMatch(/custom_job\.display_name/);
    expect(
      await refused((j) => {
        j.labels = { App: 'x' };
      }),
    ).toMatch(/labels\[App\]/);
    expect(
      await refused((j) => {
        pool(j).machineSpec = { machineType: 'n1-standard-4', acceleratorType: 'NVIDIA_TESLA_T4' };
      }),
    ).toMatch(/accelerator_count/);
    expect(
      await refused((j) => {
        j.labels = { [FAULT_LABEL]: 'gremlins' };
      }),
    ).toMatch(/Unknown fault "gremlins"/);
    // A field the proto does not have is refused by the library-typed reader, as the real API does.
    const unknown = await fetch(`${service.endpoint}/v1/${PARENT}/customJobs`, {
      method: 'POST',
      body: JSON.stringify({ ...cpuJob('x'), gpuCount: 2 }),
    });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: unknown }).error).toEqual({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: `Invalid JSON payload received. Unknown name "gpuCount" at 'custom_job': Cannot find field.`,
    });
    const nested = cpuJob('x') as Record<string, unknown>;
    (nested.jobSpec as { workerPoolSpecs: Record<string, unknown>[] }).workerPoolSpecs[0]!.gpus = 1;
    const deep = await fetch(`${service.endpoint}/v1/${PARENT}/customJobs`, {
      method: 'POST',
      body: JSON.stringify(nested),
    });
    expect(((await deep.json()) as { error: { message: string } }).error.message).toMatch(
      /Unknown name "gpus" at 'custom_job\.job_spec\.worker_pool_specs\[0\]'/,
    );
    expect(service.jobs.quotaUsage().NONE!.used).toBe(0);
    await client.close();
  });
});

describe('local Vertex AI service: list with a filter', () => {
  it('selects exactly what the launcher’s own filter strings ask for, across pages', async () => {
    const service = await serve();
    const client = clientFor(service);
    const settings = settingsFor(service, { TRENDCAST_ACCELERATOR_TYPE: 'NONE' });
    await admin(service, '/admin/faults', { fault: 'hang', match: 'config_1', times: 1 });
    const make = async (config: string, extra: Record<string, string> = {}) => {
      const job = buildCustomJob(request(config), settings);
      job.labels = { ...job.labels, ...extra };
      return (await client.createCustomJob({ parent: PARENT, customJob: job }))[0];
    };
    const running = await make('config_1_baseline'); // hangs: stays RUNNING
    const finished = await make('config_2_deeper');
    await waitForState(client, finished.name!, ['JOB_STATE_SUCCEEDED']);
    const other = cpuJob('someone-else', {}, {});
    other.labels = { app: 'other' };
    const [foreign] = await client.createCustomJob({ parent: PARENT, customJob: other });
    await waitForState(client, running.name!, ['JOB_STATE_RUNNING']);

    const names = async (filter: string, pageSize?: number) =>
      (await client.listCustomJobs({ parent: PARENT, filter, ...(pageSize ? { pageSize } : {}) }))[0]
        .map((j) => j.name)
        .sort();

    // VertexJobLauncher's two filters, verbatim.
    expect(await names(`display_name="${displayNameFor(request('config_2_deeper'))}"`)).toEqual([
      finished.name,
    ]);
    const active = [
      'labels.app="trendcast"',
      ...['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].map(
        (s) => `state!="${s}"`,
      ),
    ].join(' AND ');
    expect(await names(active)).toEqual([running.name]);

    expect(await names('')).toEqual([running.name, finished.name, foreign.name].sort());
    expect(await names('', 1)).toEqual([running.name, finished.name, foreign.name].sort()); // three pages of one
    expect(await names('labels.app="other" OR state=JOB_STATE_SUCCEEDED')).toEqual(
      [finished.name, foreign.name].sort(),
    );
    expect(await names('NOT labels.app="trendcast"')).toEqual([foreign.name]);
    expect(await names('display_name:"trendcast-*-config_1_*"')).toEqual([running.name]);
    expect(await names('labels.config:*')).toEqual([running.name, finished.name].sort());
    expect(
      await names('labels.app="trendcast" AND (state="JOB_STATE_RUNNING" OR labels.config="nope")'),
    ).toEqual([running.name]);
    expect(
      await names('create_time>"2000-01-01T00:00:00Z" AND create_time<"2999-01-01T00:00:00Z"'),
    ).toHaveLength(3);
    expect(await names('create_time<"2000-01-01T00:00:00Z"')).toEqual([]);
    await client.close();
  });

  it('refuses a filter outside the grammar with 400 INVALID_ARGUMENT, saying what and where', async () => {
    const service = await serve();
    const client = clientFor(service);
    const refusal = async (filter: string) => {
      const error = await client.listCustomJobs({ parent: PARENT, filter }).then(() => {
        throw new Error('accepted');
      }, restError);
      expect(error, filter).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      return error.message;
    };
    expect(await refusal('job_name="x"')).toMatch(/unsupported field "job_name" at position 0/);
    expect(await refusal('state="RUNNING"')).toMatch(/is not a JobState/);
    expect(await refusal('state<"JOB_STATE_RUNNING"')).toMatch(/operator "<" is not supported for state/);
    expect(await refusal('display_name="x" AND (state="JOB_STATE_RUNNING"')).toMatch(/missing "\)"/);
    expect(await refusal('display_name="x')).toMatch(/unterminated string/);
    expect(await refusal('labels.App="x"')).toMatch(/unsupported field/);
    expect(await refusal('create_time>"yesterday"')).toMatch(/RFC 3339/);
    expect(await refusal('display_name="x" AND')).toMatch(/expected a field name at the end/);
    await client.close();
  });

  it('binds OR tighter than AND, as AIP-160 says', () => {
    const job = (state: JobState, labels: Record<string, string>) => ({
      displayName: 'j',
      state,
      labels,
      createTime: 0,
    });
    // a AND b OR c  ==  a AND (b OR c)
    const matches = parseFilter('labels.a="1" AND labels.b="1" OR labels.c="1"');
    expect(matches(job('JOB_STATE_RUNNING', { a: '0', c: '1' }))).toBe(false);
    expect(matches(job('JOB_STATE_RUNNING', { a: '1', c: '1' }))).toBe(true);
  });
});

describe('local Vertex AI service: GPU quota', () => {
  it('answers 429 RESOURCE_EXHAUSTED with the quota metric beyond it; raising the quota at run time lets the job in', async () => {
    const service = await serve({ quota: { NVIDIA_TESLA_T4: 1 } });
    const client = clientFor(service);
    await admin(service, '/admin/faults', { fault: 'hang', times: 1 });
    const gpu = (config: string) => buildCustomJob(request(config), settingsFor(service));
    const [first] = await client.createCustomJob({ parent: PARENT, customJob: gpu('config_1_baseline') });

    const refused = await client.createCustomJob({ parent: PARENT, customJob: gpu('config_2_deeper') }).then(
      () => undefined,
      (e: { code?: number; message?: string }) => e,
    );
    expect(refused?.code).toBe(429);
    expect(JSON.parse(refused!.message!)).toEqual({
      error: {
        code: 429,
        message:
          'The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus',
        status: 'RESOURCE_EXHAUSTED',
      },
    });
    // CPU jobs count against another quota.
    await client.createCustomJob({ parent: PARENT, customJob: cpuJob('cpu-job') });

    expect(await admin(service, '/admin/quota', { NVIDIA_TESLA_T4: 2 })).toMatchObject({
      NVIDIA_TESLA_T4: { metric: 'custom_model_training_nvidia_t4_gpus', limit: 2, used: 1 },
    });
    const [second] = await client.createCustomJob({ parent: PARENT, customJob: gpu('config_2_deeper') });
    expect(second.state).toBe('JOB_STATE_QUEUED');

    // A finished (here cancelled) job gives its GPU back.
    await client.cancelCustomJob({ name: first.name! });
    await waitForState(client, first.name!, ['JOB_STATE_CANCELLED']);
    await waitForState(client, second.name!, FINAL);
    expect(service.jobs.quotaUsage().NVIDIA_TESLA_T4).toMatchObject({ used: 0, limit: 2 });
    await client.close();
  });
});

describe('local Vertex AI service: cancel, timeout and faults', () => {
  it('cancel: CANCELLING, the container gets SIGTERM, then CANCELLED with error code 1', async () => {
    const out = tmpFile('pid.json');
    const service = await serve();
    const client = clientFor(service);
    const [created] = await client.createCustomJob({
      parent: PARENT,
      customJob: cpuJob('sleeper', { FAKE_TRAINER: 'sleep', FAKE_OUT: out }),
    });
    await waitForState(client, created.name!, ['JOB_STATE_RUNNING']);
    while (!existsSync(out)) await new Promise((r) => setTimeout(r, 25));
    const { pid } = JSON.parse(readFileSync(out, 'utf8')) as { pid: number };
    expect(alive(pid)).toBe(true);

    await client.cancelCustomJob({ name: created.name! });
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.state).toBe('JOB_STATE_CANCELLED');
    expect(done.error).toMatchObject({ code: 1, message: `CustomJob ${created.name} was cancelled.` });
    expect(service.jobs.transitions(created.name!).slice(-2)).toEqual([
      'JOB_STATE_CANCELLING',
      'JOB_STATE_CANCELLED',
    ]);
    expect(alive(pid)).toBe(false);
    // Cancelling a finished job is refused.
    await expect(client.cancelCustomJob({ name: created.name! })).rejects.toMatchObject({ code: 400 });
    await client.close();
  });

  it('stop() ends every running container before it resolves', async () => {
    const out = tmpFile('pid.json');
    const service = await serve();
    const client = clientFor(service);
    const [created] = await client.createCustomJob({
      parent: PARENT,
      customJob: cpuJob('left-running', { FAKE_TRAINER: 'sleep', FAKE_OUT: out }),
    });
    await waitForState(client, created.name!, ['JOB_STATE_RUNNING']);
    while (!existsSync(out)) await new Promise((r) => setTimeout(r, 25));
    const { pid } = JSON.parse(readFileSync(out, 'utf8')) as { pid: number };
    await client.close();
    await service.stop();
    expect(alive(pid)).toBe(false);
  });

  it('a job cancelled before it runs never starts a container', async () => {
    const service = await serve({ stepMs: 200 });
    const client = clientFor(service);
    const [created] = await client.createCustomJob({ parent: PARENT, customJob: cpuJob('early') });
    await client.cancelCustomJob({ name: created.name! });
    expect((await waitForState(client, created.name!, FINAL)).state).toBe('JOB_STATE_CANCELLED');
    expect(service.jobs.transitions(created.name!)).toEqual([
      'JOB_STATE_QUEUED',
      'JOB_STATE_CANCELLING',
      'JOB_STATE_CANCELLED',
    ]);
    await client.close();
  });

  it('scheduling.timeout: the container is stopped and the job FAILED with DEADLINE_EXCEEDED', async () => {
    const out = tmpFile('pid.json');
    const service = await serve();
    const client = clientFor(service);
    const job = cpuJob('slow', { FAKE_TRAINER: 'sleep', FAKE_OUT: out });
    job.jobSpec!.scheduling = { timeout: { seconds: 1 } };
    const [created] = await client.createCustomJob({ parent: PARENT, customJob: job });
    expect(created.jobSpec!.scheduling!.timeout).toMatchObject({ seconds: '1' });
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.state).toBe('JOB_STATE_FAILED');
    expect(done.error).toMatchObject({
      code: 4,
      message:
        'The job exceeded its maximum running time of 1s (job_spec.scheduling.timeout) and was stopped.',
    });
    expect(alive((JSON.parse(readFileSync(out, 'utf8')) as { pid: number }).pid)).toBe(false);
    await client.close();
  });

  it('image-pull (a label on the job): FAILED before RUNNING, naming the image', async () => {
    const service = await serve();
    const client = clientFor(service);
    const [created] = await client.createCustomJob({
      parent: PARENT,
      customJob: cpuJob('no-image', {}, { [FAULT_LABEL]: 'image-pull' }),
    });
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.state).toBe('JOB_STATE_FAILED');
    expect(done.error!.message).toMatch(new RegExp(`Unable to pull the image ${IMAGE}.*: image not found`));
    expect(service.jobs.transitions(created.name!)).toEqual([
      'JOB_STATE_QUEUED',
      'JOB_STATE_PENDING',
      'JOB_STATE_FAILED',
    ]);
    await client.close();
  });

  it('stockout: PENDING for a while, then FAILED for lack of resources, after its quota was counted', async () => {
    const service = await serve({ pendingMs: 400 });
    const client = clientFor(service);
    await admin(service, '/admin/faults', { fault: 'stockout' });
    const [created] = await client.createCustomJob({ parent: PARENT, customJob: cpuJob('no-machine') });
    const pending = await waitForState(client, created.name!, ['JOB_STATE_PENDING']);
    expect(pending.state).toBe('JOB_STATE_PENDING');
    expect(service.jobs.quotaUsage().NONE!.used).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    expect((await client.getCustomJob({ name: created.name! }))[0].state).toBe('JOB_STATE_PENDING');
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.state).toBe('JOB_STATE_FAILED');
    expect(done.error).toMatchObject({
      code: 8,
      message: `Resources are insufficient in region: ${REGION}. Please try a different region.`,
    });
    expect(service.jobs.transitions(created.name!)).toEqual([
      'JOB_STATE_QUEUED',
      'JOB_STATE_PENDING',
      'JOB_STATE_FAILED',
    ]);
    expect(service.jobs.quotaUsage().NONE!.used).toBe(0);
    await client.close();
  });

  it('preempt (admin endpoint): the running container is killed, FAILED with a preemption message', async () => {
    const out = tmpFile('pid.json');
    const service = await serve();
    const client = clientFor(service);
    await admin(service, '/admin/faults', { fault: 'preempt', match: 'victim' });
    const [created] = await client.createCustomJob({
      parent: PARENT,
      customJob: cpuJob('victim', { FAKE_TRAINER: 'sleep', FAKE_OUT: out }),
    });
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.state).toBe('JOB_STATE_FAILED');
    expect(done.error!.code).toBe(14);
    expect(done.error!.message).toMatch(/The replica workerpool0-0 was preempted/);
    expect(service.jobs.transitions(created.name!)).toContain('JOB_STATE_RUNNING');
    expect(alive((JSON.parse(readFileSync(out, 'utf8')) as { pid: number }).pid)).toBe(false);
    expect(await admin(service, '/admin/faults')).toEqual([]); // used up
    await client.close();
  });

  it('hang: RUNNING until cancelled; with a timeout, FAILED at the timeout', async () => {
    const service = await serve();
    const client = clientFor(service);
    await admin(service, '/admin/faults', { fault: 'hang', times: 2 });
    const [hanging] = await client.createCustomJob({ parent: PARENT, customJob: cpuJob('hang-1') });
    const timed = cpuJob('hang-2');
    timed.jobSpec!.scheduling = { timeout: { seconds: 1 } };
    const [timedOut] = await client.createCustomJob({ parent: PARENT, customJob: timed });

    expect((await waitForState(client, timedOut.name!, FINAL)).error!.code).toBe(4);
    // The other one, with Vertex's 7-day default timeout, is still running a second later.
    expect((await client.getCustomJob({ name: hanging.name! }))[0].state).toBe('JOB_STATE_RUNNING');
    await client.cancelCustomJob({ name: hanging.name! });
    expect((await waitForState(client, hanging.name!, FINAL)).state).toBe('JOB_STATE_CANCELLED');
    await client.close();
  });
});

describe('VertexJobLauncher against the local Vertex AI service', () => {
  it('creates the job, finds it again on redelivery, reads its state and cancels it', async () => {
    const service = await serve();
    await admin(service, '/admin/faults', { fault: 'hang', match: 'config_1' });
    const settings = settingsFor(service);
    const launcher = new VertexJobLauncher(settings);
    const first = await launcher.launch(request('config_1_baseline'));
    expect(first.started).toBe(true);
    expect(first.jobId).toMatch(/customJobs\/\d{19}$/);
    expect(await new VertexJobLauncher(settings).launch(request('config_1_baseline'))).toEqual({
      jobId: first.jobId,
      started: false,
    });

    expect(launcher.capacity).toBe(1); // TRENDCAST_MAX_JOBS=0 on Vertex AI: one slot, the training queue keeps to it
    const client = clientFor(service);
    await waitForState(client, first.jobId, ['JOB_STATE_RUNNING']);
    expect(await launcher.status(first.jobId)).toMatchObject({
      state: 'running',
      platformState: 'JOB_STATE_RUNNING',
    });
    await launcher.cancel(first.jobId);
    await waitForState(client, first.jobId, ['JOB_STATE_CANCELLED']);
    const cancelled = await launcher.status(first.jobId);
    expect(cancelled).toMatchObject({ state: 'cancelled', platformState: 'JOB_STATE_CANCELLED' });
    expect(cancelled.endedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    await launcher.cancel(first.jobId); // a job that already ended is left alone, without an error
    const second = await launcher.launch(request('config_2_deeper'));
    expect(second.started).toBe(true);
    await waitForState(client, second.jobId, FINAL);
    expect((await launcher.status(second.jobId)).state).toBe('succeeded');
    await client.close();
  });

  it('two simultaneous deliveries of one request leave one job: the duplicate is cancelled on the service', async () => {
    const service = await serve({ quota: { NVIDIA_TESLA_T4: 2 } });
    const settings = settingsFor(service, { TRENDCAST_MAX_JOBS: '2' });
    const [a, b] = await Promise.all([
      new VertexJobLauncher(settings).launch(request()),
      new VertexJobLauncher(settings).launch(request()),
    ]);
    expect(a.jobId).toBe(b.jobId);
    expect([a.started, b.started].sort()).toEqual([false, true]);
    const client = clientFor(service);
    const [jobs] = await client.listCustomJobs({
      parent: PARENT,
      filter: `display_name="${displayNameFor(request())}"`,
    });
    // Whether or not both created one (the race), every job but the one kept ends CANCELLED.
    for (const job of jobs.filter((j) => j.name !== a.jobId))
      expect((await waitForState(client, job.name!, FINAL)).state).toBe('JOB_STATE_CANCELLED');
    expect((await waitForState(client, a.jobId, FINAL)).state).toBe('JOB_STATE_SUCCEEDED');
    await client.close();
  });

  it('a GPU quota of 0: the REST 429 becomes QuotaExceededError naming the quota; on CPU the job starts', async () => {
    const service = await serve({ quota: { NVIDIA_TESLA_T4: 0 } });
    const launcher = new VertexJobLauncher(settingsFor(service));
    const attempt = launcher.launch(request());
    await expect(attempt).rejects.toBeInstanceOf(QuotaExceededError);
    await expect(attempt).rejects.toThrow(
      'waiting for GPU quota custom_model_training_nvidia_t4_gpus in asia-south1',
    );
    expect(service.jobs.quotaUsage().NVIDIA_TESLA_T4).toMatchObject({ used: 0, limit: 0 });
    const onCpu = await launcher.launch(request(), { cpu: true });
    expect(onCpu.started).toBe(true);
    const [job] = await clientFor(service).getCustomJob({ name: onCpu.jobId });
    expect(
      job.jobSpec?.workerPoolSpecs?.[0]?.machineSpec?.acceleratorType ?? 'ACCELERATOR_TYPE_UNSPECIFIED',
    ).toMatch(/UNSPECIFIED/);
  });

  it('TRENDCAST_VERTEX_ENDPOINT must be an http://host:port URL', () => {
    expect(() => readSettings({ TRENDCAST_VERTEX_ENDPOINT: 'localhost:8090' })).toThrow(
      /TRENDCAST_VERTEX_ENDPOINT/,
    );
    expect(readSettings({}).TRENDCAST_VERTEX_ENDPOINT).toBe('');
  });
});

describe('the real `trendcast train` through the local Vertex AI service', () => {
  const home = mkdtempSync(join(tmpdir(), 'vertex-ai-train-'));
  const dataset = join(home, 'dataset');

  beforeAll(async () => {
    const features = await trendcast(['features', REFERENCE_CSV, '--out', dataset]);
    expect(features.code, features.stderr).toBe(0);
  }, 120_000);

  it('trains one small config: SUCCEEDED, with the artifacts written; a missing dataset FAILED with the trainer’s error', async () => {
    // The image's entrypoint: node bin/trendcast.js, the job's args `train --request <json>`.
    const service = await serve({ entrypoint: undefined, stepMs: 50 });
    const client = clientFor(service);
    const trainRequest = TrainingRequest.parse({
      runId: 'run-vertex-emulated-0001',
      config: { ...DEFAULT_GRID.configs[0]!, lstmUnits: [8, 8, 8], epochs: 1, patience: 1 },
      datasetUri: `${pathToFileURL(dataset).href}/`,
      outputUri: `${pathToFileURL(join(home, 'trial')).href}/`,
      seed: 1,
    });
    const job = buildCustomJob(trainRequest, settingsFor(service, { TRENDCAST_ACCELERATOR_TYPE: 'NONE' }));
    // No Pub/Sub here: without TRENDCAST_RESULTS_TOPIC the trainer prints its result instead of publishing it.
    const container = job.jobSpec!.workerPoolSpecs![0]!.containerSpec!;
    container.env = container.env!.filter((e) => e.name !== 'TRENDCAST_RESULTS_TOPIC');
    const [created] = await client.createCustomJob({ parent: PARENT, customJob: job });
    const done = await waitForState(client, created.name!, FINAL);
    expect(done.error?.message ?? '').toBe('');
    expect(done.state).toBe('JOB_STATE_SUCCEEDED');
    const metrics = TrialMetrics.parse(JSON.parse(readFileSync(join(home, 'trial/metrics.json'), 'utf8')));
    expect(metrics.epochsRun).toBe(1);

    const missing = { ...trainRequest, datasetUri: `${pathToFileURL(join(home, 'nowhere')).href}/` };
    const broken = buildCustomJob(missing, settingsFor(service, { TRENDCAST_ACCELERATOR_TYPE: 'NONE' }));
    broken.displayName = 'missing-dataset';
    broken.jobSpec!.workerPoolSpecs![0]!.containerSpec!.env = container.env;
    const [failing] = await client.createCustomJob({ parent: PARENT, customJob: broken });
    const failed = await waitForState(client, failing.name!, FINAL);
    expect(failed.state).toBe('JOB_STATE_FAILED');
    expect(failed.error!.message).toMatch(
      /^The replica workerpool0-0 exited with a non-zero status of \d+\. Termination reason: Error\. error: .*nowhere/,
    );
    await client.close();
  }, 300_000);
});

describe('npm run vertex-ai: the service on its own, as a child process', () => {
  it('serves on the port it prints, with the quota and fault it was given, and exits 0 on SIGTERM', async () => {
    const main = fileURLToPath(new URL('../../emulators/vertex-ai/main.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', main, '--quota', 'NVIDIA_TESLA_T4=1,NONE=8', '--fault', 'hang', '--step-ms', '20'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    while (!/listening on (http:\/\/\S+)/.test(output)) {
      if (child.exitCode !== null) throw new Error(`vertex-ai exited: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const endpoint = /listening on (http:\/\/\S+)/.exec(output)![1]!;
    const service = { endpoint } as VertexAiService;
    const client = clientFor(service);
    const [hanging] = await client.createCustomJob({ parent: PARENT, customJob: cpuJob('first') });
    expect((await waitForState(client, hanging.name!, ['JOB_STATE_RUNNING'])).state).toBe(
      'JOB_STATE_RUNNING',
    );
    // 4 vCPUs held of 8: a second n1-standard-4 fits, a third does not.
    await client.createCustomJob({ parent: PARENT, customJob: cpuJob('second') });
    const third = await client.createCustomJob({ parent: PARENT, customJob: cpuJob('third') }).then(() => {
      throw new Error('accepted');
    }, restError);
    expect(third).toMatchObject({ code: 429, message: expect.stringMatching(/custom_model_training_cpus$/) });
    await client.close();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a bad option with one error line and exit code 2', async () => {
    const main = fileURLToPath(new URL('../../emulators/vertex-ai/main.ts', import.meta.url));
    const run = spawn(process.execPath, ['--import', 'tsx', main, '--quota', 'NVIDIA_T4=1'], {
      stdio: 'pipe',
    });
    let stderr = '';
    run.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await new Promise((resolve) => run.once('exit', resolve))).toBe(2);
    expect(stderr.trim()).toBe('error: Unknown accelerator type "NVIDIA_T4" in the quota.');
  });
});

const skipEmulators = emulatorSkipReason();

// Emulator mode as the lead will wire it: the service started with the emulators' environment, the REAL launcher
// creating the job, the REAL trainer reading its dataset from fake-gcs-server and publishing its result to the Pub/Sub
// emulator, where this test receives it.
describe.skipIf(skipEmulators)(
  'emulator mode: VertexJobLauncher → local Vertex AI service → trendcast train',
  () => {
    let emulators: Emulators;
    let pubsub: PubSub;

    beforeAll(async () => {
      emulators = await Emulators.start({ setProcessEnv: true });
      pubsub = new PubSub({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT });
    }, 180_000);

    afterAll(async () => {
      await pubsub?.close();
      await emulators?.stop();
    });

    it('trains from gs:// and the result arrives on training-results', async () => {
      const runId = 'run-vertex-emulated-0002';
      const local = mkdtempSync(join(tmpdir(), 'vertex-ai-gcs-'));
      const features = await trendcast(['features', REFERENCE_CSV, '--out', local]);
      expect(features.code, features.stderr).toBe(0);
      const store = new GcsObjectStore(emulators.env.TRENDCAST_BUCKET);
      for (const file of readdirSync(local))
        await store.write(`datasets/${runId}/${file}`, readFileSync(join(local, file)));

      const [topic] = await pubsub.createTopic(TOPICS.trainingResults);
      const [subscription] = await topic.createSubscription('vertex-ai-service-test');
      const received = new Promise<TrainingResult>((resolve) => {
        subscription.once('message', (message: Message) => {
          message.ack();
          resolve(TrainingResult.parse(JSON.parse(message.data.toString())));
        });
      });

      const service = await serve({ entrypoint: undefined, stepMs: 50, env: { ...emulators.env } });
      const bucket = `gs://${emulators.env.TRENDCAST_BUCKET}`;
      const trainRequest = TrainingRequest.parse({
        runId,
        config: { ...DEFAULT_GRID.configs[0]!, lstmUnits: [8, 8, 8], epochs: 1, patience: 1 },
        datasetUri: `${bucket}/datasets/${runId}/`,
        outputUri: `${bucket}/runs/${runId}/trials/config_1_baseline/`,
        seed: 1,
      });
      const launched = await new VertexJobLauncher(settingsFor(service)).launch(trainRequest);
      expect(launched.started).toBe(true);

      const result = await received;
      await subscription.close();
      expect(result).toMatchObject({ status: 'succeeded', runId, config: 'config_1_baseline' });
      expect(result.status === 'succeeded' && result.artifacts.metrics).toBe(
        `${bucket}/runs/${runId}/trials/config_1_baseline/metrics.json`,
      );
      const client = clientFor(service);
      expect((await waitForState(client, launched.jobId, FINAL)).state).toBe('JOB_STATE_SUCCEEDED');
      expect(await store.exists(`runs/${runId}/trials/config_1_baseline/metrics.json`)).toBe(true);
      await client.close();
    }, 300_000);
  },
);
