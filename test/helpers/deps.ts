import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { type DeliveryOptions, LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import type { CloudEventLike, StorageObjectData } from '../../shared/events.ts';
import type { Deps, JobLauncher } from '../../shared/ports.ts';
import { readSettings } from '../../shared/settings.ts';

/** A launcher that starts nothing: for tests of handlers that never reach a training job. */
export const idleLauncher: JobLauncher = {
  capacity: 1,
  launch: async () => ({ jobId: 'none', started: false }),
  status: async () => ({ state: 'unknown', platformState: 'UNKNOWN' }),
  cancel: async () => {},
};

/**
 * The handlers' deps on the local adapters in a fresh temporary home: the one way tests build `Deps` by hand.
 * Logs are dropped unless `log` is given; settings come from `settings` alone, never from the test's environment.
 */
export function localDeps(
  options: {
    launcher?: JobLauncher;
    settings?: Record<string, string>;
    delivery?: Partial<DeliveryOptions>;
    log?: Deps['log'];
    prefix?: string;
  } = {},
): Deps & { bus: LocalMessageBus; store: LocalObjectStore; docs: LocalDocumentStore; home: string } {
  const home = mkdtempSync(join(tmpdir(), options.prefix ?? 'trendcast-test-'));
  return {
    home,
    store: new LocalObjectStore(join(home, 'bucket')),
    docs: new LocalDocumentStore(join(home, 'firestore')),
    bus: new LocalMessageBus({ backoffMs: 5, ...options.delivery }),
    launcher: options.launcher ?? idleLauncher,
    settings: readSettings(options.settings ?? {}),
    log: options.log ?? createLogger({}, { write: () => {} }),
  };
}

/** The `object.finalized` CloudEvent Eventarc delivers for `name` in `bucket` (the local bucket by default). */
export function objectFinalized(
  name: string,
  generation = '1',
  bucket = 'local',
): CloudEventLike<StorageObjectData> {
  return {
    id: name,
    type: 'google.cloud.storage.object.v1.finalized',
    source: `//storage.googleapis.com/projects/_/buckets/${bucket}`,
    data: { bucket, name, generation },
  };
}
