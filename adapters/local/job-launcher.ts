import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type TrainingRequest, TrainingResult } from '../../shared/messages.ts';
import { TOPICS } from '../../shared/names.ts';
import type { JobLauncher, JobStatus, Logger, MessageBus } from '../../shared/ports.ts';
import { EpochProgressLine } from '../../shared/progress.ts';
import { threadShare, trainerThreadCap } from '../../shared/threads.ts';
import { relayLine } from '../log.ts';

export interface ChildProcessJobLauncherOptions {
  /** Jobs at once; 0 means one per CPU core. */
  maxJobs?: number;
  log?: Logger;
  onProgress?: (progress: EpochProgressLine) => void;
  /** Extra environment for the trainer processes. */
  env?: Record<string, string>;
  /** Most threads one trainer uses (TRENDCAST_TRAINER_THREADS); 0 means every core. */
  trainerThreads?: number;
  /** The cores the trainers share; default `os.availableParallelism()`. */
  cores?: number;
}

const CLI = fileURLToPath(new URL('../../bin/trendcast.js', import.meta.url));

export const jobIdFor = (request: TrainingRequest) => `${request.runId}-${request.config.name}`;

/**
 * Runs `trendcast train` as child processes and publishes each job's TrainingResult to `training-results`, as a
 * Vertex AI job's trainer does; a job that dies without reporting is published as a failed result, so no trial stays
 * in `training`. How many run at once is the training queue's business (`capacity`), as on Vertex AI.
 *
 * The running trainers share the cores: each one's share (threadShare) is in a file of its own, `--thread-share`,
 * rewritten whenever a trainer starts or ends and read by the trainer between batches. A file, not a message: the
 * trainer's training loop does not return to its event loop until it is done.
 */
export class ChildProcessJobLauncher implements JobLauncher {
  readonly capacity: number;
  private readonly jobs = new Map<string, { child?: ChildProcess; status: JobStatus; done: Promise<void> }>();
  private shareDir: string | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly options: ChildProcessJobLauncherOptions = {},
  ) {
    this.capacity = options.maxJobs || cpus().length;
  }

  async launch(request: TrainingRequest): Promise<{ jobId: string; started: boolean }> {
    const jobId = jobIdFor(request);
    if (this.jobs.has(jobId)) return { jobId, started: false };
    const job = {
      status: { state: 'running', platformState: 'RUNNING' } as JobStatus,
      done: Promise.resolve(),
    };
    this.jobs.set(jobId, job);
    this.shareThreads();
    job.done = this.run(jobId, request);
    return { jobId, started: true };
  }

  async status(jobId: string): Promise<JobStatus> {
    // A job of another process (a second `trendcast run` on this home) is not ours to judge.
    return this.jobs.get(jobId)?.status ?? { state: 'unknown', platformState: 'UNKNOWN' };
  }

  async cancel(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job?.child || job.status.state !== 'running') return;
    job.status = { state: 'cancelled', platformState: 'CANCELLING' };
    job.child.kill('SIGTERM');
    await job.done;
  }

  get busy(): boolean {
    return [...this.jobs.values()].some((j) => j.status.state === 'running');
  }

  /** The trainer processes running now. */
  running(): Array<{ jobId: string; pid: number }> {
    return [...this.jobs.entries()]
      .filter(([, j]) => j.child && j.status.state === 'running')
      .map(([jobId, j]) => ({ jobId, pid: j.child!.pid! }));
  }

  /** Kills every running trainer (SIGTERM on Ctrl-C, SIGKILL for abandoned jobs); resolves once they have exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const running = [...this.jobs.values()].filter((j) => j.child && j.child.exitCode === null);
    for (const job of running) job.child!.kill(signal);
    await Promise.all(running.map((j) => j.done));
  }

  private async run(jobId: string, request: TrainingRequest): Promise<void> {
    const job = this.jobs.get(jobId)!;
    const { result, exit } = await this.runTrainer(request, (child) => {
      job.child = child;
    });
    const ended = new Date().toISOString();
    if (job.status.state === 'cancelled')
      job.status = { state: 'cancelled', platformState: 'CANCELLED', endedAt: ended };
    else if (result?.status === 'succeeded')
      job.status = { state: 'succeeded', platformState: 'SUCCEEDED', endedAt: ended };
    else job.status = { state: 'failed', platformState: 'FAILED', error: exit, endedAt: ended };
    this.shareThreads();
    await this.bus.publish(
      TOPICS.trainingResults,
      result ?? {
        status: 'failed',
        runId: request.runId,
        config: request.config.name,
        error: exit,
        finishedAt: ended,
      },
    );
  }

  /** Where a job's share of the cores is written. */
  private shareFile(jobId: string): string {
    this.shareDir ??= mkdtempSync(join(tmpdir(), 'trendcast-threads-'));
    return join(this.shareDir, `${jobId}.threads`);
  }

  /** Writes every running job's share of the cores (each file replaced whole) and removes ended jobs' files. */
  private shareThreads(): void {
    const running = [...this.jobs.entries()].filter(([, j]) => j.status.state === 'running');
    if (running.length === 0) {
      if (this.shareDir) rmSync(this.shareDir, { recursive: true, force: true });
      this.shareDir = undefined;
      return;
    }
    const cores = this.options.cores ?? availableParallelism();
    const share = threadShare(
      cores,
      running.length,
      trainerThreadCap(this.options.trainerThreads ?? 0, cores),
    );
    for (const [jobId, job] of this.jobs) {
      const file = this.shareFile(jobId);
      if (job.status.state !== 'running') rmSync(file, { force: true });
      else {
        writeFileSync(`${file}.new`, `${share}\n`);
        renameSync(`${file}.new`, file);
      }
    }
  }

  /** Resolves with the result the trainer printed, if any, and how it exited in plain words. */
  private runTrainer(
    request: TrainingRequest,
    started: (child: ChildProcess) => void,
  ): Promise<{ result: TrainingResult | undefined; exit: string }> {
    const log = this.options.log?.child({ runId: request.runId, trial: request.config.name });
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [
          CLI,
          'train',
          '--request',
          JSON.stringify(request),
          '--progress',
          'json',
          '--thread-share',
          this.shareFile(jobIdFor(request)),
        ],
        { env: { ...process.env, ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      started(child);
      let result: TrainingResult | undefined;
      let lastError = '';
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let parsed: { event?: string; result?: unknown } | undefined;
        try {
          parsed = JSON.parse(line);
        } catch {
          return; // not a progress line
        }
        if (parsed?.event === 'epoch') {
          const checked = EpochProgressLine.safeParse(parsed);
          if (checked.success) this.options.onProgress?.(checked.data);
          else log?.error(`trainer reported an invalid epoch: ${checked.error.message}`);
        }
        if (parsed?.event === 'result') {
          const checked = TrainingResult.safeParse(parsed.result);
          if (checked.success) result = checked.data;
          else log?.error(`trainer reported an invalid result: ${checked.error.message}`);
        }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        // The `error:` line is the trainer's failure reason: it reaches the trial through the result, not the log.
        if (line.startsWith('error:')) lastError = line.slice(6).trim();
        else if (log) relayLine(log, line);
      });
      child.on('close', (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve({
          result,
          exit: `trainer ${how} before reporting a result${lastError ? `: ${lastError}` : ''}`,
        });
      });
    });
  }
}
