import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';

export interface RegistryProps {
  region: string;
  kmsKey?: string;
  dependsOn: ITerraformDependable[];
}

/** The Artifact Registry repository `trendcast`: the trainer images, the CUDA base copy, the functions' images. */
export class Registry extends Construct {
  readonly repository: ArtifactRegistryRepository;

  constructor(scope: Construct, id: string, props: RegistryProps) {
    super(scope, id);
    this.repository = new ArtifactRegistryRepository(this, 'registry', {
      location: props.region,
      repositoryId: 'trendcast',
      format: 'DOCKER',
      description: "trendcast trainer images and the functions' build images",
      ...(props.kmsKey ? { kmsKeyName: props.kmsKey } : {}),
      dependsOn: props.dependsOn,
    });
  }
}
