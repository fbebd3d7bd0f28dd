import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project/index.js';
import { DataGoogleStorageProjectServiceAccount } from '@cdktf/provider-google/lib/data-google-storage-project-service-account/index.js';
import { GoogleProjectServiceIdentity } from '@cdktf/provider-google-beta/lib/google-project-service-identity/index.js';
import type { GoogleBetaProvider } from '@cdktf/provider-google-beta/lib/provider/index.js';
import { Construct } from 'constructs';
import type { ApiName, Apis } from './apis.ts';

export interface ServiceAgentsProps {
  project: string;
  apis: Apis;
  /** google_project_service_identity exists only in the google-beta provider. */
  betaProvider: GoogleBetaProvider;
  /** Also create the Artifact Registry and Firestore agents (they need the KMS key when CMEK is on). */
  cmek: boolean;
}

/** A Google service agent: its `serviceAccount:` member, and what to depend on before granting it a role. */
export interface ServiceAgent {
  member: string;
  created: GoogleProjectServiceIdentity | DataGoogleStorageProjectServiceAccount;
}

/**
 * Google's service agents the stack grants roles to. Some exist only after a service's first use (Pub/Sub's,
 * Eventarc's, Vertex AI's custom-code agent): a grant to one that does not exist yet fails the first apply, so each
 * is created here (`google_project_service_identity`, which creates every agent of the service) and its grants
 * depend on it. The member is spelled from the project number rather than read from the identity, so a deployed
 * grant's plan stays unchanged.
 */
export class ServiceAgents extends Construct {
  readonly pubsub: ServiceAgent;
  readonly eventarc: ServiceAgent;
  /** Vertex AI's custom-code agent (`gcp-sa-aiplatform-cc`): runs custom jobs' containers and pulls their image. */
  readonly vertexCustomCode: ServiceAgent;
  /** Reading the Cloud Storage agent's address creates it. */
  readonly storage: ServiceAgent;
  readonly artifactRegistry?: ServiceAgent;
  readonly firestore?: ServiceAgent;

  constructor(scope: Construct, id: string, props: ServiceAgentsProps) {
    super(scope, id);
    const { apis, project } = props;
    const projectInfo = new DataGoogleProject(this, 'project', {
      projectId: project,
      dependsOn: apis.needs('cloudresourcemanager'),
    });
    const agent = (api: ApiName, domain: string): ServiceAgent => ({
      member: `serviceAccount:service-${projectInfo.number}@${domain}.iam.gserviceaccount.com`,
      created: new GoogleProjectServiceIdentity(this, `agent-${api}`, {
        provider: props.betaProvider,
        project,
        service: `${api}.googleapis.com`,
        dependsOn: apis.needs(api),
      }),
    });
    this.pubsub = agent('pubsub', 'gcp-sa-pubsub');
    this.eventarc = agent('eventarc', 'gcp-sa-eventarc');
    this.vertexCustomCode = agent('aiplatform', 'gcp-sa-aiplatform-cc');
    const gcs = new DataGoogleStorageProjectServiceAccount(this, 'gcs-agent', {
      project,
      dependsOn: apis.needs('storage'),
    });
    this.storage = { member: `serviceAccount:${gcs.emailAddress}`, created: gcs };
    if (props.cmek) {
      this.artifactRegistry = agent('artifactregistry', 'gcp-sa-artifactregistry');
      this.firestore = agent('firestore', 'gcp-sa-firestore');
    }
  }
}
