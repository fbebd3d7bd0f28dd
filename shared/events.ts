// The CloudEvents the handlers receive, as the Functions Framework hands them over (Eventarc for Cloud Storage,
// a Pub/Sub push subscription for messages) and as the local bus delivers them.

/** The CloudEvent fields the handlers read. */
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
