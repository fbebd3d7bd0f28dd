import { DEFAULT_REGION } from '../shared/names.ts';
import { Settings } from '../shared/settings.ts';

/** The product's defaults, from the settings schema: the stack repeats none of them. */
export const SETTINGS_DEFAULTS = Settings.parse({});

/** What a deployment is made of; every field but the project has a default. */
export interface TrendcastConfig {
  project: string;
  region: string;
  bucket: string;
  trainerImage: string;
  machineType: string;
  /** `NVIDIA_TESLA_T4` by default; `NONE` trains on CPU. */
  accelerator: string;
  acceleratorCount: number;
  /** Training jobs at once: the Vertex GPU quota (1 for a new project whose T4 quota was raised to 1). */
  maxJobs: number;
  /** Attempts at delivering a Pub/Sub message before it goes to its dead-letter topic. */
  maxDeliveryAttempts: number;
  /** Days before objects under `datasets/` are deleted. */
  datasetRetentionDays: number;
}

/**
 * The configuration from environment variables (TRENDCAST_PROJECT, TRENDCAST_REGION, TRENDCAST_BUCKET,
 * TRENDCAST_TRAINER_IMAGE, TRENDCAST_MACHINE_TYPE, TRENDCAST_ACCELERATOR_TYPE, TRENDCAST_ACCELERATOR_COUNT,
 * TRENDCAST_MAX_JOBS) or cdktf context (`project`, `region`, `bucket`, ...), the environment winning.
 */
export function configFrom(
  env: Record<string, string | undefined>,
  context: (key: string) => unknown = () => undefined,
): TrendcastConfig {
  const pick = (envName: string, contextName: string) =>
    env[envName] || (context(contextName) as string | undefined);
  const project = pick('TRENDCAST_PROJECT', 'project') || env.GOOGLE_CLOUD_PROJECT;
  if (!project) {
    throw new Error(
      'set the Google Cloud project: TRENDCAST_PROJECT=<project id> (or cdktf context "project")',
    );
  }
  const region = pick('TRENDCAST_REGION', 'region') || DEFAULT_REGION;
  const number = (value: string | undefined, fallback: number, name: string) => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: "${value}" is not a whole number`);
    return n;
  };
  return {
    project,
    region,
    bucket: pick('TRENDCAST_BUCKET', 'bucket') || `${project}-trendcast`,
    trainerImage:
      pick('TRENDCAST_TRAINER_IMAGE', 'trainerImage') ||
      `${region}-docker.pkg.dev/${project}/trendcast/trainer:latest`,
    machineType: pick('TRENDCAST_MACHINE_TYPE', 'machineType') || SETTINGS_DEFAULTS.TRENDCAST_MACHINE_TYPE,
    accelerator:
      pick('TRENDCAST_ACCELERATOR_TYPE', 'accelerator') || SETTINGS_DEFAULTS.TRENDCAST_ACCELERATOR_TYPE,
    acceleratorCount: number(
      pick('TRENDCAST_ACCELERATOR_COUNT', 'acceleratorCount'),
      SETTINGS_DEFAULTS.TRENDCAST_ACCELERATOR_COUNT,
      'TRENDCAST_ACCELERATOR_COUNT',
    ),
    // Settings' 0 means "one per core" locally; on Vertex AI the default is one job, a quota of one GPU.
    maxJobs: number(pick('TRENDCAST_MAX_JOBS', 'maxJobs'), 1, 'TRENDCAST_MAX_JOBS'),
    maxDeliveryAttempts: 5,
    datasetRetentionDays: 30,
  };
}
