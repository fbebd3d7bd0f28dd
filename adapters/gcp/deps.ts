import type { Deps, Logger } from '../../shared/ports.ts';
import type { Settings } from '../../shared/settings.ts';
import { FirestoreDocumentStore } from './document-store.ts';
import { VertexJobLauncher } from './job-launcher.ts';
import { PubSubMessageBus } from './message-bus.ts';
import { GcsObjectStore } from './object-store.ts';

/**
 * The handlers' deps on Google Cloud: the bucket, Pub/Sub, Firestore and Vertex AI. The clients read the emulator
 * variables (`STORAGE_EMULATOR_HOST`, `PUBSUB_EMULATOR_HOST`, `FIRESTORE_EMULATOR_HOST`) themselves.
 */
export function gcpDeps(settings: Settings, log: Logger): Deps {
  return {
    store: new GcsObjectStore(settings.TRENDCAST_BUCKET),
    bus: new PubSubMessageBus(settings.GOOGLE_CLOUD_PROJECT),
    docs: new FirestoreDocumentStore({
      projectId: settings.GOOGLE_CLOUD_PROJECT,
      databaseId: settings.TRENDCAST_FIRESTORE_DATABASE,
    }),
    launcher: new VertexJobLauncher(settings, { log }),
    settings,
    log,
  };
}

/**
 * Closes the clients behind gcpDeps (what a function instance never does, but a process that stops its emulators
 * must: a call still retrying would hang on until the client's own deadline). Resolves to what failed, one line each.
 */
export async function closeDeps(deps: Deps): Promise<string[]> {
  const clients = [deps.docs, deps.bus, deps.launcher] as Array<{ close?: () => Promise<void> }>;
  const results = await Promise.allSettled(clients.map((client) => client.close?.()));
  return results.flatMap((r) =>
    r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : [],
  );
}
