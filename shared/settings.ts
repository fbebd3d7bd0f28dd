import { z } from 'zod';
import { DEFAULT_REGION } from './names.ts';
import { parseWith } from './validate.ts';

/**
 * Every setting, read from environment variables (the CDKTF stack sets them on the functions;
 * the CLI sets them for the embedded default). Defaults are the product's defaults.
 */
export const Settings = z.object({
  /** Which adapters are plugged in: `local` (a folder, an in-process bus, a file document store, child processes) or `gcp`. */
  TRENDCAST_BACKEND: z.enum(['local', 'gcp']).default('local'),
  /** Local state folder (bucket, documents) for the embedded default. */
  TRENDCAST_HOME: z.string().default('.trendcast'),
  TRENDCAST_BUCKET: z.string().default('trendcast-local'),
  GOOGLE_CLOUD_PROJECT: z.string().default('trendcast-local'),
  TRENDCAST_REGION: z.string().default(DEFAULT_REGION),
  TRENDCAST_FIRESTORE_DATABASE: z.string().default('(default)'),
  /** Trainer image in Artifact Registry, for Vertex AI custom jobs. */
  TRENDCAST_TRAINER_IMAGE: z.string().default(''),
  TRENDCAST_TRAINER_SERVICE_ACCOUNT: z.string().default(''),
  TRENDCAST_MACHINE_TYPE: z.string().default('n1-standard-4'),
  /** `NVIDIA_TESLA_T4` by default; `NONE` trains on CPU (when the GPU quota is not granted yet). */
  TRENDCAST_ACCELERATOR_TYPE: z.string().default('NVIDIA_TESLA_T4'),
  TRENDCAST_ACCELERATOR_COUNT: z.coerce.number().int().min(0).default(1),
  /** Training jobs at once; 0 means one per CPU core (local) or 1 (Vertex AI, a quota of one GPU). */
  TRENDCAST_MAX_JOBS: z.coerce.number().int().min(0).default(0),
  /**
   * `http://host:port` of a local Vertex AI service (emulators/vertex-ai/, emulator mode): the launcher talks REST to
   * it without credentials. Empty: the regional Vertex AI endpoint of TRENDCAST_REGION.
   */
  TRENDCAST_VERTEX_ENDPOINT: z
    .string()
    .regex(/^http:\/\/[^/\s]+:\d+\/?$/, 'an http://host:port URL')
    .or(z.literal(''))
    .default(''),
  /** Attempts at creating a Vertex AI job that fails with 429 RESOURCE_EXHAUSTED before the trial fails. */
  TRENDCAST_QUOTA_ATTEMPTS: z.coerce.number().int().min(1).default(5),
  /** Largest CSV ingest reads, checked before reading the object. */
  TRENDCAST_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(50 * 1024 * 1024),
  /** After this many minutes, trials that have not reported are failed as "timed out" and the run is decided. */
  TRENDCAST_RUN_DEADLINE_MINUTES: z.coerce
    .number()
    .positive()
    .default(24 * 60),
});
export type Settings = z.infer<typeof Settings>;

export function readSettings(env: Record<string, string | undefined>): Settings {
  const known = Object.fromEntries(
    Object.keys(Settings.shape)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  return parseWith(Settings, known, 'settings (environment variables)');
}
