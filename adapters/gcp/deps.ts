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
