import { ArchiveProvider } from '@cdktf/provider-archive/lib/provider/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { GoogleBetaProvider } from '@cdktf/provider-google-beta/lib/provider/index.js';
import { LocalBackend, TerraformElement, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct, Node } from 'constructs';
import type { TrendcastConfig } from './config.ts';
import { Trendcast } from './trendcast.ts';

export { configFrom, type TrendcastConfig } from './config.ts';

/** trendcast on Google Cloud: bucket, topics, Firestore, functions, the trainer's registry and least-privilege accounts. */
export class TrendcastStack extends TerraformStack {
  private readonly logicalIds = new Map<string, string>();

  constructor(scope: Construct, id: string, config: TrendcastConfig) {
    super(scope, id);
    const { project, region } = config;
    new LocalBackend(this, { path: 'terraform.tfstate' });
    new GoogleProvider(this, 'google', { project, region });
    const betaProvider = new GoogleBetaProvider(this, 'google-beta', { project, region });
    new ArchiveProvider(this, 'archive');

    const { storage, identities } = new Trendcast(this, 'trendcast', { config, betaProvider });

    const repository = `${region}-docker.pkg.dev/${project}/trendcast`;
    new TerraformOutput(this, 'bucket_name', { value: storage.bucket.name });
    new TerraformOutput(this, 'upload_to', { value: `gs://${config.bucket}/incoming/` });
    new TerraformOutput(this, 'trainer_image', { value: config.trainerImage });
    new TerraformOutput(this, 'trainer_repository', { value: repository });
    new TerraformOutput(this, 'build_service_account', { value: identities.accounts.build.id });
    new TerraformOutput(this, 'build_staging_dir', { value: `gs://${config.bucket}-source/cloudbuild` });
    new TerraformOutput(this, 'build_region', { value: config.buildRegion });
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
