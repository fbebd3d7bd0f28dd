import { randomUUID } from 'node:crypto';
import type { CloudEventLike, MessagePublishedData } from '../../shared/events.ts';
import type { Logger, MessageBus } from '../../shared/ports.ts';

export type EventHandler<T> = (event: CloudEventLike<T>) => Promise<void>;

export interface DeliveryOptions {
  /** Attempts before a message goes to the dead-letter topic (`<topic>-dead-letter`). */
  maxAttempts: number;
  /** First redelivery delay; doubles each attempt, as Pub/Sub's exponential retry policy does. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Deliveries of each message: Pub/Sub delivers at least once, and 2 makes every handler see every message twice. */
  deliveries: number;
}

const DEFAULTS: DeliveryOptions = { maxAttempts: 5, backoffMs: 200, maxBackoffMs: 10_000, deliveries: 1 };

/**
 * In-process topics with Pub/Sub's semantics: at-least-once delivery as CloudEvents
 * (`google.cloud.pubsub.topic.v1.messagePublished`), redelivery with backoff when a handler throws,
 * and a dead-letter topic after the configured attempts.
 */
export class LocalMessageBus implements MessageBus {
  private readonly handlers = new Map<string, EventHandler<MessagePublishedData>[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly options: DeliveryOptions;
  private readonly log: Logger | undefined;
  /** Every message ever published, by topic: what the dead-letter topics hold, and what tests count. */
  readonly published = new Map<string, unknown[]>();

  constructor(options: Partial<DeliveryOptions> & { log?: Logger } = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.log = options.log;
  }

  subscribe(topic: string, handler: EventHandler<MessagePublishedData>): void {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
  }

  async publish(topic: string, message: unknown, attributes: Record<string, string> = {}): Promise<string> {
    const messageId = randomUUID();
    this.published.set(topic, [...(this.published.get(topic) ?? []), message]);
    const event: CloudEventLike<MessagePublishedData> = {
      id: messageId,
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      source: `//pubsub.googleapis.com/projects/local/topics/${topic}`,
      time: new Date().toISOString(),
      data: {
        message: {
          data: Buffer.from(JSON.stringify(message)).toString('base64'),
          attributes,
          messageId,
          publishTime: new Date().toISOString(),
        },
        subscription: `projects/local/subscriptions/${topic}`,
      },
    };
    const handlers = this.handlers.get(topic) ?? [];
    for (const handler of Array.from({ length: this.options.deliveries }, () => handlers).flat()) {
      this.track(
        deliverWithRetry(handler, event, this.options, this.log, async () => {
          // What Pub/Sub adds to a dead-lettered message, and nothing else: no error, only where and how often.
          await this.publish(`${topic}-dead-letter`, message, {
            ...attributes,
            CloudPubSubDeadLetterSourceDeliveryCount: String(this.options.maxAttempts),
            CloudPubSubDeadLetterSourceSubscription: `${topic}-push`,
            CloudPubSubDeadLetterSourceSubscriptionProject: 'local',
            CloudPubSubDeadLetterSourceTopicPublishTime: event.time!,
          });
        }),
      );
    }
    return messageId;
  }

  /**
   * Runs a CloudEvent through a handler with the same retry semantics (the local stand-in for Eventarc);
   * `onGiveUp` hears the last error when every attempt failed.
   */
  deliver<T>(
    handler: EventHandler<T>,
    event: CloudEventLike<T>,
    onGiveUp?: (error: string) => Promise<void>,
  ): void {
    for (let i = 0; i < this.options.deliveries; i++) {
      this.track(deliverWithRetry(handler, event, this.options, this.log, onGiveUp));
    }
  }

  /** Resolves when no delivery is in flight (including redeliveries they schedule). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

async function deliverWithRetry<T>(
  handler: EventHandler<T>,
  event: CloudEventLike<T>,
  options: DeliveryOptions,
  log: Logger | undefined,
  onDeadLetter?: (error: string) => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await handler(event);
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (attempt >= options.maxAttempts) {
        log?.error(`giving up on ${event.type} ${event.id} after ${attempt} attempts: ${message}`);
        await onDeadLetter?.(message);
        return;
      }
      const delay = Math.min(options.maxBackoffMs, options.backoffMs * 2 ** (attempt - 1));
      log?.warn(`handler failed (attempt ${attempt}), redelivering in ${delay} ms: ${message}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
