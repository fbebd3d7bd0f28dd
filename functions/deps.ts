import type { Logger } from '../adapters/log.ts';
import type { DocumentStore, JobLauncher, MessageBus, ObjectStore } from '../shared/ports.ts';
import type { Settings } from '../shared/settings.ts';

/** What a handler needs from the outside world: the four ports, the settings and a logger. */
export interface Deps {
  store: ObjectStore;
  bus: MessageBus;
  docs: DocumentStore;
  launcher: JobLauncher;
  settings: Settings;
  log: Logger;
}

/** The CloudEvent fields the handlers read (the shape the Functions Framework and Eventarc deliver). */
export interface CloudEventLike<T> {
  id: string;
  type: string;
  source: string;
  subject?: string;
  time?: string;
  data?: T;
}

/** `google.cloud.storage.object.v1.finalized` data (StorageObjectData). */
export interface StorageObjectData {
  bucket: string;
  name: string;
  generation: string | number;
  size?: string | number;
  contentType?: string;
}

/** `google.cloud.pubsub.topic.v1.messagePublished` data (MessagePublishedData). */
export interface MessagePublishedData {
  message: { data?: string; attributes?: Record<string, string>; messageId?: string; publishTime?: string };
  subscription?: string;
}
