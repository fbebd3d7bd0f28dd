import type { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project/index.js';
import { DataGoogleStorageProjectServiceAccount } from '@cdktf/provider-google/lib/data-google-storage-project-service-account/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import type { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member/index.js';
import type { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import type { Messaging } from './messaging.ts';

/** The functions: entry points in functions/index.ts, one service account each. */
export const FUNCTION_NAMES = ['ingest', 'launcher', 'collector', 'deadLetter', 'sweeper'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface IdentitiesProps {
  project: string;
  region: string;
  bucket: StorageBucket;
  messaging: Messaging;
  registry: ArtifactRegistryRepository;
  dependsOn: ITerraformDependable[];
}

export const member = (account: ServiceAccount) => `serviceAccount:${account.email}`;

/**
 * One service account per function, one for the trainer, one that delivers events, and every role they hold,
 * each on the narrowest resource that works: bucket-scoped storage, topic-scoped publishing, Vertex AI only for
 * the launcher. Google's service agents get what the wiring needs of them.
 */
export class Identities extends Construct {
  readonly accounts: Record<FunctionName | 'trainer' | 'events', ServiceAccount>;
  /** `serviceAccount:` member of the Pub/Sub service agent (pushes, dead-letters). */
  readonly pubsubAgent: string;

  constructor(scope: Construct, id: string, props: IdentitiesProps) {
    super(scope, id);
    const { project, region, messaging } = props;
    const projectInfo = new DataGoogleProject(this, 'project', { projectId: project });
    const gcsAgent = new DataGoogleStorageProjectServiceAccount(this, 'gcs-agent', { project });
    this.pubsubAgent = `serviceAccount:service-${projectInfo.number}@gcp-sa-pubsub.iam.gserviceaccount.com`;
    const vertexAgent = `serviceAccount:service-${projectInfo.number}@gcp-sa-aiplatform-cc.iam.gserviceaccount.com`;

    const account = (accountId: string, description: string) =>
      new ServiceAccount(this, `sa-${accountId}`, {
        accountId: `trendcast-${accountId.toLowerCase()}`.slice(0, 30),
        displayName: `trendcast ${description}`,
        dependsOn: props.dependsOn,
      });
    const sa = {
      ingest: account('ingest', 'ingest function'),
      launcher: account('launcher', 'launcher function'),
      collector: account('collector', 'collector function'),
      deadLetter: account('dead-letter', 'dead-letter function'),
      sweeper: account('sweeper', 'sweeper function'),
      trainer: account('trainer', 'training jobs (Vertex AI)'),
      events: account('events', 'event delivery (Eventarc and Pub/Sub push)'),
    };
    this.accounts = sa;

    const bucketRole = (grantId: string, a: ServiceAccount, role: string) =>
      new StorageBucketIamMember(this, `bucket-${grantId}`, {
        bucket: props.bucket.name,
        role,
        member: member(a),
      });
    bucketRole('ingest', sa.ingest, 'roles/storage.objectUser'); // reads incoming/, writes datasets/
    bucketRole('collector', sa.collector, 'roles/storage.objectUser'); // copies artifacts to models/
    bucketRole('trainer', sa.trainer, 'roles/storage.objectUser'); // reads datasets/, writes runs/
    const publisher = (grantId: string, t: PubsubTopic, who: string) =>
      new PubsubTopicIamMember(this, `publish-${grantId}`, {
        topic: t.name,
        role: 'roles/pubsub.publisher',
        member: who,
      });
    publisher('ingest-requests', messaging.requests, member(sa.ingest));
    publisher('launcher-results', messaging.results, member(sa.launcher)); // a refused job becomes a failed result
    publisher('trainer-results', messaging.results, member(sa.trainer));
    publisher('dead-letter-results', messaging.results, member(sa.deadLetter));
    publisher('sweeper-results', messaging.results, member(sa.sweeper));
    for (const name of FUNCTION_NAMES) {
      new ProjectIamMember(this, `firestore-${name}`, {
        project,
        role: 'roles/datastore.user',
        member: member(sa[name]),
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
      member: this.pubsubAgent,
    });
    publisher('pubsub-agent-requests-dead-letter', messaging.requestsDead, this.pubsubAgent);
    publisher('pubsub-agent-results-dead-letter', messaging.resultsDead, this.pubsubAgent);
    // Vertex AI's service agent pulls the trainer image.
    new ArtifactRegistryRepositoryIamMember(this, 'vertex-pulls-trainer', {
      location: region,
      repository: props.registry.name,
      role: 'roles/artifactregistry.reader',
      member: vertexAgent,
    });
  }
}
