import type { GoogleBetaProvider } from '@cdktf/provider-google-beta/lib/provider/index.js';
import { Construct } from 'constructs';
import { Apis } from './apis.ts';
import type { TrendcastConfig } from './config.ts';
import { Database } from './database.ts';
import { Encryption } from './encryption.ts';
import { Functions } from './functions.ts';
import { Identities } from './identities.ts';
import { Messaging } from './messaging.ts';
import { Registry } from './registry.ts';
import { Scheduler } from './scheduler.ts';
import { ServiceAgents } from './service-agents.ts';
import { Storage } from './storage.ts';
import { Subscriptions } from './subscriptions.ts';

export interface TrendcastProps {
  config: TrendcastConfig;
  /** For the resources only google-beta has (service identities). */
  betaProvider: GoogleBetaProvider;
}

/** Every part of a deployment, wired together: what the stack holds, and what construct tests synthesize. */
export class Trendcast extends Construct {
  readonly apis: Apis;
  readonly agents: ServiceAgents;
  readonly encryption?: Encryption;
  readonly storage: Storage;
  readonly messaging: Messaging;
  readonly database: Database;
  readonly registry: Registry;
  readonly identities: Identities;
  readonly functions: Functions;

  constructor(scope: Construct, id: string, { config, betaProvider }: TrendcastProps) {
    super(scope, id);
    const { project, region, kmsKey } = config;
    const apis = new Apis(this, 'apis');
    this.apis = apis;
    const agents = new ServiceAgents(this, 'agents', {
      project,
      apis,
      betaProvider,
      cmek: kmsKey !== undefined,
    });
    const encryption =
      kmsKey && agents.artifactRegistry && agents.firestore
        ? new Encryption(this, 'encryption', {
            kmsKey,
            agents: {
              storage: agents.storage,
              pubsub: agents.pubsub,
              artifactRegistry: agents.artifactRegistry,
              firestore: agents.firestore,
            },
          })
        : undefined;
    const keyGrant = (name: keyof NonNullable<typeof encryption>['grants']) =>
      encryption ? [encryption.grants[name]] : [];

    const storage = new Storage(this, 'storage', {
      region,
      bucketName: config.bucket,
      datasetRetentionDays: config.datasetRetentionDays,
      destroyData: config.destroyData,
      importBucket: config.importBucket,
      ...(kmsKey ? { kmsKey } : {}),
      ...(config.accessLogBucket ? { accessLogBucket: config.accessLogBucket } : {}),
      dependsOn: [...apis.needs('storage'), ...keyGrant('storage')],
    });
    const messaging = new Messaging(this, 'messaging', {
      ...(kmsKey ? { kmsKey } : {}),
      dependsOn: [...apis.needs('pubsub'), ...keyGrant('pubsub')],
    });
    const database = new Database(this, 'database', {
      region,
      ...(kmsKey ? { kmsKey } : {}),
      dependsOn: [...apis.needs('firestore'), ...keyGrant('firestore')],
    });
    const registry = new Registry(this, 'registry', {
      region,
      ...(kmsKey ? { kmsKey } : {}),
      dependsOn: [...apis.needs('artifactregistry'), ...keyGrant('artifactRegistry')],
    });
    const identities = new Identities(this, 'identities', {
      project,
      region,
      bucket: storage.bucket,
      bucketName: config.bucket,
      uploaders: config.uploaders,
      sourceBucket: storage.sourceBucket,
      messaging,
      registry: registry.repository,
      agents,
      apis,
    });
    const functions = new Functions(this, 'functions', {
      config,
      storage,
      messaging,
      firestore: database.firestore,
      registry: registry.repository,
      identities,
      agents,
      apis,
    });
    new Subscriptions(this, 'subscriptions', {
      project,
      messaging,
      functions: functions.byName,
      pushAccountEmail: identities.accounts.events.email,
      pubsubAgent: agents.pubsub,
      maxDeliveryAttempts: config.maxDeliveryAttempts,
      dependsOn: [...apis.needs('pubsub'), ...identities.pushGrants, identities.invokeGrant],
    });
    new Scheduler(this, 'scheduler', {
      region,
      sweepTopic: messaging.sweep,
      dependsOn: apis.needs('cloudscheduler'),
    });

    this.agents = agents;
    if (encryption) this.encryption = encryption;
    this.storage = storage;
    this.messaging = messaging;
    this.database = database;
    this.registry = registry;
    this.identities = identities;
    this.functions = functions;
  }
}
