import { ArchiveProvider } from '@cdktf/provider-archive/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { LocalBackend, TerraformElement, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct, Node } from 'constructs';
import { Apis } from './apis.ts';
import type { TrendcastConfig } from './config.ts';
import { Database } from './database.ts';
import { Functions } from './functions.ts';
import { Identities } from './identities.ts';
import { Messaging } from './messaging.ts';
import { Registry } from './registry.ts';
import { Scheduler } from './scheduler.ts';
import { Storage } from './storage.ts';
import { Subscriptions } from './subscriptions.ts';

export { configFrom, type TrendcastConfig } from './config.ts';

/** trendcast on Google Cloud: bucket, topics, Firestore, functions, the trainer's registry and least-privilege accounts. */
export class TrendcastStack extends TerraformStack {
  private readonly logicalIds = new Map<string, string>();

  constructor(scope: Construct, id: string, config: TrendcastConfig) {
    super(scope, id);
    const { project, region } = config;
    new LocalBackend(this, { path: 'terraform.tfstate' });
    new GoogleProvider(this, 'google', { project, region });
    new ArchiveProvider(this, 'archive');

    const apis = new Apis(this, 'apis');
    const after = apis.all;
    const storage = new Storage(this, 'storage', {
      region,
      bucketName: config.bucket,
      datasetRetentionDays: config.datasetRetentionDays,
      dependsOn: after,
    });
    const messaging = new Messaging(this, 'messaging', { dependsOn: after });
    const database = new Database(this, 'database', { region, dependsOn: after });
    const registry = new Registry(this, 'registry', { region, dependsOn: after });
    const identities = new Identities(this, 'identities', {
      project,
      region,
      bucket: storage.bucket,
      messaging,
      registry: registry.repository,
      dependsOn: after,
    });
    const functions = new Functions(this, 'functions', {
      config,
      storage,
      messaging,
      firestore: database.firestore,
      identities,
      dependsOn: after,
    });
    new Subscriptions(this, 'subscriptions', {
      project,
      messaging,
      functions: functions.byName,
      pushAccountEmail: identities.accounts.events.email,
      pubsubAgent: identities.pubsubAgent,
      maxDeliveryAttempts: config.maxDeliveryAttempts,
    });
    new Scheduler(this, 'scheduler', { region, sweepTopic: messaging.sweep, dependsOn: after });

    new TerraformOutput(this, 'bucket_name', { value: storage.bucket.name });
    new TerraformOutput(this, 'upload_to', { value: `gs://${config.bucket}/incoming/` });
    new TerraformOutput(this, 'trainer_image', { value: config.trainerImage });
    new TerraformOutput(this, 'trainer_repository', {
      value: `${region}-docker.pkg.dev/${project}/trendcast`,
    });
  }

  /**
   * A resource's Terraform address is its own id, wherever the construct tree puts it: the stack was flat before it
   * was split into constructs, and a changed address would make Terraform replace a deployed resource. Two
   * elements with one id are refused rather than silently merged.
   */
  protected override allocateLogicalId(element: TerraformElement | Node): string {
    const node = TerraformElement.isTerraformElement(element) ? element.node : element;
    const owner = this.logicalIds.get(node.id);
    if (owner !== undefined && owner !== node.path) {
      throw new Error(`two stack elements share the Terraform name "${node.id}": ${owner} and ${node.path}`);
    }
    this.logicalIds.set(node.id, node.path);
    return node.id;
  }
}
