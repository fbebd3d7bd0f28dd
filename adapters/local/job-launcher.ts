import { type ChildProcess, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type TrainingRequest, TrainingResult } from '../../shared/messages.ts';
import { TOPICS } from '../../shared/names.ts';
import type { JobLauncher, MessageBus } from '../../shared/ports.ts';
import type { Logger } from '../log.ts';

/** One line of `trendcast train --progress json` output. */
export type EpochProgress = {
  event: 'epoch';
  runId: string;
  config: string;
  /** With walk-forward folds: which fold is training, of how many. */
  fold?: number;
  folds?: number;
  epoch: number;
  epochs: number;
  loss: number;
  valLoss: number;
  bestValLoss: number;
  lr?: number;
};

export interface ChildProcessJobLauncherOptions {
  /** Jobs at once; 0 means one per CPU core. */
  maxJobs?: number;
  log?: Logger;
  onProgress?: (progress: EpochProgress) => void;
  /** Extra environment for the trainer processes. */
  env?: Record<string, string>;
}

const CLI = fileURLToPath(new URL('../../bin/trendcast.js', import.meta.url));

export const jobIdFor = (request: TrainingRequest) => `${request.runId}-${request.config.name}`;

/**
 * Runs `trendcast train` as child processes, at most N at once, and publishes each job's TrainingResult
 * to `training-results`, as a Vertex AI job's trainer does; a job that dies without reporting is published
 * as a failed result, so no trial stays in `training`.
 */
export class ChildProcessJobLauncher implements JobLauncher {
  private readonly jobs = new Map<string, Promise<void>>();
  private readonly waiting: Array<() => void> = [];
  private readonly children = new Set<ChildProcess>();
  private readonly jobIds = new WeakMap<ChildProcess, string>();
  private active = 0;
  private readonly maxJobs: number;

  constructor(
    private readonly bus: MessageBus,
    private readonly options: ChildProcessJobLauncherOptions = {},
  ) {
    this.maxJobs = options.maxJobs || cpus().length;
  }

  async launch(request: TrainingRequest): Promise<{ jobId: string; started: boolean }> {
    const jobId = jobIdFor(request);
    if (this.jobs.has(jobId)) return { jobId, started: false };
    this.jobs.set(jobId, this.runWhenFree(request));
    return { jobId, started: true };
  }

  get busy(): boolean {
    return this.active > 0 || this.waiting.length > 0;
  }

  /** The trainer processes running now. */
  running(): Array<{ jobId: string; pid: number }> {
    return [...this.children].map((c) => ({ jobId: this.jobIds.get(c)!, pid: c.pid! }));
  }

  /** Kills every running trainer (SIGTERM on Ctrl-C, SIGKILL for abandoned jobs); resolves once they have exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const exited = [...this.children].map((child) => new Promise((r) => child.once('close', r)));
    for (const child of this.children) child.kill(signal);
    await Promise.all(exited);
  }

  private async runWhenFree(request: TrainingRequest): Promise<void> {
    if (this.active >= this.maxJobs) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      const result = await this.runTrainer(request);
      await this.bus.publish(TOPICS.trainingResults, result);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private runTrainer(request: TrainingRequest): Promise<TrainingResult> {
    const log = this.options.log?.child({ runId: request.runId, trial: request.config.name });
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [CLI, 'train', '--request', JSON.stringify(request), '--progress', 'json'],
        { env: { ...process.env, ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      this.children.add(child);
      this.jobIds.set(child, jobIdFor(request));
      let result: TrainingResult | undefined;
      let lastError = '';
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let parsed: { event?: string; result?: unknown } | undefined;
        try {
          parsed = JSON.parse(line);
        } catch {
          return; // not a progress line
        }
        if (parsed?.event === 'epoch') this.options.onProgress?.(parsed as EpochProgress);
        if (parsed?.event === 'result') {
          const checked = TrainingResult.safeParse(parsed.result);
          if (checked.success) result = checked.data;
          else log?.error(`trainer reported an invalid result: ${checked.error.message}`);
        }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        if (line.startsWith('error:')) lastError = line.slice(6).trim();
        log?.debug(line);
      });
      child.on('close', (code, signal) => {
        this.children.delete(child);
        resolve(
          result ?? {
            status: 'failed',
            runId: request.runId,
            config: request.config.name,
            error: `trainer ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before reporting a result${lastError ? `: ${lastError}` : ''}`,
            finishedAt: new Date().toISOString(),
          },
        );
      });
    });
  }
}
