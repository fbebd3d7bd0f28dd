import { createHash } from 'node:crypto';

/**
 * A run's id, derived from the uploaded object's bucket, name and generation: a redelivered
 * object-finalized event maps to the same run, and a new upload of the same name to a new one.
 */
export function deriveRunId(bucket: string, objectName: string, generation: string): string {
  const hash = createHash('sha256').update(`${bucket}\n${objectName}\n${generation}`).digest('hex');
  return `run-${hash.slice(0, 20)}`;
}
