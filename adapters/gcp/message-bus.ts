import { PubSub, type Topic } from '@google-cloud/pubsub';
import type { MessageBus } from '../../shared/ports.ts';

/**
 * Publishes JSON messages to Pub/Sub topics (created by the CDKTF stack, or by the emulator harness; never here).
 * `PUBSUB_EMULATOR_HOST` points the client at the emulator.
 */
export class PubSubMessageBus implements MessageBus {
  private readonly pubsub: PubSub;
  private readonly topics = new Map<string, Topic>();

  constructor(projectId?: string) {
    this.pubsub = new PubSub(projectId ? { projectId } : {});
  }

  async publish(topic: string, message: unknown, attributes: Record<string, string> = {}): Promise<string> {
    let handle = this.topics.get(topic);
    if (!handle) {
      handle = this.pubsub.topic(topic);
      this.topics.set(topic, handle);
    }
    return handle.publishMessage({ data: Buffer.from(JSON.stringify(message)), attributes });
  }

  /** Flushes pending publishes and closes the client's channels. */
  async close(): Promise<void> {
    await Promise.all([...this.topics.values()].map((t) => t.flush()));
    await this.pubsub.close();
  }
}
