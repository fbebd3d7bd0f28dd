import { JobServiceClient, type protos } from '@google-cloud/aiplatform';
import { PassThroughClient } from 'google-auth-library';
import type { TrainingRequest } from '../../shared/messages.ts';
import { TOPICS } from '../../shared/names.ts';
import { type JobLauncher, JobRefusedError } from '../../shared/ports.ts';
import type { Settings } from '../../shared/settings.ts';
import type { Logger } from '../log.ts';

type CustomJob = protos.google.cloud.aiplatform.v1.ICustomJob;

/** The calls the launcher makes; a JobServiceClient has them (tests pass a fake, there is no Vertex emulator). */
export interface CustomJobClient {
  createCustomJob(request: { parent: string; customJob: CustomJob }): Promise<[CustomJob, ...unknown[]]>;
  listCustomJobs(request: { parent: string; filter: string }): Promise<[CustomJob[], ...unknown[]]>;
  cancelCustomJob(request: { name: string }): Promise<unknown>;
}

export interface VertexJobLauncherOptions {
  client?: CustomJobClient;
  log?: Logger;
  /** First wait after a 429; doubles each attempt. */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** States in which a job holds (or is about to hold) its machine and GPU. */
const ACTIVE_STATES = ['JOB_STATE_QUEUED', 'JOB_STATE_PENDING', 'JOB_STATE_RUNNING'];
const FINAL_STATES = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'];
const APP_LABEL = 'trendcast';

/** A label value by Google's rules: lower-case letters, digits, `_` and `-`, at most 63 characters. */
export const labelValue = (value: string) =>
  value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63);

/** The job's display name, derived from run and config: a redelivered request finds the job it already started. */
export const displayNameFor = (request: TrainingRequest) =>
  `trendcast-${request.runId}-${request.config.name}`;

/** The Vertex AI quota a 429 on this machine means, e.g. `custom_model_training_nvidia_t4_gpus`. */
export function quotaFor(acceleratorType: string): string {
  if (acceleratorType === 'NONE') return 'custom_model_training_cpus';
  return `custom_model_training_${acceleratorType.toLowerCase().replace(/^nvidia_tesla_/, 'nvidia_')}_gpus`;
}

/** The CustomJob for one TrainingRequest: the trainer image, the request as arguments, one worker on the configured machine. */
export function buildCustomJob(request: TrainingRequest, settings: Settings): CustomJob {
  const accelerator = settings.TRENDCAST_ACCELERATOR_TYPE;
  const onGpu = accelerator !== 'NONE' && settings.TRENDCAST_ACCELERATOR_COUNT > 0;
  return {
    displayName: displayNameFor(request),
    labels: { app: APP_LABEL, run: labelValue(request.runId), config: labelValue(request.config.name) },
    jobSpec: {
      workerPoolSpecs: [
        {
          replicaCount: 1,
          machineSpec: {
            machineType: settings.TRENDCAST_MACHINE_TYPE,
            ...(onGpu
              ? {
                  acceleratorType:
                    accelerator as keyof typeof protos.google.cloud.aiplatform.v1.AcceleratorType,
                  acceleratorCount: settings.TRENDCAST_ACCELERATOR_COUNT,
                }
              : {}),
          },
          containerSpec: {
            imageUri: settings.TRENDCAST_TRAINER_IMAGE,
            args: ['train', '--request', JSON.stringify(request)],
            env: [
              { name: 'TRENDCAST_RESULTS_TOPIC', value: TOPICS.trainingResults },
              { name: 'GOOGLE_CLOUD_PROJECT', value: settings.GOOGLE_CLOUD_PROJECT },
              { name: 'TRENDCAST_BACKEND', value: 'gcp' },
            ],
          },
        },
      ],
      ...(settings.TRENDCAST_TRAINER_SERVICE_ACCOUNT
        ? { serviceAccount: settings.TRENDCAST_TRAINER_SERVICE_ACCOUNT }
        : {}),
    },
  };
}

/**
 * Where the JobServiceClient connects: the regional endpoint (gRPC, Application Default Credentials), or with
 * TRENDCAST_VERTEX_ENDPOINT the local Vertex AI service, over the client's REST transport in plain http with no
 * credentials (PassThroughClient sends none and needs no metadata server).
 */
export function jobServiceOptions(settings: Settings): ConstructorParameters<typeof JobServiceClient>[0] {
  if (!settings.TRENDCAST_VERTEX_ENDPOINT)
    return { apiEndpoint: `${settings.TRENDCAST_REGION}-aiplatform.googleapis.com` };
  const url = new URL(settings.TRENDCAST_VERTEX_ENDPOINT);
  return {
    fallback: true,
    protocol: 'http',
    apiEndpoint: url.hostname,
    port: Number(url.port),
    // google-gax pins its own copy of google-auth-library, whose AuthClient class TypeScript will not equate with
    // ours; at run time gax only needs the client's fetch and getRequestHeaders.
    authClient: new PassThroughClient() as unknown as NonNullable<
      ConstructorParameters<typeof JobServiceClient>[0]
    >['authClient'],
  };
}

/** gRPC RESOURCE_EXHAUSTED (8), or HTTP 429 when the client falls back to REST. */
const isQuotaError = (error: unknown) => {
  const { code, message } = error as { code?: number; message?: string };
  return code === 8 || code === 429 || /RESOURCE_EXHAUSTED/.test(message ?? '');
};

/**
 * Starts one Vertex AI CustomJob per TrainingRequest in the configured region. A redelivered request finds its job
 * by display name and starts nothing; at the job limit it throws so Pub/Sub redelivers later; a 429 is retried with
 * backoff and, after TRENDCAST_QUOTA_ATTEMPTS, refused for good (JobRefusedError) naming the quota to raise.
 */
export class VertexJobLauncher implements JobLauncher {
  private client: CustomJobClient | undefined;
  private readonly parent: string;
  private readonly maxJobs: number;

  constructor(
    private readonly settings: Settings,
    private readonly options: VertexJobLauncherOptions = {},
  ) {
    this.client = options.client;
    this.parent = `projects/${settings.GOOGLE_CLOUD_PROJECT}/locations/${settings.TRENDCAST_REGION}`;
    this.maxJobs = settings.TRENDCAST_MAX_JOBS || 1;
  }

  /** Created on first use, so functions that never launch never open a channel to Vertex AI. */
  private jobs(): CustomJobClient {
    this.client ??= new JobServiceClient(jobServiceOptions(this.settings));
    return this.client;
  }

  /** The first-created job with this display name, if any. */
  private async oldestNamed(displayName: string): Promise<CustomJob | undefined> {
    const [jobs] = await this.jobs().listCustomJobs({
      parent: this.parent,
      filter: `display_name="${displayName}"`,
    });
    const created = (j: CustomJob) => Number(j.createTime?.seconds ?? 0) * 1e9 + (j.createTime?.nanos ?? 0);
    return jobs
      .filter((j) => j.displayName === displayName)
      .sort((a, b) => created(a) - created(b) || String(a.name).localeCompare(String(b.name)))[0];
  }

  async launch(request: TrainingRequest): Promise<{ jobId: string; started: boolean }> {
    const log = this.options.log?.child({ runId: request.runId, trial: request.config.name });
    if (!this.settings.TRENDCAST_TRAINER_IMAGE)
      throw new JobRefusedError('TRENDCAST_TRAINER_IMAGE is not set: no trainer image to run on Vertex AI');
    const customJob = buildCustomJob(request, this.settings);

    const found = await this.oldestNamed(customJob.displayName!);
    if (found?.name) {
      log?.info(`job ${found.name} already exists for this request; starting nothing`);
      return { jobId: found.name, started: false };
    }

    // Server-side filter on the app label and unfinished states; the client-side check keeps the count right
    // should the filter be looser than asked.
    const [open] = await this.jobs().listCustomJobs({
      parent: this.parent,
      filter: [`labels.app="${APP_LABEL}"`, ...FINAL_STATES.map((s) => `state!="${s}"`)].join(' AND '),
    });
    const active = open.filter((j) => ACTIVE_STATES.includes(String(j.state)));
    if (active.length >= this.maxJobs) {
      throw new Error(
        `${active.length} training job(s) already running, the limit is ${this.maxJobs} (TRENDCAST_MAX_JOBS); ` +
          'asking Pub/Sub to deliver this request again later',
      );
    }

    const created = await this.createWithQuotaRetries(customJob, log);
    // Two deliveries of one request at once can both find no job and both create one: the oldest stays,
    // and each later creator cancels its own.
    const oldest = await this.oldestNamed(customJob.displayName!);
    if (oldest?.name && created.name && oldest.name !== created.name) {
      await this.jobs().cancelCustomJob({ name: created.name });
      log?.warn(
        `job ${oldest.name} was created for this request first; cancelled the duplicate ${created.name}`,
      );
      return { jobId: oldest.name, started: false };
    }
    log?.info(`created Vertex AI job ${created.name} (${customJob.displayName})`);
    return { jobId: created.name ?? customJob.displayName!, started: true };
  }

  /** 429 RESOURCE_EXHAUSTED is retried with doubling backoff; after the last attempt the job is refused for good. */
  private async createWithQuotaRetries(customJob: CustomJob, log: Logger | undefined): Promise<CustomJob> {
    const attempts = this.settings.TRENDCAST_QUOTA_ATTEMPTS;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const backoffMs = this.options.backoffMs ?? 2000;
    for (let attempt = 1; ; attempt++) {
      try {
        const [created] = await this.jobs().createCustomJob({ parent: this.parent, customJob });
        return created;
      } catch (error) {
        if (!isQuotaError(error)) throw error;
        const message = (error as Error).message;
        if (attempt >= attempts) {
          const quota = quotaFor(this.settings.TRENDCAST_ACCELERATOR_TYPE);
          throw new JobRefusedError(
            `Vertex AI refused the training job ${attempts} times with 429 RESOURCE_EXHAUSTED: raise the quota ` +
              `${quota} in region ${this.settings.TRENDCAST_REGION} (IAM & Admin > Quotas)` +
              (quota.endsWith('_gpus') ? ', or set TRENDCAST_ACCELERATOR_TYPE=NONE to train on CPU' : '') +
              `. Last error: ${message}`,
          );
        }
        const delay = backoffMs * 2 ** (attempt - 1);
        log?.warn(`quota exhausted (attempt ${attempt} of ${attempts}), retrying in ${delay} ms: ${message}`);
        await sleep(delay);
      }
    }
  }
}
