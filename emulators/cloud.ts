// The whole cloud on one machine: the Pub/Sub and Firestore emulators, fake-gcs-server, the local Vertex AI service,
// the functions under the Functions Framework behind the stack's wiring, and Cloud Scheduler's sweep. The handlers get
// the same adapters as on Google Cloud (gcpDeps), so the real client libraries run every step; only the endpoints
// differ. Used by `npm run emulators` and by the tests under test/emulators/.
import { closeDeps, gcpDeps } from '../adapters/gcp/deps.ts';
import { runIdOfUpload } from '../adapters/gcp/object-store.ts';
import { createLogger } from '../adapters/log.ts';
import { FINAL_RUN_STATUSES, type RunDoc } from '../shared/documents.ts';
import { TOPICS } from '../shared/names.ts';
import type { Deps, Logger } from '../shared/ports.ts';
import { readRun } from '../shared/records.ts';
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
  /**
   * Waits for what a decision sets in motion: the run's report, and every delivery it started (the forecast request,
   * a last sweep) until the functions have been quiet a moment. Resolves to what did not happen within the bound.
   */
  settle(runId: string, timeoutMs?: number): Promise<string | undefined>;
  /**
   * Drains, then stops: no new deliveries, the sweep and the deliveries under way awaited (bounded), every Google
   * client closed, then the Vertex AI service and the emulators. A step that fails is one log line, never a throw.
   */
  stop(): Promise<void>;
}

/** How long stop() waits for deliveries under way, and settle() for a decision's consequences. */
const DRAIN_MS = 30_000;
const SETTLE_MS = 60_000;
/** A relay quiet this long has delivered what a decision published (the emulator pushes within milliseconds). */
const QUIET_MS = 1_500;

export async function startEmulatedCloud(options: EmulatedCloudOptions = {}): Promise<EmulatedCloud> {
  const log = options.log ?? createLogger();
  const emulators = await Emulators.start({ setProcessEnv: true });
  let vertex: VertexAiService | undefined;
  let pipeline: Awaited<ReturnType<typeof startPipeline>> | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let clients: Deps | undefined;
  const step = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      log.warn(`shutdown: ${what}: ${(error as Error).message.split('\n')[0]}`);
    }
  };
  const stop = async () => {
    clearInterval(sweep);
    await step('draining the deliveries', async () => {
      const left = (await pipeline?.drain(DRAIN_MS)) ?? 0;
      if (left > 0)
        log.warn(`shutdown: ${left} deliveries still running after ${DRAIN_MS / 1000} s; stopping anyway`);
    });
    await step('closing the Google clients', async () => {
      const failures = clients ? await closeDeps(clients) : [];
      if (failures.length > 0) throw new Error(failures.join('; '));
    });
    await step('stopping the functions', async () => pipeline?.stop());
    await step('stopping the Vertex AI service', async () => vertex?.stop());
    await step('stopping the emulators', () => emulators.stop());
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
    // The Google clients are closed at stop(); the launcher the functions get can crash on demand (--fault).
    clients = gcpDeps(settings, log);
    const launcher = new CrashingLauncher(clients.launcher, log);
    const deps: Deps = { ...clients, launcher };
    pipeline = await startPipeline(emulators, deps, options);
    const { docs, bus } = deps;
    // Cloud Scheduler publishes to run-sweep; the sweeper function is pushed each tick like any other function.
    sweep = setInterval(() => {
      bus.publish(TOPICS.runSweep, { sweep: new Date().toISOString() }).catch((error: Error) => {
        log.warn(`could not publish the sweep: ${error.message}`);
      });
    }, options.sweepEveryMs ?? 10_000);
    const service = vertex;
    const relay = pipeline;
    return {
      emulators,
      vertex: service,
      deps,
      deliveries: pipeline.deliveries,
      async upload(key, data) {
        await deps.store.write(key, data);
        return runIdOfUpload(emulators.env.TRENDCAST_BUCKET, key);
      },
      injectFault: (fault, match, times) =>
        fault === 'launcher-crash' ? launcher.crash(times) : service.jobs.injectFault(fault, match, times),
      async waitForRun(runId, timeoutMs = 600_000) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          const run = await readRun(docs, runId);
          if (run && FINAL_RUN_STATUSES.has(run.status)) return run;
          await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error(`run ${runId} was not decided within ${timeoutMs / 1000} s`);
      },
      async settle(runId, timeoutMs = SETTLE_MS) {
        const deadline = Date.now() + timeoutMs;
        while (!(await readRun(docs, runId))?.reportUri) {
          if (Date.now() > deadline)
            return `the report of run ${runId} was not written within ${timeoutMs / 1000} s`;
          await new Promise((r) => setTimeout(r, 250));
        }
        const quiet = await relay.settle(QUIET_MS, Math.max(0, deadline - Date.now()));
        return quiet ? undefined : `the functions were still busy ${timeoutMs / 1000} s after the decision`;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
