import type { z } from 'zod';
import { InputError, isPermanent } from '../shared/errors.ts';
import type { CloudEventLike, MessagePublishedData } from '../shared/events.ts';
import type { Deps, Logger } from '../shared/ports.ts';
import { parseJson, parseWith } from '../shared/validate.ts';

export type PubSubEvent = CloudEventLike<MessagePublishedData>;

/** Decodes and validates the JSON body of a Pub/Sub CloudEvent; throws InputError for a malformed message. */
export function decodeMessage<S extends z.ZodType>(event: PubSubEvent, schema: S, what: string): z.output<S> {
  const data = event.data?.message?.data;
  const where = `${what} message ${event.data?.message?.messageId ?? event.id}`;
  if (!data) return parseWith(schema, undefined, where);
  return parseWith(schema, parseJson(Buffer.from(data, 'base64').toString('utf8'), where), where);
}

/**
 * Every Pub/Sub handler, wrapped once: decode with the message's schema; drop a malformed message with one log line
 * (redelivery cannot fix it); log and ack a permanent failure; rethrow anything else, so Pub/Sub redelivers it.
 */
export function onMessage<S extends z.ZodType>(
  schema: S,
  what: string,
  handle: (message: z.output<S>, deps: Deps, context: { event: PubSubEvent; log: Logger }) => Promise<void>,
): (event: PubSubEvent, deps: Deps) => Promise<void> {
  return async (event, deps) => {
    let message: z.output<S>;
    try {
      message = decodeMessage(event, schema, what);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      deps.log.error(`dropping a malformed message: ${error.message}`);
      return;
    }
    const log = deps.log.child(logFieldsOf(message));
    try {
      await handle(message, deps, { event, log });
    } catch (error) {
      if (!isPermanent(error)) throw error;
      log.error(`${what} not handled, and not retried: ${error.message}`);
    }
  };
}

/** runId and trial of a request (`config.name`) or a result (`config`), for every log line about it. */
function logFieldsOf(message: unknown): { runId?: string; trial?: string } {
  const { runId, config } = (message ?? {}) as { runId?: unknown; config?: unknown };
  const trial = typeof config === 'string' ? config : (config as { name?: unknown } | undefined)?.name;
  return {
    ...(typeof runId === 'string' ? { runId } : {}),
    ...(typeof trial === 'string' ? { trial } : {}),
  };
}

export const nowIso = () => new Date().toISOString();
