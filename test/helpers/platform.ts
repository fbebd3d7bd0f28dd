import { JobRefusedError, QuotaExceededError } from '../../shared/errors.ts';
import type { TrainingRequest } from '../../shared/messages.ts';
import type { JobLauncher, JobStatus } from '../../shared/ports.ts';

/**
 * A training platform behind our own JobLauncher port, for the queue and lifecycle unit tests: it holds jobs in
 * memory, refuses beyond its GPU quota, and lets a test end, fail or break jobs. (The Vertex AI client itself is tested
 * against the local Vertex AI service in test/emulators.)
 */
export class TestPlatform implements JobLauncher {
  readonly jobs = new Map<string, { request: TrainingRequest; cpu: boolean; status: JobStatus }>();
  readonly launches: string[] = [];
  readonly cancelled: string[] = [];
  gpuQuota = Number.POSITIVE_INFINITY;
  /** Errors the next launches throw, in order. */
  failures: Error[] = [];
  refuse = false;
  /** The next launches create their job and then never return, as a launcher that dies right after creating it. */
  crashAfterCreate = 0;
  /** Most jobs queued or running at once, over the platform's life. */
  maxRunning = 0;

  constructor(readonly capacity = 1) {}

  private running(cpu: boolean) {
    return [...this.jobs.values()].filter(
      (j) => j.cpu === cpu && ['queued', 'running'].includes(j.status.state),
    ).length;
  }

  async launch(request: TrainingRequest, options?: { cpu?: boolean }) {
    const jobId = `job-${request.runId}-${request.config.name}`;
    this.launches.push(jobId);
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (this.refuse) throw new JobRefusedError('the job spec is invalid: no image');
    if (this.jobs.has(jobId)) return { jobId, started: false };
    const cpu = options?.cpu ?? false;
    if (!cpu && this.running(false) >= this.gpuQuota)
      throw new QuotaExceededError('custom_model_training_nvidia_t4_gpus', 'asia-south1');
    this.jobs.set(jobId, { request, cpu, status: { state: 'running', platformState: 'JOB_STATE_RUNNING' } });
    this.maxRunning = Math.max(this.maxRunning, this.running(false) + this.running(true));
    if (this.crashAfterCreate > 0) {
      this.crashAfterCreate--;
      return new Promise<never>(() => {});
    }
    return { jobId, started: true };
  }

  async status(jobId: string): Promise<JobStatus> {
    return this.jobs.get(jobId)?.status ?? { state: 'unknown', platformState: 'JOB_STATE_UNSPECIFIED' };
  }

  async cancel(jobId: string): Promise<void> {
    this.cancelled.push(jobId);
    const job = this.jobs.get(jobId);
    if (job && job.status.state === 'running')
      job.status = { state: 'cancelled', platformState: 'JOB_STATE_CANCELLED' };
  }

  end(jobId: string, status: JobStatus): void {
    this.jobs.get(jobId)!.status = status;
  }

  get runningJobs(): string[] {
    return [...this.jobs.entries()].filter(([, j]) => j.status.state === 'running').map(([id]) => id);
  }
}
