// Faults the emulated cloud can inject, beyond the local Vertex AI service's own (emulators/vertex-ai/jobs.ts).
import type { TrainingRequest } from '../shared/messages.ts';
import type { JobLauncher, Logger } from '../shared/ports.ts';
import { FAULTS as VERTEX_FAULTS } from './vertex-ai/jobs.ts';

/**
 * `launcher-crash`: the function launching a job (the launcher, or a collector or sweep dispatching) dies right after
 * Vertex AI created it, before the trial records it.
 */
export const FAULTS = [...VERTEX_FAULTS, 'launcher-crash'] as const;
export type Fault = (typeof FAULTS)[number];

/**
 * The functions' JobLauncher, able to die: after `crash(n)`, the next n launches that create a job never return, so
 * nothing after the creation runs, as when the instance dies; the relay answers the event 504 at the function's
 * timeout and frees the instance (emulators/eventarc.ts), and Pub/Sub delivers it again. The trial stays `starting`
 * in its slot, for its job's result or the sweeper to find.
 */
export class CrashingLauncher implements JobLauncher {
  private crashes = 0;

  constructor(
    private readonly launcher: JobLauncher,
    private readonly log: Logger,
  ) {}

  get capacity(): number {
    return this.launcher.capacity;
  }

  crash(times = 1): void {
    this.crashes += times;
  }

  async launch(request: TrainingRequest, options?: { cpu?: boolean }) {
    const launched = await this.launcher.launch(request, options);
    if (launched.started && this.crashes > 0) {
      this.crashes--;
      this.log.warn(`fault launcher-crash: the launcher dies after creating job ${launched.jobId}`, {
        runId: request.runId,
        trial: request.config.name,
      });
      return new Promise<never>(() => {});
    }
    return launched;
  }

  status(jobId: string) {
    return this.launcher.status(jobId);
  }

  cancel(jobId: string) {
    return this.launcher.cancel(jobId);
  }
}
