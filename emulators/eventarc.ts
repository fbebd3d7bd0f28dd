// The cloud's wiring, emulated: topics and push subscriptions on the Pub/Sub emulator, and a relay in front of the
// functions served by the Functions Framework. For launcher, collector and deadLetter the relay passes on exactly what
// the push subscription sent (the JSON push body, to the path the stack's push endpoint names), as the stack's
// explicit push subscriptions do; for ingest it turns the bucket notification into the CloudEvent Eventarc delivers
// (binary mode, `ce-*` headers). It answers with the function's status, so a function that fails (non-2xx) makes
// Pub/Sub deliver again.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { PubSub } from '@google-cloud/pubsub';
import type { StorageObjectData } from '../shared/events.ts';
import { DEAD_LETTER_TOPICS, TOPICS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import type { Emulators } from './harness.ts';
import { STORAGE_NOTIFICATIONS_TOPIC } from './harness.ts';

/** What triggers each function, as the CDKTF stack wires it in the cloud. */
export interface Trigger {
  /** A CloudEvent function registered with the Functions Framework. */
  target: string;
  topic: string;
  /** `storage`: the topic carries GCS object notifications; `pubsub`: plain messages. */
  kind: 'storage' | 'pubsub';
}

export const TRIGGERS: readonly Trigger[] = [
  { target: 'ingest', topic: STORAGE_NOTIFICATIONS_TOPIC, kind: 'storage' },
  { target: 'launcher', topic: TOPICS.trainingRequests, kind: 'pubsub' },
  { target: 'collector', topic: TOPICS.trainingResults, kind: 'pubsub' },
  { target: 'forecaster', topic: TOPICS.forecastRequests, kind: 'pubsub' },
  { target: 'deadLetter', topic: DEAD_LETTER_TOPICS.trainingRequests, kind: 'pubsub' },
  { target: 'deadLetter', topic: DEAD_LETTER_TOPICS.trainingResults, kind: 'pubsub' },
  { target: 'sweeper', topic: TOPICS.runSweep, kind: 'pubsub' },
];

/** Pub/Sub's push body. */
interface PushBody {
  message: { data?: string; attributes?: Record<string, string>; messageId?: string; publishTime?: string };
  subscription: string;
}

export interface CloudEventRequest {
  headers: Record<string, string>;
  body: unknown;
}

/**
 * The `google.cloud.storage.object.v1.finalized` CloudEvent for a GCS notification (payload format JSON_API_V1: the
 * object resource); undefined for other event types.
 */
export function objectFinalizedEvent(push: PushBody): CloudEventRequest | undefined {
  if (push.message.attributes?.eventType !== 'OBJECT_FINALIZE' || !push.message.data) return undefined;
  const object = JSON.parse(
    Buffer.from(push.message.data, 'base64').toString('utf8'),
  ) as StorageObjectData & {
    updated?: string;
  };
  return {
    headers: ceHeaders({
      id: push.message.messageId ?? `${object.bucket}/${object.name}#${object.generation}`,
      type: 'google.cloud.storage.object.v1.finalized',
      source: `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
      subject: `objects/${object.name}`,
      time: object.updated ?? push.message.publishTime,
    }),
    body: object,
  };
}

function ceHeaders(ce: { id: string; type: string; source: string; subject?: string; time?: string }) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': ce.id,
    'ce-type': ce.type,
    'ce-source': ce.source,
  };
  if (ce.subject) headers['ce-subject'] = ce.subject;
  if (ce.time) headers['ce-time'] = ce.time;
  return headers;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface EventarcOptions {
  /** Seconds a function may take before Pub/Sub delivers the event again. */
  ackDeadlineSeconds?: number;
  /** Delivery attempts before a message goes to its dead-letter topic (Pub/Sub's minimum is 5). */
  maxDeliveryAttempts?: number;
}

/** The trendcast functions (functions/index.ts) with these deps, wired to the emulators as Eventarc wires them. */
export async function startPipeline(emulators: Emulators, deps: Deps, options: EventarcOptions = {}) {
  // Imported here, not at the top: the wiring alone (startEventarc) needs no handlers.
  const { registerFunctions } = await import('../functions/index.ts');
  registerFunctions(() => deps);
  return startEventarc(emulators, TRIGGERS, options);
}

/**
 * Serves the registered functions with the Functions Framework (in this process), starts the relay and creates the
 * topics and push subscriptions on the Pub/Sub emulator. `stop()` closes the servers; the emulators stay up.
 */
export async function startEventarc(
  emulators: Emulators,
  triggers: readonly Trigger[],
  options: EventarcOptions = {},
) {
  const projectId = emulators.env.GOOGLE_CLOUD_PROJECT;
  const servers: Server[] = [];
  const functionUrls = new Map<string, string>();
  for (const target of new Set(triggers.map((t) => t.target))) {
    const server = getTestServer(target);
    servers.push(server);
    functionUrls.set(target, await listen(server));
  }

  /** Deliveries by target and status, for tests and the console. */
  const deliveries: Array<{ target: string; type: string; id: string; status: number }> = [];
  /** Deliveries under way, and when the last one ended: stop() drains them, settle() waits for a quiet relay. */
  const inFlight = new Set<Promise<void>>();
  let lastActivity = Date.now();
  let draining = false;
  const relay = createServer((request, response) => {
    // Once draining, a push is refused as a stopped instance would be; Pub/Sub keeps the message for later.
    if (draining) {
      response.writeHead(503).end();
      return;
    }
    lastActivity = Date.now();
    const delivery = deliver(request, response).finally(() => {
      inFlight.delete(delivery);
      lastActivity = Date.now();
    });
    inFlight.add(delivery);
  });
  const deliver = async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const [, kind, topic, target] = (request.url ?? '').split('/');
      const raw = await readBody(request);
      const push = JSON.parse(raw) as PushBody;
      const functionUrl = functionUrls.get(target ?? '')!;
      let reply: Response;
      let delivered: { type: string; id: string };
      if (kind === 'storage') {
        const event = objectFinalizedEvent(push);
        if (!event) {
          response.writeHead(204).end(); // not an event this trigger fires on: acknowledge it
          return;
        }
        reply = await fetch(functionUrl, {
          method: 'POST',
          headers: event.headers,
          body: JSON.stringify(event.body),
        });
        delivered = { type: event.headers['ce-type']!, id: event.headers['ce-id']! };
      } else {
        // Exactly what the push subscription sent, to the path the stack's push endpoint names: the Functions
        // Framework turns the push body into the messagePublished CloudEvent, as in production.
        reply = await fetch(`${functionUrl}/projects/${projectId}/topics/${topic}`, {
          method: 'POST',
          headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
          body: raw,
        });
        delivered = {
          type: 'google.cloud.pubsub.topic.v1.messagePublished',
          id: push.message.messageId ?? '',
        };
      }
      await reply.arrayBuffer();
      deliveries.push({ target: target!, ...delivered, status: reply.status });
      response.writeHead(reply.status).end();
    } catch (error) {
      response.writeHead(502).end(String(error));
    }
  };
  servers.push(relay);
  const relayUrl = await listen(relay);

  const pubsub = new PubSub({ projectId, apiEndpoint: emulators.env.PUBSUB_EMULATOR_HOST });
  const topics = new Set<string>([...Object.values(TOPICS), ...Object.values(DEAD_LETTER_TOPICS)]);
  for (const trigger of triggers) topics.add(trigger.topic);
  for (const name of topics) {
    const [exists] = await pubsub.topic(name).exists();
    if (!exists) await pubsub.createTopic(name);
  }
  const deadLetterFor = new Map<string, string>([
    [TOPICS.trainingRequests, DEAD_LETTER_TOPICS.trainingRequests],
    [TOPICS.trainingResults, DEAD_LETTER_TOPICS.trainingResults],
  ]);
  for (const trigger of triggers) {
    const deadLetterTopic = deadLetterFor.get(trigger.topic);
    await pubsub.topic(trigger.topic).createSubscription(`eventarc-${trigger.target}-${trigger.topic}`, {
      pushConfig: { pushEndpoint: `${relayUrl}/${trigger.kind}/${trigger.topic}/${trigger.target}` },
      ackDeadlineSeconds: options.ackDeadlineSeconds ?? 600,
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 10 } },
      ...(deadLetterTopic
        ? {
            deadLetterPolicy: {
              deadLetterTopic: pubsub.topic(deadLetterTopic).name,
              maxDeliveryAttempts: options.maxDeliveryAttempts ?? 5,
            },
          }
        : {}),
    });
  }

  return {
    relayUrl,
    functionUrls,
    deliveries,
    /** Resolves once no delivery has been under way for `quietMs` (false if `timeoutMs` passes first). */
    async settle(quietMs: number, timeoutMs: number): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (inFlight.size === 0 && Date.now() - lastActivity >= quietMs) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    },
    /** Refuses new deliveries and waits for those under way; resolves to how many were still running at the bound. */
    async drain(timeoutMs: number): Promise<number> {
      draining = true;
      const bound = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      await Promise.race([Promise.allSettled([...inFlight]), bound]);
      return inFlight.size;
    },
    async stop(): Promise<void> {
      await pubsub.close();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    },
  };
}
export type Eventarc = Awaited<ReturnType<typeof startEventarc>>;
