import type { JobServiceClient, protos } from '@google-cloud/aiplatform';
import { PassThroughClient } from 'google-auth-library';
import { jobTimeoutSeconds } from '../../shared/budget.ts';
import { JobRefusedError, QuotaExceededError } from '../../shared/errors.ts';
import type { TrainingRequest } from '../../shared/messages.ts';
import { TOPICS } from '../../shared/names.ts';
import type { JobLauncher, JobState, JobStatus, Logger } from '../../shared/ports.ts';
import type { Settings } from '../../shared/settings.ts';
import { quotaFor } from '../../shared/vertex-quota.ts';

type CustomJob = protos.google.cloud.aiplatform.v1.ICustomJob;

/** The calls the launcher makes; a JobServiceClient has them (tests pass a fake, there is no Vertex emulator). */
export interface CustomJobClient {
  createCustomJob(request: { parent: string; customJob: CustomJob }): Promise<[CustomJob, ...unknown[]]>;
  listCustomJobs(request: { parent: string; filter: string }): Promise<[CustomJob[], ...unknown[]]>;
  getCustomJob(request: { name: string }): Promise<[CustomJob, ...unknown[]]>;
  cancelCustomJob(request: { name: string }): Promise<unknown>;
  close?(): Promise<void>;
}

export interface VertexJobLauncherOptions {
  client?: CustomJobClient;
  log?: Logger;
}

/** Vertex AI's job states in the words the sweeper acts on. */
const STATES: Record<string, JobState> = {
  JOB_STATE_QUEUED: 'queued',
  JOB_STATE_PENDING: 'queued',
  JOB_STATE_RUNNING: 'running',
  JOB_STATE_UPDATING: 'running',
  JOB_STATE_PAUSED: 'running',
  JOB_STATE_SUCCEEDED: 'succeeded',
  JOB_STATE_PARTIALLY_SUCCEEDED: 'failed',
  JOB_STATE_FAILED: 'failed',
  JOB_STATE_EXPIRED: 'failed',
  JOB_STATE_CANCELLING: 'cancelled',
  JOB_STATE_CANCELLED: 'cancelled',
};
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

/**
 * The CustomJob for one TrainingRequest: the trainer image, the request as arguments, one worker on the configured
 * machine (without its GPU with `cpu`: the image's backend chain falls back to the CPU), a timeout.
 */
export function buildCustomJob(
  request: TrainingRequest,
  settings: Settings,
  options: { cpu?: boolean } = {},
): CustomJob {
  const accelerator = settings.TRENDCAST_ACCELERATOR_TYPE;
  const onGpu = !options.cpu && accelerator !== 'NONE' && settings.TRENDCAST_ACCELERATOR_COUNT > 0;
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
      scheduling: { timeout: { seconds: jobTimeoutSeconds(settings, request.estimatedSeconds) } },
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

/** gRPC INVALID_ARGUMENT (3), or HTTP 400 over REST: a job spec Vertex AI will never accept. */
const isInvalidArgument = (error: unknown) => {
  const { code, message } = error as { code?: number; message?: string };
  return code === 3 || /INVALID_ARGUMENT/.test(message ?? '');
};

/** gRPC RESOURCE_EXHAUSTED (8), or HTTP 429 when the client falls back to REST. */
const isQuotaError = (error: unknown) => {
  const { code, message } = error as { code?: number; message?: string };
  return code === 8 || code === 429 || /RESOURCE_EXHAUSTED/.test(message ?? '');
};

/** google.rpc.Code DEADLINE_EXCEEDED: the error of a job Vertex AI stopped at its `scheduling.timeout`. */
const DEADLINE_EXCEEDED = 4;

/** gRPC FAILED_PRECONDITION (9), or HTTP 400 over REST: cancelling a job that already ended. */
const isAlreadyEnded = (error: unknown) => {
  const { code, message } = error as { code?: number; message?: string };
  return code === 9 || /FAILED_PRECONDITION|already (in a final|finished|completed)/i.test(message ?? '');
};

/**
 * Starts one Vertex AI CustomJob per TrainingRequest in the configured region, watches it and cancels it. A
 * redelivered request finds its job by display name and starts nothing; a 429 RESOURCE_EXHAUSTED becomes a
 * QuotaExceededError naming the quota (the trial waits in the queue); how many jobs run at once is the queue's
 * business (`capacity`).
 */
export class VertexJobLauncher implements JobLauncher {
  readonly capacity: number;
  private client: CustomJobClient | undefined;
  private readonly parent: string;

  constructor(
    private readonly settings: Settings,
    private readonly options: VertexJobLauncherOptions = {},
  ) {
    this.client = options.client;
    this.parent = `projects/${settings.GOOGLE_CLOUD_PROJECT}/locations/${settings.TRENDCAST_REGION}`;
    this.capacity = settings.TRENDCAST_MAX_JOBS || 1;
  }

  /**
   * Created on first use, so functions that never launch never open a channel to Vertex AI, nor load its client
   * (about 150 MB of memory: every function's instance would carry it).
   */
  private async jobs(): Promise<CustomJobClient> {
    if (!this.client) {
      const { JobServiceClient } = await import('@google-cloud/aiplatform');
      this.client ??= new JobServiceClient(jobServiceOptions(this.settings));
    }
    return this.client;
  }

  /** The first-created job with this display name, if any. */
  private async oldestNamed(displayName: string): Promise<CustomJob | undefined> {
    const [jobs] = await (await this.jobs()).listCustomJobs({
      parent: this.parent,
      filter: `display_name="${displayName}"`,
    });
    const created = (j: CustomJob) => Number(j.createTime?.seconds ?? 0) * 1e9 + (j.createTime?.nanos ?? 0);
    return jobs
      .filter((j) => j.displayName === displayName)
      .sort((a, b) => created(a) - created(b) || String(a.name).localeCompare(String(b.name)))[0];
  }

  async launch(
    request: TrainingRequest,
    options: { cpu?: boolean } = {},
  ): Promise<{ jobId: string; started: boolean }> {
    const log = this.options.log?.child({ runId: request.runId, trial: request.config.name });
    if (!this.settings.TRENDCAST_TRAINER_IMAGE)
      throw new JobRefusedError('TRENDCAST_TRAINER_IMAGE is not set: no trainer image to run on Vertex AI');
    const customJob = buildCustomJob(request, this.settings, options);

    const found = await this.oldestNamed(customJob.displayName!);
    if (found?.name) {
      log?.info(`job ${found.name} already exists for this request; starting nothing`);
      return { jobId: found.name, started: false };
    }

    let created: CustomJob;
    try {
      [created] = await (await this.jobs()).createCustomJob({ parent: this.parent, customJob });
    } catch (error) {
      if (isQuotaError(error)) {
        const onGpu = customJob.jobSpec?.workerPoolSpecs?.[0]?.machineSpec?.acceleratorType;
        throw new QuotaExceededError(
          quotaFor(onGpu ? this.settings.TRENDCAST_ACCELERATOR_TYPE : 'NONE'),
          this.settings.TRENDCAST_REGION,
          {
            cause: error,
          },
        );
      }
      if (isInvalidArgument(error))
        throw new JobRefusedError(`Vertex AI refused the job: ${(error as Error).message}`);
      throw error;
    }
    // Two deliveries of one request at once can both find no job and both create one: the oldest stays,
    // and each later creator cancels its own.
    const oldest = await this.oldestNamed(customJob.displayName!);
    if (oldest?.name && created.name && oldest.name !== created.name) {
      await (await this.jobs()).cancelCustomJob({ name: created.name });
      log?.warn(
        `job ${oldest.name} was created for this request first; cancelled the duplicate ${created.name}`,
      );
      return { jobId: oldest.name, started: false };
    }
    log?.info(`created Vertex AI job ${created.name} (${customJob.displayName})`);
    return { jobId: created.name ?? customJob.displayName!, started: true };
  }

  async status(jobId: string): Promise<JobStatus> {
    const [job] = await (await this.jobs()).getCustomJob({ name: jobId });
    const platformState = String(job.state ?? 'JOB_STATE_UNSPECIFIED');
    const end = job.endTime?.seconds;
    return {
      state: STATES[platformState] ?? 'unknown',
      platformState,
      ...(job.error?.message ? { error: job.error.message } : {}),
      ...(job.error?.code === DEADLINE_EXCEEDED ? { timedOut: true } : {}),
      ...(end
        ? { endedAt: new Date(Number(end) * 1000 + (job.endTime?.nanos ?? 0) / 1e6).toISOString() }
        : {}),
    };
  }

  async cancel(jobId: string): Promise<void> {
    try {
      await (await this.jobs()).cancelCustomJob({ name: jobId });
    } catch (error) {
      if (!isAlreadyEnded(error)) throw error;
    }
  }

  /** Closes the channel to Vertex AI, if one was opened. */
  async close(): Promise<void> {
    await this.client?.close?.();
  }
}
