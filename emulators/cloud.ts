// The whole cloud on one machine: the Pub/Sub and Firestore emulators, fake-gcs-server, the local Vertex AI service,
// the functions under the Functions Framework behind the stack's wiring, and Cloud Scheduler's sweep. The handlers get
// the same adapters as on Google Cloud (gcpDeps), so the real client libraries run every step; only the endpoints
// differ. Used by `npm run emulators` and by the tests under test/emulators/.
import { gcpDeps } from '../adapters/gcp/deps.ts';
import { storageClient } from '../adapters/gcp/object-store.ts';
import { createLogger } from '../adapters/log.ts';
import { FINAL_RUN_STATUSES, type RunDoc } from '../shared/documents.ts';
import { TOPICS } from '../shared/names.ts';
import type { Deps, Logger } from '../shared/ports.ts';
import { readRun } from '../shared/records.ts';
import { deriveRunId } from '../shared/run-id.ts';
import { readSettings } from '../shared/settings.ts';
import { type EventarcOptions, startPipeline, TIME_SCALE } from './eventarc.ts';
import { CrashingLauncher, type Fault } from './faults.ts';
import { Emulators } from './harness.ts';
import { startVertexAiService, type VertexAiService } from './vertex-ai/server.ts';

/** What the local Vertex AI service runs for any image (it runs this checkout's `trendcast train`). */
export const LOCAL_TRAINER_IMAGE = 'asia-south1-docker.pkg.dev/trendcast-emulated/trendcast/trainer:local';

export interface EmulatedCloudOptions extends EventarcOptions {
  /** Training jobs at once (TRENDCAST_MAX_JOBS); default 1, the stack's default. */
  maxJobs?: number;
  /** T4 GPUs the local Vertex AI service grants; default 1. */
  gpuQuota?: number;
  /** More settings, as environment variables (TRENDCAST_ON_NO_GPU_QUOTA, TRENDCAST_JOB_TIMEOUT_MINUTES, ...). */
  settings?: Record<string, string>;
  /** Cloud Scheduler's period for the sweep; default 10 s (the stack's is 10 minutes). */
  sweepEveryMs?: number;
  log?: Logger;
}

export interface EmulatedCloud {
  emulators: Emulators;
  vertex: VertexAiService;
  deps: Deps;
  deliveries: Awaited<ReturnType<typeof startPipeline>>['deliveries'];
  /** Uploads an object to the emulated bucket; resolves to the run id a CSV there gets (from its generation). */
  upload(key: string, data: Buffer | string): Promise<string>;
  /**
   * The next `times` jobs (whose display name contains `match`) meet this fault on the local Vertex AI service; with
   * `launcher-crash`, the launcher dies after creating the next `times` jobs (any name).
   */
  injectFault(fault: Fault, match?: string, times?: number): void;
  /** Resolves with the run once it is promoted, rejected or failed. */
  waitForRun(runId: string, timeoutMs?: number): Promise<RunDoc>;
  stop(): Promise<void>;
}

export async function startEmulatedCloud(options: EmulatedCloudOptions = {}): Promise<EmulatedCloud> {
  const log = options.log ?? createLogger();
  const emulators = await Emulators.start({ setProcessEnv: true });
  let vertex: VertexAiService | undefined;
  let pipeline: Awaited<ReturnType<typeof startPipeline>> | undefined;
  let sweep: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(sweep);
    await pipeline?.stop();
    await vertex?.stop();
    await emulators.stop();
  };
  try {
    // The jobs' containers get the emulators' endpoints, as a real job gets Google's.
    vertex = await startVertexAiService({
      env: { ...emulators.env },
      quota: { NVIDIA_TESLA_T4: options.gpuQuota ?? 1 },
      stepMs: 200,
      pendingMs: 1000, // minutes on Vertex AI, scaled down like the subscriptions' times
    });
    const settings = readSettings({
      ...process.env,
      ...emulators.env,
      TRENDCAST_BACKEND: 'gcp',
      TRENDCAST_VERTEX_ENDPOINT: vertex.endpoint,
      TRENDCAST_TRAINER_IMAGE: LOCAL_TRAINER_IMAGE,
      TRENDCAST_MAX_JOBS: String(options.maxJobs ?? 1),
      TRENDCAST_STALE_START_SECONDS: String(300 / TIME_SCALE),
      ...options.settings,
    });
    const gcp = gcpDeps(settings, log);
    const launcher = new CrashingLauncher(gcp.launcher, log);
    const deps = { ...gcp, launcher };
    pipeline = await startPipeline(emulators, deps, options);
    // Cloud Scheduler publishes to run-sweep; the sweeper function is pushed each tick like any other function.
    sweep = setInterval(() => {
      deps.bus.publish(TOPICS.runSweep, { sweep: new Date().toISOString() }).catch((error: Error) => {
        log.warn(`could not publish the sweep: ${error.message}`);
      });
    }, options.sweepEveryMs ?? 10_000);
    const service = vertex;
    return {
      emulators,
      vertex: service,
      deps,
      deliveries: pipeline.deliveries,
      async upload(key, data) {
        await deps.store.write(key, data);
        const [metadata] = await storageClient()
          .bucket(emulators.env.TRENDCAST_BUCKET)
          .file(key)
          .getMetadata();
        return deriveRunId(emulators.env.TRENDCAST_BUCKET, key, String(metadata.generation));
      },
      injectFault: (fault, match, times) =>
        fault === 'launcher-crash' ? launcher.crash(times) : service.jobs.injectFault(fault, match, times),
      async waitForRun(runId, timeoutMs = 600_000) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          const run = await readRun(deps.docs, runId);
          if (run && FINAL_RUN_STATUSES.has(run.status)) return run;
          await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error(`run ${runId} was not decided within ${timeoutMs / 1000} s`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
