import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LocalDocumentStore } from '../adapters/local/document-store.ts';
import { ChildProcessJobLauncher } from '../adapters/local/job-launcher.ts';
import { type DeliveryOptions, LocalMessageBus } from '../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../adapters/local/object-store.ts';
import { createLogger } from '../adapters/log.ts';
import { collector } from '../functions/collector.ts';
import { deadLetter } from '../functions/dead-letter.ts';
import { forecaster } from '../functions/forecast.ts';
import { failIngest, ingest } from '../functions/ingest.ts';
import { launcher } from '../functions/launcher.ts';
import { sweeper } from '../functions/sweeper.ts';
import { FINAL_RUN_STATUSES, type RunDoc } from '../shared/documents.ts';
import type { CloudEventLike, StorageObjectData } from '../shared/events.ts';
import { DEAD_LETTER_TOPICS, gridKeyFor, TOPICS } from '../shared/names.ts';
import type { Deps, Logger } from '../shared/ports.ts';
import type { EpochProgressLine } from '../shared/progress.ts';
import { readRun } from '../shared/records.ts';
import { readSettings } from '../shared/settings.ts';

export const LOCAL_BUCKET = 'local';

export interface EmbeddedOptions {
  home: string;
  log?: Logger;
  maxJobs?: number;
  onProgress?: (progress: EpochProgressLine) => void;
  /** Delivery semantics of the local bus (attempts, backoff, duplicate deliveries). */
  delivery?: Partial<DeliveryOptions>;
}

/**
 * The embedded default: the same three handlers wired to local stand-ins in one process tree
 * (a folder as the bucket, an in-process bus, a file document store, trainer child processes).
 */
export function createEmbedded(options: EmbeddedOptions) {
  const home = resolve(options.home);
  const log = options.log ?? createLogger({}, { json: false });
  // The gate may be turned off on your own machine unless you say otherwise: the spend and the models are yours.
  const settings = readSettings({
    TRENDCAST_ALLOW_GATE_OFF: '1',
    ...process.env,
    TRENDCAST_BACKEND: 'local',
    TRENDCAST_HOME: home,
  });
  const store = new LocalObjectStore(join(home, 'bucket'));
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  const bus = new LocalMessageBus({ log, ...options.delivery });
  const jobs = new ChildProcessJobLauncher(bus, {
    maxJobs: options.maxJobs ?? settings.TRENDCAST_MAX_JOBS,
    trainerThreads: settings.TRENDCAST_TRAINER_THREADS,
    log,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const deps: Deps = { store, bus, docs, launcher: jobs, settings, log };
  bus.subscribe(TOPICS.trainingRequests, (event) => launcher(event, deps));
  bus.subscribe(TOPICS.trainingResults, (event) => collector(event, deps));
  bus.subscribe(TOPICS.forecastRequests, (event) => forecaster(event, deps));
  for (const topic of Object.values(DEAD_LETTER_TOPICS))
    bus.subscribe(topic, (event) => deadLetter(event, deps));

  /** What GCS's object generation stands for locally: this CSV with this grid beside it, so a new grid makes a new run. */
  async function generationOf(csvKey: string): Promise<string> {
    const hash = createHash('sha256').update(await store.read(csvKey));
    const gridKey = gridKeyFor(csvKey);
    if (await store.exists(gridKey)) hash.update(await store.read(gridKey));
    return BigInt(`0x${hash.digest('hex').slice(0, 15)}`).toString();
  }

  /** Delivers `object.finalized` for an object in the local bucket, as Eventarc would; resolves to the event. */
  async function finalize(csvKey: string): Promise<CloudEventLike<StorageObjectData>> {
    const generation = await generationOf(csvKey);
    const event: CloudEventLike<StorageObjectData> = {
      id: `${csvKey}#${generation}`,
      type: 'google.cloud.storage.object.v1.finalized',
      source: `//storage.googleapis.com/projects/_/buckets/${LOCAL_BUCKET}`,
      subject: `objects/${csvKey}`,
      time: new Date().toISOString(),
      data: { bucket: LOCAL_BUCKET, name: csvKey, generation },
    };
    bus.deliver(
      (e) => ingest(e, deps),
      event,
      (error) => failIngest(event, deps, `ingest failed on every attempt: ${error}`),
    );
    return event;
  }

  /** Sweeps for runs past their deadline on a timer, as Cloud Scheduler does in the cloud; returns a stop function. */
  function startSweeper(): () => void {
    const everyMs = Math.min(30_000, Math.max(500, (settings.TRENDCAST_RUN_DEADLINE_MINUTES * 60_000) / 4));
    const timer = setInterval(() => {
      sweeper(deps).catch((e: Error) => log.error(`sweep failed: ${e.message}`));
    }, everyMs);
    return () => clearInterval(timer);
  }

  /**
   * Resolves with the run once it has ended: decided, failed, or timed out by the sweeper at its deadline (another
   * process sharing this home may be the one training it). Trainers still running then are stopped.
   */
  async function waitForRun(runId: string): Promise<RunDoc> {
    const stopSweeper = startSweeper();
    try {
      while (true) {
        const run = await readRun(docs, runId);
        if (run && FINAL_RUN_STATUSES.has(run.status)) {
          await bus.idle();
          return run;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      stopSweeper();
      await jobs.stop('SIGKILL'); // trainers of trials that timed out: their results are no longer wanted
    }
  }

  return { home, deps, store, docs, bus, jobs, finalize, startSweeper, waitForRun };
}
export type Embedded = ReturnType<typeof createEmbedded>;
