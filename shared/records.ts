import type { z } from 'zod';
import {
  ForecastDoc,
  ModelDoc,
  OPEN_RUN_STATUSES,
  RunDoc,
  SlotDoc,
  TrackRecord,
  TrialDoc,
} from './documents.ts';
import { DOCS } from './names.ts';
import type { DocumentStore, Transaction } from './ports.ts';

/** Anything that reads documents: the store itself, or a transaction (whose reads all come before its writes). */
export type DocumentReader = Pick<DocumentStore, 'get' | 'list'> | Pick<Transaction, 'get' | 'list'>;

/**
 * A stored document that does not match its schema (corrupt, or written by an older version). Not a PermanentError:
 * the handler fails, Pub/Sub redelivers, and the message ends on the dead-letter topic, loudly, with the path.
 */
export class CorruptDocumentError extends Error {
  override name = 'CorruptDocumentError';
}

export function parseDocument<S extends z.ZodType>(schema: S, data: unknown, path: string): z.output<S> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`,
  );
  throw new CorruptDocumentError(`document ${path} does not match its schema: ${problems.join('; ')}`);
}

async function readOne<S extends z.ZodType>(reader: DocumentReader, schema: S, path: string) {
  const data = await reader.get(path);
  return data === undefined ? undefined : parseDocument(schema, data, path);
}

async function readAll<S extends z.ZodType>(reader: DocumentReader, schema: S, collection: string) {
  const docs = await reader.list(collection);
  return docs.map(({ id, data }) => parseDocument(schema, data, `${collection}/${id}`));
}

// Every read of a run, trial or model goes through these, so a bad document fails where it is read.
export const readRun = (r: DocumentReader, runId: string): Promise<RunDoc | undefined> =>
  readOne(r, RunDoc, DOCS.run(runId));
export const readRuns = (r: DocumentReader): Promise<RunDoc[]> => readAll(r, RunDoc, DOCS.runs);
export const readTrial = (r: DocumentReader, runId: string, config: string): Promise<TrialDoc | undefined> =>
  readOne(r, TrialDoc, DOCS.trial(runId, config));
export const readTrials = (r: DocumentReader, runId: string): Promise<TrialDoc[]> =>
  readAll(r, TrialDoc, DOCS.trials(runId));
export const readModel = (
  r: DocumentReader,
  symbol: string,
  timeframe: string,
): Promise<ModelDoc | undefined> => readOne(r, ModelDoc, DOCS.model(symbol, timeframe));
export const readModels = (r: DocumentReader): Promise<ModelDoc[]> => readAll(r, ModelDoc, DOCS.models);
export const readForecast = (
  r: DocumentReader,
  symbol: string,
  timeframe: string,
): Promise<ForecastDoc | undefined> => readOne(r, ForecastDoc, DOCS.forecast(symbol, timeframe));
export const readForecasts = (r: DocumentReader): Promise<ForecastDoc[]> =>
  readAll(r, ForecastDoc, DOCS.forecasts);
export const readTrackRecord = (
  r: DocumentReader,
  symbol: string,
  timeframe: string,
): Promise<TrackRecord | undefined> => readOne(r, TrackRecord, DOCS.trackRecord(symbol, timeframe));
export const readTrackRecords = (r: DocumentReader): Promise<TrackRecord[]> =>
  readAll(r, TrackRecord, DOCS.trackRecords);
export const readSlot = (r: DocumentReader, slot: string): Promise<SlotDoc | undefined> =>
  readOne(r, SlotDoc, DOCS.trainingSlot(slot));

/** Runs created at or after `since` (an ISO time), oldest first: one query, however many older runs there are. */
export const readRunsSince = async (store: Pick<DocumentStore, 'query'>, since: string): Promise<RunDoc[]> =>
  (await store.query(DOCS.runs, { orderBy: 'createdAt', startAt: since })).map(({ id, data }) =>
    parseDocument(RunDoc, data, `${DOCS.runs}/${id}`),
  );

/**
 * Runs still ingesting or training, soonest deadline first: what the sweeper looks at (never every run ever made).
 * A run that does not match its schema is returned as its error, so one bad run cannot hide the others.
 */
export const readOpenRuns = async (
  store: Pick<DocumentStore, 'query'>,
): Promise<Array<RunDoc | CorruptDocumentError>> => {
  const docs = await store.query(DOCS.runs, {
    where: { field: 'status', in: [...OPEN_RUN_STATUSES] },
    orderBy: 'deadline',
  });
  return docs.map(({ id, data }) => {
    try {
      return parseDocument(RunDoc, data, `${DOCS.runs}/${id}`);
    } catch (error) {
      if (error instanceof CorruptDocumentError) return error;
      throw error;
    }
  });
};
