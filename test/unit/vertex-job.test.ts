import { protos } from '@google-cloud/aiplatform';
import { describe, expect, it } from 'vitest';
import { buildCustomJob, displayNameFor } from '../../adapters/gcp/job-launcher.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { TrainingRequest } from '../../shared/messages.ts';
import { readSettings, type Settings } from '../../shared/settings.ts';
import { quotaFor } from '../../shared/vertex-quota.ts';

const { CustomJob } = protos.google.cloud.aiplatform.v1;

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

  it('carries a timeout: the setting, or else the run deadline', () => {
    expect(buildCustomJob(request, settings()).jobSpec?.scheduling?.timeout).toEqual({ seconds: 24 * 3600 });
    expect(
      buildCustomJob(request, settings({ TRENDCAST_JOB_TIMEOUT_MINUTES: '90' })).jobSpec?.scheduling?.timeout,
    ).toEqual({ seconds: 5400 });
  });

  it('leaves the GPU off when asked to train on CPU', () => {
    const spec = buildCustomJob(request, settings(), { cpu: true }).jobSpec!.workerPoolSpecs![0]!
      .machineSpec!;
    expect(spec).toEqual({ machineType: 'n1-standard-4' });
  });

  it('names the quota a 429 means', () => {
    expect(quotaFor('NVIDIA_TESLA_T4')).toBe('custom_model_training_nvidia_t4_gpus');
    expect(quotaFor('NVIDIA_L4')).toBe('custom_model_training_nvidia_l4_gpus');
    expect(quotaFor('NONE')).toBe('custom_model_training_cpus');
    // The emulator's quota table is the same one (shared/vertex-quota.ts): an H100 counts against the h100 metric.
    expect(quotaFor('NVIDIA_H100_80GB')).toBe('custom_model_training_nvidia_h100_gpus');
  });
});
