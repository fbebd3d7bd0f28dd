// The cloud's wiring, emulated: topics and push subscriptions on the Pub/Sub emulator, and a relay in front of the
// functions served by the Functions Framework. For launcher, collector and deadLetter the relay passes on exactly what
// the push subscription sent (the JSON push body, to the path the stack's push endpoint names), as the stack's
// explicit push subscriptions do; for ingest it turns the bucket notification into the CloudEvent Eventarc delivers
// (binary mode, `ce-*` headers). It answers with the function's status, so a function that fails (non-2xx) makes
// Pub/Sub deliver again with the stack's retry and dead-letter policy (times divided by TIME_SCALE); the sweeper's
// events are acknowledged whatever happens, as its DO_NOT_RETRY trigger does. Each function serves at most
// INSTANCES[target] events at once, as many instances of one event each; more wait, then are refused with 429.
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
  /** False for the sweeper (RETRY_POLICY_DO_NOT_RETRY in the stack): a failed event is acknowledged, not redelivered. */
  retry?: boolean;
}

export const TRIGGERS: readonly Trigger[] = [
  { target: 'ingest', topic: STORAGE_NOTIFICATIONS_TOPIC, kind: 'storage' },
  { target: 'launcher', topic: TOPICS.trainingRequests, kind: 'pubsub' },
  { target: 'collector', topic: TOPICS.trainingResults, kind: 'pubsub' },
  { target: 'forecaster', topic: TOPICS.forecastRequests, kind: 'pubsub' },
  { target: 'deadLetter', topic: DEAD_LETTER_TOPICS.trainingRequests, kind: 'pubsub' },
  { target: 'deadLetter', topic: DEAD_LETTER_TOPICS.trainingResults, kind: 'pubsub' },
  { target: 'deadLetter', topic: DEAD_LETTER_TOPICS.forecastRequests, kind: 'pubsub' },
  { target: 'sweeper', topic: TOPICS.runSweep, kind: 'pubsub', retry: false },
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

/**
 * Instances each function may run at once, one event each (a gen2 function serves one request per instance by
 * default), as cdktf/functions.ts sizes them; the launcher at 5, the size the queue is built for (the stack's 1 left
 * a burst of requests waiting on one instance).
 */
export const INSTANCES: Readonly<Record<string, number>> = {
  ingest: 10,
  launcher: 5,
  collector: 10,
  forecaster: 5,
  deadLetter: 2,
  sweeper: 1,
};

/**
 * The stack's push subscriptions (cdktf/subscriptions.ts: ack deadline 600 s, backoff 10 s to 600 s, 5 attempts) with
 * time divided by this, so that a run's retries fit in a test.
 */
export const TIME_SCALE = 10;

export interface EventarcOptions {
  /** Seconds a function may take before Pub/Sub delivers the event again. */
  ackDeadlineSeconds?: number;
  /** Delivery attempts before a message goes to its dead-letter topic (Pub/Sub's minimum is 5). */
  maxDeliveryAttempts?: number;
  /** Instances per function (default INSTANCES). */
  instances?: Partial<Record<string, number>>;
}

/**
 * Cloud Run's instance limit: an event waits for a free instance of its function, and after `waitMs` (Cloud Run's
 * pending-request timeout, scaled) it is refused with 429, which Pub/Sub retries with its backoff like any failure.
 * An event still running after `timeoutMs` (the function's timeout, scaled) is answered 504 and its instance freed, as
 * Cloud Run ends it; so is the instance of a function that died mid-event (emulators/faults.ts).
 */
const TIMED_OUT = -1;

class Instances {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(
    private readonly limit: number,
    private readonly waitMs: number,
    private readonly timeoutMs: number,
  ) {}

  async run(serve: () => Promise<number>): Promise<number | undefined> {
    if (this.busy >= this.limit) {
      const admitted = await new Promise<boolean>((resolve) => {
        const admit = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(admit), 1);
          resolve(false);
        }, this.waitMs);
        this.waiting.push(admit);
      });
      if (!admitted) return undefined;
    } else this.busy++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<number>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), this.timeoutMs);
      });
      return await Promise.race([serve(), timedOut]);
    } finally {
      clearTimeout(timer);
      const next = this.waiting.shift();
      if (next)
        next(); // the instance passes straight to the next event
      else this.busy--;
    }
  }
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
  const instances = new Map<string, Instances>();
  for (const trigger of triggers)
    instances.set(
      trigger.target,
      new Instances(
        options.instances?.[trigger.target] ?? INSTANCES[trigger.target] ?? 1,
        10_000 / TIME_SCALE,
        540_000 / TIME_SCALE, // the stack's timeoutSeconds
      ),
    );
  const retries = new Map(triggers.map((t) => [t.topic + t.target, t.retry !== false]));

  /** Hands the event to the function; resolves to its status, or undefined when it was not delivered. */
  async function deliver(kind: string, topic: string, target: string, raw: string, contentType: string) {
    const push = JSON.parse(raw) as PushBody;
    const functionUrl = functionUrls.get(target)!;
    if (kind === 'storage') {
      const event = objectFinalizedEvent(push);
      if (!event) return 204; // not an event this trigger fires on: acknowledge it
      const reply = await fetch(functionUrl, {
        method: 'POST',
        headers: event.headers,
        body: JSON.stringify(event.body),
      });
      await reply.arrayBuffer();
      deliveries.push({
        target,
        type: event.headers['ce-type']!,
        id: event.headers['ce-id']!,
        status: reply.status,
      });
      return reply.status;
    }
    // Exactly what the push subscription sent, to the path the stack's push endpoint names: the Functions
    // Framework turns the push body into the messagePublished CloudEvent, as in production.
    const reply = await fetch(`${functionUrl}/projects/${projectId}/topics/${topic}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: raw,
    });
    await reply.arrayBuffer();
    deliveries.push({
      target,
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      id: push.message.messageId ?? '',
      status: reply.status,
    });
    return reply.status;
  }

  /** Deliveries under way, and when the last one ended: drain() waits for them, settle() for a quiet relay. */
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
    const delivery = relayPush(request, response).finally(() => {
      inFlight.delete(delivery);
      lastActivity = Date.now();
    });
    inFlight.add(delivery);
  });
  const relayPush = async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const [, kind = '', topic = '', target = ''] = (request.url ?? '').split('/');
      const raw = await readBody(request);
      const delivered = await instances
        .get(target)!
        .run(() => deliver(kind, topic, target, raw, request.headers['content-type'] ?? 'application/json'));
      if (delivered === undefined)
        deliveries.push({ target, type: 'no available instance', id: '', status: 429 });
      if (delivered === TIMED_OUT)
        deliveries.push({ target, type: 'function timed out', id: '', status: 504 });
      const status = delivered === undefined ? 429 : delivered === TIMED_OUT ? 504 : delivered;
      response.writeHead(status >= 300 && !retries.get(topic + target) ? 204 : status).end();
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
    [TOPICS.forecastRequests, DEAD_LETTER_TOPICS.forecastRequests],
  ]);
  for (const trigger of triggers) {
    const deadLetterTopic = deadLetterFor.get(trigger.topic);
    await pubsub.topic(trigger.topic).createSubscription(`eventarc-${trigger.target}-${trigger.topic}`, {
      pushConfig: { pushEndpoint: `${relayUrl}/${trigger.kind}/${trigger.topic}/${trigger.target}` },
      ackDeadlineSeconds: options.ackDeadlineSeconds ?? 600 / TIME_SCALE,
      retryPolicy: {
        minimumBackoff: { seconds: 10 / TIME_SCALE },
        maximumBackoff: { seconds: 600 / TIME_SCALE },
      },
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
