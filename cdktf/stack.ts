import { DataArchiveFile } from '@cdktf/provider-archive/lib/data-archive-file/index.js';
import { ArchiveProvider } from '@cdktf/provider-archive/lib/provider/index.js';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js';
import { CloudRunServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-service-iam-member/index.js';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job/index.js';
import {
  Cloudfunctions2Function,
  type Cloudfunctions2FunctionEventTrigger,
} from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project/index.js';
import { DataGoogleStorageProjectServiceAccount } from '@cdktf/provider-google/lib/data-google-storage-project-service-account/index.js';
import { FirestoreDatabase } from '@cdktf/provider-google/lib/firestore-database/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import { ProjectService } from '@cdktf/provider-google/lib/project-service/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription/index.js';
import { PubsubSubscriptionIamMember } from '@cdktf/provider-google/lib/pubsub-subscription-iam-member/index.js';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member/index.js';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object/index.js';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import { DEAD_LETTER_TOPICS, DEFAULT_REGION, TOPICS } from '../shared/names.ts';

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
    machineType: pick('TRENDCAST_MACHINE_TYPE', 'machineType') || 'n1-standard-4',
    accelerator: pick('TRENDCAST_ACCELERATOR_TYPE', 'accelerator') || 'NVIDIA_TESLA_T4',
    acceleratorCount: number(
      pick('TRENDCAST_ACCELERATOR_COUNT', 'acceleratorCount'),
      1,
      'TRENDCAST_ACCELERATOR_COUNT',
    ),
    maxJobs: number(pick('TRENDCAST_MAX_JOBS', 'maxJobs'), 1, 'TRENDCAST_MAX_JOBS'),
    maxDeliveryAttempts: 5,
    datasetRetentionDays: 30,
  };
}

const APIS = [
  'cloudfunctions.googleapis.com',
  'run.googleapis.com',
  'eventarc.googleapis.com',
  'pubsub.googleapis.com',
  'firestore.googleapis.com',
  'storage.googleapis.com',
  'aiplatform.googleapis.com',
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudscheduler.googleapis.com',
  'iam.googleapis.com',
];

/** The functions: entry points in functions/index.ts, one service account each. */
const FUNCTIONS = {
  ingest: { memory: '1Gi', maxInstances: 10 },
  launcher: { memory: '512Mi', maxInstances: 1 }, // one at a time keeps the count of running jobs exact
  collector: { memory: '512Mi', maxInstances: 10 },
  forecaster: { memory: '2Gi', maxInstances: 5 }, // runs a model with TensorFlow.js (WebAssembly backend)
  deadLetter: { memory: '256Mi', maxInstances: 2 },
  sweeper: { memory: '256Mi', maxInstances: 1 },
} as const;
type FunctionName = keyof typeof FUNCTIONS;

/** trendcast on Google Cloud: bucket, topics, Firestore, functions, the trainer's registry and least-privilege accounts. */
export class TrendcastStack extends TerraformStack {
  constructor(scope: Construct, id: string, config: TrendcastConfig) {
    super(scope, id);
    const { project, region } = config;
    new LocalBackend(this, { path: 'terraform.tfstate' });
    new GoogleProvider(this, 'google', { project, region });
    new ArchiveProvider(this, 'archive');

    const apis = APIS.map(
      (service) =>
        new ProjectService(this, `api-${service.split('.')[0]}`, { service, disableOnDestroy: false }),
    );
    const after = { dependsOn: apis };
    const projectInfo = new DataGoogleProject(this, 'project', { projectId: project });
    const gcsAgent = new DataGoogleStorageProjectServiceAccount(this, 'gcs-agent', { project });
    const pubsubAgent = `serviceAccount:service-${projectInfo.number}@gcp-sa-pubsub.iam.gserviceaccount.com`;
    const vertexAgent = `serviceAccount:service-${projectInfo.number}@gcp-sa-aiplatform-cc.iam.gserviceaccount.com`;

    // Storage: the data bucket, and one for the functions' source archive.
    const hardened = {
      location: region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      forceDestroy: false,
      ...after,
    };
    const bucket = new StorageBucket(this, 'bucket', {
      ...hardened,
      name: config.bucket,
      lifecycleRule: [
        {
          condition: { age: config.datasetRetentionDays, matchesPrefix: ['datasets/'] },
          action: { type: 'Delete' },
        },
        { condition: { daysSinceNoncurrentTime: 30, withState: 'ARCHIVED' }, action: { type: 'Delete' } },
      ],
    });
    const sourceBucket = new StorageBucket(this, 'source-bucket', {
      ...hardened,
      name: `${config.bucket}-source`,
      lifecycleRule: [
        { condition: { numNewerVersions: 3, withState: 'ARCHIVED' }, action: { type: 'Delete' } },
      ],
    });
    // `npm run build` writes dist/functions; the path is relative to the synthesized stack's folder.
    const archive = new DataArchiveFile(this, 'functions-archive', {
      type: 'zip',
      sourceDir: '${path.module}/../../../../dist/functions',
      outputPath: '${path.module}/functions-source.zip',
    });
    const source = new StorageBucketObject(this, 'functions-source', {
      bucket: sourceBucket.name,
      name: `functions-${archive.outputMd5}.zip`,
      source: archive.outputPath,
    });

    // Messages: the two topics, their dead-letter topics, and the sweep topic Cloud Scheduler publishes to.
    const topic = (id: string, name: string) =>
      new PubsubTopic(this, id, { name, messageRetentionDuration: '604800s', ...after });
    const requests = topic('topic-requests', TOPICS.trainingRequests);
    const results = topic('topic-results', TOPICS.trainingResults);
    const requestsDead = topic('topic-requests-dead-letter', DEAD_LETTER_TOPICS.trainingRequests);
    const resultsDead = topic('topic-results-dead-letter', DEAD_LETTER_TOPICS.trainingResults);
    const sweep = topic('topic-sweep', TOPICS.runSweep);
    const forecasts = topic('topic-forecasts', TOPICS.forecastRequests);

    const firestore = new FirestoreDatabase(this, 'firestore', {
      name: '(default)',
      locationId: region,
      type: 'FIRESTORE_NATIVE',
      deletionPolicy: 'ABANDON',
      ...after,
    });
    const registry = new ArtifactRegistryRepository(this, 'registry', {
      location: region,
      repositoryId: 'trendcast',
      format: 'DOCKER',
      description: 'trendcast trainer images',
      ...after,
    });

    // Identities: one service account per function, one for the trainer, one that delivers events.
    const account = (id: string, description: string) =>
      new ServiceAccount(this, `sa-${id}`, {
        accountId: `trendcast-${id.toLowerCase()}`.slice(0, 30),
        displayName: `trendcast ${description}`,
        ...after,
      });
    const sa = {
      ingest: account('ingest', 'ingest function'),
      launcher: account('launcher', 'launcher function'),
      collector: account('collector', 'collector function'),
      forecaster: account('forecaster', 'forecaster function'),
      deadLetter: account('dead-letter', 'dead-letter function'),
      sweeper: account('sweeper', 'sweeper function'),
      trainer: account('trainer', 'training jobs (Vertex AI)'),
      events: account('events', 'event delivery (Eventarc and Pub/Sub push)'),
    };
    const member = (a: ServiceAccount) => `serviceAccount:${a.email}`;

    const bucketRole = (id: string, a: ServiceAccount, role: string) =>
      new StorageBucketIamMember(this, `bucket-${id}`, { bucket: bucket.name, role, member: member(a) });
    bucketRole('ingest', sa.ingest, 'roles/storage.objectUser'); // reads incoming/, writes datasets/
    bucketRole('collector', sa.collector, 'roles/storage.objectUser'); // copies artifacts to models/
    bucketRole('trainer', sa.trainer, 'roles/storage.objectUser'); // reads datasets/, writes runs/
    bucketRole('forecaster', sa.forecaster, 'roles/storage.objectViewer'); // reads forecast/, datasets/, models/
    const publisher = (id: string, t: PubsubTopic, who: string) =>
      new PubsubTopicIamMember(this, `publish-${id}`, {
        topic: t.name,
        role: 'roles/pubsub.publisher',
        member: who,
      });
    publisher('ingest-requests', requests, member(sa.ingest));
    publisher('launcher-results', results, member(sa.launcher)); // a refused job becomes a failed result
    publisher('trainer-results', results, member(sa.trainer));
    publisher('dead-letter-results', results, member(sa.deadLetter));
    publisher('sweeper-results', results, member(sa.sweeper));
    publisher('ingest-forecasts', forecasts, member(sa.ingest)); // a CSV under forecast/
    publisher('collector-forecasts', forecasts, member(sa.collector)); // after a run
    for (const [id, a] of Object.entries({
      ingest: sa.ingest,
      launcher: sa.launcher,
      collector: sa.collector,
      forecaster: sa.forecaster,
      deadLetter: sa.deadLetter,
      sweeper: sa.sweeper,
    })) {
      new ProjectIamMember(this, `firestore-${id}`, {
        project,
        role: 'roles/datastore.user',
        member: member(a),
      });
    }
    new ProjectIamMember(this, 'launcher-vertex', {
      project,
      role: 'roles/aiplatform.user',
      member: member(sa.launcher),
    });
    new ServiceAccountIamMember(this, 'launcher-acts-as-trainer', {
      serviceAccountId: sa.trainer.name,
      role: 'roles/iam.serviceAccountUser',
      member: member(sa.launcher),
    });
    new ProjectIamMember(this, 'events-receiver', {
      project,
      role: 'roles/eventarc.eventReceiver',
      member: member(sa.events),
    });
    // Eventarc's Cloud Storage trigger needs the Cloud Storage service agent to publish.
    new ProjectIamMember(this, 'gcs-agent-publisher', {
      project,
      role: 'roles/pubsub.publisher',
      member: `serviceAccount:${gcsAgent.emailAddress}`,
    });
    // Pub/Sub signs push requests as the events account, and moves failing messages to the dead-letter topics.
    new ServiceAccountIamMember(this, 'pubsub-agent-token', {
      serviceAccountId: sa.events.name,
      role: 'roles/iam.serviceAccountTokenCreator',
      member: pubsubAgent,
    });
    publisher('pubsub-agent-requests-dead-letter', requestsDead, pubsubAgent);
    publisher('pubsub-agent-results-dead-letter', resultsDead, pubsubAgent);
    // Vertex AI's service agent pulls the trainer image.
    new ArtifactRegistryRepositoryIamMember(this, 'vertex-pulls-trainer', {
      location: region,
      repository: registry.name,
      role: 'roles/artifactregistry.reader',
      member: vertexAgent,
    });

    const environment = (): Record<string, string> => ({
      TRENDCAST_BACKEND: 'gcp',
      TRENDCAST_BUCKET: bucket.name,
      GOOGLE_CLOUD_PROJECT: project,
      TRENDCAST_REGION: region,
      TRENDCAST_FIRESTORE_DATABASE: firestore.name,
      TRENDCAST_TRAINER_IMAGE: config.trainerImage,
      TRENDCAST_TRAINER_SERVICE_ACCOUNT: sa.trainer.email,
      TRENDCAST_MACHINE_TYPE: config.machineType,
      TRENDCAST_ACCELERATOR_TYPE: config.accelerator,
      TRENDCAST_ACCELERATOR_COUNT: String(config.acceleratorCount),
      TRENDCAST_MAX_JOBS: String(config.maxJobs),
      TRENDCAST_QUOTA_ATTEMPTS: '5',
      TRENDCAST_MAX_UPLOAD_BYTES: String(50 * 1024 * 1024),
      TRENDCAST_RUN_DEADLINE_MINUTES: '1440',
      TRENDCAST_LOG_FORMAT: 'json',
    });
    const fn = (name: FunctionName, trigger?: Cloudfunctions2FunctionEventTrigger) =>
      new Cloudfunctions2Function(this, `function-${name}`, {
        name: `trendcast-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
        location: region,
        description: `trendcast ${name}`,
        buildConfig: {
          runtime: 'nodejs20',
          entryPoint: name,
          source: { storageSource: { bucket: sourceBucket.name, object: source.name } },
        },
        serviceConfig: {
          availableMemory: FUNCTIONS[name].memory,
          maxInstanceCount: FUNCTIONS[name].maxInstances,
          timeoutSeconds: 540,
          serviceAccountEmail: sa[name].email,
          environmentVariables: environment(),
          ingressSettings: 'ALLOW_INTERNAL_ONLY',
          allTrafficOnLatestRevision: true,
        },
        ...(trigger ? { eventTrigger: trigger } : {}),
        dependsOn: [...apis, firestore],
      });
    const functions = {
      ingest: fn('ingest', {
        triggerRegion: region,
        eventType: 'google.cloud.storage.object.v1.finalized',
        eventFilters: [{ attribute: 'bucket', value: bucket.name }],
        retryPolicy: 'RETRY_POLICY_RETRY',
        serviceAccountEmail: sa.events.email,
      }),
      launcher: fn('launcher'),
      collector: fn('collector'),
      forecaster: fn('forecaster'),
      deadLetter: fn('deadLetter'),
      sweeper: fn('sweeper', {
        triggerRegion: region,
        eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
        pubsubTopic: sweep.id,
        retryPolicy: 'RETRY_POLICY_DO_NOT_RETRY', // the next sweep comes in ten minutes
        serviceAccountEmail: sa.events.email,
      }),
    };
    for (const name of Object.keys(functions) as FunctionName[]) {
      new CloudRunServiceIamMember(this, `invoke-${name}`, {
        location: region,
        service: functions[name].name,
        role: 'roles/run.invoker',
        member: member(sa.events),
      });
    }

    // Gen2 Pub/Sub triggers cannot carry a dead-letter policy, so launcher, collector and the dead-letter function
    // get explicit push subscriptions (authenticated as the events account) with retry and dead-letter policies.
    // The Functions Framework turns a push body into the same CloudEvent an Eventarc trigger delivers; the push path
    // names the topic, which becomes the event's source.
    const push = (id: string, t: PubsubTopic, target: Cloudfunctions2Function, deadLetter?: PubsubTopic) => {
      const subscription = new PubsubSubscription(this, `subscription-${id}`, {
        name: `trendcast-${id}`,
        topic: t.id,
        ackDeadlineSeconds: 600,
        messageRetentionDuration: '604800s',
        retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
        pushConfig: {
          pushEndpoint: `${target.serviceConfig.uri}/projects/${project}/topics/${t.name}`,
          oidcToken: { serviceAccountEmail: sa.events.email, audience: target.serviceConfig.uri },
        },
        ...(deadLetter
          ? {
              deadLetterPolicy: {
                deadLetterTopic: deadLetter.id,
                maxDeliveryAttempts: config.maxDeliveryAttempts,
              },
            }
          : {}),
      });
      if (deadLetter) {
        new PubsubSubscriptionIamMember(this, `pubsub-agent-acks-${id}`, {
          subscription: subscription.name,
          role: 'roles/pubsub.subscriber',
          member: pubsubAgent,
        });
      }
      return subscription;
    };
    push('launcher', requests, functions.launcher, requestsDead);
    push('collector', results, functions.collector, resultsDead);
    // A forecast that fails for good is recorded as a failed attempt by the function itself: no dead-letter topic.
    push('forecaster', forecasts, functions.forecaster);
    push('requests-dead-letter', requestsDead, functions.deadLetter);
    push('results-dead-letter', resultsDead, functions.deadLetter);

    new CloudSchedulerJob(this, 'sweep-schedule', {
      name: 'trendcast-run-sweep',
      region,
      schedule: '*/10 * * * *',
      description: 'ends trendcast runs past their deadline',
      pubsubTarget: { topicName: sweep.id, data: Buffer.from('{}').toString('base64') },
      ...after,
    });

    new TerraformOutput(this, 'bucket_name', { value: bucket.name });
    new TerraformOutput(this, 'upload_to', { value: `gs://${config.bucket}/incoming/` });
    new TerraformOutput(this, 'trainer_image', { value: config.trainerImage });
    new TerraformOutput(this, 'trainer_repository', {
      value: `${region}-docker.pkg.dev/${project}/trendcast`,
    });
  }
}
