import { DEFAULT_REGION } from '../shared/names.ts';
import { Settings } from '../shared/settings.ts';

/** The product's defaults, from the settings schema: the stack repeats none of them. */
export const SETTINGS_DEFAULTS = Settings.parse({});

/** What a deployment is made of; every field but the project and the trainer image has a default. */
export interface TrendcastConfig {
  project: string;
  region: string;
  /**
   * Where `gcloud builds submit` runs the trainer image's build: the stack's region by default. Cloud Build refuses
   * some regions to some projects (Cloud Build locations page); `global`, Cloud Build's default, is the fallback.
   * The image still goes to the region's repository (cloudbuild.yaml's _REGION).
   */
  buildRegion: string;
  bucket: string;
  /** Members who may create objects under incoming/ and forecast/ (and nothing else): the uploader role. */
  uploaders: string[];
  /** The image Vertex AI runs: the GPU image, or the CPU image when training on CPU (see `onGpu`). */
  trainerImage: string;
  machineType: string;
  /** `NVIDIA_TESLA_T4` by default; `NONE` trains on CPU. */
  accelerator: string;
  acceleratorCount: number;
  /** Whether jobs get a GPU: the same rule as adapters/gcp/job-launcher.ts. */
  onGpu: boolean;
  /** Training jobs at once: the Vertex GPU quota (1 for a new project whose T4 quota was raised to 1). */
  maxJobs: number;
  /** Attempts at delivering a Pub/Sub message before it goes to its dead-letter topic. */
  maxDeliveryAttempts: number;
  /** Days before objects under `datasets/` are deleted. */
  datasetRetentionDays: number;
  /** Customer-managed key (`projects/.../locations/<region>/keyRings/.../cryptoKeys/...`) for buckets, topics, registry, Firestore. */
  kmsKey?: string;
  /** An existing bucket that receives the two buckets' access logs. */
  accessLogBucket?: string;
  /** Whether `destroy` may delete the data bucket and every object in it (off: the bucket is kept). */
  destroyData: boolean;
  /** Take over an existing data bucket (one a previous `npm run destroy` kept) instead of creating it. */
  importBucket: boolean;
}

/** An image reference Vertex AI can pull: `host/path[:tag][@sha256:<digest>]`. */
const IMAGE = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/;
const KMS_KEY = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

/**
 * The configuration from environment variables (TRENDCAST_PROJECT, TRENDCAST_REGION, TRENDCAST_BUILD_REGION, TRENDCAST_BUCKET,
 * TRENDCAST_TRAINER_IMAGE, TRENDCAST_CPU_TRAINER_IMAGE, TRENDCAST_MACHINE_TYPE, TRENDCAST_ACCELERATOR_TYPE,
 * TRENDCAST_ACCELERATOR_COUNT, TRENDCAST_MAX_JOBS, TRENDCAST_KMS_KEY, TRENDCAST_ACCESS_LOG_BUCKET,
 * TRENDCAST_DESTROY_DATA, TRENDCAST_IMPORT_BUCKET, TRENDCAST_UPLOADERS) or cdktf context (`project`, `region`, `bucket`, ...), the environment winning.
 */
export function configFrom(
  env: Record<string, string | undefined>,
  context: (key: string) => unknown = () => undefined,
): TrendcastConfig {
  const pick = (envName: string, contextName: string) =>
    env[envName] || (context(contextName) as string | undefined) || undefined;
  const project = pick('TRENDCAST_PROJECT', 'project') || env.GOOGLE_CLOUD_PROJECT;
  if (!project) {
    throw new Error(
      'set the Google Cloud project: TRENDCAST_PROJECT=<project id> (or cdktf context "project")',
    );
  }
  const region = pick('TRENDCAST_REGION', 'region') || DEFAULT_REGION;
  const number = (value: string | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: "${value}" is not a whole number`);
    return n;
  };
  const accelerator =
    pick('TRENDCAST_ACCELERATOR_TYPE', 'accelerator') || SETTINGS_DEFAULTS.TRENDCAST_ACCELERATOR_TYPE;
  const acceleratorCount = number(
    pick('TRENDCAST_ACCELERATOR_COUNT', 'acceleratorCount'),
    SETTINGS_DEFAULTS.TRENDCAST_ACCELERATOR_COUNT,
    'TRENDCAST_ACCELERATOR_COUNT',
  );
  const onGpu = accelerator !== 'NONE' && acceleratorCount > 0;
  const kmsKey = pick('TRENDCAST_KMS_KEY', 'kmsKey');
  if (kmsKey !== undefined && !KMS_KEY.test(kmsKey)) {
    throw new Error(
      `TRENDCAST_KMS_KEY: "${kmsKey}" is not a key name (projects/<p>/locations/${region}/keyRings/<ring>/cryptoKeys/<key>)`,
    );
  }
  return {
    project,
    region,
    buildRegion: pick('TRENDCAST_BUILD_REGION', 'buildRegion') || region,
    bucket: pick('TRENDCAST_BUCKET', 'bucket') || `${project}-trendcast`,
    uploaders: uploadersFrom(pick('TRENDCAST_UPLOADERS', 'uploaders')),
    trainerImage: trainerImage(pick, { project, region, onGpu }),
    machineType: pick('TRENDCAST_MACHINE_TYPE', 'machineType') || SETTINGS_DEFAULTS.TRENDCAST_MACHINE_TYPE,
    accelerator,
    acceleratorCount,
    onGpu,
    // Settings' 0 means "one per core" locally; on Vertex AI the default is one job, a quota of one GPU.
    maxJobs: number(pick('TRENDCAST_MAX_JOBS', 'maxJobs'), 1, 'TRENDCAST_MAX_JOBS'),
    maxDeliveryAttempts: 5,
    datasetRetentionDays: 30,
    ...(kmsKey ? { kmsKey } : {}),
    ...(pick('TRENDCAST_ACCESS_LOG_BUCKET', 'accessLogBucket')
      ? { accessLogBucket: pick('TRENDCAST_ACCESS_LOG_BUCKET', 'accessLogBucket') }
      : {}),
    destroyData: pick('TRENDCAST_DESTROY_DATA', 'destroyData') === '1',
    importBucket: pick('TRENDCAST_IMPORT_BUCKET', 'importBucket') === '1',
  };
}

/**
 * The trainer image is required: there is no image until it is built (docs/deploy.md), and a default name would
 * deploy a stack whose every training job fails. The GPU image trains on a GPU, the CPU image when there is none.
 */
function trainerImage(
  pick: (envName: string, contextName: string) => string | undefined,
  at: { project: string; region: string; onGpu: boolean },
): string {
  const [variable, contextKey, name] = at.onGpu
    ? ['TRENDCAST_TRAINER_IMAGE', 'trainerImage', 'trainer']
    : ['TRENDCAST_CPU_TRAINER_IMAGE', 'cpuTrainerImage', 'trainer-cpu'];
  const image = pick(variable, contextKey);
  const example = `${at.region}-docker.pkg.dev/${at.project}/trendcast/${name}:<tag>`;
  if (!image) {
    throw new Error(
      `set the trainer image: ${variable}=${example} (or cdktf context "${contextKey}"; ` +
        `${at.onGpu ? 'the GPU image, trainer/Dockerfile' : 'training on CPU takes the CPU image, trainer/Dockerfile.cpu'}; ` +
        'docs/deploy.md shows how to build it)',
    );
  }
  if (!IMAGE.test(image)) {
    throw new Error(`${variable}: "${image}" is not an image reference like ${example}`);
  }
  return image;
}

/** `TRENDCAST_UPLOADERS`: IAM members, comma-separated (`user:ana@example.com,group:traders@example.com`). */
function uploadersFrom(value: string | undefined): string[] {
  const members = (value ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of members)
    if (!/^(user|group|serviceAccount|domain|principal|principalSet):\S+$/.test(m))
      throw new Error(
        `TRENDCAST_UPLOADERS: "${m}" is not an IAM member (user:..., group:..., serviceAccount:...)`,
      );
  return members;
}
