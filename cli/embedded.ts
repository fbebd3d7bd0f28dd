import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LocalDocumentStore } from '../adapters/local/document-store.ts';
import { ChildProcessJobLauncher, type EpochProgress } from '../adapters/local/job-launcher.ts';
import { LocalMessageBus } from '../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../adapters/local/object-store.ts';
import { createLogger, type Logger } from '../adapters/log.ts';
import { collector } from '../functions/collector.ts';
import type { CloudEventLike, Deps, StorageObjectData } from '../functions/deps.ts';
import { gridKeyFor, ingest } from '../functions/ingest.ts';
import { launcher } from '../functions/launcher.ts';
import { TOPICS } from '../shared/names.ts';
import { readSettings } from '../shared/settings.ts';

export const LOCAL_BUCKET = 'local';

export interface EmbeddedOptions {
  home: string;
  log?: Logger;
  maxJobs?: number;
  onProgress?: (progress: EpochProgress) => void;
}

/**
 * The embedded default: the same three handlers wired to local stand-ins in one process tree
 * (a folder as the bucket, an in-process bus, a file document store, trainer child processes).
 */
export function createEmbedded(options: EmbeddedOptions) {
  const home = resolve(options.home);
  const log = options.log ?? createLogger({}, { json: false });
  const settings = readSettings({ ...process.env, TRENDCAST_BACKEND: 'local', TRENDCAST_HOME: home });
  const store = new LocalObjectStore(join(home, 'bucket'));
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  const bus = new LocalMessageBus({ log });
  const jobs = new ChildProcessJobLauncher(bus, {
    maxJobs: options.maxJobs ?? settings.TRENDCAST_MAX_JOBS,
    log,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const deps: Deps = { store, bus, docs, launcher: jobs, settings, log };
  bus.subscribe(TOPICS.trainingRequests, (event) => launcher(event, deps));
  bus.subscribe(TOPICS.trainingResults, (event) => collector(event, deps));

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
    bus.deliver((e) => ingest(e, deps), event);
    return event;
  }

  /** Resolves when nothing is in flight: no delivery, no redelivery, no training job. */
  async function idle(): Promise<void> {
    do {
      await bus.idle();
      await jobs.idle();
    } while (bus.busy || jobs.busy);
  }

  return { home, deps, store, docs, bus, jobs, finalize, idle };
}
export type Embedded = ReturnType<typeof createEmbedded>;
