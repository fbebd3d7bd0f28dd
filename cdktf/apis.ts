import { ProjectService } from '@cdktf/provider-google/lib/project-service/index.js';
import { Construct } from 'constructs';

/**
 * Every Google API the stack touches, by short name (`<name>.googleapis.com`). compute backs Vertex AI's machines
 * and Cloud Run; cloudresourcemanager the project-level IAM grants; logging the build logs.
 */
export const API_NAMES = [
  'cloudfunctions',
  'run',
  'eventarc',
  'pubsub',
  'firestore',
  'storage',
  'aiplatform',
  'artifactregistry',
  'cloudbuild',
  'cloudscheduler',
  'iam',
  'compute',
  'cloudresourcemanager',
  'logging',
] as const;
export type ApiName = (typeof API_NAMES)[number];

/** The project's APIs, enabled once; each resource depends on the ones it calls, through `needs`. */
export class Apis extends Construct {
  private readonly services: Record<ApiName, ProjectService>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.services = Object.fromEntries(
      API_NAMES.map((name) => [
        name,
        // Destroying the stack leaves the APIs on: other things in the project may use them.
        new ProjectService(this, `api-${name}`, {
          service: `${name}.googleapis.com`,
          disableOnDestroy: false,
        }),
      ]),
    ) as Record<ApiName, ProjectService>;
  }

  /** The API resources a resource calling these APIs must wait for. */
  needs(...names: ApiName[]): ProjectService[] {
    return names.map((name) => this.services[name]);
  }
}
