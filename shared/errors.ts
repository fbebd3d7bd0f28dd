// One error model for every handler, the trainer and the CLI: a failure is either permanent (retrying cannot help:
// bad input, a job the platform refused for good, an object that is not there) or transient (anything else: a
// network error, a 5xx, a timeout), and only transient failures are worth a redelivery.

/** A failure that retrying cannot fix. Subclasses say what kind; `cause` keeps the underlying error. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** A bad input, with a message that says what and where. The CLI prints it as one `error:` line (exit 2). */
export class InputError extends PermanentError {
  override name = 'InputError';
}

/** The platform refused a job for good (e.g. an invalid job spec): the trial fails, nothing is redelivered. */
export class JobRefusedError extends PermanentError {
  override name = 'JobRefusedError';
}

/** An object or document that does not exist (a 404, ENOENT): reading it again will not make it appear. */
export class NotFoundError extends PermanentError {
  override name = 'NotFoundError';
}

/** Stored model files that are not a usable model (bad JSON, no weights manifest, a topology tfjs refuses). */
export class CorruptModelError extends PermanentError {
  override name = 'CorruptModelError';
}

/**
 * The platform has no quota for the job now (Vertex AI's 429 RESOURCE_EXHAUSTED). Not permanent: the trial waits in
 * the queue and is tried again at later sweeps, until its run's deadline.
 */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  constructor(
    /** e.g. `custom_model_training_nvidia_t4_gpus` */
    readonly quota: string,
    readonly region: string,
    options?: { cause?: unknown },
  ) {
    super(`waiting for ${quota.endsWith('_gpus') ? 'GPU' : 'CPU'} quota ${quota} in ${region}`, options);
  }
}

/** True when retrying cannot help; everything that is not a PermanentError is treated as transient. */
export const isPermanent = (error: unknown): error is PermanentError => error instanceof PermanentError;

/**
 * The longest error text trendcast stores, logs or prints: a run document, a report and the CLI's `error:` line all
 * hold at most this many characters, whatever the input that caused it (an 800 KB header once made a 2 MB one).
 */
export const MAX_ERROR_CHARS = 1000;

/** `text` on one line, cut to `max` characters with the cut said, so a message never outgrows its place. */
export function boundedText(text: string, max = MAX_ERROR_CHARS): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  if (line.length <= max) return line;
  const note = `... (${line.length - max} more characters cut)`;
  return line.slice(0, Math.max(0, max - note.length)) + note;
}

/** A value from the input, quoted for an error message: cut past `max` characters, with its full length said. */
export function quoted(value: string, max = 40): string {
  return value.length <= max ? `"${value}"` : `"${value.slice(0, max)}..." (${value.length} characters)`;
}

/** The message of anything thrown, for logs and documents: one line of at most MAX_ERROR_CHARS characters. */
export const messageOf = (error: unknown): string =>
  boundedText(error instanceof Error ? error.message : String(error));
