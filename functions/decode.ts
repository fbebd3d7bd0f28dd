import type { z } from 'zod';
import type { CloudEventLike, MessagePublishedData } from '../shared/events.ts';
import { parseJson, parseWith } from '../shared/validate.ts';

/** Decodes and validates the JSON body of a Pub/Sub CloudEvent; throws InputError for a malformed message. */
export function decodeMessage<S extends z.ZodType>(
  event: CloudEventLike<MessagePublishedData>,
  schema: S,
  what: string,
): z.output<S> {
  const data = event.data?.message?.data;
  const where = `${what} message ${event.data?.message?.messageId ?? event.id}`;
  if (!data) return parseWith(schema, undefined, where);
  return parseWith(schema, parseJson(Buffer.from(data, 'base64').toString('utf8'), where), where);
}

export const nowIso = () => new Date().toISOString();
