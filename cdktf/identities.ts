import type { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import type { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member/index.js';
import type { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { INDEX_PAGE } from '../shared/names.ts';
import type { Apis } from './apis.ts';
import type { Messaging } from './messaging.ts';
import type { ServiceAgents } from './service-agents.ts';

/** The functions: entry points in functions/index.ts, one service account each. */
export const FUNCTION_NAMES = [
  'ingest',
  'launcher',
  'collector',
  'forecaster',
  'deadLetter',
  'sweeper',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface IdentitiesProps {
  project: string;
  region: string;
  bucket: StorageBucket;
  /** The data bucket's name, for IAM conditions on object names. */
  bucketName: string;
  /** Members who may drop CSVs (`user:...`, `group:...`, `serviceAccount:...`). */
  uploaders: string[];
  sourceBucket: StorageBucket;
  messaging: Messaging;
  registry: ArtifactRegistryRepository;
  agents: ServiceAgents;
  apis: Apis;
}

export const member = (account: ServiceAccount) => `serviceAccount:${account.email}`;

/**
 * One service account per function, one for the trainer, one that delivers events, one that builds (the functions
 * and the trainer image), and every role they hold, each on the narrowest resource that works: bucket-scoped
 * storage, topic-scoped publishing, Vertex AI only for the launcher. Google's service agents get what the wiring
 * needs of them, after they exist.
 */
export class Identities extends Construct {
  readonly accounts: Record<FunctionName | 'trainer' | 'events' | 'build', ServiceAccount>;
  /** What a function build needs in place: the build account's roles. */
  readonly buildGrants: ITerraformDependable[];
  /** What a Cloud Storage trigger needs: the Cloud Storage agent may publish, the events account may receive. */
  readonly storageTriggerGrants: ITerraformDependable[];
  /** What a Pub/Sub trigger needs: the events account may receive. */
  readonly pubsubTriggerGrants: ITerraformDependable[];
  /** What push subscriptions need: the Pub/Sub agent signs as the events account and may dead-letter. */
  readonly pushGrants: ITerraformDependable[];
  /** The events account's right to invoke the functions: every trigger and push subscription waits for it. */
  readonly invokeGrant: ProjectIamMember;

  constructor(scope: Construct, id: string, props: IdentitiesProps) {
    super(scope, id);
    const { project, region, messaging, agents, apis } = props;

    const account = (accountId: string, description: string) =>
      new ServiceAccount(this, `sa-${accountId}`, {
        accountId: `trendcast-${accountId.toLowerCase()}`.slice(0, 30),
        displayName: `trendcast ${description}`,
        dependsOn: apis.needs('iam'),
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
      build: account('build', 'builds (functions, trainer image)'),
    };
    this.accounts = sa;

    // Every account that touches the data bucket reads all of it, and writes (create, overwrite, delete) only under
    // the prefixes its code writes (shared/names.ts PATHS): an IAM condition on the object's name. No account may
    // write the whole bucket, so none can replace models/ or a report it has no business with. The trainer account
    // is shared by every job: a condition cannot confine a job to its own run's folder, only all jobs to runs/.
    const objectsUnder = (prefixes: string[]) => ({
      title: `objects under ${prefixes.join(' ')}`,
      expression: prefixes
        .map((p) => `resource.name.startsWith("projects/_/buckets/${props.bucketName}/objects/${p}")`)
        .join(' || '),
    });
    const bucketRole = (
      grantId: string,
      who: string,
      role: string,
      condition?: { title: string; expression: string },
    ) =>
      new StorageBucketIamMember(this, `bucket-${grantId}`, {
        bucket: props.bucket.name,
        role,
        member: who,
        ...(condition ? { condition } : {}),
        dependsOn: apis.needs('storage'),
      });
    const readsAndWritesUnder = (grantId: string, a: ServiceAccount, prefixes: string[]) => {
      bucketRole(`${grantId}-reads`, member(a), 'roles/storage.objectViewer');
      bucketRole(grantId, member(a), 'roles/storage.objectUser', objectsUnder(prefixes));
    };
    // index.html (the bucket's front page) is rewritten by whoever scores forecasts, decides a run or forecasts.
    readsAndWritesUnder('ingest', sa.ingest, ['datasets/', 'runs/', INDEX_PAGE]); // datasets; a refused upload's report
    // Whoever decides a run finishes its promotion (models/) and writes its report (runs/): the collector, and the
    // sweeper and dead-letter function, which decide runs too.
    readsAndWritesUnder('collector', sa.collector, ['runs/', 'models/', INDEX_PAGE]);
    readsAndWritesUnder('sweeper', sa.sweeper, ['runs/', 'models/', INDEX_PAGE]);
    readsAndWritesUnder('dead-letter', sa.deadLetter, ['runs/', 'models/', INDEX_PAGE]);
    // Reads forecast/, datasets/ and models/; writes the run's report once its forecast is in.
    readsAndWritesUnder('forecaster', sa.forecaster, ['runs/', INDEX_PAGE]);
    readsAndWritesUnder('trainer', sa.trainer, ['runs/']); // reads datasets/, writes its trial's folder
    // Whoever may drop CSVs (TRENDCAST_UPLOADERS): create objects under incoming/ and forecast/, nothing else.
    for (const [i, uploader] of props.uploaders.entries())
      bucketRole(
        `uploader-${i}`,
        uploader,
        'roles/storage.objectCreator',
        objectsUnder(['incoming/', 'forecast/']),
      );
    const publisher = (grantId: string, t: PubsubTopic, who: string, after: ITerraformDependable[] = []) =>
      new PubsubTopicIamMember(this, `publish-${grantId}`, {
        topic: t.name,
        role: 'roles/pubsub.publisher',
        member: who,
        dependsOn: [...apis.needs('pubsub'), ...after],
      });
    const projectRole = (
      grantId: string,
      role: string,
      who: string,
      after: ITerraformDependable[] = [],
      condition?: { title: string; expression: string },
    ) =>
      new ProjectIamMember(this, grantId, {
        project,
        role,
        member: who,
        ...(condition ? { condition } : {}),
        dependsOn: [...apis.needs('cloudresourcemanager'), ...after],
      });
    publisher('ingest-requests', messaging.requests, member(sa.ingest));
    publisher('launcher-results', messaging.results, member(sa.launcher)); // a refused job becomes a failed result
    publisher('collector-results', messaging.results, member(sa.collector)); // so does one the collector starts
    // A CSV under forecast/ (ingest), and every decided run (whoever decides it) asks for a forecast.
    publisher('ingest-forecasts', messaging.forecasts, member(sa.ingest));
    publisher('collector-forecasts', messaging.forecasts, member(sa.collector));
    publisher('sweeper-forecasts', messaging.forecasts, member(sa.sweeper));
    publisher('dead-letter-forecasts', messaging.forecasts, member(sa.deadLetter));
    publisher('trainer-results', messaging.results, member(sa.trainer));
    publisher('dead-letter-results', messaging.results, member(sa.deadLetter));
    publisher('sweeper-results', messaging.results, member(sa.sweeper));
    for (const name of FUNCTION_NAMES) {
      projectRole(`firestore-${name}`, 'roles/datastore.user', member(sa[name]));
    }
    // The training queue starts jobs from the launcher, the collector (a result frees a slot) and the sweeper, which
    // also reads and cancels them.
    projectRole('launcher-vertex', 'roles/aiplatform.user', member(sa.launcher));
    new ServiceAccountIamMember(this, 'launcher-acts-as-trainer', {
      serviceAccountId: sa.trainer.name,
      role: 'roles/iam.serviceAccountUser',
      member: member(sa.launcher),
      dependsOn: apis.needs('iam'),
    });
    for (const [name, account] of [
      ['collector', sa.collector],
      ['sweeper', sa.sweeper],
    ] as const) {
      projectRole(`${name}-vertex`, 'roles/aiplatform.user', member(account));
      new ServiceAccountIamMember(this, `${name}-acts-as-trainer`, {
        serviceAccountId: sa.trainer.name,
        role: 'roles/iam.serviceAccountUser',
        member: member(account),
        dependsOn: apis.needs('iam'),
      });
    }
    const eventsReceiver = projectRole('events-receiver', 'roles/eventarc.eventReceiver', member(sa.events));
    // Eventarc's Cloud Storage trigger needs the Cloud Storage service agent to publish; creating the trigger
    // before this grant is in place fails (hashicorp/terraform-provider-google, Eventarc GCS triggers).
    const gcsAgentPublisher = projectRole(
      'gcs-agent-publisher',
      'roles/pubsub.publisher',
      agents.storage.member,
      agents.storage.ready,
    );
    // Pub/Sub signs push requests as the events account, and moves failing messages to the dead-letter topics.
    const pubsubAgentToken = new ServiceAccountIamMember(this, 'pubsub-agent-token', {
      serviceAccountId: sa.events.name,
      role: 'roles/iam.serviceAccountTokenCreator',
      member: agents.pubsub.member,
      dependsOn: [...apis.needs('iam'), ...agents.pubsub.ready],
    });
    const deadLetters = [
      publisher('pubsub-agent-requests-dead-letter', messaging.requestsDead, agents.pubsub.member, [
        ...agents.pubsub.ready,
      ]),
      publisher('pubsub-agent-results-dead-letter', messaging.resultsDead, agents.pubsub.member, [
        ...agents.pubsub.ready,
      ]),
      publisher('pubsub-agent-forecasts-dead-letter', messaging.forecastsDead, agents.pubsub.member, [
        ...agents.pubsub.ready,
      ]),
    ];
    // Vertex AI's service agent pulls the trainer image (not the job's own account, nor the custom-code agent).
    new ArtifactRegistryRepositoryIamMember(this, 'vertex-pulls-trainer', {
      location: region,
      repository: props.registry.name,
      role: 'roles/artifactregistry.reader',
      member: agents.vertex.member,
      dependsOn: [...apis.needs('artifactregistry'), ...agents.vertex.ready],
    });
    // The events account may invoke trendcast's functions (and nothing else), granted before any function exists:
    // a gen2 function's Eventarc trigger is created with the function, so a grant on the function's own service
    // would come after its first deliveries (403 until it is in place). Cloud Run names a service
    // projects/<project>/locations/<region>/services/<name> in IAM conditions.
    this.invokeGrant = new ProjectIamMember(this, 'events-invokes-functions', {
      project,
      role: 'roles/run.invoker',
      member: member(sa.events),
      condition: {
        title: 'trendcast functions only',
        expression: `resource.name.startsWith("projects/${project}/locations/${region}/services/trendcast-")`,
      },
      dependsOn: apis.needs('cloudresourcemanager', 'run'),
    });

    // The build account: what Cloud Build needs to build a function or the trainer image, and nothing else.
    // New projects' default Cloud Build account may lack these (Cloud Build service account change, 2024).
    this.buildGrants = [
      projectRole('build-writes-logs', 'roles/logging.logWriter', member(sa.build)),
      new ArtifactRegistryRepositoryIamMember(this, 'build-pushes-images', {
        location: region,
        repository: props.registry.name,
        role: 'roles/artifactregistry.writer',
        member: member(sa.build),
        dependsOn: apis.needs('artifactregistry'),
      }),
      new StorageBucketIamMember(this, 'build-reads-source', {
        bucket: props.sourceBucket.name,
        role: 'roles/storage.objectViewer',
        member: member(sa.build),
        dependsOn: apis.needs('storage'),
      }),
      // A gen2 function build reads the copy of the source Cloud Functions keeps in its own bucket,
      // gcf-v2-sources-<project number>-<region>, which exists only after the first function is created: the grant
      // is on the project, conditioned on that bucket's name ("Access to bucket gcf-v2-sources-... denied",
      // hashicorp/terraform-provider-google#20571; Cloud Run functions: custom build service account).
      projectRole('build-reads-function-sources', 'roles/storage.objectViewer', member(sa.build), [], {
        title: 'Cloud Functions source copies only',
        expression: `resource.name.startsWith("projects/_/buckets/gcf-v2-sources-${agents.projectNumber}-${region}")`,
      }),
    ];
    this.storageTriggerGrants = [gcsAgentPublisher, eventsReceiver];
    this.pubsubTriggerGrants = [eventsReceiver];
    this.pushGrants = [pubsubAgentToken, ...deadLetters];
  }
}
