import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project/index.js';
import { DataGoogleStorageProjectServiceAccount } from '@cdktf/provider-google/lib/data-google-storage-project-service-account/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import { GoogleProjectServiceIdentity } from '@cdktf/provider-google-beta/lib/google-project-service-identity/index.js';
import type { GoogleBetaProvider } from '@cdktf/provider-google-beta/lib/provider/index.js';
import type { ITerraformDependable } from 'cdktf';
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

/** A Google service agent: its `serviceAccount:` member, and what must be in place before it is used or granted. */
export interface ServiceAgent {
  member: string;
  ready: ITerraformDependable[];
}

/**
 * The Terraform addresses of the agents' own roles. `npm run destroy` leaves them in place (cdktf/destroy.ts): Google
 * grants these roles itself on a service's first use, and other things in the project rely on them.
 */
export const AGENT_ROLE_GRANT = (api: string, role: string) => `agent-role-${api}-${role.split('.')[1]}`;

/**
 * Google's service agents the stack grants roles to. Some exist only after a service's first use (Pub/Sub's,
 * Eventarc's): a grant to one that does not exist yet fails the first apply, so each
 * is created here (`google_project_service_identity`, which creates every agent of the service). An agent created on
 * request does not get the role Google grants on first use (IAM, "Create and grant roles to service agents"), so
 * the stack grants it. The member is spelled from the project number rather than read from the identity, so a
 * deployed grant's plan stays unchanged.
 */
export class ServiceAgents extends Construct {
  readonly pubsub: ServiceAgent;
  readonly eventarc: ServiceAgent;
  /**
   * Vertex AI's service agent (`gcp-sa-aiplatform`): it pulls a custom job's image ("Vertex AI uses the default
   * service account to pull images", Vertex AI: use a custom service account). The custom-code agent
   * (`gcp-sa-aiplatform-cc`) runs a job's container only when the job names no service account; trendcast's jobs run
   * as trendcast-trainer, so the stack grants that agent nothing: it appears only on first use, and a grant to it
   * would fail a first apply (hashicorp/terraform-provider-google#10469).
   */
  readonly vertex: ServiceAgent;
  /** Reading the Cloud Storage agent's address creates it, with its role. */
  readonly storage: ServiceAgent;
  /** The project's number (a Terraform reference), which Google's own names (agents, buckets) are spelled from. */
  readonly projectNumber: string;
  readonly artifactRegistry?: ServiceAgent;
  readonly firestore?: ServiceAgent;

  constructor(scope: Construct, id: string, props: ServiceAgentsProps) {
    super(scope, id);
    const { apis, project } = props;
    const projectInfo = new DataGoogleProject(this, 'project', {
      projectId: project,
      dependsOn: apis.needs('cloudresourcemanager'),
    });
    this.projectNumber = projectInfo.number;
    const memberOf = (domain: string) =>
      `serviceAccount:service-${projectInfo.number}@${domain}.iam.gserviceaccount.com`;
    /** Creates the service's agents, and grants each its service-agent role: [domain, role] per agent. */
    const agents = (api: ApiName, roles: Array<[string, string]>): ServiceAgent[] => {
      const identity = new GoogleProjectServiceIdentity(this, `agent-${api}`, {
        provider: props.betaProvider,
        project,
        service: `${api}.googleapis.com`,
        dependsOn: apis.needs(api),
      });
      return roles.map(([domain, role]) => {
        const grant = new ProjectIamMember(this, AGENT_ROLE_GRANT(api, role), {
          project,
          role,
          member: memberOf(domain),
          dependsOn: [...apis.needs('cloudresourcemanager'), identity],
        });
        return { member: memberOf(domain), ready: [identity, grant] };
      });
    };
    [this.pubsub] = agents('pubsub', [['gcp-sa-pubsub', 'roles/pubsub.serviceAgent']]) as [ServiceAgent];
    [this.eventarc] = agents('eventarc', [['gcp-sa-eventarc', 'roles/eventarc.serviceAgent']]) as [
      ServiceAgent,
    ];
    [this.vertex] = agents('aiplatform', [['gcp-sa-aiplatform', 'roles/aiplatform.serviceAgent']]) as [
      ServiceAgent,
    ];
    const gcs = new DataGoogleStorageProjectServiceAccount(this, 'gcs-agent', {
      project,
      dependsOn: apis.needs('storage'),
    });
    this.storage = { member: `serviceAccount:${gcs.emailAddress}`, ready: [gcs] };
    if (props.cmek) {
      [this.artifactRegistry] = agents('artifactregistry', [
        ['gcp-sa-artifactregistry', 'roles/artifactregistry.serviceAgent'],
      ]) as [ServiceAgent];
      [this.firestore] = agents('firestore', [['gcp-sa-firestore', 'roles/firestore.serviceAgent']]) as [
        ServiceAgent,
      ];
    }
  }
}
