// The emulated Eventarc wiring: fake-gcs-server notifications and Pub/Sub push subscriptions, relayed as binary-mode
// CloudEvents to functions served by the Functions Framework. Probe functions record what they receive.

import type { CloudEvent } from '@google-cloud/functions-framework';
import * as functions from '@google-cloud/functions-framework';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PubSubMessageBus } from '../../adapters/gcp/message-bus.ts';
import { GcsObjectStore } from '../../adapters/gcp/object-store.ts';
import { type Eventarc, startEventarc } from '../../emulators/eventarc.ts';
import {
  Emulators,
  emulatorSkipReason,
  STORAGE_NOTIFICATIONS_TOPIC,
  sessionPids,
} from '../../emulators/harness.ts';
import type { MessagePublishedData, StorageObjectData } from '../../shared/events.ts';
import { DEAD_LETTER_TOPICS, TOPICS } from '../../shared/names.ts';

const skip = emulatorSkipReason();

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(skip).sequential('Eventarc on the emulators', () => {
  let emulators: Emulators;
  let eventarc: Eventarc;
  let bus: PubSubMessageBus;
  const storageEvents: CloudEvent<StorageObjectData>[] = [];
  const pubsubEvents: CloudEvent<MessagePublishedData>[] = [];
  let failuresLeft = 2;
  let alwaysFailingAttempts = 0;
  const deadLetters: CloudEvent<MessagePublishedData>[] = [];

  beforeAll(async () => {
    emulators = await Emulators.start({ setProcessEnv: true });
    functions.cloudEvent('probeStorage', (event: CloudEvent<StorageObjectData>) => {
      storageEvents.push(event);
    });
    functions.cloudEvent('probePubsub', (event: CloudEvent<MessagePublishedData>) => {
      if (failuresLeft-- > 0) throw new Error('failing on purpose: Pub/Sub must deliver again');
      pubsubEvents.push(event);
    });
    functions.cloudEvent('probeAlwaysFailing', (_event: CloudEvent<MessagePublishedData>) => {
      alwaysFailingAttempts++;
      throw new Error('failing on purpose, every time');
    });
    functions.cloudEvent('probeDeadLetter', (event: CloudEvent<MessagePublishedData>) => {
      deadLetters.push(event);
    });
    eventarc = await startEventarc(emulators, [
      { target: 'probeStorage', topic: STORAGE_NOTIFICATIONS_TOPIC, kind: 'storage' },
      { target: 'probePubsub', topic: 'probe-topic', kind: 'pubsub' },
      { target: 'probeAlwaysFailing', topic: TOPICS.trainingRequests, kind: 'pubsub' },
      { target: 'probeDeadLetter', topic: DEAD_LETTER_TOPICS.trainingRequests, kind: 'pubsub' },
    ]);
    bus = new PubSubMessageBus(emulators.env.GOOGLE_CLOUD_PROJECT);
  });

  afterAll(async () => {
    await Promise.allSettled([bus?.close(), eventarc?.stop()]);
    await emulators?.stop();
  });

  it('an object finalized in the bucket reaches the function as google.cloud.storage.object.v1.finalized', async () => {
    const store = new GcsObjectStore(emulators.env.TRENDCAST_BUCKET);
    await store.write('elsewhere/other.csv', 'a,b\n');
    await store.write('incoming/prices.csv', 'a,b\n1,2\n');
    const event = await until('the finalized event', () =>
      storageEvents.find((e) => e.data?.name === 'incoming/prices.csv'),
    );
    expect(event.type).toBe('google.cloud.storage.object.v1.finalized');
    expect(event.source).toBe(
      `//storage.googleapis.com/projects/_/buckets/${emulators.env.TRENDCAST_BUCKET}`,
    );
    expect(event.subject).toBe('objects/incoming/prices.csv');
    expect(event.data).toMatchObject({ bucket: emulators.env.TRENDCAST_BUCKET, name: 'incoming/prices.csv' });
    expect(String(event.data?.generation)).toMatch(/^\d+$/);
    // Every object, as the stack's bucket-wide Eventarc trigger delivers (it cannot filter by prefix); ingest routes
    // by name. Each exactly once.
    await until("the other object's event", () =>
      storageEvents.find((e) => e.data?.name === 'elsewhere/other.csv'),
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(storageEvents.map((e) => e.data?.name).sort()).toEqual([
      'elsewhere/other.csv',
      'incoming/prices.csv',
    ]);
  });

  it('a published message reaches the function as messagePublished, delivered again while the function fails', async () => {
    const id = await bus.publish('probe-topic', { hello: 'world' }, { runId: 'r1' });
    const event = await until('the messagePublished event', () => pubsubEvents[0], 90_000);
    expect(event.type).toBe('google.cloud.pubsub.topic.v1.messagePublished');
    expect(event.id).toBe(id);
    expect(event.source).toBe(
      `//pubsub.googleapis.com/projects/${emulators.env.GOOGLE_CLOUD_PROJECT}/topics/probe-topic`,
    );
    expect(JSON.parse(Buffer.from(event.data!.message.data!, 'base64').toString('utf8'))).toEqual({
      hello: 'world',
    });
    expect(event.data?.message.attributes).toEqual({ runId: 'r1' });
    const statuses = eventarc.deliveries.filter((d) => d.target === 'probePubsub').map((d) => d.status);
    expect(statuses.slice(0, 2).every((s) => s >= 500)).toBe(true);
    expect(statuses[2]).toBeLessThan(300);
  });

  it('a request that fails every delivery goes to its dead-letter topic after 5 attempts', async () => {
    await bus.publish(TOPICS.trainingRequests, { never: 'handled' });
    const event = await until('the dead letter', () => deadLetters[0], 90_000);
    expect(alwaysFailingAttempts).toBe(5);
    expect(event.source).toMatch(new RegExp(`/topics/${DEAD_LETTER_TOPICS.trainingRequests}$`));
    expect(event.data?.message.attributes?.CloudPubSubDeadLetterSourceDeliveryCount).toBe('5');
    expect(JSON.parse(Buffer.from(event.data!.message.data!, 'base64').toString('utf8'))).toEqual({
      never: 'handled',
    });
  });

  it('stopping leaves no emulator process behind', async () => {
    await bus.close();
    await eventarc.stop();
    const sessions = emulators.sessions;
    await emulators.stop();
    expect(sessions.flatMap((sid) => sessionPids(sid))).toEqual([]);
  });
});
