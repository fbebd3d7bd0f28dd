// The narrow ports through which the handlers and the trainer reach the outside world.
// One adapter per backend: adapters/local (embedded default) and adapters/gcp (emulators and Google Cloud).
import type { TrainingRequest } from './messages.ts';
import type { Settings } from './settings.ts';

/** A bucket: keys are object paths such as `datasets/abc/X.npy`. */
export interface ObjectStore {
  /** `gs://bucket/` or `file:///abs/folder/`: the prefix that turns a key into a URI. */
  readonly baseUri: string;
  read(key: string): Promise<Buffer>;
  /**
   * Reads at most `maxBytes`; throws InputError when the object is larger (checked before reading it all). With a
   * `generation`, reads exactly that version of the object (NotFoundError when it is gone), not the newest.
   */
  readLimited(key: string, maxBytes: number, options?: { generation?: string }): Promise<Buffer>;
  /** Writes the whole object atomically: readers see the old object or the new one, never a part. */
  write(key: string, data: Buffer | string, contentType?: string): Promise<void>;
  /**
   * Writes the object from chunks as they come, never holding it whole (a dataset's large files); atomic like
   * `write`. Each chunk may be dropped once consumed, so memory stays at one chunk whatever the object's size.
   */
  writeStream(
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    contentType?: string,
  ): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Publishes messages; delivery to handlers is the platform's job (Eventarc push, or the local bus). */
export interface MessageBus {
  /** Publishes one JSON message; resolves to the message id. */
  publish(topic: string, message: unknown, attributes?: Record<string, string>): Promise<string>;
}

/** A stored document as it comes back: parse it with its schema (shared/records.ts) before using it. */
export type DocumentData = Record<string, unknown>;

/** A Firestore-shaped document store: paths such as `runs/abc/trials/config_1`. */
export interface DocumentStore {
  get(path: string): Promise<DocumentData | undefined>;
  /** Creates the document if absent; resolves to false (and writes nothing) when it already exists. */
  create(path: string, data: Record<string, unknown>): Promise<boolean>;
  /** Replaces the document, or merges top-level fields into it with `merge`. */
  set(path: string, data: Record<string, unknown>, options?: { merge?: boolean }): Promise<void>;
  /** Documents directly under a collection path, with their ids. */
  list(collection: string): Promise<Array<{ id: string; data: DocumentData }>>;
  query(collection: string, query: DocumentQuery): Promise<Array<{ id: string; data: DocumentData }>>;
  /** Runs `fn` atomically: every read sees one state, and its writes commit together or not at all. */
  runTransaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R>;
}

/**
 * Documents of a collection ordered by `orderBy` (ascending), optionally only those whose `where.field` is one of
 * `where.in` (a composite index in Firestore), from the first whose `orderBy` field is at least `startAt` (a string,
 * such as an ISO time), at most `limit` of them.
 */
export interface DocumentQuery {
  where?: { field: string; in: unknown[] };
  orderBy: string;
  startAt?: string;
  limit?: number;
}

/** Inside a transaction all reads come before all writes, as in Firestore. */
export interface Transaction {
  get(path: string): Promise<DocumentData | undefined>;
  list(collection: string): Promise<Array<{ id: string; data: DocumentData }>>;
  query(collection: string, query: DocumentQuery): Promise<Array<{ id: string; data: DocumentData }>>;
  set(path: string, data: Record<string, unknown>, options?: { merge?: boolean }): void;
  create(path: string, data: Record<string, unknown>): void;
  /** Deletes the document; nothing happens when it is absent. */
  delete(path: string): void;
}

/** A training job's state, in the platform-neutral words the sweeper acts on. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'unknown';
export interface JobStatus {
  state: JobState;
  /** The platform's own words for it (Vertex AI's `JOB_STATE_FAILED`...). */
  platformState: string;
  /** The platform's error message for a failed or cancelled job ("image not found", ...). */
  error?: string;
  /** The platform stopped the job at its timeout. */
  timedOut?: boolean;
  endedAt?: string;
}

/**
 * Starts, watches and cancels training jobs. A job ends by publishing a TrainingResult to `training-results`.
 * `launch` throws QuotaExceededError when the platform has no quota for it now, JobRefusedError when it never will.
 */
export interface JobLauncher {
  /** Jobs this platform runs at once: the training queue never holds more slots. */
  readonly capacity: number;
  /** Starts the job for this request unless one with the same id already exists; the id is derived from run and config. */
  launch(request: TrainingRequest, options?: { cpu?: boolean }): Promise<{ jobId: string; started: boolean }>;
  status(jobId: string): Promise<JobStatus>;
  /** Asks the job to stop; a job that already ended is left alone. */
  cancel(jobId: string): Promise<void>;
}

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export type LogFields = { runId?: string; trial?: string; [key: string]: unknown };

/** Structured logs: Cloud Logging reads one JSON object per line; a terminal gets short readable lines. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** What a handler needs from the outside world: the four ports, the settings and a logger. */
export interface Deps {
  store: ObjectStore;
  bus: MessageBus;
  docs: DocumentStore;
  launcher: JobLauncher;
  settings: Settings;
  log: Logger;
}
