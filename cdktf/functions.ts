import type { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import {
  Cloudfunctions2Function,
  type Cloudfunctions2FunctionEventTrigger,
} from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import type { FirestoreDatabase } from '@cdktf/provider-google/lib/firestore-database/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import type { Settings } from '../shared/settings.ts';
import type { Apis } from './apis.ts';
import { SETTINGS_DEFAULTS, type TrendcastConfig } from './config.ts';
import type { FunctionName, Identities } from './identities.ts';
import type { Messaging } from './messaging.ts';
import type { ServiceAgents } from './service-agents.ts';
import type { Storage } from './storage.ts';

/** What every function is told through its environment: settings only (shared/settings.ts reads them). */
export type FunctionEnvironment = { [K in keyof Settings]?: string };

/**
 * Memory and scale per function; `heapMb` caps V8's old space (NODE_OPTIONS) so it collects instead of growing.
 * ingest: bench/ingest.ts measures a peak under 512 MB at the upload limit with a 256 MB old space; 1Gi leaves room.
 */
export const FUNCTION_SIZES: Record<FunctionName, { memory: string; maxInstances: number; heapMb?: number }> =
  {
    ingest: { memory: '1Gi', maxInstances: 10, heapMb: 256 },
    launcher: { memory: '512Mi', maxInstances: 5 }, // slots are documents claimed by compare-and-set: instances may race
    // Whoever decides a run runs the current model on the run's windows (trainer/evaluate-champion.ts): the
    // collector, the sweeper and the dead-letter function size like the forecaster.
    collector: { memory: '2Gi', maxInstances: 10 },
    forecaster: { memory: '2Gi', maxInstances: 5 }, // runs a model with TensorFlow.js (WebAssembly backend)
    deadLetter: { memory: '2Gi', maxInstances: 2 },
    sweeper: { memory: '2Gi', maxInstances: 1 },
  };

export interface FunctionsProps {
  config: TrendcastConfig;
  storage: Storage;
  messaging: Messaging;
  firestore: FirestoreDatabase;
  /** The functions' build images go to the stack's repository, where the build account may push. */
  registry: ArtifactRegistryRepository;
  identities: Identities;
  agents: ServiceAgents;
  apis: Apis;
}

/** The settings the stack gives every function; the rest keep the schema's defaults. */
export function functionEnvironment(props: {
  config: TrendcastConfig;
  bucket: string;
  firestoreDatabase: string;
  trainerServiceAccount: string;
}): FunctionEnvironment {
  const { config } = props;
  return {
    TRENDCAST_BACKEND: 'gcp',
    TRENDCAST_BUCKET: props.bucket,
    GOOGLE_CLOUD_PROJECT: config.project,
    TRENDCAST_REGION: config.region,
    TRENDCAST_FIRESTORE_DATABASE: props.firestoreDatabase,
    TRENDCAST_TRAINER_IMAGE: config.trainerImage,
    TRENDCAST_TRAINER_SERVICE_ACCOUNT: props.trainerServiceAccount,
    TRENDCAST_MACHINE_TYPE: config.machineType,
    TRENDCAST_ACCELERATOR_TYPE: config.accelerator,
    TRENDCAST_ACCELERATOR_COUNT: String(config.acceleratorCount),
    TRENDCAST_MAX_JOBS: String(config.maxJobs),
    TRENDCAST_ON_NO_GPU_QUOTA: SETTINGS_DEFAULTS.TRENDCAST_ON_NO_GPU_QUOTA,
    TRENDCAST_JOB_TIMEOUT_MINUTES: String(SETTINGS_DEFAULTS.TRENDCAST_JOB_TIMEOUT_MINUTES),
    TRENDCAST_MAX_UPLOAD_BYTES: String(SETTINGS_DEFAULTS.TRENDCAST_MAX_UPLOAD_BYTES),
    TRENDCAST_RUN_DEADLINE_MINUTES: String(SETTINGS_DEFAULTS.TRENDCAST_RUN_DEADLINE_MINUTES),
  };
}

/**
 * The six Cloud Functions (gen2, Node 24), built by the build account. A function waits for the APIs it uses, its
 * build account's roles, and its trigger's grants and agents (the events account's right to invoke it among them).
 */
export class Functions extends Construct {
  readonly byName: Record<FunctionName, Cloudfunctions2Function>;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const { config, storage, identities, apis, agents } = props;
    const { region } = config;
    const sa = identities.accounts;
    const environment = functionEnvironment({
      config,
      bucket: storage.bucket.name,
      firestoreDatabase: props.firestore.name,
      trainerServiceAccount: sa.trainer.email,
    });
    const fn = (
      name: FunctionName,
      trigger?: Cloudfunctions2FunctionEventTrigger,
      triggerNeeds: ITerraformDependable[] = [],
    ) =>
      new Cloudfunctions2Function(this, `function-${name}`, {
        name: `trendcast-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
        location: region,
        description: `trendcast ${name}`,
        buildConfig: {
          runtime: 'nodejs24',
          entryPoint: name,
          serviceAccount: sa.build.id,
          dockerRepository: props.registry.id,
          source: {
            storageSource: { bucket: storage.sourceBucket.name, object: storage.source.name },
          },
        },
        serviceConfig: {
          availableMemory: FUNCTION_SIZES[name].memory,
          maxInstanceCount: FUNCTION_SIZES[name].maxInstances,
          timeoutSeconds: 540,
          serviceAccountEmail: sa[name].email,
          environmentVariables: {
            ...(environment as Record<string, string>),
            ...(FUNCTION_SIZES[name].heapMb
              ? { NODE_OPTIONS: `--max-old-space-size=${FUNCTION_SIZES[name].heapMb}` }
              : {}),
          },
          ingressSettings: 'ALLOW_INTERNAL_ONLY',
          allTrafficOnLatestRevision: true,
        },
        ...(trigger ? { eventTrigger: trigger } : {}),
        dependsOn: [
          ...apis.needs('cloudfunctions', 'run', 'cloudbuild', 'artifactregistry', 'logging'),
          ...(trigger ? apis.needs('eventarc') : []),
          props.firestore,
          ...identities.buildGrants,
          ...(trigger ? [identities.invokeGrant] : []),
          ...triggerNeeds,
        ],
      });
    this.byName = {
      ingest: fn(
        'ingest',
        {
          triggerRegion: region,
          eventType: 'google.cloud.storage.object.v1.finalized',
          eventFilters: [{ attribute: 'bucket', value: storage.bucket.name }],
          retryPolicy: 'RETRY_POLICY_RETRY',
          serviceAccountEmail: sa.events.email,
        },
        [...identities.storageTriggerGrants, ...agents.eventarc.ready],
      ),
      launcher: fn('launcher'),
      collector: fn('collector'),
      forecaster: fn('forecaster'),
      deadLetter: fn('deadLetter'),
      sweeper: fn(
        'sweeper',
        {
          triggerRegion: region,
          eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
          pubsubTopic: props.messaging.sweep.id,
          retryPolicy: 'RETRY_POLICY_DO_NOT_RETRY', // the next sweep comes in ten minutes
          serviceAccountEmail: sa.events.email,
        },
        [...identities.pubsubTriggerGrants, ...agents.eventarc.ready, ...agents.pubsub.ready],
      ),
    };
  }
}
